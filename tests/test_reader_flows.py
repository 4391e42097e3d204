"""Flow records: Argus binetflow (shared Stratosphere files), nfdump CSV, generic NetFlow/IPFIX/VPC CSV."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from unittest import mock

import pyarrow as pa
import pytest

from breachscope.ingest.context import IngestOptions, ReadContext, SourceInfo
from breachscope.ingest.flows import argus, netflow_csv, nfdump
from breachscope.ingest.flows import text as flowcsv
from breachscope.ingest.reader import HEAD_BYTES, Reader
from breachscope.ingest.registry import detect
from breachscope.model.case import INGESTED, UNRECOGNIZED
from breachscope.model.schema import FLOW_SCHEMA
from tests.conftest import DATASETS

SLIPS = DATASETS / "stratosphere-slips-dataset" / "dataset"
BINETFLOWS = sorted(SLIPS.glob("*.binetflow"))
UTC = dt.UTC
FLOW_READERS = (argus.READER, nfdump.READER, netflow_csv.READER)


def _run(path: Path, reader: Reader, options: dict[str, Any]) -> tuple[pa.Table, ReadContext]:
    src = SourceInfo(display=path.name, path=path, sha256="0" * 64, size=path.stat().st_size, mtime=0.0)
    ctx = ReadContext(source=src, options=IngestOptions(**options))
    batches = []
    for table, batch in reader.read(ctx):
        assert table == "flow"
        assert batch.schema == FLOW_SCHEMA
        batches.append(batch)
    return pa.Table.from_batches(batches, schema=FLOW_SCHEMA), ctx


def read(path: Path, reader: Reader | None = None, **options: Any) -> tuple[pa.Table, ReadContext]:
    """Run a reader on a file the way the worker does (sniffing unless a reader is given), and check
    that the line-by-line path (the reference) gives the same rows, rejects and warnings."""
    if reader is None:
        reader = detect(path.read_bytes()[:HEAD_BYTES], path.name)
        assert reader is not None, f"{path.name}: no reader"
    table, ctx = _run(path, reader, options)
    with mock.patch.object(netflow_csv.FlowText, "_fast", lambda self, block, first: None):
        ref, ref_ctx = _run(path, reader, options)
    assert ref.equals(table)
    assert (ref_ctx.reject_rows, ref_ctx.warning_lines()) == (ctx.reject_rows, ctx.warning_lines())
    return table, ctx


def rows(table: pa.Table) -> list[dict[str, Any]]:
    return table.to_pylist()


def data_lines(path: Path) -> int:
    """Non-blank lines after the header line."""
    return sum(1 for line in path.read_bytes().split(b"\n")[1:] if line.strip())


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return p


# --- Argus binetflow: the shared Stratosphere files --------------------------------------------------

@pytest.mark.parametrize("path", BINETFLOWS, ids=lambda p: p.name)
def test_every_binetflow_line_is_a_row(path: Path) -> None:
    table, ctx = read(path)
    assert detect(path.read_bytes()[:HEAD_BYTES], path.name) is argus.READER
    assert ctx.rejected == 0
    assert table.num_rows == data_lines(path) > 0
    assert table.column("ts").null_count == 0
    assert table.column("src_ip").null_count == 0
    assert set(table.column("flow_format").to_pylist()) == {"argus"}
    assert set(table.column("family").to_pylist()) == {"flow"}
    records = table.column("src_record").to_pylist()
    assert records == list(range(2, 2 + table.num_rows))  # line numbers; the header is line 1
    assert ctx.warning_lines() == ["times without a zone read as UTC (set --tz to change)"]


def test_binetflow_counts_end_to_end(ingest_case: Any) -> None:
    summary, case = ingest_case(BINETFLOWS)
    assert [f.status for f in summary.files] == [INGESTED] * 5
    by_name = {Path(f.path).name: (f.format, f.records, f.rejected) for f in summary.files}
    assert by_name == {
        "test11-portscan.binetflow": ("argus_binetflow", 66, 0),
        "test2-malicious.binetflow": ("argus_binetflow", 6751, 0),
        "test3-mixed.binetflow": ("argus_binetflow", 89, 0),
        "test4-malicious.binetflow": ("argus_binetflow", 394, 0),
        "test5-mixed.binetflow": ("argus_binetflow", 300, 0),
    }
    types = dict(case.rows("SELECT column_name, column_type FROM (DESCRIBE flow)"))
    assert types["ts"] == types["end_ts"] == "TIMESTAMP WITH TIME ZONE"
    assert types["src_port"] == types["dst_port"] == "INTEGER"
    assert types["packets"] == types["bytes"] == types["src_bytes"] == types["dst_bytes"] == "BIGINT"
    assert types["duration"] == "DOUBLE"
    assert types["extra"] == "MAP(VARCHAR, VARCHAR)"
    assert case.scalar("SELECT count(*) FROM events WHERE family = 'flow'") == 7600
    assert case.rows("SELECT proto, count(*) FROM flow GROUP BY 1 ORDER BY 2 DESC LIMIT 3") == [
        ("tcp", 4326), ("udp", 3137), ("icmp", 115)]
    # Argus bytes: TotBytes = SrcBytes + DstBytes, DstBytes derived when the file has no column for it
    assert case.scalar("SELECT count(*) FROM flow WHERE bytes <> src_bytes + dst_bytes") == 0


def test_binetflow_labels(ingest_case: Any) -> None:
    _summary, case = ingest_case([SLIPS / "test5-mixed.binetflow", SLIPS / "test2-malicious.binetflow"])
    labels = dict(case.rows("SELECT label, count(*) FROM flow WHERE src_file LIKE '%test5-mixed%' GROUP BY 1"))
    assert labels == {
        "flow=Malware-UDP-DNS": 197, "flow=Malware-TCP": 80, "flow=Background-UDP-Attempt": 8,
        "flow=Background-UDP-DNS": 5, "flow=Background": 4, "flow=Background-ARP": 2,
        "flow=Background-ICMP": 1, "flow=Background-UDP-Attempt-NetBIOS": 1,
        "flow=TCP-Established-To-Microsoft-7": 1, None: 1,  # the Argus management record
    }
    assert case.scalar("SELECT count(label) FROM flow WHERE src_file LIKE '%test2-malicious%'") == 0


def test_binetflow_values_hex_icmp_ports_and_extra() -> None:
    table, _ctx = read(SLIPS / "test11-portscan.binetflow")
    row = next(r for r in rows(table) if r["src_record"] == 22)
    # 2019/04/04 16:30:10.234728,1.262451,icmp,10.8.0.69,0x0008,   ->,110.128.128.128,0x7208,ECO,0,,2,144,144,2,
    assert row["ts"] == dt.datetime(2019, 4, 4, 16, 30, 10, 234728, tzinfo=UTC)
    assert row["end_ts"] == dt.datetime(2019, 4, 4, 16, 30, 11, 497179, tzinfo=UTC)
    assert row["duration"] == 1.262451
    assert (row["proto"], row["src_ip"], row["src_port"], row["dst_ip"], row["dst_port"]) == (
        "icmp", "10.8.0.69", 8, "110.128.128.128", 0x7208)
    assert (row["direction"], row["state"]) == ("->", "ECO")
    assert (row["packets"], row["bytes"], row["src_bytes"], row["dst_bytes"]) == (2, 144, 144, 0)
    assert (row["src_packets"], row["dst_packets"]) == (2, 0)
    assert row["extra"] == [("sTos", "0")]  # dTos is empty in that line: left out
    assert row["label"] is None and row["ts_resolution"] == "zone_assumed_utc"
    assert row["host"] is None and row["message"] is None


def test_binetflow_tab_separated_and_zone_option() -> None:
    path = SLIPS / "test5-mixed.binetflow"  # tab separated, no newline after the last line
    table, ctx = read(path, tz="Europe/Prague")
    first = rows(table)[0]
    # 2018/05/10 10:52:47.283479 in Prague (CEST, UTC+2)
    assert first["ts"] == dt.datetime(2018, 5, 10, 8, 52, 47, 283479, tzinfo=UTC)
    assert first["ts_resolution"] == "zone_from_option"
    assert first["proto"] == "man" and first["direction"] is None
    last = rows(table)[-1]
    assert last["src_record"] == 301 and last["label"] == "flow=Malware-TCP"
    assert ctx.warning_lines() == ["times without a zone read as Europe/Prague"]


def test_block_boundaries_keep_line_numbers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = (SLIPS / "test4-malicious.binetflow").read_bytes().split(b"\n")
    lines = src[:1] + src[1:300] + [b"a,short,line"] + src[300:]  # a bad line somewhere in the middle
    path = write(tmp_path, "blocks.binetflow", b"\n".join(lines))
    whole, ctx1 = read(path)
    monkeypatch.setattr(flowcsv, "BLOCK_BYTES", 1000)  # many blocks, some of a single line
    split, ctx2 = read(path, batch_rows=7)
    assert split.equals(whole)
    assert ctx1.reject_rows == ctx2.reject_rows == [("line 301", "wrong number of columns", "a,short,line")]
    assert whole.num_rows + 1 == data_lines(path)


# --- edge cases -----------------------------------------------------------------------------------

ARGUS_HEADER = "StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,State,sTos,dTos,TotPkts,TotBytes,SrcBytes,Label"
GOOD = ("2011/08/10 09:46:53.047277,3.012,tcp,147.32.84.165,1025,   ->,60.190.222.139,80,SRPA_SPA,0,0,9,1286,586,"
        "flow=From-Botnet-V42-TCP-Established")


def test_edge_cases_every_line_stored_or_rejected(tmp_path: Path) -> None:
    lines = [
        ARGUS_HEADER,  # 1
        GOOD,  # 2
        "2011/08/10 09:46:55,short",  # 3: too few columns
        "",  # 4: blank, not a record
        ARGUS_HEADER,  # 5: repeated header (concatenated exports), not a record
        "garbage" + "," * 14,  # 6: right column count, no time
        "not a time,1,tcp,1.1.1.1,1,->,2.2.2.2,2,S,0,0,1,1,1,",  # 7
        '"quoted',  # 8: a quote that never closes...
        'line",1,tcp,1.1.1.1,1,->,2.2.2.2,2,S,0,0,1,1,1,',  # 9: ...must not swallow the next line
        GOOD.replace("Established", "Est\udcff"),  # 10: invalid UTF-8 (surrogateescape below)
        ",,,,,,,,,,,,,,",  # 11: empty fields only
        GOOD + ",extra column",  # 12: too many columns
        "2011/08/10 09:46:56.5,0.1,udp,10.0.0.1,53,  <->,10.0.0.2,0x35,CON,0,0,2,100,50,",  # 13: truncated, no EOL
    ]
    text = "\ufeff" + "\r\n".join(lines)  # BOM and CRLF
    path = write(tmp_path, "edge.binetflow", text.encode("utf-8", "surrogateescape"))
    table, ctx = read(path)
    got = rows(table)
    assert [r["src_record"] for r in got] == [2, 10, 13]
    assert ctx.reject_rows == [
        ("line 3", "wrong number of columns", "2011/08/10 09:46:55,short"),
        ("line 6", "unreadable start time", "garbage,,,,,,,,,,,,,,"),
        ("line 7", "unreadable start time", lines[7 - 1]),
        ("line 8", "wrong number of columns", '"quoted'),
        ("line 9", "unreadable start time", lines[9 - 1]),
        ("line 11", "missing start time", ",,,,,,,,,,,,,,"),
        ("line 12", "wrong number of columns", GOOD + ",extra column"),
    ]
    assert table.num_rows + ctx.rejected == data_lines(path) - 1  # the repeated header is not a record
    assert got[1]["label"] == "flow=From-Botnet-V42-TCP-Est\ufffd"
    assert got[2]["dst_port"] == 53 and got[2]["direction"] == "<->" and got[2]["label"] is None
    assert got[0]["dst_bytes"] == 1286 - 586
    assert "invalid UTF-8 bytes replaced with U+FFFD" in ctx.warning_lines()
    assert "repeated header lines skipped (concatenated files?)" in ctx.warning_lines()


def test_lone_cr_and_utf16(tmp_path: Path) -> None:
    text = ("srcaddr,dstaddr,srcport,dstport,protocol,bytes,packets,start\n"
            "10.0.0.1,10.0.0.2,1,2,6,100,1,1700000000\n"
            "10.0.0.1,10.0.\r0.9,1,2,6,100,1,1700000000\n"  # a lone CR is data, not a line end
            "10.0.0.3,10.0.0.4,1,2,17,100,1,2023-11-14T22:13:21Z\n")
    for name, data in (("cr.csv", text.encode()), ("u16.csv", text.encode("utf-16"))):
        table, ctx = read(write(tmp_path, name, data))
        assert ctx.rejected == 0
        got = rows(table)
        assert [r["src_record"] for r in got] == [2, 3, 4]
        assert got[1]["dst_ip"] == "10.0.\r0.9"
        assert [r["ts_resolution"] for r in got] == ["epoch", "epoch", "zone_in_text"]
        assert got[2]["ts"] == dt.datetime(2023, 11, 14, 22, 13, 21, tzinfo=UTC)


def test_empty_and_header_only_files(tmp_path: Path, ingest_case: Any) -> None:
    empty = write(tmp_path, "empty.binetflow", b"")
    header_only = write(tmp_path, "header.binetflow", ARGUS_HEADER + "\n")
    table, ctx = read(header_only)
    assert table.num_rows == 0 and ctx.rejected == 0
    summary, _case = ingest_case([empty, header_only])
    assert sorted((Path(f.path).name, f.status, f.records) for f in summary.files) == [
        ("empty.binetflow", "empty", 0), ("header.binetflow", INGESTED, 0)]


def test_forced_format_on_a_file_without_a_flow_header(tmp_path: Path) -> None:
    inventory = DATASETS / "deepbluecli-evtx" / "INVENTORY.csv"
    table, ctx = read(inventory, netflow_csv.READER)
    assert table.num_rows == 0
    assert ctx.rejected == data_lines(inventory) + 1  # every line, the unusable header included
    assert ctx.rejects_by_reason["header is not a netflow_csv header"] == 1


# --- sniffing: strict header recognition -----------------------------------------------------------------

NOT_FLOWS = [
    *sorted(DATASETS.glob("*/INVENTORY.csv")),
    DATASETS / "db-audit-samples" / "mariadb-server_audit" / "server_audit.result.audit_lines.csv",
    SLIPS / "test1-malicious.nfdump",  # binary nfcapd, not CSV
    SLIPS / "test6-malicious.suricata.json",
    SLIPS / "test7-malicious.pcap",
]


@pytest.mark.parametrize("path", NOT_FLOWS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_flow_sniffers_refuse_other_files(path: Path) -> None:
    head = path.read_bytes()[:HEAD_BYTES]
    assert [r.name for r in FLOW_READERS if r.sniff(head, path.name)] == []


@pytest.mark.parametrize("text", [
    "customer_id,name,email,ip_address,created_at\n1,Ann,ann@example.com,10.0.0.1,2024-01-02\n",
    "src_ip,dst_ip,note\n10.0.0.1,10.0.0.2,hello\n",  # two addresses but nothing else of a flow
    "srcaddr,dstaddr,srcport,dstport\n10.0.0.1,10.0.0.2,1\n",  # first data line does not fit the header
    "StartTime,Dur,Proto\n2011/08/10 09:46:53,1,tcp\n",  # Argus-like names without addresses
])
def test_flow_sniffers_refuse_lookalikes(text: str) -> None:
    assert [r.name for r in FLOW_READERS if r.sniff(text.encode(), "x.csv")] == []


def test_binary_nfdump_file_is_an_unknown_format(ingest_case: Any) -> None:
    path = SLIPS / "test1-malicious.nfdump"
    assert path.read_bytes()[:2] == b"\x0c\xa5"  # nfcapd magic 0xA50C (little endian): binary
    summary, _case = ingest_case([path])
    (entry,) = summary.files
    assert (entry.status, entry.records) == (UNRECOGNIZED, 0)
    assert entry.error == "unknown format: no reader recognises this content"


# --- nfdump CSV -------------------------------------------------------------------------------------

NFDUMP_HEADER = ("ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt,in,out,sas,das,smk,dmk,dtos,dir,nh,nhb,"
                 "svln,dvln,ismc,odmc,idmc,osmc,mpls1,mpls2,mpls3,mpls4,mpls5,mpls6,mpls7,mpls8,mpls9,mpls10,cl,sl,"
                 "al,ra,eng,exid,tr")
_TAIL = (",0.0.0.0,0.0.0.0,0,0,00:00:00:00:00:00,00:00:00:00:00:00,00:00:00:00:00:00,00:00:00:00:00:00"
         + ",0-0-0" * 10 + ",    0.000,    0.000,    0.000,127.0.0.1,0/0,1,2019-03-01 10:00:05.123")
NFDUMP_ROWS = [
    "2019-03-01 10:00:01,2019-03-01 10:00:02,1.234,192.168.1.2,10.0.0.1,51234,443,TCP,...AP.SF,0,0,12,3456,0,0,"
    "1,2,0,0,24,24,0,0" + _TAIL,
    "2019-03-01 10:00:03,2019-03-01 10:00:03,0.000,10.0.0.1,192.168.1.2,0,771,ICMP,......,0,0,1,84,0,0,"
    "1,2,0,0,24,24,0,0" + _TAIL,
    "2019-03-01 10:00:04,2019-03-01 10:00:09,5.000,2001:db8::1,2001:db8::2,5353,53,UDP,......,0,0,2,150,2,300,"
    "1,2,0,0,64,64,0,1" + _TAIL,
]


def nfdump_text(flows: int, after: str = "") -> str:
    return "\n".join([NFDUMP_HEADER, *NFDUMP_ROWS, "Summary", "flows,bytes,packets,avg_bps,avg_pps,avg_bpp",
                      f"{flows},3990,17,0,0,234"]) + "\n" + after


def test_nfdump_csv_with_summary_block(tmp_path: Path) -> None:
    path = write(tmp_path, "flows.csv", nfdump_text(3))
    table, ctx = read(path, tz="Europe/Berlin")
    assert detect(path.read_bytes(), path.name) is nfdump.READER
    assert ctx.rejected == 0 and table.num_rows == 3  # the 3 summary lines are not flows
    assert ctx.warning_lines() == ["times without a zone read as Europe/Berlin"]
    first, icmp, udp = rows(table)
    assert first["ts"] == dt.datetime(2019, 3, 1, 9, 0, 1, tzinfo=UTC)
    assert first["end_ts"] == dt.datetime(2019, 3, 1, 9, 0, 2, tzinfo=UTC)
    assert (first["proto"], first["tcp_flags"], first["duration"], first["flow_format"]) == (
        "tcp", "...AP.SF", 1.234, "nfdump")
    assert (first["src_packets"], first["src_bytes"], first["dst_packets"], first["dst_bytes"]) == (12, 3456, 0, 0)
    assert (first["packets"], first["bytes"]) == (12, 3456)
    extra = dict(first["extra"])
    assert extra["ra"] == "127.0.0.1" and extra["tr"] == "2019-03-01 10:00:05.123" and extra["cl"] == "    0.000"
    assert len(extra) == len(NFDUMP_HEADER.split(",")) - 13  # every column not mapped to a field
    assert icmp["proto"] == "icmp" and icmp["dst_port"] == 771
    assert (udp["src_ip"], udp["packets"], udp["bytes"], udp["dst_bytes"]) == ("2001:db8::1", 4, 450, 300)
    assert [r["src_record"] for r in rows(table)] == [2, 3, 4]


def test_nfdump_summary_mismatch_and_trailing_lines(tmp_path: Path) -> None:
    after = "Time window: 2019-03-01 10:00:01 - 2019-03-01 10:00:09\nsomething else\n"
    table, ctx = read(write(tmp_path, "flows.csv", nfdump_text(5, after)))
    assert table.num_rows == 3
    assert ctx.reject_rows == [("line 9", "line after the nfdump summary", "something else")]
    assert ctx.warning_lines() == [
        "nfdump summary counts 5 flows, the file has 3 flow lines (nfdump aggregation or a record limit also "
        "make them differ)",
        "times without a zone read as UTC (set --tz to change)"]


def test_nfdump_newer_column_names(tmp_path: Path) -> None:
    fmt = write(tmp_path, "fmt.csv",
                "firstSeen,lastSeen,duration,proto,srcAddr,srcPort,dstAddr,dstPort,inPackets,inBytes,flags,label\n"
                "2024-05-01 12:00:00.250,2024-05-01 12:00:01.750,1.500,TCP,10.1.1.1,40000,10.2.2.2,22,7,900,"
                "...AP.S.,ssh\n")
    fast = write(tmp_path, "fast.csv",
                 "cnt,af,firstSeen,lastSeen,proto,srcAddr,srcPort,dstAddr,dstPort,srcAS,dstAS,input,output,flags,"
                 "srcTos,packets,bytes\n1,2,1700000000123,1700000000456,6,10.0.0.1,1234,10.0.0.2,443,0,0,0,0,"
                 "...A..S.,0,3,180\n")
    (a,) = rows(read(fmt)[0])
    assert detect(fmt.read_bytes(), fmt.name) is detect(fast.read_bytes(), fast.name) is nfdump.READER
    assert (a["ts"], a["end_ts"], a["duration"]) == (
        dt.datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=UTC), dt.datetime(2024, 5, 1, 12, 0, 1, 750000, tzinfo=UTC),
        1.5)
    assert (a["proto"], a["src_port"], a["dst_port"], a["packets"], a["bytes"], a["label"]) == (
        "tcp", 40000, 22, 7, 900, "ssh")
    (b,) = rows(read(fast)[0])
    assert (b["ts"], b["ts_resolution"], b["proto"], b["packets"], b["bytes"], b["tcp_flags"]) == (
        dt.datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC), "epoch", "tcp", 3, 180, "...A..S.")
    assert dict(b["extra"]) == {"cnt": "1", "af": "2", "srcAS": "0", "dstAS": "0", "input": "0", "output": "0",
                                "srcTos": "0"}


# --- generic NetFlow / IPFIX / VPC CSV ---------------------------------------------------------------

def test_ipfix_names(tmp_path: Path) -> None:
    path = write(tmp_path, "ipfix.csv",
                 "flowStartMilliseconds,flowEndMilliseconds,sourceIPv4Address,sourceIPv6Address,"
                 "destinationIPv4Address,destinationIPv6Address,sourceTransportPort,destinationTransportPort,"
                 "protocolIdentifier,octetDeltaCount,packetDeltaCount,tcpControlBits,flowDirection,"
                 "reverseOctetDeltaCount,ingressInterface\n"
                 "1700000000123,1700000002623,198.51.100.7,,10.0.0.5,,51515,443,6,1500,10,27,0,9000,3\n"
                 "1700000001000,1700000001000,,2001:db8::7,,2001:db8::5,5353,53,17,80,1,,1,,3\n")
    assert detect(path.read_bytes(), path.name) is netflow_csv.READER
    table, ctx = read(path)
    assert ctx.rejected == 0 and ctx.warning_lines() == []
    tcp, udp = rows(table)
    assert tcp["ts"] == dt.datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)
    assert (tcp["duration"], tcp["flow_format"], tcp["ts_resolution"]) == (2.5, "ipfix", "epoch")
    assert (tcp["src_ip"], tcp["dst_ip"], tcp["proto"], tcp["direction"]) == (
        "198.51.100.7", "10.0.0.5", "tcp", "ingress")
    assert tcp["tcp_flags"] == "...AP.SF"  # 27 = ACK|PSH|SYN|FIN, written as nfdump does
    assert (tcp["src_bytes"], tcp["dst_bytes"], tcp["bytes"], tcp["packets"]) == (1500, 9000, 10500, 10)
    assert tcp["extra"] == [("ingressInterface", "3")]
    assert (udp["src_ip"], udp["dst_ip"], udp["proto"], udp["direction"], udp["tcp_flags"]) == (
        "2001:db8::7", "2001:db8::5", "udp", "egress", None)
    assert (udp["src_bytes"], udp["dst_bytes"], udp["bytes"]) == (80, None, 80)


def test_netflow_v5_flow_tools_uptime(tmp_path: Path) -> None:
    path = write(tmp_path, "ft.csv",
                 "#:unix_secs,unix_nsecs,sysuptime,exaddr,dpkts,doctets,first,last,engine_type,engine_id,srcaddr,"
                 "dstaddr,nexthop,input,output,srcport,dstport,prot,tos,tcp_flags,src_mask,dst_mask,src_as,dst_as\n"
                 "1500000000,500000000,1000000,10.1.1.1,5,420,995000,999000,0,0,10.0.0.5,8.8.8.8,0.0.0.0,1,2,"
                 "5353,53,17,0,0,24,0,0,15169\n")
    (row,) = rows(read(path)[0])
    # export time 1500000000.5 s when the exporter had been up 1000 s: first (995 s of uptime) is 5 s earlier
    assert row["ts"] == dt.datetime(2017, 7, 14, 2, 39, 55, 500000, tzinfo=UTC)
    assert row["end_ts"] == dt.datetime(2017, 7, 14, 2, 39, 59, 500000, tzinfo=UTC)
    assert (row["ts_resolution"], row["flow_format"], row["duration"]) == ("exporter_uptime", "flow_tools", 4.0)
    assert (row["proto"], row["packets"], row["bytes"], row["src_bytes"], row["tcp_flags"]) == (
        "udp", 5, 420, 420, "........")
    assert dict(row["extra"])["exaddr"] == "10.1.1.1"


def test_netflow_first_last_without_base_are_epoch(tmp_path: Path) -> None:
    path = write(tmp_path, "v5.csv", "srcaddr,dstaddr,srcport,dstport,prot,dOctets,dPkts,first,last\n"
                                     "10.0.0.1,10.0.0.2,1234,80,6,500,4,1700000000000,1700000001000\n")
    table, ctx = read(path)
    (row,) = rows(table)
    assert (row["ts"], row["duration"], row["proto"], row["bytes"]) == (
        dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC), 1.0, "tcp", 500)
    assert ctx.warning_lines() == ["first/last columns read as epoch times (no unix_secs/sysuptime columns to "
                                   "anchor them as exporter uptime)"]


def test_aws_vpc_flow_log(tmp_path: Path) -> None:
    path = write(tmp_path, "vpc.log",
                 "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end "
                 "action log-status\n"
                 "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 "
                 "1418530070 ACCEPT OK\n"
                 "2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 1418530010 "
                 "1418530070 REJECT OK\n"
                 "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA\n")
    assert detect(path.read_bytes(), path.name) is netflow_csv.READER
    table, ctx = read(path)
    assert ctx.rejected == 0
    accept, reject, nodata = rows(table)
    assert accept["ts"] == dt.datetime(2014, 12, 14, 4, 6, 50, tzinfo=UTC)
    assert (accept["duration"], accept["proto"], accept["packets"], accept["bytes"], accept["flow_format"]) == (
        60.0, "tcp", 20, 4249, "aws_vpc")
    assert dict(accept["extra"]) == {"version": "2", "account-id": "123456789010",
                                     "interface-id": "eni-1235b8ca123456789", "action": "ACCEPT", "log-status": "OK"}
    assert dict(reject["extra"])["action"] == "REJECT" and reject["dst_port"] == 3389
    assert (nodata["src_ip"], nodata["proto"], nodata["bytes"]) == (None, None, None)
    assert dict(nodata["extra"]) == {"version": "2", "account-id": "123456789010",
                                     "interface-id": "eni-1235b8ca123456789", "log-status": "NODATA"}


def test_generic_values_that_do_not_convert_are_kept_in_extra(tmp_path: Path) -> None:
    path = write(tmp_path, "odd.csv", "start,srcaddr,dstaddr,srcport,dstport,proto,bytes\n"
                                      "2024-01-01T00:00:00+02:00,10.0.0.1,10.0.0.2,1,8.0,icmp,12kB\n"
                                      "2024-01-01 00:00:00,10.0.0.1,10.0.0.2,99999999999,2,99,7\n")
    table, ctx = read(path)
    first, second = rows(table)
    assert first["ts"] == dt.datetime(2023, 12, 31, 22, 0, tzinfo=UTC) and first["ts_resolution"] == "zone_in_text"
    assert (first["dst_port"], first["bytes"]) == (None, None)
    assert dict(first["extra"]) == {"dstport": "8.0", "bytes": "12kB"}
    assert second["ts"] == dt.datetime(2024, 1, 1, tzinfo=UTC) and second["ts_resolution"] == "zone_assumed_utc"
    assert (second["src_port"], second["proto"], second["bytes"]) == (None, "99", 7)
    assert dict(second["extra"]) == {"srcport": "99999999999"}
    assert ctx.rejected == 0


def test_flow_without_time_column_keeps_rows(tmp_path: Path) -> None:
    path = write(tmp_path, "nf.csv", "IPV4_SRC_ADDR,L4_SRC_PORT,IPV4_DST_ADDR,L4_DST_PORT,PROTOCOL,IN_BYTES,"
                                     "OUT_BYTES,IN_PKTS,OUT_PKTS,TCP_FLAGS,FLOW_DURATION_MILLISECONDS,Label\n"
                                     "59.166.0.2,4894,149.171.126.3,53,17,146,178,2,2,0,250,0\n")
    table, ctx = read(path)
    (row,) = rows(table)
    assert row["ts"] is None and row["flow_format"] == "nprobe" and row["duration"] == 0.25
    assert (row["bytes"], row["src_bytes"], row["dst_bytes"], row["packets"]) == (324, 146, 178, 4)
    assert ctx.warning_lines() == ["the file has no flow start time column: ts is null"]


def test_no_time_column_blank_and_repeated_header_lines(tmp_path: Path) -> None:
    header = "srcaddr,dstaddr,srcport,dstport,proto,bytes"
    path = write(tmp_path, "nt.csv", "\n".join([header, "10.0.0.1,10.0.0.2,1,2,6,10", "", header,
                                                  "10.0.0.3,10.0.0.4,3,4,17,20", ",,,,,"]) + "\n")
    table, ctx = read(path)
    assert [r["src_record"] for r in rows(table)] == [2, 5]
    assert ctx.reject_rows == [("line 6", "empty record", ",,,,,")]


def test_time_column_of_mixed_kinds(tmp_path: Path) -> None:
    path = write(tmp_path, "mixed.csv", "start,srcaddr,dstaddr,srcport,dstport\n"
                                        "2024-01-01T00:00:00Z,1.1.1.1,2.2.2.2,1,2\n"
                                        "2024-01-01T00:00:01+01:00,1.1.1.1,2.2.2.2,1,2\n"
                                        "bad,1.1.1.1,2.2.2.2,1,2\n"
                                        "2024-01-01 00:00:02,1.1.1.1,2.2.2.2,1,2\n"
                                        "1704067203,1.1.1.1,2.2.2.2,1,2\n")
    table, ctx = read(path, tz="America/New_York")
    got = [(r["src_record"], r["ts"], r["ts_resolution"]) for r in rows(table)]
    assert got == [
        (2, dt.datetime(2024, 1, 1, 0, 0, 0, tzinfo=UTC), "zone_in_text"),
        (3, dt.datetime(2023, 12, 31, 23, 0, 1, tzinfo=UTC), "zone_in_text"),
        (5, dt.datetime(2024, 1, 1, 5, 0, 2, tzinfo=UTC), "zone_from_option"),
        (6, dt.datetime(2024, 1, 1, 0, 0, 3, tzinfo=UTC), "epoch"),
    ]
    assert ctx.reject_rows == [("line 4", "unreadable start time", "bad,1.1.1.1,2.2.2.2,1,2")]


def test_dirty_lines_across_many_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bad lines of every kind spread over many blocks: exact accounting, and the fast path agrees
    with the line-by-line reference (checked inside `read`)."""
    good = (SLIPS / "test2-malicious.binetflow").read_bytes().split(b"\n")[1:601]
    header = (SLIPS / "test2-malicious.binetflow").read_bytes().split(b"\n")[0]
    dirt = [b"", b"short,line", header, b"bad time" + b"," * 15, b"   ", b"x" * 300, good[5] + b"\xff",
            good[6].replace(b",", b",\r", 1), b'"open quote' + b"," * 15]
    lines = [header]
    expected_rejects = []
    for i, line in enumerate(good):
        lines.append(line)
        if i % 60 == 30:
            bad = dirt[(i // 60) % len(dirt)]
            lines.append(bad)
            if bad.strip() and bad != header:
                expected_rejects.append(len(lines))
    path = write(tmp_path, "dirty.binetflow", b"\n".join(lines) + b"\n")
    monkeypatch.setattr(flowcsv, "BLOCK_BYTES", 4096)
    table, ctx = read(path)
    rejected_lines = [int(loc.split()[1]) for loc, _reason, _text in ctx.reject_rows]
    stored = table.column("src_record").to_pylist()
    assert sorted(stored + rejected_lines) == [n for n in range(2, len(lines) + 1)
                                                if lines[n - 1].strip() and lines[n - 1] != header]
    flows_too = (dirt[6], dirt[7])  # a bad byte in the label, a lone CR before the duration: still flows
    assert rejected_lines == [n for n in expected_rejects if lines[n - 1] not in flows_too]
    assert len(stored) == 600 + sum(1 for line in lines if line in flows_too)


def test_local_times_in_dst_changes(tmp_path: Path) -> None:
    path = write(tmp_path, "dst.csv", "start,srcaddr,dstaddr,srcport,dstport\n"
                                      "2024-03-31 02:30:00,1.1.1.1,2.2.2.2,1,2\n"  # does not exist in Berlin
                                      "2024-10-27 02:30:00,1.1.1.1,2.2.2.2,1,2\n"  # exists twice
                                      "2024-10-27 04:00:00,1.1.1.1,2.2.2.2,1,2\n")
    expected = [dt.datetime(2024, 3, 31, 1, 0, tzinfo=UTC),  # the first instant after the gap
                dt.datetime(2024, 10, 27, 0, 30, tzinfo=UTC),  # the first of the two
                dt.datetime(2024, 10, 27, 3, 0, tzinfo=UTC)]
    assert table_ts(read(path, tz="Europe/Berlin")[0]) == expected
    # the same values through the per-value path (a value that looks like a time and is none sends
    # the whole column there)
    mixed = write(tmp_path, "dst2.csv", path.read_text() + "2024-13-45 10:00:00,1.1.1.1,2.2.2.2,1,2\n")
    table, ctx = read(mixed, tz="Europe/Berlin")
    assert table_ts(table) == expected and ctx.rejected == 1


def table_ts(table: pa.Table) -> list[dt.datetime]:
    return table.column("ts").to_pylist()
