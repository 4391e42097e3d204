"""Hostile archives (issue 9 item 3, issue 10's encrypted archives): nothing lost, no bomb expands.

Every archive is built here, in tmp_path; sparse content stays sparse (nothing big is written).
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import io
import json
import random
import tarfile
import zipfile
from pathlib import Path

import pytest
import pyzipper

from breachscope.engines.duckdb_case import open_case
from breachscope.ingest import archives
from breachscope.ingest.limits import MIB, ExpansionLimits
from breachscope.model.case import DUPLICATE, EXPANDED, FAILED, INCOMPLETE, INGESTED, SKIPPED, UNRECOGNIZED
from tests.conftest import run_ingest
from tests.test_ingest_robustness import cli


def syslog(n: int, host: str = "fw1") -> bytes:
    return "".join(f"<34>Feb  5 01:00:{i % 60:02d} {host} sshd[{100 + i}]: Failed password for root from "
                   f"10.0.0.{i % 250} port 22 ssh2\n" for i in range(n)).encode()


def zip_bytes(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def entries(summary: object) -> dict[str, object]:
    return {f.path.split("!", 1)[1] if "!" in f.path else Path(f.path).name: f
            for f in summary.files}  # type: ignore[attr-defined]


def test_nested_zip_levels_do_not_overwrite_each_other(tmp_path: Path) -> None:
    """{mid.zip: {inner.zip: {a.log}, pad.bin, c.log}, b.log}: expanding inner.zip once overwrote the
    scratch file of mid.zip while it was being read (c.log failed, pad.bin read as empty)."""
    pad = b"\0" + random.Random(12).randbytes(256 * 1024)  # never an archive's magic, every run the same
    inner = zip_bytes({"a.log": syslog(5, "a")})
    mid = zip_bytes({"inner.zip": inner, "pad.bin": pad, "c.log": syslog(7, "c")})
    (tmp_path / "outer.zip").write_bytes(zip_bytes({"mid.zip": mid, "b.log": syslog(3, "b")}))
    summary = run_ingest([tmp_path / "outer.zip"], tmp_path / "case")
    got = entries(summary)
    assert {k: (f.status, f.records) for k, f in got.items() if k.endswith(".log")} == {
        "mid.zip!inner.zip!a.log": (INGESTED, 5), "mid.zip!c.log": (INGESTED, 7), "b.log": (INGESTED, 3)}
    assert got["mid.zip!pad.bin"].status == UNRECOGNIZED
    assert got["mid.zip!pad.bin"].sha256 == hashlib.sha256(pad).hexdigest()  # read whole, not empty
    assert {got[k].status for k in ("outer.zip", "mid.zip", "mid.zip!inner.zip")} == {EXPANDED}
    with open_case(tmp_path / "case") as c:
        assert c.rows("SELECT host, count(*) FROM syslog GROUP BY 1 ORDER BY 1") == [("a", 5), ("b", 3), ("c", 7)]
    scratch = tmp_path / "case" / "tmp"
    assert not scratch.exists() or not any(scratch.iterdir())  # nothing left behind


def test_gzip_magic_alone_is_not_an_archive(tmp_path: Path) -> None:
    """CI once drew random padding that began 1f 8b: it was listed as an archive `expanded` into an
    empty member, silently. Two bytes are not a gzip header; a real header over garbage is a failure."""
    noise = random.Random(3).randbytes(64 * 1024)
    looks_like = b"\x1f\x8b\xff" + noise  # gzip's two magic bytes, then no deflate method
    header_only = b"\x1f\x8b\x08\x00" + noise  # a valid header over bytes that do not inflate
    (tmp_path / "outer.zip").write_bytes(zip_bytes({"a.bin": looks_like, "b.gz": header_only,
                                                    "c.log": syslog(2)}))
    got = entries(run_ingest([tmp_path / "outer.zip"], tmp_path / "case"))
    assert got["a.bin"].status == UNRECOGNIZED
    assert got["b.gz"].status == INCOMPLETE
    failed = got["b.gz!b"]
    assert failed.status == FAILED and failed.error and "not readable as gzip" in failed.error
    assert got["outer.zip"].status == INCOMPLETE and got["c.log"].records == 2


def gnu_sparse_tar(name: str, logical: int, data: bytes) -> bytes:
    """A GNU sparse tar (what `tar -S` writes): `data` stored at the end of a member of `logical`
    bytes that is otherwise one hole."""
    block = data.ljust(512, b"\0")
    hdr = bytearray(512)
    hdr[0:len(name)] = name.encode()
    hdr[100:108], hdr[108:116], hdr[116:124] = b"0000644\0", b"0000000\0", b"0000000\0"
    hdr[124:136] = tarfile.itn(len(block), 12, tarfile.GNU_FORMAT)
    hdr[136:148] = tarfile.itn(1_738_717_200, 12, tarfile.GNU_FORMAT)
    hdr[156:157] = tarfile.GNUTYPE_SPARSE
    hdr[257:265] = tarfile.GNU_MAGIC + b" \0"
    hdr[386:398] = tarfile.itn(logical - len(block), 12, tarfile.GNU_FORMAT)  # sparse map: one extent
    hdr[398:410] = tarfile.itn(len(block), 12, tarfile.GNU_FORMAT)
    hdr[483:495] = tarfile.itn(logical, 12, tarfile.GNU_FORMAT)  # the member's real (expanded) size
    hdr[148:156] = b" " * 8
    hdr[148:156] = b"%06o\0 " % sum(hdr)
    return (bytes(hdr) + block).ljust(10240, b"\0")


def test_sparse_tar_member_is_measured_by_what_it_stores(tmp_path: Path) -> None:
    """A 10 KiB tar holding a 3 GiB sparse member once wrote 3 GiB to case/tmp."""
    tar = tmp_path / "sparse.tar"
    tar.write_bytes(gnu_sparse_tar("huge.log", 3 << 30, syslog(1)))
    assert tar.stat().st_size == 10240
    with tarfile.open(tar) as t:  # it is what it claims: a real GNU sparse member
        info = t.getmembers()[0]
        assert info.size == 3 << 30 and info.sparse[0] == ((3 << 30) - 512, 512)
        assert sum(n for _, n in info.sparse) == 512
    written: list[int] = []
    real_copy = archives._copy
    archives._copy = lambda *a: written.append(1) or real_copy(*a)  # type: ignore[assignment]
    try:
        summary = run_ingest([tar], tmp_path / "case")
    finally:
        archives._copy = real_copy  # type: ignore[assignment]
    got = entries(summary)
    assert got["huge.log"].status == SKIPPED and written == []  # decided before expanding anything
    assert "sparse member" in got["huge.log"].note and "3,221,225,472 bytes from 512 stored" in got["huge.log"].note
    assert got["sparse.tar"].status == INCOMPLETE
    with open_case(tmp_path / "case") as c:
        assert c.rows("SELECT status, note IS NOT NULL FROM manifest WHERE path LIKE '%huge.log'") == [
            (SKIPPED, True)]


def test_zip_entries_sharing_one_member_are_expanded_once(tmp_path: Path) -> None:
    """1,000 central-directory entries pointing at one member: once, each was expanded and hashed
    before it was seen to be a duplicate (12.6 GiB written after 90 s)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("big.log", syslog(1) * (8 * MIB // len(syslog(1))))
        first = z.infolist()[0]
        z.filelist.extend(copy.copy(first) for _ in range(999))  # same local header, same name
    (tmp_path / "bomb.zip").write_bytes(buf.getvalue())
    expanded: list[int] = []
    real_copy = archives._copy

    def counting(*a: object) -> object:
        out = real_copy(*a)  # type: ignore[arg-type]
        expanded.append(out.size)
        return out

    archives._copy = counting  # type: ignore[assignment]
    try:
        summary = run_ingest([tmp_path / "bomb.zip"], tmp_path / "case")
    finally:
        archives._copy = real_copy  # type: ignore[assignment]
    assert len(expanded) == 1  # the member itself, once
    statuses = [f.status for f in summary.files if "!" in f.path]
    assert statuses.count(INGESTED) == 1 and statuses.count(DUPLICATE) == 999
    dup = next(f for f in summary.files if f.status == DUPLICATE)
    assert dup.duplicate_of.endswith("!big.log [entry 1]") and "sharing one local header" in dup.note
    assert len({f.path for f in summary.files}) == 1001  # every entry listed, under its own name


def test_overlapping_entries_are_not_expanded(tmp_path: Path) -> None:
    """An entry whose data runs into the next entry (the overlapping zip bomb) is skipped."""
    data = bytearray(zip_bytes({"a.log": syslog(50, "a"), "b.log": syslog(50, "b")}))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        a, b = z.infolist()
    cd = z.start_dir
    # central directory entry of a.log: its compressed size now reaches into b.log's header
    at = data.index(b"PK\x01\x02", cd)
    data[at + 20:at + 24] = (b.header_offset + 40 - 30 - len("a.log")).to_bytes(4, "little")
    (tmp_path / "overlap.zip").write_bytes(bytes(data))
    got = entries(run_ingest([tmp_path / "overlap.zip"], tmp_path / "case"))
    assert got["a.log"].status == SKIPPED and "overlaps" in got["a.log"].note
    assert (got["b.log"].status, got["b.log"].records) == (INGESTED, 50)
    assert a.compress_size < b.header_offset


def test_gzip_bomb_stops_at_the_ratio(tmp_path: Path) -> None:
    (tmp_path / "zeros.log.gz").write_bytes(gzip.compress(b"\0" * (80 * MIB), 9))
    (tmp_path / "ok.log.gz").write_bytes(gzip.compress(syslog(100), 9))
    summary = run_ingest([tmp_path], tmp_path / "case")
    got = entries(summary)
    bomb = got["zeros.log"]
    assert bomb.status == SKIPPED and "over 500x" in bomb.note and "--max-expansion-ratio" in bomb.note
    assert (got["ok.log"].status, got["ok.log"].records) == (INGESTED, 100)


def test_bomb_inside_a_compressed_tar_stops_the_stream(tmp_path: Path) -> None:
    """The members after a bomb in a .tar.gz lie past its data: reaching them would expand it, so
    they are listed as one entry instead of being read."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data in [("ok.log", syslog(5)), ("zeros.bin", b"\0" * (80 * MIB)), ("after.log", syslog(2))]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    (tmp_path / "logs.tar.gz").write_bytes(buf.getvalue())
    got = entries(run_ingest([tmp_path / "logs.tar.gz"], tmp_path / "case"))
    assert (got["ok.log"].status, got["ok.log"].records) == (INGESTED, 5)
    assert got["zeros.bin"].status == SKIPPED and "over 500x" in got["zeros.bin"].note
    assert got["*"].status == SKIPPED and got["*"].note.startswith("the members after zeros.bin were not read")
    assert "after.log" not in got and got["logs.tar.gz"].status == INCOMPLETE


def test_archive_and_run_limits(tmp_path: Path) -> None:
    members = {f"m{i}.log": syslog(4000, f"h{i}") for i in range(3)}  # ~380 KB each, stored (ratio 1)
    (tmp_path / "a.zip").write_bytes(zip_bytes(members, zipfile.ZIP_STORED))
    size = len(members["m0.log"])
    limits = ExpansionLimits(max_archive_bytes=int(size * 1.5), max_run_bytes=1 << 40)
    got = entries(run_ingest([tmp_path / "a.zip"], tmp_path / "case", limits=limits))
    assert got["m0.log"].status == INGESTED
    assert got["m1.log"].status == SKIPPED and "--max-archive-bytes" in got["m1.log"].note  # declared size
    assert got["m2.log"].status == SKIPPED and got["a.zip"].status == INCOMPLETE

    (tmp_path / "b").mkdir()
    for i in range(3):
        (tmp_path / "b" / f"t{i}.tar").write_bytes(_tar({"x.log": syslog(3000, f"t{i}")}))
    limits = ExpansionLimits(max_run_bytes=len(syslog(3000, "t0")) + 100)
    summary = run_ingest([tmp_path / "b"], tmp_path / "case2", limits=limits)
    status = {Path(f.path).name: f.status for f in summary.files}
    assert status["t0.tar!x.log"] == INGESTED
    assert status["t1.tar!x.log"] == SKIPPED and status["t2.tar!x.log"] == SKIPPED
    assert all("--max-run-expansion" in f.note for f in summary.files if f.status == SKIPPED)


def _tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_tar_links_and_devices_are_listed(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        data = syslog(3)
        info = tarfile.TarInfo("logs/real.log")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
        for name, kind, target in [("logs/hard.log", tarfile.LNKTYPE, "logs/real.log"),
                                   ("logs/soft.log", tarfile.SYMTYPE, "/etc/shadow"),
                                   ("logs/pipe", tarfile.FIFOTYPE, "")]:
            link = tarfile.TarInfo(name)
            link.type, link.linkname = kind, target
            t.addfile(link)
    (tmp_path / "links.tar").write_bytes(buf.getvalue())
    got = entries(run_ingest([tmp_path / "links.tar"], tmp_path / "case"))
    assert (got["logs/real.log"].status, got["logs/real.log"].records) == (INGESTED, 3)
    assert got["logs/hard.log"].status == DUPLICATE and got["logs/hard.log"].duplicate_of.endswith("!logs/real.log")
    assert got["logs/soft.log"].status == SKIPPED and "not followed" in got["logs/soft.log"].note
    assert got["logs/pipe"].status == SKIPPED and "not a regular file" in got["logs/pipe"].note


def _encrypted_zip(path: Path, password: bytes) -> None:
    """A zip with a plain member and a WinZip-AES one, as malware-sample sets ship them."""
    path.write_bytes(zip_bytes({"plain.log": syslog(2, "plain")}))
    with pyzipper.AESZipFile(path, "a", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES) as z:
        z.setpassword(password)
        z.writestr("secret.log", syslog(4, "secret"))


def test_encrypted_members_without_and_with_a_password(tmp_path: Path) -> None:
    archive = tmp_path / "samples.zip"
    _encrypted_zip(archive, b"infected")
    other = tmp_path / "other.log"
    other.write_bytes(syslog(1, "other"))
    case = tmp_path / "case"
    first = cli("ingest", str(archive), str(other), "--case", str(case), "--json")
    assert first.returncode == 0, first.stderr  # the rest of the run goes on
    report = json.loads(first.stdout)
    assert report["records"] == 3
    assert report["files_skipped"] == [{"path": f"{archive}!secret.log", "reason":
                                        f"encrypted: {archives.PASSWORD_HINT}"}]
    text = cli("ingest", str(archive), "--case", str(case))
    assert text.returncode == 0 and "secret.log': encrypted: give its password with --archive-password" in text.stderr
    wrong = run_ingest([archive], case, passwords=(b"nope",))
    assert "none of the 1 --archive-password" in wrong.to_dict()["files_skipped"][0]["reason"]  # type: ignore[index]
    copies: list[int] = []
    real_copy = archives._copy
    archives._copy = lambda *a: copies.append(1) or real_copy(*a)  # type: ignore[assignment]
    try:
        ok = run_ingest([archive], case, passwords=(b"nope", b"infected")).to_dict()
    finally:
        archives._copy = real_copy  # type: ignore[assignment]
    assert ok["records"] == 4 and ok["files_skipped"] == []
    assert copies == [1] and ok["files_already_in_case"] == 1  # plain.log, done, was not even expanded
    with open_case(case) as c:
        assert c.rows("SELECT host, count(*) FROM syslog GROUP BY 1 ORDER BY 1") == [
            ("other", 1), ("plain", 2), ("secret", 4)]
        assert c.rows("SELECT status, note FROM manifest WHERE path = ?", [str(archive)]) == [
            (EXPANDED, "archive: 1 ingested, 1 already in the case")]
        assert c.scalar("SELECT note FROM manifest WHERE path LIKE '%secret.log'") == \
            "decrypted with --archive-password number 2"
    assert run_ingest([archive], case).to_dict()["files_already_in_case"] == 1


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_named_archive_with_nothing_readable_is_an_error(tmp_path: Path, kind: str) -> None:
    members = {"notes.bin": bytes(range(256)) * 8, "more.bin": b"\0" + random.Random(4).randbytes(3000)}
    archive = tmp_path / f"x.{kind}"
    archive.write_bytes(zip_bytes(members) if kind == "zip" else _tar(members))
    out = cli("ingest", str(archive), "--case", str(tmp_path / "case"))
    assert out.returncode == 1 and f"nothing could be read from '{archive}'" in out.stderr
    assert "Traceback" not in out.stderr


def test_zip_whose_directory_points_before_the_file_is_reported(tmp_path: Path) -> None:
    """A central directory offset past its real place makes zipfile compute member offsets below 0: the
    overlap check seeked there and the OSError failed the whole run (found by the fuzz bench)."""
    data = bytearray(zip_bytes({"a.log": syslog(3), "b.log": syslog(2, "fw2")}))
    end = data.rfind(b"PK\x05\x06")
    offset = int.from_bytes(data[end + 16:end + 20], "little")
    data[end + 16:end + 20] = (offset + 100).to_bytes(4, "little")
    bad = tmp_path / "bad.zip"
    bad.write_bytes(bytes(data))
    good = tmp_path / "good.log"
    good.write_bytes(syslog(4, "fw3"))
    out = cli("ingest", str(bad), str(good), "--case", str(tmp_path / "case"), "--json")
    # nothing of the named archive is readable: exit 1 (README's table), and the other file is stored
    assert "Traceback" not in out.stderr + out.stdout and out.returncode == 1, out.stderr
    with open_case(tmp_path / "case") as c:
        assert c.scalar("SELECT count(*) FROM syslog WHERE host = 'fw3'") == 4  # the run went on
        status = c.scalar("SELECT status FROM manifest WHERE path = ?", [str(bad)])
    assert status is not None and status != INGESTED


def test_zip_of_an_unknown_version_is_reported(tmp_path: Path) -> None:
    """"version needed to extract" over what zipfile knows raised NotImplementedError out of the worker and
    failed the whole run (found by the fuzz bench)."""
    data = bytearray(zip_bytes({"a.log": syslog(3)}))
    entry = data.find(b"PK\x01\x02")  # the member's central directory entry
    data[entry + 6:entry + 8] = (212).to_bytes(2, "little")  # version needed to extract: 21.2
    bad = tmp_path / "bad.zip"
    bad.write_bytes(bytes(data))
    good = tmp_path / "good.log"
    good.write_bytes(syslog(4, "fw3"))
    out = cli("ingest", str(bad), str(good), "--case", str(tmp_path / "case"))
    assert "Traceback" not in out.stderr and out.returncode == 1, out.stderr
    assert "unreadable zip archive" in out.stderr and "zip file version" in out.stderr
    with open_case(tmp_path / "case") as c:
        assert c.scalar("SELECT count(*) FROM syslog WHERE host = 'fw3'") == 4
