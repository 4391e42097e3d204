"""The syslog reader's vectorized fast path gives exactly what the per-line parser gives.

Every test reads the same file twice, once line by line (the definition) and once with every block
through the fast path, and compares every row (all columns, in order, batch by batch), the rejects
and the warnings. The inputs are the shared Cisco samples and generated lines built around the
shapes the fast path takes (and just outside them), with each optional part on and off.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from breachscope.ingest import lines as line_reading
from breachscope.ingest.context import IngestOptions, ReadContext, SourceInfo
from breachscope.ingest.syslog import fast as syslog_fast
from breachscope.ingest.syslog import reader as syslog

SAMPLES = "cisco-ios-syslog-samples"
ELASTIC = f"{SAMPLES}/elastic-integrations/packages/cisco_ios/data_stream/log/_dev/test/pipeline"
WAZUH_INI = f"{SAMPLES}/wazuh/ruleset/testing/tests/cisco_ios.ini"
PER_LINE = 1 << 62  # FAST_MIN_LINES that no block reaches


def read_both(path: Path, monkeypatch: pytest.MonkeyPatch, **options: Any) -> tuple[Any, Any, int]:
    """(per-line result, fast result, rows the fast path took) of one file."""
    taken = 0
    real = syslog_fast.resolve

    def counting(rows: Any, *args: Any) -> Any:
        nonlocal taken
        taken += len(rows.pos)
        return real(rows, *args)

    monkeypatch.setattr(syslog_fast, "resolve", counting)
    out = []
    for threshold in (PER_LINE, 0):
        monkeypatch.setattr(syslog, "FAST_MIN_LINES", threshold)
        ctx = ReadContext(SourceInfo(path.name, path, "0" * 64, path.stat().st_size, 1_700_000_000.0),
                          IngestOptions(**options))
        batches = [(table, batch.num_rows, repr(batch.to_pylist())) for table, batch in syslog.read(ctx)]
        out.append((batches, ctx.records, ctx.rejected, ctx.reject_rows, sorted(ctx.warnings.items())))
    return out[0], out[1], taken


def assert_same(path: Path, monkeypatch: pytest.MonkeyPatch, min_fast: int, **options: Any) -> None:
    slow, fast, taken = read_both(path, monkeypatch, **options)
    for name, a, b in zip(("batches", "records", "rejected", "reject rows", "warnings"), slow, fast, strict=True):
        assert a == b, f"{path.name} {options}: {name} differ"
    assert taken >= min_fast, f"{path.name}: the fast path took {taken} rows"


# --- generated lines ---------------------------------------------------------------------------------
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
ZONES = ["UTC", "CET", "CEST", "PST", "IST", "XYZ", "UTC+5:30", "GMT-8", "abcdefgh", "Z"]
MNEMONICS = ["%LINK-3-UPDOWN", "%SYS-5-CONFIG_I", "%SEC_LOGIN-5-LOGIN_SUCCESS", "%SEC-6-IPACCESSLOGP", "%ASA-6-302013",
             "%ASA-4-106023", "%PIM-SW1-6-INVALID_RP_JOIN", "%IOSXE-6-PLATFORM", "%FW-6-DROP_PKT", "%X-9-BAD",
             "%SECURITY-SSHD-6-INFO_SUCCESS", "%lower-1-x", "%A-1-B-2-C", "%ETHPORT-5-IF_UP", "%ASA-6-605005"]
TEXTS = ["Interface Gi0/1, changed state to up", "Configured from console by admin on vty0 (10.1.1.1)",
         "Configured from console by vty0 (10.0.0.9)",
         "Login Success [user: admin] [Source: 10.1.1.1] [localport: 22] at 10:00:00 UTC Mon Mar 1 2021",
         "Login Success [user: bob] [Source: 10.1.1.2] [localport: 22]",
         "list 101 denied tcp 10.1.1.1(1234) -> 10.2.2.2(22), 1 packet",
         "Built inbound TCP connection 5 for outside:10.4.1.2/1505 (10.2.1.5/443) to inside:10.1.1.5/443 "
         "(10.8.6.1/443)",
         "Deny tcp src outside:10.1.1.1/123 dst inside:10.2.2.2/80 by access-group \"x\" [0x0, 0x0]",
         "R0/0: cpp_cp: QFP:0.0 %FW-6-DROP_PKT: Dropping tcp pkt from Gi0/0 10.1.1.1:1 => 10.2.2.2:2",
         "Login permitted from 10.1.1.1/5555 to inside:10.2.2.2/ssh for user \"admin\"",
         "", "  leading spaces", "100% CPU", "user 'x' from 10.0.0.1 port 22", "naïve ünïcode ✓", "tab\there", "a: b"]
TAGS = ["sshd[123]", "sshd", "CRON[1]", "su", "sudo", "login", "kernel", "postfix/smtpd[99]", "app.x-y_z", "app[]",
        "app[p:d]", "app[%]", "Mar", "Nov[2]", "A" * 70, "app[" + "9" * 40 + "]", "_x", "9app", "sshd-session[7]"]
SSHD = ["Accepted password for root from 10.1.1.1 port 22 ssh2", "Invalid user x from 10.0.0.1 port 2",
        "Failed password for invalid user bob from 1.2.3.4 port 5 ssh2",
        "pam_unix(sshd:session): session opened for user root(uid=0) by (uid=0)",
        "  root : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/ls", "50% done", "no user here"]
HOSTS = ["web01", "10.0.0.1", "fe80::1", "rtr1.example.com", "h:", "hösté", "h%st", "a" * 300, "-", "UTC", "x[1]"]
ODD = ["%", ": ", " ", "\t", "\x0b", "é", "", "<", "*", "\x1c", "\u00a0", "\u2003", "٣"]


class Lines:
    """Seeded syslog lines: the fast shapes with every optional part on and off, odd values (day 00,
    25:00, leap seconds, long fractions and numbers), the shapes next to them, and perturbed lines."""

    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def day(self) -> str:
        r = self.r
        return r.choice([f"{r.randint(1, 28):2d}", f"{r.randint(1, 28):02d}", str(r.randint(1, 9)), "30", "00", "99"])

    def hms(self, frac: bool = False) -> str:
        r = self.r
        hh = r.choice([f"{r.randint(0, 23):02d}"] * 9 + ["24", "7"])
        mi = r.choice([f"{r.randint(0, 59):02d}"] * 19 + ["60"])
        ss = r.choice([f"{r.randint(0, 59):02d}"] * 18 + ["60", "61"])
        t = f"{hh}:{mi}:{ss}"
        return t + ("." + "7" * r.choice([1, 3, 6, 9, 10]) if frac else "")

    def month(self) -> str:
        return self.r.choice(MONTHS) if self.r.random() < 0.97 else self.r.choice(["Foo", "mar"])

    def header(self) -> str:
        r, y = self.r.random(), self.r.choice(["2023", "1999", "0000"])
        if r < 0.6:
            return f"{self.month()} {self.day()} {self.hms()}"
        if r < 0.7:
            return f"{y} {self.month()} {self.day()} {self.hms()}"
        if r < 0.8:
            return f"{self.month()} {self.day()} {y} {self.hms()}"
        if r < 0.9:
            return f"{self.month()} {self.day()} {self.hms(True)}"
        return f"{self.month()}  {self.day()}  {self.hms()}"

    def clock(self) -> str:
        r = self.r
        c = r.choice(["", "", "*", "."])
        c += r.choice([f"{self.month()} {self.day()} {self.hms(r.random() < 0.7)}",
                       f"{self.month()} {self.day()} {r.choice(['2024', '0000'])} {self.hms()}",
                       f"2024 {self.month()} {self.day()} {self.hms()}"])
        return c + (" " + r.choice(ZONES) if r.random() < 0.4 else "")

    def cisco_fields(self) -> str:
        r = self.r
        fields = []
        if r.random() < 0.6:
            fields.append(str(r.randint(0, 10 ** r.choice([3, 6, 19]))))
        if r.random() < 0.3:
            fields.append(r.choice(["rtr1", "sw-core", "Mar-rtr", "9host", "a" * 260, "*Dot1x_NW_MsgTask_0"]))
        if r.random() < 0.2:
            fields.append(str(r.randint(0, 99999)))
        kind = r.random()
        if kind < 0.6:
            fields.append(self.clock())
        elif kind < 0.8:
            fields.append(r.choice(["00:00:46", "1w2d", "2y10w", "3d04h", "12:00:00.5", "1d"]))
        if r.random() < 0.03:
            fields.append("ipv4_acl_mgr[310]")
        if r.random() < 0.03:
            fields.insert(0, "")
        sep = ": " if r.random() < 0.95 else r.choice([":  ", " : ", ":"])
        return "".join(f + sep for f in fields)

    def line(self) -> str:
        r = self.r
        pri = f"<{r.choice([r.randint(0, 191), 189, 192, 999])}>" if r.random() < 0.5 else ""
        kind = r.random()
        mnemonic = f"{r.choice(MNEMONICS)}{r.choice([': ', ':', ' : ', ':  '])}{r.choice(TEXTS)}"
        if kind < 0.35:
            return (f"{pri}{self.header()} {r.choice(HOSTS)}{r.choice([' ', ' ', '   '])}{r.choice(TAGS)}"
                    f"{r.choice([': ', ': ', ':', ' '])}{r.choice(SSHD + TEXTS)}")
        if kind < 0.55:
            return f"{pri}{self.cisco_fields()}{mnemonic}"
        if kind < 0.75:
            return f"{pri}{self.header()} {r.choice(HOSTS)} {self.cisco_fields()}{mnemonic}"
        if kind < 0.8:
            return f"{pri}1 2024-0{r.randint(1, 9)}-1{r.randint(0, 9)}T10:00:00Z h app - - - {r.choice(TEXTS)}"
        if kind < 0.85:
            return f"{pri}{self.header()} relay {self.header()} {r.choice(HOSTS)} {r.choice(TAGS)}: x"
        if kind < 0.9:
            return r.choice(["last message repeated 3 times", "-- MARK --",
                             "Original Address=10.0.0.1 Jan  1 0:0:0 h a: m"])
        s = f"{pri}{self.header()} {r.choice(HOSTS)} {self.cisco_fields()}{mnemonic}"
        i = r.randrange(len(s))
        return s[:i] + r.choice(ODD) + s[i + 1:]

    def file(self, n: int) -> bytes:
        out = []
        for _ in range(n):
            out.append(self.line().encode())
            if self.r.random() < 0.01:
                out.append(self.r.choice([b"", b"   ", b"\x00\x00", b"bad \xff\xfe", b"nul\x00in", b"\x01\x02\x03x"]))
        return b"\n".join(out) + b"\n"


# --- tests -------------------------------------------------------------------------------------------
def test_shared_cisco_samples(datasets: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [line for line in (datasets / WAZUH_INI).read_text().splitlines() if " pass = " in line]
    p = tmp_path / "wazuh.log"
    p.write_text("".join(line.split(" pass = ", 1)[1] + "\n" for line in lines))
    assert_same(p, monkeypatch, min_fast=len(lines) // 2)
    for f in sorted((datasets / ELASTIC).glob("*.log")):
        assert_same(f, monkeypatch, min_fast=0)
        assert_same(f, monkeypatch, min_fast=0, year=2021, tz="Europe/Vienna", batch_rows=3)
    _, _, taken = read_both(datasets / ELASTIC / "test-cisco-ios.log", monkeypatch)
    assert taken >= 20  # most of the IOS sample takes the fast path


@pytest.mark.parametrize("seed", range(4))
def test_generated_lines(seed: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / f"gen{seed}.log"
    p.write_bytes(Lines(seed).file(1500))
    assert_same(p, monkeypatch, min_fast=100)
    assert_same(p, monkeypatch, min_fast=100, year=2020, tz="America/New_York", batch_rows=333)


def test_common_shapes_all_take_the_fast_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Linux and Cisco lines of the documented shapes, across a year end: every row is fast and the
    same; the Cisco login line (a full date in its message) is left to the per-line path."""
    lines = []
    for i in range(400):
        mon, day = ("Dec", 31) if i < 200 else ("Jan", 1)
        t = f"{mon} {day:2d} 23:{i % 60:02d}:{i % 59:02d}"
        lines += [f"{t} web01 sshd[{i}]: Accepted password for root from 10.0.0.{i % 250} port 22 ssh2",
                  f"<13>{t} web01 CRON[{i}]: (root) CMD (true)",
                  f"<189>{i}: *{t}.123: %LINK-3-UPDOWN: Interface Gi0/{i}, changed state to up",
                  f"{i:06d}: rtr1: {t}.5 CET: %SYS-5-CONFIG_I: Configured from console by admin on vty0 (10.1.1.1)",
                  f"<166>{t} 2023 23:00:00: %ASA-6-302013: Built inbound TCP connection {i} for o:10.0.0.1/1 "
                  f"(10.0.0.1/1) to i:10.0.0.2/2 (10.0.0.2/2)",
                  f"{t} 10.0.0.9 {i}: {t}.7 UTC: %SEC-6-IPACCESSLOGP: list 101 denied tcp 10.1.1.1(1) -> "
                  f"10.2.2.2(22), 1 packet",
                  f"2023 {t} nx01 %ETHPORT-5-IF_UP: Interface Ethernet1/{i} is up",
                  f"<189>{i}: 1w2d: %SYS-5-RESTART: System restarted"]
    login = "001: Mar  1 10:00:00.1 UTC: %SEC_LOGIN-5-LOGIN_SUCCESS: Login Success [user: a] [Source: 10.0.0.1] " \
            "[localport: 22] at 10:00:00 UTC Mon Mar 1 2021"
    p = tmp_path / "shapes.log"
    p.write_text("\n".join([*lines, login]) + "\n")
    slow, fast, taken = read_both(p, monkeypatch)
    assert slow == fast and taken == len(lines)


def test_line_ends_encodings_and_block_edges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CRLF, BOM, UTF-16, a last line without LF (ending in CR), NUL bytes, invalid UTF-8 and empty
    lines inside blocks; small chunks so that lines are cut across reads."""
    base = Lines(42).file(700)
    monkeypatch.setattr(line_reading, "CHUNK_BYTES", 8191)
    for name, data in (("lf", base), ("crlf", base.replace(b"\n", b"\r\n")), ("bom", b"\xef\xbb\xbf" + base),
                       ("lastcr", base.rstrip(b"\n") + b"\r"), ("nolf", base.rstrip(b"\n")),
                       ("utf16", base.decode("utf-8", "replace").encode("utf-16"))):
        p = tmp_path / f"{name}.log"
        p.write_bytes(data)
        assert_same(p, monkeypatch, min_fast=50)


def test_a_fast_path_bug_leaves_the_block_to_the_per_line_parser(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "bug.log"
    p.write_bytes(Lines(7).file(500))
    slow, _, _ = read_both(p, monkeypatch)

    def broken(*args: Any) -> Any:
        raise IndexError("simulated fast path bug")

    monkeypatch.setattr(syslog_fast, "classify", broken)
    _, fast, taken = read_both(p, monkeypatch)
    assert fast == slow and taken == 0


FRAGMENTS = ["<189>", "<13>", "<999>", "Mar  1 10:00:00 ", "2023 Jan 12 10:00:00 ", "Dec 31 23:59:60 ", "host ",
             "h: ", "1234: ", "rtr: ", "*Mar  1 00:01:02.123: ", "Mar 1 2024 10:00:00 CET: ", "1w2d: ",
             "%LINK-3-UPDOWN: ", "%ASA-6-302013: ", "sshd[1]: ", "app: ", "msg", "%", ": ", " ", "é", "\t",
             "Accepted password for x from 10.0.0.1 port 22", "\x0b", "[", "]"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=8).map("".join), min_size=1,
                     max_size=60))
def test_fragments_give_the_same_rows(lines: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "frag.log"
    p.write_text("\n".join(lines) + "\n")
    assert_same(p, monkeypatch, min_fast=0)
