"""Analytics on real labelled captures (issue 13): precision and recall per capture, from per-flow labels.

    .venv/bin/python bench/captures_bench.py [--datasets ../shared/datasets] [--work DIR]

Each capture is ingested into its own case and hunted with the analytics only
(`hunt --no-builtin-rules --analytics all`). A connection is *flagged* when a finding at level low or
above names both of its addresses (src_ip and dst_ip, either direction), or names one of them and has no
other address. Per capture, over Zeek conn records with a per-flow label (Stratosphere's netflowlabeler
`label` column: Malicious, Benign, Background; Background counts as not malicious):

- precision = flagged malicious / flagged;  recall = flagged malicious / malicious.

Captures whose ground truth is their recipe (no per-flow labels) are checked against it: the Slips
test-cc pcaps are a curl to one server every 2 s (strictly, and every 2-3 s): a beacon finding naming that
server; the CIC-DDoS2019 SYN flood sample: a DDoS finding naming the victim (SOURCE.md). The pcap ones need
the pcap reader; when a capture is missing the line says so.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from investigate_bench import CLI, StepError, run  # bench/ is the script's folder: on sys.path

from breachscope.engines.duckdb_case import open_case

ROOT = Path(__file__).resolve().parents[1]
#: (capture, the network inside): 008 to 012 are a host attacked from the Internet in CTU's captures (CTU-Normal-40
#: ...: their READMEs); its address 147.32.81.167 is in CTU's public network 147.32.0.0/16, given as assets.yaml
#: internal_networks as a user on public addresses would
CTU = "147.32.0.0/16"
LABELLED = (("stratosphere-security-datasets/001-zeek-scenario-malicious/labeled-conn.log", None),
            ("stratosphere-security-datasets/008-zeek-mixed/data", CTU),
            ("stratosphere-security-datasets/010-zeek-mixed/data", CTU),
            ("stratosphere-security-datasets/011-zeek-mixed/data", CTU),
            ("stratosphere-security-datasets/012-zeek-mixed/data", CTU))
#: (capture, what the finding must say, the address it must name, the network inside). The Slips captures
#: were taken on a host of CTU's network too (UPSTREAM_docs_datasets.md: tcpdump ... host 147.32.80.37)
RECIPES = (
    ("stratosphere-slips-dataset/dataset/test-cc/test-cc-capture-1.pcap", "beacon", None, CTU),
    ("stratosphere-slips-dataset/dataset/test-cc/test-cc-capture-2.pcap", "beacon", None, CTU),
    ("cic-ddos2019-lucid-sample/CIC-DDoS-2019-SynFlood.pcap", "flood", "192.168.50.4", None),  # one source: "DoS"
)
LEVELS = ("low", "medium", "high", "critical")


def hunt(evidence: Path, work: Path, inside: str | None = None) -> tuple[Path, list[dict]]:
    case = work / "case"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    run("ingest", [*CLI, "ingest", str(evidence), "--case", str(case), "--json"])
    out = work / "findings.jsonl"
    assets = []
    if inside:
        (work / "assets.yaml").write_text(f"internal_networks: [{inside}]\n")
        assets = ["--assets", str(work / "assets.yaml")]
    run("hunt", [*CLI, "hunt", str(case), "--no-builtin-rules", "--analytics", "all", "--format", "jsonl", "--out",
                 str(out), *assets])
    findings = [json.loads(x) for x in out.read_text().splitlines() if x.strip()]
    return case, [f for f in findings if str(f.get("level", "")).lower() in LEVELS]


def scored(case: Path, findings: list[dict]) -> tuple[int, int, int, int]:
    """(malicious, flagged, flagged malicious, conn records) over the labelled conn records."""
    pairs = {frozenset((f["src_ip"], f["dst_ip"])) for f in findings if f.get("src_ip") and f.get("dst_ip")}
    singles = {f.get("src_ip") or f.get("dst_ip") for f in findings if bool(f.get("src_ip")) != bool(f.get("dst_ip"))}
    with open_case(case) as c:
        rows = c.rows('SELECT "id.orig_h", "id.resp_h", label FROM zeek_conn')
    mal = flagged = hit = 0
    for a, b, label in rows:
        is_mal = str(label or "").lower().startswith("malicious")
        flag = frozenset((a, b)) in pairs or a in singles or b in singles
        mal += is_mal
        flagged += flag
        hit += flag and is_mal
    return mal, flagged, hit, len(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    ap.add_argument("--work", type=Path, default=None)
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="breachscope-captures-bench-"))
    try:
        for i, (rel, network) in enumerate(LABELLED):
            src = args.datasets / rel
            if not src.exists():
                print(f"{rel}: missing (not in this checkout of the datasets)")
                continue
            case, findings = hunt(src, work / f"labelled-{i}", network)
            mal, flagged, hit, n = scored(case, findings)
            precision = f"{hit / flagged:.3f}" if flagged else "- (nothing flagged)"
            recall = f"{hit / mal:.3f}" if mal else "- (no malicious flow)"
            rules = sorted({f["rule_id"] for f in findings})
            print(f"{rel}: conn {n:,}, malicious {mal:,}, flagged {flagged:,}: precision {precision}, "
                  f"recall {recall}; findings >= low {len(findings)} {rules}", flush=True)
        for i, (rel, word, address, inside) in enumerate(RECIPES):
            src = args.datasets / rel
            if not src.exists():
                print(f"{rel}: missing")
                continue
            _, findings = hunt(src, work / f"recipe-{i}", inside)
            ok = [f for f in findings if word in json.dumps(f).lower()
                  and (address is None or address in json.dumps(f))]
            top = ok[0]["rule_title"] if ok else "-"
            print(f"{rel}: {word} {'found' if ok else 'NOT found'} ({len(findings)} findings >= low; {top})",
                  flush=True)
    except StepError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
