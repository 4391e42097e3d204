"""Archives (.zip, .tar, .tar.gz, .gz) expanded member by member into the case's scratch folder.

Member names come from the evidence: they are only ever used as display names, never as paths.
Each call of `expand` writes into a scratch folder of its own (a nested archive is read from its
parent's scratch file while its own members are written: one shared namespace once overwrote the
file being read). Each member is written to a generated name while it is hashed and metered against
the expansion budgets (ingest/limits.py), and deleted by the caller once read.

What is not expanded is yielded as `Unread`, with its reason, so that the manifest lists it: entries
that share another entry's data (recognised from the zip central directory, before any expansion),
entries whose data overlaps another's (the overlapping-zip bomb), members whose declared or real
expansion is over a limit (sparse tar members are measured by the data they really store), links,
devices, encrypted members without a password that opens them.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import stat
import struct
import tarfile
import tempfile
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import IO, Any, cast

from breachscope.ingest.limits import ArchiveBudget, LimitReached, MemberMeter
from breachscope.model.case import DUPLICATE, FAILED, SKIPPED

CHUNK = 1 << 20
MAX_DEPTH = 4
READ_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile, OSError, zipfile.BadZipFile, tarfile.TarError,
               RuntimeError, ValueError)
PASSWORD_HINT = "give its password with --archive-password (malware-sample sets often use 'infected')"


def archive_kind(head: bytes) -> str | None:
    """'zip', 'tar', 'gzip' or None, from the first bytes."""
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    # RFC 1952: the magic, deflate (the only method) and no reserved flag bits; two bytes alone
    # matched one random file in 65,536 and turned it into an "archive" of nothing
    if head.startswith(b"\x1f\x8b\x08") and len(head) > 3 and not head[3] & 0xE0:
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
    note: str | None = None


@dataclass
class Unread:
    """A member that was not expanded, and why (listed in the manifest with this status)."""

    name: str
    status: str  # SKIPPED, DUPLICATE or FAILED
    reason: str
    size: int = 0  # as the archive declares it
    duplicate_of: str | None = None


@dataclass
class Done:
    """A member a previous run read from this very archive (same archive sha256): not expanded again."""

    name: str


class ArchiveError(Exception):
    pass


@dataclass
class _Copied:
    sha256: str
    size: int
    damage: str | None = None
    stopped: str | None = None  # an expansion limit: the member is not read


class _CountingFile:
    """The archive file, counting how far into it reading has gone (the stored bytes consumed)."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.high = 0

    def read(self, n: int = -1) -> bytes:
        data = self.fh.read(n)
        self.high = max(self.high, self.fh.tell())
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fh, name)


def _copy(src: IO[bytes], dst: Path, meter: MemberMeter, stored_now: Callable[[], int | None]) -> _Copied:
    h = hashlib.sha256()
    n = 0
    with dst.open("wb") as out:
        while True:
            try:
                chunk = src.read(CHUNK)
            except READ_ERRORS as exc:
                return _Copied(h.hexdigest(), n, f"damaged or truncated compressed stream after {n} bytes "
                                                 f"({exc or type(exc).__name__})")
            if not chunk:
                return _Copied(h.hexdigest(), n)
            n += len(chunk)
            stop = meter.add(len(chunk), stored_now())
            if stop:
                return _Copied("", n, stopped=f"expansion stopped after {n:,} bytes: {stop}")
            h.update(chunk)
            out.write(chunk)


class _Expansion:
    """One level of expansion: its own scratch folder and member numbering."""

    def __init__(self, display: str, scratch: Path, budget: ArchiveBudget, depth: int,
                 passwords: tuple[bytes, ...], done: frozenset[str]) -> None:
        self.display = display
        self.done = done
        self.budget = budget
        self.depth = depth
        self.passwords = passwords
        self.folder = Path(tempfile.mkdtemp(prefix=f"x{depth}-", dir=scratch))
        self.counter = 0

    def scratch_name(self) -> Path:
        self.counter += 1
        return self.folder / f"m{self.counter:06d}"

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def expand(path: Path, kind: str, display: str, scratch: Path, budget: ArchiveBudget, depth: int = 1,
           passwords: tuple[bytes, ...] = (), done: frozenset[str] = frozenset()) -> Iterator[Member | Unread | Done]:
    """Yield each member of the archive, extracted to a scratch file the caller deletes, or the
    reason it was not extracted. `depth` 1 is an archive of the evidence itself: only its bytes count
    as stored bytes for the expansion ratios. `done`: names of members already read from an archive
    with the same content (an incomplete archive expanded again): yielded as Done, not expanded."""
    level = _Expansion(display, scratch, budget, depth, passwords, done)
    try:
        if kind == "zip":
            yield from _zip(path, level)
        elif kind == "tar" or (kind == "gzip" and _gzip_holds_tar(path)):
            yield from _tar(path, level, compressed=kind != "tar")
        elif kind == "gzip":
            yield from _gzip(path, level)
        else:  # pragma: no cover - callers only pass kinds from archive_kind
            raise ArchiveError(f"not an archive kind: {kind}")
    finally:
        level.close()


# --- zip ---------------------------------------------------------------------------------------


def _zip(path: Path, level: _Expansion) -> Iterator[Member | Unread | Done]:
    try:
        zf = zipfile.ZipFile(path)
    # NotImplementedError: a "zip file version" the reader does not know (found by fuzzing)
    except (zipfile.BadZipFile, NotImplementedError, OSError, ValueError, EOFError) as exc:
        raise ArchiveError(f"unreadable zip archive: {exc}") from exc
    encrypted: Any = None  # pyzipper's reader, opened at the first encrypted member
    with zf, path.open("rb") as raw:
        infos = zf.infolist()
        names = _unique_names([i.filename for i in infos])
        overlapping = _overlapping(zf, raw)
        first_at: dict[int, str] = {}
        try:
            for index, info in enumerate(infos):
                if info.is_dir():
                    continue
                name = f"{level.display}!{names[index]}"
                if name in level.done:
                    first_at.setdefault(info.header_offset, name)
                    yield Done(name)
                    continue
                unread = _zip_unread(info, name, first_at, overlapping, level)
                if unread is not None:
                    yield unread
                    continue
                if level.depth == 1:
                    level.budget.add_stored(info.compress_size)
                if info.flag_bits & 0x1:
                    if encrypted is None and level.passwords:
                        encrypted = _open_encrypted(path) or False
                    yield _zip_encrypted(encrypted or None, index, info, name, level)
                else:
                    yield _zip_member(partial(zf.open, info), info, name, level)
        finally:
            if encrypted:
                encrypted.close()


def _zip_unread(info: zipfile.ZipInfo, name: str, first_at: dict[int, str], overlapping: set[int],
                level: _Expansion) -> Unread | None:
    """Why an entry is not expanded, decided from the central directory alone, or None."""
    if info.header_offset in first_at:
        first = first_at[info.header_offset]
        return Unread(name, DUPLICATE, f"the same entry data as {first} (zip entries sharing one local header)",
                      info.file_size, duplicate_of=first)
    first_at[info.header_offset] = name
    if info.header_offset in overlapping:
        return Unread(name, SKIPPED, "its data overlaps another entry's (an overlapping zip bomb)", info.file_size)
    if stat.S_ISLNK(info.external_attr >> 16):
        return Unread(name, SKIPPED, "a symbolic link: links are not followed", info.file_size)
    try:
        level.budget.precheck()
    except LimitReached as exc:
        return Unread(name, SKIPPED, f"not expanded: {exc}", info.file_size)
    refused = level.budget.declared(info.file_size, info.compress_size)
    return Unread(name, SKIPPED, f"not expanded: {refused}", info.file_size) if refused else None


def _zip_member(opener: Callable[[], IO[bytes]], info: zipfile.ZipInfo, name: str, level: _Expansion,
                note: str | None = None) -> Member | Unread:
    dst = level.scratch_name()
    meter = level.budget.meter(info.compress_size)
    try:
        with opener() as src:
            copied = _copy(src, dst, meter, lambda: None)
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, ValueError, EOFError,
            zlib.error) as exc:
        dst.unlink(missing_ok=True)
        return Unread(name, FAILED, f"member not extractable: {exc}", info.file_size)
    if copied.stopped:
        dst.unlink(missing_ok=True)
        return Unread(name, SKIPPED, copied.stopped, info.file_size)
    return Member(name, dst, copied.sha256, copied.size, _zip_mtime(info), copied.damage, note)


def _zip_encrypted(encrypted: Any, index: int, info: zipfile.ZipInfo, name: str,
                   level: _Expansion) -> Member | Unread:
    if not level.passwords:
        return Unread(name, SKIPPED, f"encrypted: {PASSWORD_HINT}", info.file_size)
    if encrypted is None:
        return Unread(name, FAILED, "encrypted, and the archive cannot be opened for decryption", info.file_size)
    einfo = encrypted.infolist()[index]
    errors: list[str] = []
    for n, pwd in enumerate(level.passwords, 1):
        result = _zip_member(partial(encrypted.open, einfo, pwd=pwd), info, name, level,
                             note=f"decrypted with --archive-password number {n}")
        if isinstance(result, Member) and result.damage is None:
            return result
        if isinstance(result, Member):  # a wrong password can pass the 1-2 byte check: garbage, bad CRC
            result.path.unlink(missing_ok=True)
            errors.append(result.damage or "")
        elif result.status == SKIPPED:  # an expansion limit, whatever the password
            return result
        elif "password" not in result.reason.lower():
            errors.append(result.reason)
    detail = f" (also: {errors[-1]})" if errors else ""
    return Unread(name, SKIPPED, f"encrypted: none of the {len(level.passwords)} --archive-password value(s) "
                  f"opens it{detail}", info.file_size)


def _open_encrypted(path: Path) -> Any:
    """pyzipper's reader (ZipCrypto and WinZip AES), or None if it cannot read the archive."""
    import pyzipper

    try:
        return pyzipper.AESZipFile(path)
    except Exception:  # a zip the standard reader accepted but pyzipper does not: members say so
        return None


def _overlapping(zf: zipfile.ZipFile, raw: IO[bytes]) -> set[int]:
    """Header offsets of entries whose data runs into the next entry (or the central directory):
    the construction of overlapping zip bombs, where every entry re-reads one compressed kernel."""
    offsets = sorted({i.header_offset for i in zf.infolist()})
    info_at = {i.header_offset: i for i in reversed(zf.infolist())}
    end_of_data = getattr(zf, "start_dir", None)
    out: set[int] = set()
    for k, offset in enumerate(offsets):
        if offset < 0:  # a damaged central directory (found by fuzzing: seek raised): opening reports it
            continue
        raw.seek(offset)
        header = raw.read(30)
        if len(header) < 30 or header[:4] != b"PK\x03\x04":
            continue  # damaged: opening the member reports it
        name_len, extra_len = struct.unpack("<HH", header[26:30])
        data_end = offset + 30 + name_len + extra_len + info_at[offset].compress_size
        boundary = offsets[k + 1] if k + 1 < len(offsets) else end_of_data
        if boundary is not None and data_end > boundary:
            out.add(offset)
    return out


def _unique_names(names: list[str]) -> list[str]:
    """Member names, a repeated one marked with its entry number (names are display only)."""
    counts = Counter(names)
    return [n if counts[n] == 1 else f"{n} [entry {i + 1}]" for i, n in enumerate(names)]


def _zip_mtime(info: zipfile.ZipInfo) -> float:
    try:
        return datetime(*info.date_time).timestamp()
    except ValueError:
        return 0.0


# --- tar ---------------------------------------------------------------------------------------


def _tar(path: Path, level: _Expansion, compressed: bool) -> Iterator[Member | Unread | Done]:
    with path.open("rb") as fh:
        raw = _CountingFile(fh)
        try:
            # the ignore: _CountingFile is file-like (read, tell, seek) but not the IO type typeshed asks for
            tf = tarfile.open(fileobj=raw, mode="r:*")  # type: ignore[call-overload]  # noqa: SIM115 - closed below
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            raise ArchiveError(f"unreadable tar archive: {exc}") from exc
        accounted = 0

        def account() -> int:
            """Stored bytes read so far; only the outermost level's count against the budgets."""
            nonlocal accounted
            if level.depth == 1 and raw.high > accounted:
                level.budget.add_stored(raw.high - accounted)
            accounted = max(accounted, raw.high)
            return raw.high

        with tf:
            seen: dict[str, str] = {}
            stopped: str | None = None
            last = ""
            while True:
                try:
                    info = tf.next()
                except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
                    raise ArchiveError(f"tar archive damaged after its last good member: {exc}") from exc
                if info is None:
                    break
                name = f"{level.display}!{info.name}"
                if info.isdir():
                    continue
                if name in level.done:
                    seen[info.name] = name
                    yield Done(name)
                    continue
                if stopped:  # only for an uncompressed tar: headers are found by seeking, nothing expands
                    yield Unread(name, SKIPPED, f"not expanded: {stopped}", info.size)
                    continue
                unread = _tar_unread(info, name, seen, level)
                if unread is not None:
                    yield unread
                    if compressed and unread.status == SKIPPED and info.isreg() and not info.sparse:
                        yield _rest(level, info.name, "reaching them would expand this member's data")
                        return
                    continue
                try:
                    level.budget.precheck()
                except LimitReached as exc:
                    stopped = str(exc)
                    if compressed:  # walking the rest of a compressed stream would expand it
                        yield _rest(level, last, stopped)
                        return
                    yield Unread(name, SKIPPED, f"not expanded: {stopped}", info.size)
                    continue
                start = account()
                src = tf.extractfile(info)
                if src is None:
                    continue
                dst = level.scratch_name()
                meter = level.budget.meter()
                copied = _copy(src, dst, meter, partial(_stored_since, account, start))
                last = info.name
                seen[info.name] = name
                if copied.stopped:
                    dst.unlink(missing_ok=True)
                    yield Unread(name, SKIPPED, copied.stopped, info.size)
                    if compressed:  # the next header lies past the rest of this member's data
                        yield _rest(level, info.name, "reaching them would expand the rest of this member")
                        return
                    continue
                damage = copied.damage
                if copied.size < info.size and damage is None:
                    damage = f"member truncated: {copied.size} of {info.size} bytes"
                yield Member(name, dst, copied.sha256, copied.size, float(info.mtime), damage)


def _stored_since(account: Callable[[], int], start: int) -> int:
    return max(account() - start, 0)


def _rest(level: _Expansion, after: str, why: str) -> Unread:
    """One entry for the members of a compressed tar that cannot be listed without expanding."""
    return Unread(f"{level.display}!*", SKIPPED, f"the members after {after or 'the start'} were not read: {why}")


def _tar_unread(info: tarfile.TarInfo, name: str, seen: dict[str, str], level: _Expansion) -> Unread | None:
    """Why a tar member is not expanded (links, devices, a declared size over a limit), or None."""
    if info.islnk():
        target = seen.get(info.linkname)
        if target is None:
            return Unread(name, SKIPPED, f"a hard link to {info.linkname!r}, which is not an earlier member")
        return Unread(name, DUPLICATE, f"a hard link to {target}", info.size, duplicate_of=target)
    if info.issym():
        return Unread(name, SKIPPED, f"a symbolic link to {info.linkname!r}: links are not followed")
    if not info.isfile():
        return Unread(name, SKIPPED, "not a regular file (device, FIFO or special entry)")
    if info.sparse is not None:  # stored: the data blocks only; expanded: the holes as zeros too
        # typeshed has TarInfo.sparse as int | None; tarfile sets it to a list of (offset, size)
        real = sum(size for _offset, size in cast("list[tuple[int, int]]", info.sparse))
        refused = level.budget.declared(info.size, real)
        if refused:
            return Unread(name, SKIPPED, f"not expanded: sparse member; {refused}", info.size)
        return None
    refused = level.budget.declared(info.size, info.size)  # only the absolute limits can refuse it
    return Unread(name, SKIPPED, f"not expanded: {refused}", info.size) if refused else None


# --- gzip (a single compressed file) ---------------------------------------------------------


def _gzip(path: Path, level: _Expansion) -> Iterator[Member | Unread]:
    inner = Path(level.display.rsplit("!", 1)[-1]).name
    inner = inner[:-3] if inner.lower().endswith(".gz") else inner + ".out"
    name = f"{level.display}!{inner}"
    try:
        level.budget.precheck()
    except LimitReached as exc:
        yield Unread(name, SKIPPED, f"not expanded: {exc}")
        return
    dst = level.scratch_name()
    sha, size, damage, stopped = _gunzip(path, dst, level)
    if stopped:
        dst.unlink(missing_ok=True)
        yield Unread(name, SKIPPED, stopped)
        return
    if damage and not size:  # not one byte came out: say so rather than list an empty member
        dst.unlink(missing_ok=True)
        yield Unread(name, FAILED, f"not readable as gzip: {damage}")
        return
    yield Member(name, dst, sha, size, path.stat().st_mtime, damage)


def _gunzip(path: Path, dst: Path, level: _Expansion) -> tuple[str, int, str | None, str | None]:
    """Decompress a gzip file (several concatenated members allowed) keeping everything readable
    before a truncation or corruption, which is reported rather than raised."""
    h = hashlib.sha256()
    n = 0
    read = 0
    damage = None
    meter = level.budget.meter()
    d = zlib.decompressobj(wbits=31)
    in_member = False  # a member has started and not reached its end
    with path.open("rb") as src, dst.open("wb") as out:
        while (chunk := src.read(CHUNK)) and damage is None:
            read += len(chunk)
            if level.depth == 1:
                level.budget.add_stored(len(chunk))
            while True:
                in_member = True
                try:
                    # bounded output per call: a small chunk of a bomb never becomes gigabytes at once
                    data = d.decompress(chunk, CHUNK)
                except zlib.error as exc:
                    damage = f"corrupt gzip stream after {n} bytes ({exc})"
                    break
                chunk = d.unconsumed_tail
                n += len(data)
                stop = meter.add(len(data), read)
                if stop:
                    return "", n, None, f"expansion stopped after {n:,} bytes: {stop}"
                h.update(data)
                out.write(data)
                if d.eof:  # another gzip member may follow
                    in_member = False
                    chunk = d.unused_data
                    d = zlib.decompressobj(wbits=31)
                    if not chunk.strip(b"\x00"):
                        break
                elif not chunk and len(data) < CHUNK:
                    break  # this input is used up and no output is pending
        if damage is None and in_member:
            tail = d.flush()
            h.update(tail)
            out.write(tail)
            n += len(tail)
            damage = f"truncated gzip stream after {n} bytes"
    return h.hexdigest(), n, damage, None


def _gzip_holds_tar(path: Path) -> bool:
    try:
        with gzip.open(path, "rb") as fh:
            head = fh.read(512)
    except (OSError, EOFError, zlib.error):
        return False
    return len(head) >= 262 and head[257:262] == b"ustar"


def sha256_file(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()
