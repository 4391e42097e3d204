"""A line or record over --max-record-bytes is cut and rejected with its location (issue 9 item 4),
in every way readers read text: chunked line arrays (syslog, Zeek), line by line (JSON lines,
pgAudit), flow CSV blocks, multi-line JSON documents (evtx_json), UTF-16, and from a .gz.

The limit is set to 1 MiB here: a 2 MiB line lies inside one read chunk (4 MiB), a 9 MiB line spans
chunks. Peak memory for a 1 GB line is measured by bench/hostile_bench.py, not here.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from breachscope.engines.duckdb_case import open_case
from breachscope.ingest.lines import LONG_LINE
from breachscope.model.case import INGESTED
from tests.conftest import run_ingest
from tests.test_ingest_robustness import cli
from tests.test_reader_zeek import CONN_HEADER, conn_line

MIB = 1 << 20
LIMIT = MIB
SHORT, LONG = 2 * MIB, 9 * MIB


def _syslog(i: int, pad: int = 0) -> str:
    return f"<34>Feb  5 01:00:0{i} fw1 sshd[{i}]: Failed password for root{'A' * pad}"


def _winjson(i: int, pad: int = 0) -> str:
    return json.dumps({"EventID": 4688, "Channel": "Security", "Hostname": "WS1", "RecordNumber": i,
                       "@timestamp": f"2025-02-05T01:00:0{i}.000Z", "CommandLine": "A" * pad})


def _pgaudit(i: int, pad: int = 0) -> str:
    return (f"2025-02-05 10:00:0{i} UTC [10{i}]: [1-1] user=alice,db=shop,app=psql,client=10.1.2.3 "
            f"LOG:  AUDIT: SESSION,{i},1,READ,SELECT,,,SELECT {i} {'A' * pad},<none>")


def _zeek(i: int, pad: int = 0) -> str:
    return conn_line(i, "").rstrip("\n").replace("\tssl", "\tssl" + "A" * pad)


def _argus(i: int, pad: int = 0) -> str:
    return (f"2019/04/04 16:23:0{i}.325010,0.027947,udp,10.8.0.69,48427,  <->,8.8.8.8,53,CON,0,0,2,142,63,1,"
            f"{'A' * pad}")


# format -> (header, one line per record, lines before the first record)
FORMATS = {
    "syslog": ("", _syslog, 0),
    "windows_json": ("", _winjson, 0),
    "pgaudit": ("", _pgaudit, 0),
    "zeek_tsv": (CONN_HEADER.format(path="conn"), _zeek, CONN_HEADER.count("\n")),
    "argus_binetflow": ("StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,State,sTos,dTos,TotPkts,TotBytes,"
              "SrcBytes,SrcPkts,Label\n", _argus, 1),
}


def _text(fmt: str) -> tuple[str, int]:
    header, line, skip = FORMATS[fmt]
    rows = [line(1), line(2, SHORT), line(3), line(4, LONG), line(5)]
    return header + "\n".join(rows) + "\n", skip


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("packing", ["plain", "gz", "utf16"])
def test_over_long_lines_are_cut_and_rejected(tmp_path: Path, fmt: str, packing: str) -> None:
    if packing == "utf16" and fmt in ("zeek_tsv", "pgaudit"):
        pytest.skip("no UTF-16 variant of this format exists")
    text, skip = _text(fmt)
    name = "ev.log"
    if packing == "plain":
        (tmp_path / name).write_text(text)
    elif packing == "gz":
        name += ".gz"
        (tmp_path / name).write_bytes(gzip.compress(text.encode(), 1))
    else:
        (tmp_path / name).write_bytes(text.encode("utf-16"))
    summary = run_ingest([tmp_path / name], tmp_path / "case", max_record_bytes=LIMIT)
    entry = next(f for f in summary.files if f.status == INGESTED)
    assert entry.format == fmt
    assert entry.records == 3, entry.first_rejects
    factor = 2 if packing == "utf16" else 1  # UTF-16 lines are measured in UTF-16 bytes
    cut = [r for r in entry.first_rejects if r["reason"] == LONG_LINE]
    assert [r["location"].split(" (")[0] for r in cut] == [f"line {skip + 2}", f"line {skip + 4}"]
    assert all(int(r["location"].split("(")[1].split(" ")[0].replace(",", "")) > LIMIT * factor for r in cut)
    with open_case(tmp_path / "case") as c:
        recs = [r[0] for r in c.rows("SELECT src_record FROM events ORDER BY 1")]
        assert recs == [skip + 1, skip + 3, skip + 5]  # the lines after a cut one keep their numbers
        excerpt = c.scalar("SELECT excerpt FROM rejects WHERE location LIKE ?", [f"line {skip + 4} (%"])
        assert 0 < len(excerpt) <= 200


def test_evtx_json_document_over_the_limit(tmp_path: Path) -> None:
    """Pretty-printed JSON documents (evtx_dump -o json) are records of many lines."""
    def doc(i: int, pad: int = 0) -> str:
        event = {"Event": {"System": {"EventID": 4688, "Channel": "Security", "Computer": "WS1",
                                      "EventRecordID": i,
                                      "TimeCreated": {"#attributes": {"SystemTime": "2025-02-05T01:00:00Z"}}},
                           "EventData": {"CommandLine": "A" * pad}}}
        return f"Record {i}\n" + json.dumps(event, indent=2) + "\n"

    path = tmp_path / "dump.json"
    path.write_text(doc(1) + doc(2, LONG) + doc(3) + doc(4, SHORT) + doc(5))
    summary = run_ingest([path], tmp_path / "case", max_record_bytes=LIMIT)
    entry = summary.files[0]
    assert (entry.format, entry.records, entry.rejected) == ("evtx_json", 3, 2)
    with open_case(tmp_path / "case") as c:
        assert c.rows("SELECT EventRecordID FROM windows ORDER BY 1") == [(1,), (3,), (5,)]
    lines = path.read_text().split("\n")
    starts = [n for n, line in enumerate(lines, 1) if line.startswith("{")]
    assert [r["location"].split(" (")[0] for r in entry.first_rejects] == [f"line {starts[1]}",
                                                                          f"line {starts[3]}"]


def test_limits_from_the_command_line(tmp_path: Path) -> None:
    ev = tmp_path / "ev"
    ev.mkdir()
    (ev / "fw.log").write_text("\n".join([_syslog(1), _syslog(2, SHORT), _syslog(3)]) + "\n")
    (ev / "big.log.gz").write_bytes(gzip.compress(("\n".join(_syslog(i % 10) for i in range(40_000)) + "\n").encode()))
    out = cli("ingest", str(ev), "--case", str(tmp_path / "case"), "--max-record-bytes", "1M",
              "--max-archive-bytes", "1M", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["records"] == 2 and report["rejected"] == 1
    assert report["files_with_rejects"][0]["first"][0]["location"].startswith("line 2 (2,097,")
    assert len(report["files_skipped"]) == 1 and "--max-archive-bytes" in report["files_skipped"][0]["reason"]
    bad = cli("ingest", str(ev), "--case", str(tmp_path / "case"), "--max-record-bytes", "lots")
    assert bad.returncode == 2 and "--max-record-bytes 'lots' is not a size" in bad.stderr
