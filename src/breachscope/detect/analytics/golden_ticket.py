"""Golden tickets: service tickets asked for with a TGT that no domain controller issued.

A forged TGT (golden ticket, made with the krbtgt hash) never passes through the KDC's authentication
service: the domain controllers log the service tickets bought with it (4769), but no TGT request (4768)
or renewal (4770) of that account in the hours before. A TGT lives 10 hours by default, so a 4769 whose
account had no 4768/4770 on any DC of the evidence in the preceding TGT_LIFETIME_H hours is unexplained.

That only means something when the evidence holds the TGTs at all: the logs of every DC that issues them,
for the whole period. The analytic measures it first (the share of service tickets whose TGT is there)
and says so instead of answering when that coverage is below MIN_COVERAGE.

Zeek's kerberos log adds the ticket lifetime a client asked for (till, from): a lifetime longer than a
TGT's and rare in the network is odd (forging tools pick their own); Windows clients ask for the same
far-future time in every request, so only rarity within the network counts."""

from __future__ import annotations

from typing import Any

from breachscope.detect.analytics.active_directory import account_sql, ip_sql, span_text, ts_sql
from breachscope.detect.analytics.base import Analytic, EvidenceQuery, Hit, Skipped, clamp
from breachscope.detect.casecontext import CaseContext
from breachscope.detect.casesql import epoch_us_sql
from breachscope.model.sql import quote_literal

TGT_LIFETIME_H = 10
MIN_COVERAGE = 0.9  # share of service tickets whose TGT is in the evidence, below which nothing is judged
MAX_HITS = 50
RARE_SHARE = 0.005  # a requested lifetime this rare in the network (and longer than a TGT's) is odd
UNBOUNDED_H = 24 * 365  # "as long as possible" (Windows asks for 2037): one class, whatever the value


def run(ctx: CaseContext) -> list[Hit]:
    notes: list[str] = []
    hits: list[Hit] = []
    if ctx.has("windows", "EventID", "TargetUserName", "Computer"):
        try:
            hits += _without_tgt(ctx)
        except Skipped as exc:
            notes.append(str(exc))
    else:
        notes.append("no Windows Security events of a domain controller")
    if ctx.has("zeek_kerberos", "till", "request_type", "id.orig_h"):
        hits += _odd_lifetimes(ctx)
    else:
        notes.append("no Zeek kerberos log with ticket lifetimes (till)")
    if not hits and notes:
        raise Skipped("; ".join(notes))
    return hits


def _without_tgt(ctx: CaseContext) -> list[Hit]:
    ok = "coalesce(Status, '0x0') = '0x0'" if ctx.has("windows", "Status") else "true"
    acc = account_sql("TargetUserName")
    ip = ip_sql("IpAddress") if ctx.has("windows", "IpAddress") else "NULL"
    service = "ServiceName" if ctx.has("windows", "ServiceName") else "NULL"
    life = TGT_LIFETIME_H * 3600 * 1_000_000
    base = f"""
    WITH ev AS (
        SELECT {acc} AS account, ts, 1 AS is_tgt, CAST(NULL AS VARCHAR) AS ip, CAST(NULL AS VARCHAR) AS service,
               Computer
        FROM windows WHERE EventID IN (4768, 4770) AND {ok} AND {ctx.window()}
        UNION ALL
        SELECT {acc} AS account, ts, 0 AS is_tgt, {ip} AS ip, {service} AS service, Computer
        FROM windows WHERE EventID = 4769 AND {ok} AND {ctx.window()}
    ), marked AS (
        SELECT *, max(CASE WHEN is_tgt = 1 THEN ts END) OVER (
                      PARTITION BY account ORDER BY ts, is_tgt DESC
                      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS last_tgt,
                  max(is_tgt) OVER (PARTITION BY account) AS ever_tgt
        FROM ev WHERE account IS NOT NULL
    ), bounds AS (
        SELECT min(ts) AS t0 FROM ev WHERE is_tgt = 1
    ), judged AS (
        SELECT m.*, CASE WHEN m.last_tgt IS NOT NULL AND {epoch_us_sql('m.last_tgt')} >= {epoch_us_sql('m.ts')} - {life}
                         THEN 1 ELSE 0 END AS covered
        FROM marked m, bounds b
        WHERE m.is_tgt = 0 AND {epoch_us_sql('m.ts')} >= {epoch_us_sql('b.t0')} + {life}
    )"""
    totals = ctx.rows(base + """
    SELECT (SELECT count(*) FROM ev WHERE is_tgt = 1) AS tgts, count(*) AS judged,
           CAST(coalesce(sum(covered), 0) AS BIGINT) AS covered FROM judged""")[0]
    if not totals["tgts"]:
        raise Skipped("the evidence holds no Kerberos TGT requests (4768/4770): a service ticket without its TGT "
                      "cannot be told from one whose TGT was issued by a domain controller whose log is missing")
    if not totals["judged"]:
        raise Skipped(f"no service tickets (4769) later than {TGT_LIFETIME_H} h after the first TGT in the "
                      "evidence: nothing to judge")
    coverage = float(totals["covered"]) / float(totals["judged"])
    if coverage < MIN_COVERAGE:
        raise Skipped(f"only {coverage:.0%} of {totals['judged']:,} service tickets (4769) have a TGT (4768/4770) "
                      f"of their account in the preceding {TGT_LIFETIME_H} h in the evidence: the TGT logs are "
                      "incomplete (domain controllers or days missing), so a service ticket without one says "
                      "nothing about forged tickets here")
    rows = ctx.rows(base + f"""
    SELECT account, ip, min(ts) AS first_ts, max(ts) AS last_ts, count(*) AS n, max(ever_tgt) AS ever_tgt,
           list(DISTINCT service) AS services, list(DISTINCT Computer) AS dcs
    FROM judged WHERE covered = 0 GROUP BY account, ip ORDER BY n DESC LIMIT {MAX_HITS}""")
    return [_hit_without_tgt(r, coverage, totals["judged"]) for r in rows]


def _hit_without_tgt(r: dict[str, Any], coverage: float, judged: int) -> Hit:
    never = not r["ever_tgt"]
    # the better the evidence holds everyone else's TGTs, the less an account without one is chance
    score = clamp((72 if never else 55) + (coverage - MIN_COVERAGE) * 150)
    src = f" from {r['ip']}" if r["ip"] else ""
    title = (f"Golden ticket sign: {r['n']} service ticket(s) for {r['account']}{src} without a TGT "
             f"in the preceding {TGT_LIFETIME_H} h")
    why = (f"Domain controllers issued {r['n']} service ticket(s) (4769) to {r['account']}{src} over "
           f"{span_text((r['last_ts'] - r['first_ts']).total_seconds())}, with no TGT request or renewal "
           f"(4768/4770) of the account on any domain controller of the evidence in the {TGT_LIFETIME_H} h "
           f"before{' (none at all in the evidence)' if never else ''}, while {coverage:.0%} of the "
           f"{judged:,} service tickets judged have theirs: a forged TGT (golden ticket) is used without "
           "ever being requested.")
    cond = (f"EventID = 4769 AND {account_sql('TargetUserName')} = {quote_literal(r['account'])} AND "
            f"ts BETWEEN {ts_sql(r['first_ts'])} AND {ts_sql(r['last_ts'])}")
    entities = {"account": r["account"], "client": r["ip"], "tickets": r["n"], "never_had_tgt": never,
                "services": sorted(s for s in r["services"] or [] if s), "domain_controllers": r["dcs"],
                "tgt_coverage": round(coverage, 4)}
    return Hit(title=title, why=why, score=score, first_ts=r["first_ts"], last_ts=r["last_ts"],
               key=("no-tgt", r["account"], r["ip"]), user=r["account"], src_ip=r["ip"], event_count=r["n"],
               entities=entities, evidence=(EvidenceQuery("windows", cond),))


def _odd_lifetimes(ctx: CaseContext) -> list[Hit]:
    start = 'coalesce("from", ts)' if ctx.has("zeek_kerberos", "from") else "ts"
    hours = f"({epoch_us_sql('till')} - {epoch_us_sql(start)}) / 3600000000.0"
    client = "client" if ctx.has("zeek_kerberos", "client") else "CAST(NULL AS VARCHAR)"
    service = "service" if ctx.has("zeek_kerberos", "service") else "CAST(NULL AS VARCHAR)"
    rows = ctx.rows(f"""
    WITH k AS (
        SELECT ts, "id.orig_h" AS src, {client} AS who, {service} AS svc, upper(request_type) AS kind,
               CASE WHEN {hours} >= {UNBOUNDED_H} THEN -1 ELSE CAST(round({hours}) AS BIGINT) END AS hours
        FROM zeek_kerberos WHERE till IS NOT NULL AND {ctx.window()}
    ), share AS (
        SELECT kind, hours, count(*) * 1.0 / sum(count(*)) OVER (PARTITION BY kind) AS part,
               sum(count(*)) OVER (PARTITION BY kind) AS total
        FROM k GROUP BY kind, hours
    )
    SELECT k.src, k.kind, k.hours, min(k.ts) AS first_ts, max(k.ts) AS last_ts, count(*) AS n,
           list(DISTINCT k.who) AS clients, list(DISTINCT k.svc) AS services, max(s.part) AS part,
           max(s.total) AS total
    FROM k JOIN share s ON s.kind = k.kind AND s.hours = k.hours
    WHERE k.hours > {TGT_LIFETIME_H} AND s.part < {RARE_SHARE} AND s.total >= {int(1 / RARE_SHARE)}
    GROUP BY k.src, k.kind, k.hours ORDER BY n DESC LIMIT {MAX_HITS}""")
    out = []
    for r in rows:
        cond = (f"\"id.orig_h\" = {quote_literal(r['src'])} AND upper(request_type) = {quote_literal(r['kind'])} "
                f"AND ts BETWEEN {ts_sql(r['first_ts'])} AND {ts_sql(r['last_ts'])}")
        title = f"Golden ticket sign: {r['kind']} requests from {r['src']} for an odd ticket lifetime of {r['hours']} h"
        why = (f"Zeek saw {r['n']} {r['kind']} request(s) from {r['src']} asking for tickets valid {r['hours']} h, "
               f"longer than a TGT's {TGT_LIFETIME_H} h and used by {r['part']:.2%} of the network's "
               f"{r['total']:,} {r['kind']} requests: forging and ticket tools choose their own lifetimes.")
        entities = {"client_address": r["src"], "request_type": r["kind"], "hours": r["hours"], "requests": r["n"],
                    "share_in_network": round(float(r["part"]), 6), "clients": [c for c in r["clients"] or [] if c],
                    "services": [s for s in r["services"] or [] if s][:20]}
        out.append(Hit(title=title, why=why, score=45.0, first_ts=r["first_ts"], last_ts=r["last_ts"],
                       key=("lifetime", r["src"], r["kind"], r["hours"]), src_ip=r["src"], event_count=r["n"],
                       entities=entities, evidence=(EvidenceQuery("zeek_kerberos", cond),)))
    return out


ANALYTIC = Analytic(
    name="golden_ticket",
    title="Golden ticket signs (service tickets without a TGT, odd ticket lifetimes)",
    about=f"Security 4769 service tickets of an account with no 4768/4770 TGT on any domain controller of the "
          f"evidence in the preceding {TGT_LIFETIME_H} h, judged only when the evidence holds the TGTs of at least "
          f"{MIN_COVERAGE:.0%} of all service tickets (else it says so); Zeek kerberos requests for a ticket "
          f"lifetime longer than {TGT_LIFETIME_H} h that is rare in the network.",
    tables=("windows", "zeek_kerberos"),
    run=run,
    attack=("T1558.001",),
    references=("https://attack.mitre.org/techniques/T1558/001/",
                "https://adsecurity.org/?p=1515"),
)
