"""The data inventory of the order database (format: docs of the `scope` command, version 1)."""

from __future__ import annotations

from pathlib import Path

import yaml

from breachscope.simulate.customers import SCHEMA

#: column -> personal-data categories, per table; every column of the snapshot is listed ([] = not personal)
CATEGORIES: dict[str, dict[str, list[str]]] = {
    "customers": {"customer_id": ["customer_id"], "company_name": ["organization_name"],
                  "company_name_kana": ["organization_name"], "corporate_number": ["corporate_number"],
                  "industry": [], "postal_code": ["postal_address"], "prefecture": ["postal_address"],
                  "address": ["postal_address"], "phone": ["phone"], "created_at": [], "updated_at": []},
    "contracts": {"contract_id": [], "contract_no": ["contract_number"], "customer_id": ["customer_id"],
                  "contract_name": ["contract_name"], "service_plan": ["service_usage"], "provider_brand": [],
                  "status": [], "start_date": [], "end_date": [], "monthly_fee": ["service_usage"]},
    "contacts": {"contact_id": [], "customer_id": [], "contact_name": ["contact_person_name"],
                 "contact_name_kana": ["contact_person_name"], "department": [], "phone": ["phone"],
                 "email": ["email"], "role": []},
    "service_usage": {"usage_id": [], "contract_id": [], "customer_id": ["customer_id"], "usage_month": [],
                      "monthly_usage": ["service_usage"], "usage_unit": [], "billed_amount": ["service_usage"]},
    "orders": {"order_id": [], "customer_id": ["customer_id"], "contract_id": [], "order_type": [], "status": [],
               "requested_at": [], "updated_at": []},
}
SUBJECT_OF = {"customers": ("organization", "customer_id"), "contracts": ("organization", "customer_id"),
              "contacts": ("person", "contact_id"), "service_usage": ("organization", "customer_id"),
              "orders": ("organization", "customer_id")}
EXCLUSION = {
    "name": "docomo_provided_mobile",
    "description": "Corporate mobile contracts provided directly by NTT Docomo are out of scope",
    "source": "NTT Com announcement of 2025-03-05",
    "table": "contracts",
    "where": "provider_brand = 'docomo'",
}


def build() -> dict:
    for table, cols in CATEGORIES.items():  # the inventory must list exactly the snapshot's columns
        if list(cols) != [c for c, _, _, _ in SCHEMA[table]]:
            raise ValueError(f"inventory columns of {table} differ from the snapshot")
    return {
        "version": 1,
        "name": "Order Information Distribution System",
        "database": "orders",
        "default_jurisdiction": "JP",
        # NTT Communications is a telecommunications carrier: the MIC reporting duty applies
        "controller": {"country": "JP", "sectors": ["telecommunications"]},
        "subjects": {
            "organization": {"table": "customers", "key": "customer_id", "name": "company_name",
                             "match_keys": ["corporate_number", "customer_id"]},
            "person": {"table": "contacts", "key": "contact_id", "name": "contact_name",
                       "organization": "customer_id"},
        },
        "datasets": [{"table": t, "subject": SUBJECT_OF[t][0], "subject_key": SUBJECT_OF[t][1], "columns": cols}
                     for t, cols in CATEGORIES.items()],
        "exclusions": [dict(EXCLUSION)],
    }


def write(path: Path) -> dict:
    inv = build()
    text = yaml.safe_dump(inv, sort_keys=False, allow_unicode=True, default_flow_style=None, width=120)
    path.write_text("# Data inventory of the simulated order database (breachscope simulate, ntt-2025)\n" + text,
                    encoding="utf-8")
    return inv
