"""truth.json: what really happened, kept apart from the evidence (the investigation never reads it)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

import orjson

from breachscope.simulate import clock
from breachscope.simulate.attack import AttackOutput
from breachscope.simulate.config import SimConfig
from breachscope.simulate.datastory import DataStory
from breachscope.simulate.schedule import descriptions
from breachscope.simulate.streams import GroupResult, Located

VERSION = 1


def iso(us: int) -> str:
    return datetime.fromtimestamp(us / clock.US, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_TIME_KEYS = ("start", "end", "first", "last", "from", "to")


def _times(section: dict) -> dict:
    """Epoch microseconds under the time keys of an episode's section become ISO 8601 text."""
    return {k: (iso(v) if k in _TIME_KEYS and isinstance(v, int) else _times(v) if isinstance(v, dict) else v)
            for k, v in section.items()}


def _records(located: list[Located]) -> list[dict]:
    return [{"file": r.file, "line": r.line, "ts": iso(r.ts), "tag": r.tag, **({"ref": r.ref} if r.ref else {})}
            for r in located]


def _exfiltration(attack: AttackOutput) -> dict:
    """Bytes out in all, and where they went: the first exfiltration step's destination, and every step's
    when there are several (a DNS tunnel's destination is the domain's name server, which its resolver asks)."""
    paths = attack.exfil_paths
    if not paths:
        return {"bytes": 0, "destination_ip": None, "destination_name": None, "source": None}
    first = paths[0]
    out = {"bytes": attack.exfil_bytes, "destination_ip": first["destination_ip"],
           "destination_name": first["destination_name"], "source": first["source"]}
    return {**out, "paths": paths} if len(paths) > 1 else out


def _log_sources(cfg: SimConfig) -> dict:
    """What the organization collects, when it is not everything."""
    spec = cfg.scenario_spec.network.log_sources
    return {"log_sources": spec.model_dump(mode="json")} if spec != type(spec)() else {}


def build(cfg: SimConfig, attack: AttackOutput, data: DataStory, results: list[GroupResult],
          episodes: dict[str, dict], not_collected: dict[str, int] | None = None) -> dict:
    queries, scope = data.queries, data.scope
    located = sorted((r for g in results for r in g.located), key=lambda r: (r.file, r.line))
    attack_recs = [r for r in located if r.tag.startswith(("attack:", "response:"))]
    lines_of: dict[str, list[dict]] = defaultdict(list)
    for r in attack_recs:
        if r.ref.startswith("q"):
            lines_of[r.ref].append({"file": r.file, "line": r.line})
    statements = []
    for st in attack.statements:
        q = next(x for x in queries if x.ref == st["ref"])
        statements.append({**st, "ts": iso(st["ts"]), "records": lines_of.get(q.ref, []),
                           **scope.by_statement[q.ref],
                           "relations": list(q.relations), "returned_rows_are_known": q.certain})
    first, last = attack.window
    suspects = [attack.hosts["device_a"]["name"], attack.hosts["device_b"]["name"]]
    ext = attack.hosts["external"]
    return {
        "version": VERSION,
        "scenario": cfg.scenario_spec.name,
        "variant": cfg.variant,
        "seed": cfg.seed,
        "events_requested": cfg.events,
        "customers": cfg.customers,
        "episodes_requested": list(cfg.episodes),
        "period": {"start": iso(clock.START), "end": iso(clock.END), "local_timezone": clock.PERIOD.time_zone},
        **_log_sources(cfg),
        "hosts": attack.hosts,
        "timeline": [{**e, "ts": iso(e["ts"])} for e in attack.timeline],
        "evidence": {
            "records": _records(attack_recs),
            "counts_by_tag": dict(sorted(Counter(r.tag for r in attack_recs).items())),
            "staged_files": [vars(f) for f in attack.staged],
            "note": "line = the line where the record starts (src_record after ingest); staged_files are files "
                    "found on device B, not logs",
            # the story's records in logs the organization does not keep (network.log_sources), by tag
            **({"not_collected": dict(sorted(not_collected.items()))} if not_collected else {}),
        },
        "database": {
            "database": data.database,
            "statements": statements,
            "ranges": data.ranges,
            "physical_order_of_probe": data.probe_order,
        },
        "exfiltration": _exfiltration(attack),
        "affected": {
            "organization_count": len(scope.organizations),
            "organizations": scope.organizations,
            "person_count": len(scope.persons),
            "persons": scope.persons,
            "categories": scope.categories,
            "confirmed": {"organization_count": len(scope.confirmed_organizations),
                          "person_count": len(scope.confirmed_persons), "persons": scope.confirmed_persons,
                          "meaning": "returned by statements whose rows the log determines"},
            "potential": {"organization_count": len(scope.potential_organizations),
                          "organizations": scope.potential_organizations,
                          "person_count": len(scope.potential_persons), "persons": scope.potential_persons,
                          "statements": [q.ref for q in queries if not q.certain],
                          "meaning": "may have been returned by a LIMIT without ORDER BY (the log cannot tell "
                                     "which rows); not confirmed by any other statement. Of these, the persons in "
                                     "`persons` minus `confirmed.persons` were in fact returned; no potential "
                                     "organization was"},
            "excluded": {"organization_count": len(scope.excluded),
                         "organizations": [{"id": o, "rule": r} for o, r in scope.excluded.items()],
                         **({"person_count": len(scope.excluded_persons),
                             "persons": [{"id": p, "rule": r} for p, r in scope.excluded_persons.items()]}
                            if scope.excluded_persons else {}),
                         "meaning": "every row of theirs that the statements returned matches an exclusion"},
        },
        "investigation_inputs": {
            "suspect_hosts": suspects,
            "suspect_ips": [attack.hosts["device_a"]["ip"], attack.hosts["device_b"]["ip"],
                            *[v for k, v in ext.items() if k != "c2_name"]],
            "database": data.database,
            "database_users": [attack.hosts["database"]["user"]],
            "database_clients": [attack.hosts["device_a"]["ip"]],
            # the attacker's database sessions (backend pids): device A also serves the application, whose
            # ordinary statements from the same client and account are not the attack
            "database_sessions": sorted({str(q["pid"]) for q in statements}, key=int),
            "time_window": {"start": iso(first), "end": iso(last)},
        },
        "hard_negatives": {
            "descriptions": descriptions(attack.story.net, cfg.scenario_spec.routine, data.refs.workload.what,
                                         data.database),
            "counts_by_tag": dict(sorted(Counter(r.tag for r in located if r.tag.startswith("benign:")).items())),
            "records": _records([r for r in located if r.tag.startswith("benign:")]),
        },
        "episodes": {name: {**_times(section),
                            "records": _records([r for r in located if r.tag.startswith(f"episode:{name}:")])}
                     for name, section in episodes.items()},
        "output": {"files": sum(len(g.files) for g in results), "records": sum(g.records for g in results),
                   "noise_records": sum(g.noise_records for g in results), "bytes": sum(g.bytes for g in results),
                   "lines": sum(g.lines for g in results)},
    }


def write(path: Path, truth: dict) -> None:
    path.write_bytes(orjson.dumps(truth, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))
