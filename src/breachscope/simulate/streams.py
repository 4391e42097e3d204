"""Writing the evidence: each group of log files is generated slice by slice (bounded memory),
with the story's records (attack, episodes, scheduled jobs) merged in time order and their line
numbers recorded for truth.json.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

import numpy as np
import pyarrow as pa

from breachscope.simulate import clock
from breachscope.simulate.config import SimConfig
from breachscope.simulate.network import Network
from breachscope.simulate.rng import rng_for
from breachscope.simulate.text import count_newlines, write_lines

if TYPE_CHECKING:  # noise.postgres and sources import this module
    from breachscope.simulate.noise.postgres import DbRefs
    from breachscope.simulate.sources import Collection


@dataclass(frozen=True)
class Injected:
    """A record of the story: complete text (one or more lines, each ending in a newline)."""

    ts: int
    text: str
    tag: str = ""  # "" = not listed in truth.json; else e.g. "attack:db_query", "episode:ddos:flood"
    ref: str = ""  # optional id that ties the record to a truth.json entry (a statement, a file)
    host: str = ""  # Windows events: the host whose event log numbers the record (see Group.adopt)


@dataclass(frozen=True)
class Output:
    key: str
    path: Callable[[int], str]  # day index -> path relative to evidence/
    header: Callable[[int], str] | None = None
    footer: Callable[[int], str] | None = None
    multiline: bool = False  # records may span lines (line numbers then count newlines)


@dataclass
class Chunk:
    ts: np.ndarray  # int64 µs, sorted
    lines: pa.Array  # one string per record, ending in a newline


class Group(Protocol):
    name: str
    share: float
    profile: str

    def outputs(self) -> list[Output]: ...

    def chunk(self, rng: np.random.Generator, times: np.ndarray, sl: clock.Slice) -> dict[str, Chunk]: ...

    # optional: adopt(record) -> record, called for each story record as it is written (Windows groups give
    # the event the host's next record number; routers the device's next sequence number), and
    # expect(pending: output key -> story records) before the first slice, so the noise numbers leave room


@dataclass
class Context:
    """What a group needs to generate its noise (rebuilt identically in every worker process)."""

    cfg: SimConfig
    net: Network
    count: int  # noise records to write
    silence: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # host -> periods without records
    refs: DbRefs | None = None  # database facts for the database log


@dataclass(frozen=True)
class Located:
    tag: str
    ref: str
    file: str  # relative to the output folder, e.g. evidence/db/ord-db01/postgresql-2025-02-05.log
    line: int
    ts: int


@dataclass
class GroupResult:
    name: str
    records: int = 0
    noise_records: int = 0
    lines: int = 0
    bytes: int = 0
    files: list[str] = field(default_factory=list)
    located: list[Located] = field(default_factory=list)


def noise_counts(cfg: SimConfig, shares: dict[str, float]) -> dict[str, int]:
    """Noise records per group: --events split by the groups' shares (exact sum)."""
    names = sorted(shares)
    counts = clock.largest_remainder(cfg.events, np.array([shares[n] for n in names]))
    return dict(zip(names, (int(c) for c in counts), strict=True))


def run_group(cfg: SimConfig, group: Group, count: int, injected: dict[str, list[Injected]],
              collected: Collection | None = None) -> GroupResult:
    """Write every file of one group that is `collected`; `injected` maps an output key to its story records."""
    result = GroupResult(group.name)
    outputs = [o for o in group.outputs() if collected is None or collected.collects(o.key)]
    pending = {o.key: sorted(injected.get(o.key, []), key=lambda r: r.ts) for o in outputs}
    unknown = set(injected) - set(pending)
    if unknown:
        raise ValueError(f"records for unknown outputs of {group.name}: {sorted(unknown)}")
    expect = getattr(group, "expect", None)  # groups that number records leave room for the story's
    if expect is not None:
        expect(pending)
    writer = _DayFiles(cfg.out, outputs, result, getattr(group, "adopt", None))
    cursor = dict.fromkeys(pending, 0)
    weights = clock.minute_weights(group.profile)
    for sl in clock.plan_slices(count, group.profile):
        rng = rng_for(cfg.seed, "noise", group.name, sl.index)
        times = clock.draw_times(rng, sl, weights)
        chunks = group.chunk(rng, times, sl) if sl.count else {}
        if collected is not None:  # what is not collected is not written
            chunks = {k: collected.noise(k, c) for k, c in chunks.items() if k in pending}
        result.noise_records += sum(len(c.ts) for c in chunks.values())
        for c in chunks.values():  # a derived record a few ms after the slice's end stays with its slice
            c.ts = np.clip(c.ts, sl.start, sl.end - 1)
        for day in sl.days:
            writer.day(day)
            lo, hi = max(sl.start, clock.day_start(day)), min(sl.end, clock.day_start(day + 1))
            for o in outputs:
                recs = pending[o.key]
                i0 = i1 = cursor[o.key]
                while i1 < len(recs) and recs[i1].ts < hi:
                    i1 += 1
                cursor[o.key] = i1
                chunk = chunks.get(o.key)
                if chunk is not None and len(chunk.ts) and (chunk.ts[0] < lo or chunk.ts[-1] >= hi):
                    a, b = np.searchsorted(chunk.ts, [lo, hi])
                    chunk = Chunk(chunk.ts[a:b], chunk.lines.slice(a, b - a))
                writer.write(o, chunk, recs[i0:i1])
    writer.close()
    for key, recs in pending.items():
        if cursor[key] != len(recs):
            raise ValueError(f"{group.name}/{key}: records outside the simulated period")
    return result


class _DayFiles:
    """The open files of the current JST day, one per output; a file that got no record is removed."""

    def __init__(self, out: Path, outputs: list[Output], result: GroupResult,
                 adopt: Callable[[Injected], Injected] | None) -> None:
        self.out, self.outputs, self.result, self.adopt = out, outputs, result, adopt
        self.current = -1
        self.files: dict[str, tuple[str, BinaryIO]] = {}
        self.lines: dict[str, int] = {}
        self.written: dict[str, int] = {}

    def day(self, day: int) -> None:
        if day == self.current:
            return
        self.close()
        self.current = day
        self.files = {o.key: _open(self.out / "evidence", o, day) for o in self.outputs}
        self.lines = {o.key: (o.header(day).count("\n") if o.header else 0) for o in self.outputs}
        self.written = dict.fromkeys(self.files, 0)

    def write(self, o: Output, chunk: Chunk | None, recs: list[Injected]) -> None:
        rel, fh = self.files[o.key]
        n0 = self.result.records
        self.lines[o.key] = _merge(fh, o, chunk, recs, self.lines[o.key], rel, self.result, self.adopt)
        self.written[o.key] += self.result.records - n0

    def close(self) -> None:
        for o in self.outputs:
            if o.key not in self.files:
                continue
            rel, fh = self.files[o.key]
            if o.footer:
                fh.write(o.footer(self.current).encode())
                self.lines[o.key] += o.footer(self.current).count("\n")
            fh.close()
            if not self.written[o.key]:  # a collector writes no file for a day without records
                (self.out / rel).unlink()
                continue
            self.result.files.append(rel)
            self.result.lines += self.lines[o.key]
        self.files = {}


def _open(out_dir: Path, o: Output, day: int) -> tuple[str, BinaryIO]:
    rel = o.path(day)
    path = out_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = path.open("wb")
    if o.header:
        fh.write(o.header(day).encode())
    return f"evidence/{rel}", fh


def _merge(fh: BinaryIO, o: Output, chunk: Chunk | None, recs: list[Injected], line: int, rel: str,
           result: GroupResult, adopt: Callable[[Injected], Injected] | None = None) -> int:
    """Write noise and story records of one slice in time order; returns the last line number."""
    if chunk is None:  # no noise in this slice: the story's records only
        chunk = Chunk(np.zeros(0, dtype=np.int64), pa.array([], pa.string()))
    n, lines = len(chunk.ts), chunk.lines
    if n:
        per = count_newlines(lines) if o.multiline else np.ones(n, dtype=np.int64)
        cum = np.cumsum(per)
    pos = np.searchsorted(chunk.ts, [r.ts for r in recs], side="right") if n and recs else np.zeros(len(recs), int)
    done = 0
    for r, p in zip(recs, pos.tolist(), strict=True):
        if p > done:
            result.bytes += write_lines(fh, lines.slice(done, p - done))
            line += int(cum[p - 1] - (cum[done - 1] if done else 0))
            done = p
        if adopt is not None:
            r = adopt(r)
        data = r.text.encode()
        fh.write(data)
        result.bytes += len(data)
        if r.tag:
            result.located.append(Located(r.tag, r.ref, rel, line + 1, r.ts))
        line += r.text.count("\n")
        result.records += 1
    if n > done:
        result.bytes += write_lines(fh, lines.slice(done))
        line += int(cum[-1] - (cum[done - 1] if done else 0))
    result.records += n
    return line
