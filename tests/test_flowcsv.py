"""The shared flow text engine (ingest/flows/text.py) across block boundaries, for each of its readers.

The engine reads a file in blocks of whole lines (flowcsv.BLOCK_BYTES). These tests make blocks
small, check that reading really took many blocks, and that rows, line numbers, rejects and
warnings are those of a one-block read; `read` also checks the fast path against the line-by-line
one for every file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from breachscope.ingest.context import ReadContext
from breachscope.ingest.flows import argus, netflow_csv, nfdump
from breachscope.ingest.flows import text as flowcsv
from tests.test_reader_flows import SLIPS, data_lines, read, rows, write


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Blocks of about 1 KB; the list holds the size of each block the engine read."""
    sizes: list[int] = []
    blocks = flowcsv._blocks

    def counted(ctx: ReadContext) -> Iterator[bytes]:
        for block in blocks(ctx):
            sizes.append(len(block))
            yield block

    monkeypatch.setattr(flowcsv, "_blocks", counted)
    monkeypatch.setattr(flowcsv, "BLOCK_BYTES", 1000)
    return sizes


def test_the_three_readers_share_one_engine() -> None:
    for module in (argus, nfdump, netflow_csv):
        assert module.FlowText is flowcsv.FlowText
        assert module.READER.family == "flow"


def test_argus_block_boundaries_keep_line_numbers(tmp_path: Path, small_blocks: list[int]) -> None:
    src = (SLIPS / "test4-malicious.binetflow").read_bytes().split(b"\n")
    lines = src[:1] + src[1:300] + [b"a,short,line"] + src[300:]
    path = write(tmp_path, "blocks.binetflow", b"\n".join(lines))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(flowcsv, "BLOCK_BYTES", 1 << 24)
        whole, ctx1 = read(path)
    one_block = len(small_blocks)
    split, ctx2 = read(path, batch_rows=7)
    assert len(small_blocks) - one_block > len(path.read_bytes()) // 1000  # many blocks
    assert split.equals(whole)
    assert ctx1.reject_rows == ctx2.reject_rows == [("line 301", "wrong number of columns", "a,short,line")]
    assert whole.num_rows + 1 == data_lines(path)


def test_generic_vpc_lines_across_blocks(tmp_path: Path, small_blocks: list[int]) -> None:
    """Space separated, `-` for absent fields, bad lines in many blocks: every line stored or rejected."""
    header = ("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end "
              "action log-status")
    lines = [header]
    bad: list[int] = []
    for i in range(400):
        lines.append(f"2 123456789010 eni-0a{i % 7} 172.31.16.{i % 250} 172.31.9.12 {40000 + i} 443 6 20 "
                     f"{4000 + i} {1418530010 + i} 1418530070 ACCEPT OK")
        if i % 45 == 7:
            lines.append(["2 1 eni-x - - - - - - - - - - NODATA", "short line", "", header][(i // 45) % 4])
            if lines[-1].strip() and lines[-1] != header:
                bad.append(len(lines))
    path = write(tmp_path, "vpc.log", "\n".join(lines) + "\n")
    table, ctx = read(path)
    assert len(small_blocks) > 20
    rejected = [int(loc.split()[1]) for loc, _reason, _text in ctx.reject_rows]
    stored = table.column("src_record").to_pylist()
    assert rejected == bad
    assert {r for _loc, r, _t in ctx.reject_rows} == {"wrong number of columns", "missing start time"}
    assert sorted(stored + rejected) == [n for n in range(2, len(lines) + 1)
                                         if lines[n - 1].strip() and lines[n - 1] != header]
    assert set(table.column("flow_format").to_pylist()) == {"aws_vpc"}
    assert "repeated header lines skipped (concatenated files?)" in ctx.warning_lines()


def test_nfdump_summary_in_a_later_block(tmp_path: Path, small_blocks: list[int]) -> None:
    """The `Summary` line that ends the flows comes blocks after the header; the summary itself
    may be cut between two blocks."""
    header = "ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt"
    flows = [f"2019-03-01 10:00:{i % 60:02d},2019-03-01 10:00:59,1.234,192.168.1.{i % 250},10.0.0.1,{1024 + i},"
             f"443,TCP,...AP.SF,0,0,12,3456,0,0" for i in range(150)]
    for extra_flows in range(12):  # moves the summary across block boundaries
        text = "\n".join([header, *flows[: 138 + extra_flows], "Summary",
                          "flows,bytes,packets,avg_bps,avg_pps,avg_bpp", f"{138 + extra_flows},1,1,0,0,1",
                          "Time window: 2019-03-01 10:00:00 - 2019-03-01 10:00:59", "not nfdump"]) + "\n"
        path = write(tmp_path, f"nf{extra_flows}.csv", text)
        small_blocks.clear()
        table, ctx = read(path)
        assert len(small_blocks) > 10
        assert table.num_rows == 138 + extra_flows
        assert [r["src_record"] for r in rows(table)][-1] == 139 + extra_flows
        assert ctx.reject_rows == [(f"line {144 + extra_flows}", "line after the nfdump summary", "not nfdump")]
        assert ctx.warning_lines() == ["times without a zone read as UTC (set --tz to change)"]
