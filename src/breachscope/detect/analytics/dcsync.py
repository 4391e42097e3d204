"""DCSync: directory replication requested from a host that is not a domain controller.

Two views of the same act. On a domain controller, Security 4662 records the use of a replication right
(DS-Replication-Get-Changes[-All|-In-Filtered-Set]) by an account; the account's logon on that DC (4624,
joined by logon id, else the same account's network logon just before) says from which address. On the
wire, Zeek's dce_rpc log shows DRSGetNCChanges calls to the drsuapi interface and who made them. Domain
controllers replicate with each other all day, with their machine accounts and from their own addresses;
which machines are DCs is learned from the evidence (active_directory.py). An account or address that
replicates on many days is a directory synchronisation service more likely than an attack: it is kept
low."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from breachscope.detect.analytics.active_directory import (
    LOOPBACK,
    DomainControllers,
    account_sql,
    domain_controllers,
    in_list,
    ip_sql,
    ts_sql,
)
from breachscope.detect.analytics.base import Analytic, EvidenceQuery, Hit, Skipped
from breachscope.detect.casecontext import CaseContext
from breachscope.detect.casesql import epoch_us_sql, host_key_sql
from breachscope.model.sql import quote_literal

RIGHTS = {
    "1131f6aa-9c07-11d1-f79f-00c04fc2dcd2": "DS-Replication-Get-Changes",
    "1131f6ad-9c07-11d1-f79f-00c04fc2dcd2": "DS-Replication-Get-Changes-All",
    "89e95b76-444d-4c62-991a-0facbeda640c": "DS-Replication-Get-Changes-In-Filtered-Set",
}
ROUTINE_DAYS = 3  # replicating on this many days: a synchronisation service, kept low
LOGON_BEFORE_S = 120  # a network logon this close before the request, by the same account, is its session
SAME_ACT_S = 900  # a 4662 and a Zeek DRSGetNCChanges from one address this close are one request


@dataclass
class Request:
    """One replication request (or a run of them) by an account or from an address."""

    first: datetime
    last: datetime
    count: int  # 4662 events, or DRSGetNCChanges calls for a request seen by Zeek only
    account: str | None = None
    source: str | None = None  # the requesting address, when known
    source_how: str = ""
    dc: str | None = None  # the DC asked (name, or address when only Zeek saw it)
    dc_address: str | None = None
    rights: set[str] = field(default_factory=set)
    days: int = 1
    evidence: list[EvidenceQuery] = field(default_factory=list)
    zeek_calls: int = 0
    windows: bool = False

    @property
    def pair(self) -> tuple[str | None, str | None]:
        """Who replicates from where: what makes replication routine when it recurs on many days."""
        return (self.account.lower() if self.account else None), self.source


def run(ctx: CaseContext) -> list[Hit]:
    has_windows = ctx.has("windows", "EventID", "Properties", "SubjectUserName", "SubjectLogonId", "Computer")
    has_zeek = ctx.has("zeek_dce_rpc", "id.orig_h", "id.resp_h", "endpoint", "operation")
    if not has_windows and not has_zeek:
        raise Skipped("needs Security 4662 events of a domain controller or a Zeek dce_rpc log; the case has "
                      "neither")
    dcs = domain_controllers(ctx)
    from_windows = _windows_requests(ctx, dcs) if has_windows else []
    from_zeek = _zeek_requests(ctx, dcs) if has_zeek else []
    requests = _merge(from_windows, from_zeek)
    if not requests and not _any_replication_seen(ctx, has_windows, has_zeek):
        raise Skipped("no replication is seen at all (no directory service access events 4662 in the Security "
                      "logs, no drsuapi calls in Zeek): the domain controllers' logs are not in the evidence, "
                      "'Audit Directory Service Access' is off, or the sensor does not see them")
    days: dict[tuple[str | None, str | None], set[date]] = {}
    for r in requests:
        days.setdefault(r.pair, set()).add(r.first.date())
    hits: list[Hit] = []
    routine: dict[tuple[str | None, str | None], list[Request]] = {}
    for r in requests:
        r.days = len(days[r.pair])
        if r.days >= ROUTINE_DAYS:
            routine.setdefault(r.pair, []).append(r)
        else:
            hits.append(_hit(r, dcs))
    return hits + [_routine_hit(runs, dcs) for runs in routine.values()]


def _any_replication_seen(ctx: CaseContext, has_windows: bool, has_zeek: bool) -> bool:
    probes = (["SELECT 1 AS x FROM windows WHERE EventID = 4662 LIMIT 1"] if has_windows else []) + (
        ["SELECT 1 AS x FROM zeek_dce_rpc WHERE lower(endpoint) = 'drsuapi' LIMIT 1"] if has_zeek else [])
    return any(ctx.rows(p) for p in probes)


def _rights_sql() -> str:
    return " OR ".join(f"lower(Properties) LIKE {quote_literal('%' + g + '%')}" for g in RIGHTS)


def _windows_requests(ctx: CaseContext, dcs: DomainControllers) -> list[Request]:
    """4662 replication rights used by accounts other than the known DCs' machine accounts: one request per
    DC, account and run of uses (no gap over SAME_ACT_S), with the requesting address from its logon."""
    groups = _replication_runs(ctx, dcs)
    logons = _logons_of(ctx, groups) if groups else []
    out = []
    for g in groups:
        source, how = _source(g, logons)
        if dcs.is_dc_address(source) and str(g["account"] or "").endswith("$"):
            continue  # a DC we did not know by name, replicating from its own address
        on_dc = f"Computer = {quote_literal(g['Computer'] or '')}"
        cond = (f"EventID = 4662 AND {on_dc} AND SubjectUserName = {quote_literal(g['account'] or '')} AND "
                f"({_rights_sql()}) AND ts BETWEEN {ts_sql(g['first_ts'])} AND {ts_sql(g['last_ts'])}")
        evidence = [EvidenceQuery("windows", cond)]
        if source:
            since = g["first_ts"] - timedelta(seconds=LOGON_BEFORE_S)
            evidence.append(EvidenceQuery("windows", f"EventID = 4624 AND {on_dc} AND {ip_sql('IpAddress')} = "
                                                     f"{quote_literal(source)} AND ts BETWEEN {ts_sql(since)} AND "
                                                     f"{ts_sql(g['last_ts'])}"))
        out.append(Request(g["first_ts"], g["last_ts"], int(g["n"]), account=g["account"], source=source,
                           source_how=how, dc=g["Computer"],
                           rights={name for i, name in enumerate(RIGHTS.values()) if g[f"r{i}"]},
                           evidence=evidence, windows=True))
    return out


def _replication_runs(ctx: CaseContext, dcs: DomainControllers) -> list[dict[str, Any]]:
    acc = "lower(account)"
    gap = SAME_ACT_S * 1_000_000
    rights = ", ".join(f"max(CASE WHEN lower(Properties) LIKE {quote_literal('%' + g + '%')} THEN 1 ELSE 0 END) "
                       f"AS r{i}" for i, g in enumerate(RIGHTS))
    return ctx.rows(f"""
    WITH rep AS (
        SELECT ts, Computer, SubjectUserName AS account, lower(SubjectLogonId) AS logon_id, Properties
        FROM windows
        WHERE EventID = 4662 AND ({_rights_sql()}) AND {ctx.window()}
          AND NOT (SubjectUserName LIKE '%$' AND {host_key_sql('SubjectUserName')} IN {in_list(dcs.names)})
    ), gaps AS (
        SELECT *, CASE WHEN {epoch_us_sql('ts')} - lag({epoch_us_sql('ts')}) OVER (
                       PARTITION BY Computer, {acc} ORDER BY ts) <= {gap} THEN 0 ELSE 1 END AS new_run
        FROM rep
    ), runs AS (
        SELECT *, sum(new_run) OVER (PARTITION BY Computer, {acc} ORDER BY ts
                                     ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS run_id
        FROM gaps
    )
    SELECT Computer, {acc} AS acc, run_id, min(account) AS account, min(ts) AS first_ts, max(ts) AS last_ts,
           count(*) AS n, list(DISTINCT logon_id) AS logon_ids, {rights}
    FROM runs GROUP BY Computer, {acc}, run_id ORDER BY first_ts""")


def _logons_of(ctx: CaseContext, groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The network logons (4624) on the groups' DCs that may be theirs: by logon id, or by the account
    shortly before the first use."""
    if not ctx.has("windows", "TargetLogonId", "TargetUserName", "IpAddress"):
        return []
    ip = ip_sql("IpAddress")
    out: list[dict[str, Any]] = []
    for part in range(0, len(groups), 200):  # bounded SQL size
        conds = []
        for g in groups[part:part + 200]:
            ids = {i for i in g["logon_ids"] or [] if i}
            since = g["first_ts"] - timedelta(seconds=LOGON_BEFORE_S)
            by_id = f"lower(TargetLogonId) IN {in_list(ids)} OR " if ids else ""
            conds.append(f"(Computer = {quote_literal(g['Computer'] or '')} AND ({by_id}("
                         f"{account_sql('TargetUserName')} = {quote_literal(g['acc'] or '')} AND "
                         f"ts BETWEEN {ts_sql(since)} AND {ts_sql(g['first_ts'])})))")
        out += ctx.rows(f"""SELECT Computer, lower(TargetLogonId) AS logon_id, {account_sql('TargetUserName')} AS acc,
                                   {ip} AS ip, ts FROM windows
                            WHERE EventID = 4624 AND {ip} IS NOT NULL AND ({' OR '.join(conds)})""")
    return out


def _source(g: dict[str, Any], logons: list[dict[str, Any]]) -> tuple[str | None, str]:
    """The requesting address: the logon session of a use (same DC and logon id), else the same account's
    latest logon on that DC in the LOGON_BEFORE_S before the first use."""
    mine = [lg for lg in logons if lg["Computer"] == g["Computer"]]
    ids = set(g["logon_ids"] or [])
    by_id = sorted(lg["ip"] for lg in mine if lg["logon_id"] in ids)
    if by_id:
        return by_id[-1], "its logon session"
    since = g["first_ts"] - timedelta(seconds=LOGON_BEFORE_S)
    before = [lg for lg in mine if lg["acc"] == g["acc"] and since <= lg["ts"] <= g["first_ts"]]
    if before:
        return max(before, key=lambda lg: lg["ts"])["ip"], "the same account's logon just before"
    return None, ""


def _zeek_requests(ctx: CaseContext, dcs: DomainControllers) -> list[Request]:
    """DRSGetNCChanges calls from addresses that are not domain controllers, per source, target and day."""
    not_dc = f'"id.orig_h" NOT IN {in_list(dcs.addresses)}' if dcs.addresses else "true"
    sql = f"""
    SELECT "id.orig_h" AS src, "id.resp_h" AS dst, CAST(ts AS DATE) AS day, min(ts) AS first_ts, max(ts) AS last_ts,
           count(*) AS n
    FROM zeek_dce_rpc
    WHERE lower(endpoint) = 'drsuapi' AND lower(operation) = 'drsgetncchanges' AND {ctx.window()} AND {not_dc}
    GROUP BY "id.orig_h", "id.resp_h", CAST(ts AS DATE) ORDER BY first_ts"""
    out = []
    for r in ctx.rows(sql):
        cond = (f"lower(endpoint) = 'drsuapi' AND \"id.orig_h\" = {quote_literal(r['src'])} AND "
                f"\"id.resp_h\" = {quote_literal(r['dst'])} AND "
                f"ts BETWEEN {ts_sql(r['first_ts'])} AND {ts_sql(r['last_ts'])}")
        out.append(Request(r["first_ts"], r["last_ts"], int(r["n"]), source=r["src"], source_how="Zeek dce_rpc",
                           dc=r["dst"], dc_address=r["dst"], evidence=[EvidenceQuery("zeek_dce_rpc", cond)],
                           zeek_calls=int(r["n"])))
    return out


def _merge(from_windows: list[Request], from_zeek: list[Request]) -> list[Request]:
    """A 4662 request and the DRSGetNCChanges calls from its address at the same time are one act."""
    out = list(from_windows)
    for z in from_zeek:
        twin = next((w for w in out if w.windows and not w.zeek_calls and w.source == z.source
                     and abs((w.first - z.first).total_seconds()) <= SAME_ACT_S), None)
        if twin is None:
            out.append(z)
            continue
        twin.zeek_calls = z.zeek_calls
        twin.first, twin.last = min(twin.first, z.first), max(twin.last, z.last)
        twin.evidence += z.evidence
        twin.source_how += " and Zeek dce_rpc"
        twin.dc_address = z.dc_address
    return out


def _hit(r: Request, dcs: DomainControllers) -> Hit:
    machine = bool(r.account) and str(r.account).endswith("$")
    on_dc = r.source in LOOPBACK or dcs.is_dc_address(r.source)
    score, title = _verdict(r, machine, on_dc)
    why = _why(r, dcs, machine, on_dc)
    entities: dict[str, Any] = {"account": r.account, "source": r.source, "source_from": r.source_how or None,
                                "domain_controller": r.dc, "rights": sorted(r.rights), "requests": r.count,
                                "days": r.days, "seen_by": [s for s, on in (("windows 4662", r.windows),
                                                                            ("zeek dce_rpc", r.zeek_calls)) if on],
                                "known_dc_names": sorted(dcs.names), "known_dc_addresses": sorted(dcs.addresses)}
    return Hit(title=title, why=why, score=score, first_ts=r.first, last_ts=r.last,
               key=(r.account, r.source, r.dc, r.first), host=r.dc, user=r.account, src_ip=r.source,
               dst_ip=r.dc_address, event_count=r.count, entities=entities,
               evidence=tuple(r.evidence))


def _routine_hit(runs: list[Request], dcs: DomainControllers) -> Hit:
    """One low hit for an account (and address) that replicates on ROUTINE_DAYS days or more."""
    first = _hit(runs[0], dcs)
    days, count = runs[0].days, sum(r.count for r in runs)
    title = f"{first.title} (routine: on {days} days)"
    why = (f"{first.why} It replicates like this on {days} days of the evidence ({len(runs)} runs): a directory "
           "synchronisation service (e.g. Entra Connect) more likely than an attack; confirm it is one.")
    entities = {**first.entities, "runs": len(runs), "days": days, "requests": count}
    return replace(first, title=title, why=why, score=min(first.score, 35.0), last_ts=max(r.last for r in runs),
                   key=("routine", *runs[0].pair), event_count=count, entities=entities,
                   evidence=tuple(e for r in runs[:3] for e in r.evidence))


def _verdict(r: Request, machine: bool, on_dc: bool) -> tuple[float, str]:
    """Score and title. A machine account that is not a known DC is most often a DC whose own logs are
    missing: it is kept low unless Zeek also saw its address replicate without being a DC."""
    if not r.account:
        return 90.0, f"DCSync: DRSGetNCChanges from {r.source}, not a domain controller, to {r.dc}"
    if machine:
        if on_dc:
            return 30.0, f"Directory replication by machine account {r.account} on domain controller {r.dc}"
        if r.source and r.zeek_calls:
            return 80.0, (f"DCSync: directory replication by machine account {r.account} from {r.source}, "
                          "not a domain controller")
        where = f" from {r.source}" if r.source else ""
        return (45.0 if r.source else 40.0), (f"DCSync?: directory replication by machine account {r.account}{where}, "
                                              "not a known domain controller")
    if on_dc:
        return 60.0, f"DCSync-like replication by user account {r.account} on domain controller {r.dc}"
    if r.source:
        return 92.0, f"DCSync: directory replication requested by {r.account} from {r.source}, not a domain controller"
    return 80.0, f"DCSync: directory replication requested by user account {r.account} on {r.dc}"


def _why(r: Request, dcs: DomainControllers, machine: bool, on_dc: bool) -> str:
    parts = []
    if r.windows:
        rights = ", ".join(sorted(r.rights)) or "replication rights"
        kind = "machine account" if machine else "account that is not a machine account"
        parts.append(f"{r.dc} audited {r.count} use(s) of {rights} by {r.account}, an {kind}"
                     + ("" if machine else " (domain controllers replicate with their machine accounts)") + ".")
    if r.zeek_calls:
        parts.append(f"Zeek saw {r.zeek_calls} DRSGetNCChanges call(s) from {r.source} to {r.dc_address}.")
    if r.source:
        where = "the domain controller itself" if r.source in LOOPBACK else r.source
        state = "a domain controller" if on_dc else "not a domain controller"
        parts.append(f"The request came from {where} (by {r.source_how}), {state}.")
    else:
        parts.append("Its source address is not in the evidence (no matching logon).")
    parts.append(f"DCSync reads every password hash of the domain; {dcs.summary()}.")
    return " ".join(parts)


ANALYTIC = Analytic(
    name="dcsync",
    title="DCSync (directory replication from a host that is not a domain controller)",
    about="Security 4662 uses of the replication rights by accounts that are not domain controllers' machine "
          "accounts, with the requesting address from the logon (4624), and Zeek DRSGetNCChanges calls from "
          "addresses that are not domain controllers; the domain controllers are learned from the evidence. "
          "Accounts or addresses that replicate on many days are kept low (synchronisation services).",
    tables=("windows", "zeek_dce_rpc"),
    run=run,
    attack=("T1003.006",),
    references=("https://attack.mitre.org/techniques/T1003/006/",
                "https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-drsr/"),
)
