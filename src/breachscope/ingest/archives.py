"""Archives (.zip, .tar, .tar.gz, .gz) expanded member by member into the case's scratch folder.

Member names come from the evidence: they are only ever used as display names, never as paths.
Each member is written to a generated scratch name while it is hashed, with a guard against
decompression bombs, and deleted once read.
"""

from __future__ import annotations

import gzip
import hashlib
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

CHUNK = 1 << 20
MAX_RATIO = 1000  # expanded / compressed size beyond which a member is treated as a bomb
BOMB_FLOOR = 1 << 30  # ...but only once past 1 GiB, so tiny highly compressible files are fine
MAX_DEPTH = 4


def archive_kind(head: bytes) -> str | None:
    """'zip', 'tar', 'gzip' or None, from the first bytes."""
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    return None


@dataclass
class Member:
    """An expanded member: scratch file, display name, hash, size, and any damage found."""

    name: str
    path: Path
    sha256: str
    size: int
    mtime: float
    damage: str | None = None  # e.g. "truncated gzip stream after 1234 bytes"


class ArchiveError(Exception):
    pass


def _copy_hashed(src: BinaryIO, dst: Path, compressed: int) -> tuple[str, int, str | None]:
    h = hashlib.sha256()
    n = 0
    damage = None
    limit = max(BOMB_FLOOR, compressed * MAX_RATIO)
    with dst.open("wb") as out:
        while True:
            try:
                chunk = src.read(CHUNK)
            except (EOFError, zlib.error, gzip.BadGzipFile, OSError, zipfile.BadZipFile,
                    tarfile.TarError) as exc:
                damage = f"damaged or truncated compressed stream after {n} bytes ({exc or type(exc).__name__})"
                break
            if not chunk:
                break
            n += len(chunk)
            if n > limit:
                damage = f"expansion stopped at {n} bytes (over {MAX_RATIO}x the compressed size)"
                break
            h.update(chunk)
            out.write(chunk)
    return h.hexdigest(), n, damage


def expand(path: Path, kind: str, display: str, scratch: Path) -> Iterator[Member]:
    """Yield each member of the archive, extracted to a scratch file the caller deletes."""
    counter = 0

    def scratch_name() -> Path:
        nonlocal counter
        counter += 1
        return scratch / f"m{counter:06d}"

    if kind == "zip":
        try:
            zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise ArchiveError(f"unreadable zip archive: {exc}") from exc
        with zf:
            for info in zf.infolist():
                if info.is_dir():
                    continue
                dst = scratch_name()
                try:
                    with zf.open(info) as src:
                        sha, size, damage = _copy_hashed(src, dst, info.compress_size)
                except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError) as exc:
                    # encrypted, unsupported method, bad header: reported by the caller
                    dst.write_bytes(b"")
                    sha, size, damage = "", 0, f"member not extractable: {exc}"
                ts = _zip_mtime(info)
                yield Member(f"{display}!{info.filename}", dst, sha, size, ts, damage)
    elif kind == "tar" or (kind == "gzip" and _gzip_holds_tar(path)):
        try:
            tf = tarfile.open(path, mode="r:*")  # noqa: SIM115 - closed by the with below
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            raise ArchiveError(f"unreadable tar archive: {exc}") from exc
        with tf:
            while True:
                try:
                    info = tf.next()
                except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
                    raise ArchiveError(f"tar archive damaged after its last good member: {exc}") from exc
                if info is None:
                    break
                if not info.isfile():
                    continue
                src = tf.extractfile(info)
                if src is None:
                    continue
                dst = scratch_name()
                sha, size, damage = _copy_hashed(src, dst, max(info.size // MAX_RATIO, 1))
                if size < info.size and damage is None:
                    damage = f"member truncated: {size} of {info.size} bytes"
                yield Member(f"{display}!{info.name}", dst, sha, size, float(info.mtime), damage)
    elif kind == "gzip":
        inner = Path(display).name
        inner = inner[:-3] if inner.lower().endswith(".gz") else inner + ".out"
        dst = scratch_name()
        sha, size, damage = _gunzip(path, dst)
        yield Member(f"{display}!{inner}", dst, sha, size, path.stat().st_mtime, damage)
    else:  # pragma: no cover - callers only pass kinds from archive_kind
        raise ArchiveError(f"not an archive kind: {kind}")


def _gunzip(path: Path, dst: Path) -> tuple[str, int, str | None]:
    """Decompress a gzip file (several concatenated members allowed) keeping everything readable
    before a truncation or corruption, which is reported rather than raised."""
    h = hashlib.sha256()
    n = 0
    damage = None
    limit = max(BOMB_FLOOR, path.stat().st_size * MAX_RATIO)
    d = zlib.decompressobj(wbits=31)
    in_member = False  # a member has started and not reached its end
    with path.open("rb") as src, dst.open("wb") as out:
        while (chunk := src.read(CHUNK)) and damage is None:
            while chunk:
                in_member = True
                try:
                    data = d.decompress(chunk)
                except zlib.error as exc:
                    damage = f"corrupt gzip stream after {n} bytes ({exc})"
                    break
                n += len(data)
                if n > limit:
                    damage = f"expansion stopped at {n} bytes (over {MAX_RATIO}x the compressed size)"
                    break
                h.update(data)
                out.write(data)
                chunk = b""
                if d.eof:  # another gzip member may follow
                    in_member = False
                    chunk = d.unused_data
                    d = zlib.decompressobj(wbits=31)
                    if not chunk.strip(b"\x00"):
                        chunk = b""
        if damage is None and in_member:
            tail = d.flush()
            h.update(tail)
            out.write(tail)
            n += len(tail)
            damage = f"truncated gzip stream after {n} bytes"
    return h.hexdigest(), n, damage


def _gzip_holds_tar(path: Path) -> bool:
    try:
        with gzip.open(path, "rb") as fh:
            head = fh.read(512)
    except (OSError, EOFError, zlib.error):
        return False
    return len(head) >= 262 and head[257:262] == b"ustar"


def _zip_mtime(info: zipfile.ZipInfo) -> float:
    try:
        return datetime(*info.date_time).timestamp()
    except ValueError:
        return 0.0


def sha256_file(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()
