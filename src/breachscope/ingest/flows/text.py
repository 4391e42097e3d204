"""The engine of the flow text readers (argus.py, nfdump.py, netflow_csv.py): a delimited
flow file with a header line, read in blocks into `flow` batches.

Speed: the file is read in blocks of whole lines. A block is parsed by pyarrow's CSV parser with
every column as text and converted with pyarrow.compute (columns.py), with no Python per line.
Rows pyarrow finds invalid are accounted for by their line number and text. A block that shows
anything unusual (invalid UTF-8, a lone CR, a quoted line break, a repeated header where no start
time would catch it) is read again line by line: that path rejects each bad line with its number
and text and hands the good ones to the same conversion, so both paths give the same rows. What a
format differs in (column names, delimiters, null values, a trailer such as nfdump's summary) is
its FlowTextFormat (layout.py). See docs/formats/flows.md for the field mapping.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Generator, Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from breachscope.ingest.batch import make_batch
from breachscope.ingest.context import ReadContext
from breachscope.ingest.flows.columns import FlowColumns
from breachscope.ingest.flows.layout import TABLE, FlowTextFormat, Layout, resolve, split_fields
from breachscope.ingest.flows.values import CONVERT_ERRORS, STR_NULL, one_chunk, text_column
from breachscope.ingest.lines import EXCERPT_BYTES, LongLine, decode, text_encoding
from breachscope.ingest.reader import Batches
from breachscope.model.schema import FLOW_SCHEMA

BLOCK_BYTES = 8 << 20  # large enough that pyarrow's per-call cost vanishes, small enough for memory


def _blocks(ctx: ReadContext) -> Iterator[bytes]:
    """The file as UTF-8 bytes (BOM dropped, UTF-16 transcoded) in blocks that end at a line end.
    A line over max_record_bytes is rejected with its number and left as an empty line (blank lines
    are not records), so the line numbers of the rest stay right and it is never held whole."""
    with ctx.source.path.open("rb") as fh:
        enc, skip = text_encoding(fh.read(4096))
        fh.seek(skip)
        if enc == "utf-8":
            def read() -> bytes:
                raw = fh.read(BLOCK_BYTES)
                ctx.progress(len(raw))
                return raw
        else:
            text = io.TextIOWrapper(fh, encoding=enc, errors="replace", newline="")

            def read() -> bytes:
                chunk = text.read(BLOCK_BYTES // 2)
                ctx.progress(len(chunk) * 2)
                return chunk.encode("utf-8")
        limit = ctx.options.max_record_bytes
        lineno = 1  # of the first line not yet yielded
        rest = b""
        long: LongLine | None = None
        while True:
            raw = read()
            if not raw:
                if long is not None:
                    long.reject(ctx)
                elif rest:
                    yield rest
                return
            if long is not None:  # dropping the rest of an over-long line
                end = raw.find(b"\n")
                if end < 0:
                    long.length += len(raw)
                    continue
                long.length += end
                long.reject(ctx)
                long, raw = None, b"\n" + raw[end + 1:]  # the line stays, empty
            raw = rest + raw if rest else raw
            cut = raw.rfind(b"\n")
            if cut < 0:
                rest = raw
                if len(rest) > limit:
                    long, rest = LongLine(lineno, len(rest), rest[:EXCERPT_BYTES]), b""
                continue
            rest = raw[cut + 1:]
            block = _blank_long_lines(raw[: cut + 1], lineno, limit, ctx)
            lineno += block.count(b"\n")
            yield block


def _blank_long_lines(block: bytes, first: int, limit: int, ctx: ReadContext) -> bytes:
    """`block` with every line over the limit rejected and emptied (its line end kept)."""
    if len(block) <= limit:
        return block
    ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10)
    starts = np.concatenate(([0], ends[:-1] + 1))
    over = np.flatnonzero(ends - starts > limit)
    if not len(over):
        return block
    parts, pos = [], 0
    for i in over.tolist():
        start, end = int(starts[i]), int(ends[i])
        LongLine(first + i, end - start, block[start:start + EXCERPT_BYTES]).reject(ctx)
        parts.append(block[pos:start])
        pos = end
    parts.append(block[pos:])
    return b"".join(parts)


def _find_line(block: bytes, marker: bytes) -> int:
    """Offset of the first line of `block` that is exactly `marker` (CRLF allowed), or -1."""
    pos = 0
    while (i := block.find(marker, pos)) >= 0:
        after = block[i + len(marker): i + len(marker) + 2]
        starts_line = i == 0 or block[i - 1: i] == b"\n"
        if starts_line and (after[:1] in (b"", b"\n") or after in (b"\r", b"\r\n")):
            return i
        pos = i + 1
    return -1


def _lines(block: bytes, first: int, more: Iterator[bytes]) -> Iterator[tuple[int, bytes]]:
    """(line number, line without its end) for the rest of a file, starting with `block`."""
    n = first
    for b in itertools.chain((block,), more):
        parts = b.split(b"\n")
        if b.endswith(b"\n"):
            parts.pop()
        for raw in parts:
            yield n, raw[:-1] if raw.endswith(b"\r") else raw
            n += 1


def _drop_rejected(columns: dict[str, pa.Array], reasons: pa.Array, records: list[int],
                   bad: list[tuple[int, str]]) -> tuple[dict[str, pa.Array], list[int]]:
    """The rows the conversion rejects (a reason that is not null) out of the columns and line
    numbers; their line numbers and reasons are added to `bad`."""
    valid = pc.is_valid(reasons)
    at = pc.indices_nonzero(valid).to_pylist()
    bad += [(records[i], r) for i, r in zip(at, reasons.filter(valid).to_pylist(), strict=True)]
    dropped = {records[i] for i in at}
    return {k: v.filter(pc.invert(valid)) for k, v in columns.items()}, [n for n in records if n not in dropped]


class FlowText:
    """Reads one delimited flow file of one text format into `flow` batches."""

    columns: FlowColumns  # the file's column conversion, made when its header is read

    def __init__(self, ctx: ReadContext, text_format: FlowTextFormat) -> None:
        self.ctx = ctx
        self.text_format = text_format
        self.layout: Layout | None = None

    # -- driver --
    def read(self) -> Batches:
        ctx = self.ctx
        lineno = 1
        blocks = _blocks(ctx)
        for block in blocks:
            if self.layout is None:
                pos, lineno = self._header(block, lineno)
                if self.layout is None:
                    if pos < 0:  # a header that is not this format's: nothing in the file can be read
                        self._reject_rest(_lines(block[-pos - 1:], lineno, blocks))
                        return
                    continue
                block = block[pos:]
            stop = self.text_format.stop_line
            cut = _find_line(block, stop) if stop else -1
            if cut >= 0:
                lineno += yield from self._block(block[:cut], lineno)
                if self.text_format.trailer is not None:
                    self.text_format.trailer(_lines(block[cut:], lineno, blocks), ctx, ctx.records + ctx.rejected)
                return
            lineno += yield from self._block(block, lineno)

    def _header(self, block: bytes, lineno: int) -> tuple[int, int]:
        """Find the header in `block`: (offset after it, next line number). Lines before it that are
        blank or `#` comments are not records. An unrecognised header gives (-offset-1, its line)."""
        pos = 0
        while pos < len(block):
            end = block.find(b"\n", pos)
            end = len(block) if end < 0 else end + 1
            raw = block[pos:end].rstrip(b"\r\n")
            if not raw.strip() or (raw.startswith(b"#") and not raw.startswith(b"#:")):
                pos, lineno = end, lineno + 1
                continue
            self.layout = resolve(self.text_format, decode(raw, self.ctx))
            if self.layout is None:
                return -pos - 1, lineno
            self._setup(self.layout)
            return end, lineno + 1
        return pos, lineno

    def _reject_rest(self, lines: Iterator[tuple[int, bytes]]) -> None:
        first = True
        for n, raw in lines:
            if not raw.strip():
                continue
            reason = (f"header is not a {self.text_format.name} header" if first
                      else f"no {self.text_format.name} header before this line")
            self.ctx.reject(f"line {n}", reason, raw)
            first = False

    def _setup(self, layout: Layout) -> None:
        """What reading needs once the header is known: pyarrow's options for its columns, and the
        column conversion (which warns now about how the file's times will be read)."""
        self.ncols = len(layout.keys)
        self.colnames = [f"c{i}" for i in range(self.ncols)]
        self.convert_options = pcsv.ConvertOptions(
            column_types={c: pa.string() for c in self.colnames}, strings_can_be_null=True,
            null_values=list(self.text_format.null_values), quoted_strings_can_be_null=True)
        self.header_text = layout.header.strip()
        self.header_bytes = self.header_text.encode()
        self.columns = FlowColumns(self.ctx, layout)

    # -- one block of lines --
    def _block(self, block: bytes, first: int) -> Generator[tuple[str, pa.RecordBatch], None, int]:
        if not block:
            return 0
        got = self._fast(block, first)
        if got is None:
            got = self._slow(block, first)
        batch, nlines = got
        step = max(1, self.ctx.options.batch_rows)
        for off in range(0, batch.num_rows, step):
            yield TABLE, batch.slice(off, step)
        return nlines

    def _fast(self, block: bytes, first: int) -> tuple[pa.RecordBatch, int] | None:
        """The whole block through pyarrow, or None when it needs the line-by-line path (invalid
        UTF-8, a lone CR, a quoted line break). Bad rows are found here too and classified from
        their raw line exactly as the line-by-line path does."""
        if not block.isascii() and not _utf8(block):
            return None  # pyarrow's bad-row callback would fail decoding the row (a traceback on stderr)
        has_cr = b"\r" in block
        if has_cr and block.count(b"\r") != block.count(b"\r\n"):
            return None  # a lone CR: pyarrow would end a row there, line numbers would drift
        if not self.columns.has_start and self.header_bytes in block:
            return None  # a repeated header: without a start time to fail, it would pass for a flow
        invalid: list[tuple[int | None, str]] = []

        def on_invalid(row: Any) -> str:
            invalid.append((row.number, row.text))
            return "skip"

        layout = self.layout
        assert layout is not None
        try:
            table = pcsv.read_csv(
                pa.py_buffer(block),
                read_options=pcsv.ReadOptions(column_names=self.colnames, use_threads=False,
                                              block_size=len(block) + 1),
                parse_options=pcsv.ParseOptions(delimiter=layout.delimiter, ignore_empty_lines=False,
                                                invalid_row_handler=on_invalid),
                convert_options=self.convert_options)
        except CONVERT_ERRORS:
            return None  # invalid UTF-8 and the like
        nrows = table.num_rows + len(invalid)
        if has_cr or b'"' in block:
            nlines = block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
            if nlines != nrows:
                return None  # a quoted value spans lines
        else:
            nlines = nrows
        if any(num is None for num, _ in invalid):
            return None
        cols = [one_chunk(table.column(i)) for i in range(self.ncols)]
        columns, reasons = self.columns.convert(cols)
        if not invalid and reasons is None:
            records: Any = pc.add(self.columns.arange(table.num_rows), first)
            return make_batch(FLOW_SCHEMA, columns, table.num_rows, self.ctx, records), nlines
        skipped = {first + num - 1 for num, _ in invalid if num is not None}
        records = [n for n in range(first, first + nlines) if n not in skipped]
        lines = block.split(b"\n")
        bad = [(n, "wrong number of columns") for n in skipped]
        if reasons is not None:
            columns, records = _drop_rejected(columns, reasons, records, bad)
        for n, reason in sorted(bad):
            self._bad_line(n, reason, lines[n - first])
        return make_batch(FLOW_SCHEMA, columns, len(records), self.ctx, records), nlines

    def _bad_line(self, n: int, reason: str, raw: bytes) -> None:
        """A line that gave no flow: blank lines and repeated headers are not records, the rest is rejected."""
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if not raw.strip():
            return
        if decode(raw, self.ctx).strip() == self.header_text:
            self.columns.warn_once("repeated header lines skipped (concatenated files?)")
            return
        self.ctx.reject(f"line {n}", reason, raw)

    def _slow(self, block: bytes, first: int) -> tuple[pa.RecordBatch, int]:
        """Line by line: what pyarrow cannot be trusted with (bad UTF-8, lone CRs, quoted line breaks)."""
        layout = self.layout
        assert layout is not None
        parts = block.split(b"\n")
        if block.endswith(b"\n"):
            parts.pop()
        good: list[list[str]] = []
        records: list[int] = []
        bad: list[tuple[int, str]] = []
        delimiter, ncols, ctx = layout.delimiter, self.ncols, self.ctx
        for i, raw in enumerate(parts):
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = decode(raw, ctx)
            if text.strip() == self.header_text:
                self.columns.warn_once("repeated header lines skipped (concatenated files?)")
                continue
            fields = text.split(delimiter) if '"' not in text else split_fields(text, delimiter)
            if len(fields) != ncols:
                bad.append((first + i, "wrong number of columns"))
                continue
            good.append(fields)
            records.append(first + i)
        value_set = pa.array(self.text_format.null_values, pa.string())
        arrays = []
        for col in zip(*good, strict=True) if good else [()] * ncols:
            arr = text_column(col)
            arrays.append(pc.if_else(pc.is_in(arr, value_set=value_set), STR_NULL, arr))
        columns, reasons = self.columns.convert(arrays)
        if reasons is not None:
            columns, records = _drop_rejected(columns, reasons, records, bad)
        for n, reason in sorted(bad):
            self._bad_line(n, reason, parts[n - first])
        return make_batch(FLOW_SCHEMA, columns, len(records), self.ctx, records), len(parts)


def _utf8(block: bytes) -> bool:
    try:
        block.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
