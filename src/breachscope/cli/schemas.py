"""JSON Schemas of the configuration files, generated from their pydantic models, for editors
(docs/schemas/). A test checks that the published files match the models; after changing a model:

    .venv/bin/python -m breachscope.cli.schemas docs/schemas
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def config_schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema, for every configuration file breachscope reads."""
    from breachscope.model.inventory_file import InventoryFile
    from breachscope.model.placeholders import PlaceholdersFile
    from breachscope.notify.rule_file import RuleFile
    from breachscope.simulate.scenario_file import ScenarioFile

    out = {}
    for name, model, what in (("inventory.schema.json", InventoryFile, "docs/inventory.md"),
                              ("notify-rule.schema.json", RuleFile, "src/breachscope/notify/rules/*.yaml"),
                              ("placeholders.schema.json", PlaceholdersFile, "hunt --placeholders"),
                              ("scenario.schema.json", ScenarioFile, "simulate --scenario FILE.yaml")):
        schema = model.model_json_schema()
        out[name] = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                     "$comment": f"{what}. Generated from {model.__module__}.{model.__name__}: "
                                 "python -m breachscope.cli.schemas docs/schemas",
                     **schema}
    return out


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main(folder: str) -> None:
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    for name, schema in config_schemas().items():
        (target / name).write_text(render(schema), encoding="utf-8")
        print(target / name)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas")
