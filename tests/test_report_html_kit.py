"""What the HTML report's tests and bench/report_bench.py share (no tests here): synthetic result documents with
hostile values or at scale, and a headless Chromium (Debian's, never downloaded) that records what a page did:
console messages, page errors, requests and CSP violations."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from breachscope.model.containment import ContainmentPlan, ContainmentStep
from breachscope.model.exposure import ExposureSummary, LevelCounts
from breachscope.model.exposure_artifact import Evidence, ExposedSubject, ReviewItem, ScopedStatement
from breachscope.model.incident import (
    DataMovement,
    DbSession,
    EvidenceRef,
    ExternalEndpoint,
    Incident,
    IncidentAccount,
    IncidentHost,
    IncidentSuspects,
    TimelineEvent,
)
from breachscope.model.obligations import Facts, Notification, Obligation, Source
from breachscope.model.result import (
    CaseInfo,
    EvidenceFile,
    ExposurePart,
    FindingsPart,
    ResultDocument,
    RuleSummary,
    TimelineEntry,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
T0 = datetime(2025, 1, 20, 16, 12, tzinfo=UTC)

#: evidence text an attacker controls: each must show as text, never as markup, a link or a control sequence
HOSTILE = {
    "script": "<script>window.__pwned = 1</script>",
    "img": '"><img src=x onerror="window.__pwned = 2">',
    "js_url": "javascript:window.__pwned = 3",
    "close": "</script><script>window.__pwned = 4</script><!--",
    "svg": "<svg onload=\"window.__pwned = 5\"><a href=\"javascript:alert(1)\">x</a></svg>",
    "ansi": "\x1b[31mred\x1b[0m\x07",
    "bidi": "invoice\u202egnp.exe",
    "separators": "one\u2028two\u2029three",
    "entity": "&lt;b&gt; &amp; {{ 7 * 7 }} ${x}",
    "sql": "SELECT '<script>' || chr(60) FROM t; -- \"><iframe src=//x>",
    "newline": "web01\nMovement: 10.0.0.9 -> db01 (a forged line)\tend",
}
#: records that record tests catch: the init script runs before the page's own, outside its CSP
WATCH_SCRIPT = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  e => window.__csp.push([e.violatedDirective, e.blockedURI]));
"""


def ref(path: str, record: int, table: str = "windows") -> EvidenceRef:
    return EvidenceRef(table, path, record)


def hostile_document() -> ResultDocument:
    """A small document whose every evidence-written field carries a hostile value."""
    h = HOSTILE
    files = tuple(EvidenceFile(path=f"/evidence/{name}/{value}.log", sha256="ab" * 32, format="syslog",
                               status="ingested", records=10 + i, rejected=i)
                  for i, (name, value) in enumerate(sorted(h.items())))
    fpath = {name: f"/evidence/{name}/{value}.log" for name, value in h.items()}
    hosts = (
        IncidentHost(name=h["script"], addresses=("10.0.0.5",), rank=1, score=90.0, role="entry", roles=("entry",),
                     function=h["img"], crown_jewel=False, first_alert=T0, last_alert=T0 + timedelta(days=2),
                     alerts=3, reasons=(h["ansi"],), evidence=(ref(fpath["script"], 1),)),
        IncidentHost(name=h["bidi"], addresses=("10.0.0.6",), rank=2, score=50.0, role="pivot", roles=("pivot",),
                     function=None, crown_jewel=False, first_alert=T0 + timedelta(days=1), last_alert=None,
                     alerts=1, reasons=(h["js_url"],), evidence=(ref(fpath["bidi"], 2),)),
        IncidentHost(name="db01", addresses=("10.0.0.7",), rank=3, score=10.0, role="crown_jewel",
                     roles=("crown_jewel",), function="database server", crown_jewel=True, first_alert=None,
                     last_alert=None, alerts=0, reasons=(), evidence=()),
    )
    incident = Incident(
        case=h["script"], generated_at=T0 + timedelta(days=30), since=None, until=None,
        story=(f"Entry: {h['script']} {h['img']}", h["js_url"], h["ansi"], h["bidi"], h["separators"], h["newline"]),
        hosts=hosts,
        accounts=(IncidentAccount(name=h["img"], score=40.0, hosts=(h["script"].lower(),), first_seen=T0,
                                  reasons=(h["sql"],), evidence=(ref(fpath["img"], 3),)),),
        external=(ExternalEndpoint(ip="203.0.113.45", name=h["js_url"], role="initial_access", first_seen=T0,
                                   last_seen=T0, connections=2, bytes_out=0, internal_hosts=(h["script"],),
                                   reasons=(h["svg"],), evidence=(ref(fpath["js_url"], 4, "zeek_conn"),)),
                  ExternalEndpoint(ip="203.0.113.80", name=None, role="c2_and_exfiltration", first_seen=T0,
                                   last_seen=T0, connections=70, bytes_out=1000, internal_hosts=(h["bidi"],),
                                   reasons=("beacon",), evidence=(ref(fpath["svg"], 5, "zeek_conn"),))),
        db_sessions=(DbSession(session_id=h["close"], client="10.0.0.5", client_host=h["script"], user="app",
                               application=h["img"], database=h["entity"], first_statement=T0, last_statement=T0,
                               statements=3, score=65.0, suspect=True, reasons=(h["sql"],),
                               evidence=(ref(fpath["sql"], 6, "db_audit"),)),),
        data_movements=(DataMovement(kind="internal_transfer", src=h["script"], dst=h["bidi"], src_ip="10.0.0.5",
                                     dst_ip="10.0.0.6", bytes=3_000_000, start=T0, end=T0, files=(h["close"],),
                                     sensors=("zeek_smb_files",), evidence=(ref(fpath["close"], 7, "zeek_smb"),)),
                        DataMovement(kind="exfiltration", src=h["bidi"], dst="203.0.113.80", src_ip="10.0.0.6",
                                     dst_ip="203.0.113.80", bytes=1_000_000, start=T0, end=T0, files=(),
                                     sensors=("zeek_conn",), evidence=(ref(fpath["separators"], 8, "zeek_conn"),))),
        timeline=(TimelineEvent(ts=T0, stage="initial_access", host=h["script"], summary=h["img"], score=80.0,
                                evidence=(ref(fpath["script"], 1),)),),
        suspects=IncidentSuspects(hosts=(h["script"],), ips=("10.0.0.5",), users=(h["img"],), sessions=(h["close"],),
                                  since=T0, until=T0 + timedelta(days=20)),
        crown_jewels=("db01",), coverage=(), extra={})
    timeline = (
        TimelineEntry(T0, "incident", "incident", "initial_access", h["script"], None, h["img"], 80.0,
                      (ref(fpath["script"], 1),)),
        TimelineEntry(T0 + timedelta(hours=1), "alert", h["ansi"], "lateral_movement", h["script"], h["img"],
                      f"{h['img']} logged on to {h['bidi']} from it", 70.0, (ref(fpath["img"], 3),)),
        TimelineEntry(T0 + timedelta(hours=2), "finding", h["close"], "discovery", h["bidi"], h["bidi"], h["sql"],
                      60.0, (ref(fpath["sql"], 9, "db_audit"), ref("/not/listed/" + h["img"], 10))),
        TimelineEntry(None, "alert", "c2", "c2", None, None, h["separators"], 12.5, ()),
    )
    subjects = (
        ExposedSubject("organization", h["img"], h["script"], h["img"], h["img"], "JP", "CONFIRMED_EXFILTRATED",
                       ("email", h["ansi"]), {"email": "CONFIRMED_EXFILTRATED", h["ansi"]: "CONFIRMED_ACCESSED"}, (),
                       None, 2, (Evidence("file", "CONFIRMED_ACCESSED", None, fpath["entity"], 11, h["js_url"]),),
                       "snap"),
        ExposedSubject("person", "p-2", h["bidi"], h["img"], None, "JP", "POTENTIAL", ("phone",),
                       {"phone": "POTENTIAL"}, (), None, 1,
                       (Evidence("statement", "POTENTIAL", "s1", fpath["sql"], 12, "LIMIT"),), "snap"),
        ExposedSubject("organization", "o-3", h["close"], "o-3", "o-3", "JP", "NOT_EXPOSED", ("email",),
                       {"email": "CONFIRMED_ACCESSED"}, (h["entity"],), "CONFIRMED_ACCESSED", 1,
                       (Evidence("file", "CONFIRMED_ACCESSED", None, None, None, "excluded by policy"),), "snap"),
    )
    summary = ExposureSummary(
        organizations=LevelCounts(1, 0, 0), persons=LevelCounts(0, 0, 1), categories=("email", "phone", h["ansi"]),
        category_levels={"email": "CONFIRMED_EXFILTRATED", "phone": "POTENTIAL", h["ansi"]: "CONFIRMED_ACCESSED"},
        excluded={"organizations": 1, "persons": 0, "policies": {h["entity"]: {"organizations": 1, "persons": 0}}},
        statements={"replayed": 1, "potential": 0, "ignored": 0}, review=1,
        jurisdictions={"JP": {"organizations": 1, "persons": 1}}, snapshot=h["svg"], inventory=h["script"])
    statements = (ScopedStatement("s1", "replayed", None, None, fpath["sql"], 12, (), T0, h["img"], "10.0.0.5",
                                  h["close"], "orders", "pgaudit", "SELECT", ("customers",), ("email",), 1, 1, 1,
                                  h["sql"] + "\n" + h["newline"]),)
    review = (ReviewItem("ambiguous_value", (h["img"], "p-2"), h["svg"], fpath["entity"], 13),)
    obligations = Notification(
        aware_at="2025-02-05T17:00:00+09:00", exposure_run="run-1", jurisdictions=(),
        facts=Facts({"JP": {"organizations": 1, "persons": 1}}, ("email",), True, (), False),
        obligations=(
            Obligation("jp_appi", "JP", "ppc_preliminary", h["img"], h["script"], "yes", (h["ansi"],),
                       "2025-02-10T23:59:59+09:00", "3-5 days", 1, 1,
                       (Source(h["close"], h["entity"], h["js_url"]),)),
            Obligation("jp_appi", "JP", "individuals", "the individuals", "notice", "unknown", ("?",), None,
                       "promptly", 1, 1),
            Obligation("eu_gdpr", "EU", "sa", "the authority", "notification", "no", ("no EU subjects",), None,
                       "72 hours", 0, 0)),
        drafts=(), owed="yes", reason="")
    plan = ContainmentPlan(
        case=h["script"], incident_generated_at=T0 + timedelta(days=30),
        steps=(ContainmentStep(1, "preserve", "capture_memory", "host", h["script"], ("10.0.0.5",), None, (),
                               h["img"], (ref(fpath["script"], 1),), h["js_url"]),
               ContainmentStep(2, "block", "block_address", "network", "203.0.113.80", ("203.0.113.80",), None, (),
                               "c2", (ref(fpath["svg"], 5, "zeek_conn"),), "remove the rule")),
        keep_access=(), internal_networks=("10.0.0.0/8",), notes=(h["ansi"],))
    findings = FindingsPart(total=3, by_level={"high": 2, "medium": 1},
                            rules=(RuleSummary(h["img"], h["script"], "sigma", "high", ("T1003",), 2, T0, T0,
                                               (h["bidi"],)),
                                   RuleSummary("r2", "rule two", "sigma", "medium", (), 1, T0, T0, ())),
                            listed=(), note="every finding is listed")
    return ResultDocument(
        case=CaseInfo(name=h["script"], runs={"incident": "run-2"}, evidence_files=files, breachscope="0.1.0"),
        findings=findings, incident=incident, timeline=timeline, timeline_total=5,
        exposure=ExposurePart(summary, subjects, 3, statements, review), obligations=obligations,
        containment=plan, missing=(f"subjects: {h['img']} left out",))


def big_document(subjects: int = 20_000, entries: int = 100_000, files: int = 500) -> ResultDocument:
    """A document at scale: `subjects` subjects and `entries` timeline entries over 40 hosts and 30 accounts."""
    stages = ("initial_access", "discovery", "lateral_movement", "collection", "exfiltration", "c2")
    paths = tuple(f"/evidence/host{i % 40:02d}/day{i:04d}/security.evtx" for i in range(files))
    timeline = tuple(
        TimelineEntry(T0 + timedelta(seconds=37 * i), ("alert", "finding", "incident")[i % 3], f"kind{i % 7}",
                      stages[i % len(stages)], f"HOST{i % 40:02d}", f"user{i % 30:02d}" if i % 5 else None,
                      f"event {i} on HOST{i % 40:02d}", float(i % 100), (ref(paths[i % files], i),))
        for i in range(entries))
    levels = ("CONFIRMED_EXFILTRATED", "CONFIRMED_ACCESSED", "POTENTIAL")
    people = tuple(
        ExposedSubject("person" if i % 2 else "organization", f"S{i:06d}", f"Subject name {i:06d} 株式会社",
                       f"O{i // 2:06d}", None, "JP", levels[i % 3], ("email", "phone", "postal_address")[: 1 + i % 3],
                       {"email": levels[i % 3]}, (), None, 1 + i % 4,
                       (Evidence("file", levels[i % 3], None, paths[i % files], i, "email found"),), "snap")
        for i in range(subjects))
    orgs = sum(1 for s in people if s.subject_type == "organization")
    counts = [sum(1 for s in people if s.level == lv and s.subject_type == t) for t in ("organization", "person")
              for lv in levels]
    summary = ExposureSummary(
        organizations=LevelCounts(*counts[:3]), persons=LevelCounts(*counts[3:]),
        categories=("email", "phone", "postal_address"), category_levels={"email": levels[0]},
        excluded={"organizations": 0, "persons": 0, "policies": {}}, statements={"replayed": 1},
        jurisdictions={"JP": {"organizations": orgs, "persons": subjects - orgs}})
    return ResultDocument(
        case=CaseInfo(name="big", runs={}, evidence_files=tuple(EvidenceFile(p, "00" * 32, "evtx", "ingested", 100, 0)
                                                                for p in paths), breachscope="0.1.0"),
        findings=None, incident=None, timeline=timeline, timeline_total=entries,
        exposure=ExposurePart(summary, people, subjects, (), ()), obligations=None, containment=None,
        missing=("findings: no hunt has run", "incident: no investigation has run"))


@dataclass
class Watched:
    """What one page did while it was open."""

    page: Any
    url: str
    console: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def csp_violations(self) -> list[Any]:
        return list(self.page.evaluate("window.__csp"))


@contextmanager
def browser() -> Iterator[Any]:
    """Debian's headless Chromium through playwright (never `playwright install`: nothing is downloaded)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def open_report(b: Any, path: Path, viewport: tuple[int, int] = (1400, 1000)) -> Watched:
    """Open a report file in a new page, recording its console, errors, requests and CSP violations, and wait
    for the page's first render (window.bsReady)."""
    page = b.new_page(viewport={"width": viewport[0], "height": viewport[1]})
    w = Watched(page, path.resolve().as_uri())
    page.on("console", lambda m: w.console.append((m.type, m.text)))
    page.on("pageerror", lambda e: w.errors.append(str(e)))
    page.on("request", lambda r: w.requests.append(r.url))
    page.add_init_script(WATCH_SCRIPT)
    page.goto(w.url, wait_until="load")
    page.wait_for_function("() => window.bsReady === true")  # a function: the page's CSP refuses eval
    return w


def keep_screenshot(png: Path, folder: str | None) -> None:
    """A copy of a screenshot in the review folder (BREACHSCOPE_REPORT_SCREENSHOTS), when one is set."""
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(folder) / png.name)
