"""Hostile input benchmark (issue 9 items 3 and 4): memory, time and scratch disk for the inputs the
issue measured. Prints a Markdown table.

    .venv/bin/python bench/hostile_bench.py [--work /tmp/hostile] [--only line,line-gz,sparse,zip1000]

- line: a syslog file of three ordinary lines around one 1 GiB line (goal: peak RSS < 1 GB; the line
  is cut and rejected with its location). Before: 4.34 GB.
- line-gz: the same 1 GiB line in a ~4.7 MB .gz (a ratio near 213, under the expansion ratio limit,
  so it is expanded and read). Before: 4.34 GB.
- sparse: a 10 KiB tar holding a 3 GiB sparse member (goal: nothing written to case/tmp). Before:
  3 GiB written.
- zip1000: a ~1 MB zip whose 1,000 central-directory entries all point at one 1 GiB member of zeros.
  Before: 12.6 GiB written after 90 s, still running.

Each runs `breachscope ingest --json` (default jobs: both cores) in a subprocess; peak RSS is the
main process plus its workers, and the scratch peak is the bytes under case/tmp, sampled every 50 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
import zlib
from pathlib import Path

import psutil
from proctree import tree_rss  # bench/ is the script's folder: on sys.path

CLI = [sys.executable, "-m", "breachscope.cli.main"]
GIB = 1 << 30
LINE = b"<34>Feb  5 01:00:00 fw1 sshd[1]: Failed password for root from 10.0.0.1 port 22 ssh2\n"


def scratch_bytes(case: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(case / "tmp"):
        for f in files:
            with contextlib.suppress(OSError):  # a file removed meanwhile
                total += os.stat(os.path.join(root, f)).st_blocks * 512  # real bytes, sparse or not
    return total


def run(inputs: list[Path], case: Path) -> tuple[float, int, int, dict[str, object]]:
    shutil.rmtree(case, ignore_errors=True)
    start = time.perf_counter()
    proc = subprocess.Popen([*CLI, "ingest", *map(str, inputs), "--case", str(case), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    ps = psutil.Process(proc.pid)
    peak = disk = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss(ps))
        disk = max(disk, scratch_bytes(case))
        time.sleep(0.05)
    wall = time.perf_counter() - start
    return wall, peak, disk, json.loads(proc.stdout.read() if proc.stdout else "{}")


def long_line_chunks(size: int):  # type: ignore[no-untyped-def]
    """A 1 GiB line that gzip compresses about 213:1 (as in the issue): mostly a repeated
    character, with a random printable byte every few hundred."""
    rng = random.Random(7)
    block = 1 << 20
    done = 0
    while done < size:
        n = min(block, size - done)
        buf = bytearray(b"A" * n)
        for i in range(0, n, 330):
            buf[i] = rng.randrange(33, 127)
        yield bytes(buf)
        done += n


def make_line(work: Path, gz: bool) -> Path:
    path = work / ("line.log.gz" if gz else "line.log")
    if path.exists():
        return path
    comp = zlib.compressobj(6, zlib.DEFLATED, 31) if gz else None
    with path.open("wb") as out:
        def put(data: bytes) -> None:
            out.write(comp.compress(data) if comp else data)

        put(LINE)
        put(b"<34>Feb  5 01:00:01 fw1 sshd[2]: ")
        for chunk in long_line_chunks(GIB):
            put(chunk)
        put(b"\n" + LINE + LINE)
        if comp:
            out.write(comp.flush())
    return path


def make_sparse(work: Path) -> Path:
    from tests.test_ingest_archives import gnu_sparse_tar

    path = work / "sparse.tar"
    path.write_bytes(gnu_sparse_tar("huge.log", 3 * GIB, LINE))
    with tarfile.open(path) as t:
        assert t.getmembers()[0].size == 3 * GIB
    return path


def make_zip1000(work: Path) -> Path:
    path = work / "zip1000.zip"
    if path.exists():
        return path
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    zero = bytes(1 << 20)
    data = b"".join(comp.compress(zero) for _ in range(1024)) + comp.flush()
    # one local header + the compressed 1 GiB of zeros, then 1,000 central entries pointing at it
    crc = 0
    for _ in range(1024):
        crc = zlib.crc32(zero, crc)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        info = zipfile.ZipInfo("big.bin", date_time=(2025, 2, 5, 1, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.CRC, info.compress_size, info.file_size = crc, len(data), GIB
        info.header_offset = 0
        z.fp.write(info.FileHeader(zip64=False))  # type: ignore[union-attr]
        z.fp.write(data)  # type: ignore[union-attr]
        z.start_dir = z.fp.tell()  # type: ignore[union-attr]
        z.filelist.append(info)
        z.filelist.extend(copy.copy(info) for _ in range(999))
        z._didModify = True  # type: ignore[attr-defined]
    path.write_bytes(out.getvalue())
    with zipfile.ZipFile(path) as z:
        assert len(z.infolist()) == 1000 and z.infolist()[0].file_size == GIB
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, default=Path("/tmp/breachscope-hostile"))
    ap.add_argument("--only", default="line,line-gz,sparse,zip1000")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    makers = {"line": lambda: make_line(args.work, False), "line-gz": lambda: make_line(args.work, True),
              "sparse": lambda: make_sparse(args.work), "zip1000": lambda: make_zip1000(args.work)}
    print(f"load average: {os.getloadavg()[0]:.1f}", file=sys.stderr)
    print("| input | size | time | peak RSS (all processes) | peak scratch (case/tmp) | outcome |")
    print("|---|---|---|---|---|---|")
    for name in args.only.split(","):
        path = makers[name]()
        wall, peak, disk, report = run([path], args.work / f"case-{name}")
        files = report.get("files_with_rejects") or []
        skipped = report.get("files_skipped") or []
        outcome = (f"{report.get('records')} records; rejected: "
                   f"{'; '.join(str(f['first']) for f in files) or 'none'}; "  # type: ignore[index]
                   f"skipped: {len(skipped)} ({skipped[0]['reason'] if skipped else '-'}); "  # type: ignore[index]
                   f"duplicates: {report.get('files_duplicate')}")
        print(f"| {name} | {path.stat().st_size / 1e6:,.2f} MB | {wall:.1f} s | {peak / 2**20:,.0f} MiB | "
              f"{disk / 2**20:,.1f} MiB | {outcome} |", flush=True)


if __name__ == "__main__":
    main()
