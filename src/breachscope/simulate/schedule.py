"""Scheduled activity that looks like an attack and is not (hard negatives): the nightly export of
customer data, BI reports, database and file backups (one of them to cloud storage), administrators
logging on to every server on patch nights, and router changes inside the change windows. What the
database jobs send is the data story's `Workload` (dbqueries.py)."""

from __future__ import annotations

import re
from datetime import date, timedelta

import numpy as np

from breachscope.simulate import clock
from breachscope.simulate.customers import report_month
from breachscope.simulate.dbqueries import Template, Workload, inline, mysql_quote, mysqldump_statements
from breachscope.simulate.network import Network
from breachscope.simulate.scenario_file import WEEKDAYS, Routine
from breachscope.simulate.sqlnames import ident
from breachscope.simulate.story import PgSession, PgStatement, Story

_DAY_NAMES = dict(zip(WEEKDAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
                      strict=True))


def _days(weekdays: tuple[str, ...], plural: bool = False) -> str:
    return " and ".join(_DAY_NAMES[d] + ("s" if plural else "") for d in weekdays)


def _later(at: str, minutes: int) -> str:
    h, m = divmod(int(at[:2]) * 60 + int(at[3:]) + minutes, 60)
    return f"{h % 24:02d}:{m:02d}"


def descriptions(net: Network, r: Routine, what: str = Workload.what, database: str = Workload.database
                 ) -> dict[str, str]:
    """What each scheduled job does, by its tag (the truth lists them: they are the hard negatives). `what` is
    what the export and the reports read (Workload.what, e.g. "all patients and their visits"), `database` the
    database's name; the defaults keep the NTT story's wording."""
    h = net.host
    ntt = what == Workload.what
    exported = "all customers and contracts" if ntt else what
    reported = "every customer and contract" if ntt else what
    db_name = "the order database" if database == Workload.database else f"the {database} database"
    out = {}
    if r.nightly_export:
        out["benign:nightly_export"] = (f"{r.nightly_export.at} every night: {h('batch').name} exports {exported} "
                                        f"(COPY) and copies the file to {h('export_share').name}")
    if r.bi_report:
        out["benign:bi_report"] = f"{r.bi_report.at} on workdays: {h('bi').name} runs reports that read {reported}"
    if r.backup:
        out["benign:backup"] = (f"{r.backup.at} every night: pg_dump of {db_name} and file-server backup "
                                f"to {h('backup').name}")
    if r.offsite_backup:
        out["benign:offsite_backup"] = (f"{r.offsite_backup.at} on {_days(r.offsite_backup.weekdays, True)}: "
                                        f"{h('backup').name} uploads the backup set to cloud storage")
    if r.admin_sweep:
        out["benign:admin_sweep"] = "patch nights: an administrator logs on to every server from the jump host"
    if r.change_window:
        w = r.change_window
        out["benign:change_window"] = (f"{_days(w.weekdays)} {w.at}-{_later(w.at, 90)}: routine router "
                                       "configuration changes")
    out.update({f"benign:{s.name}": f"{s.action.step}: {s.description}" for s in r.steps})  # simulate/benign.py
    return out


def _job_time(day: int, at: str) -> int:
    """'02:00' on the period's day `day`, local time."""
    return clock.on_day(day, int(at[:2]), int(at[3:]))


def routine_commands(net: Network) -> tuple[tuple[str, ...], ...]:
    """The configuration changes of a change window (NTP from the domain controllers, the collector)."""
    ntp = tuple(f"ntp server {dc.ip}" for dc in net.with_role("dc")[:2])
    log = net.spec.log_collector
    return (
        ("interface GigabitEthernet1/0/{n}", "description floor{f}-desk{n}", "switchport access vlan 12{f}"),
        ntp,
        ("ip access-list extended MGMT-IN", f"permit tcp host {net.spec.admin_ssh_source} any eq 22",
         f"permit udp host {log} any eq 161"),
        (f"logging host {log}", "logging trap informational"),
        ("snmp-server location Tokyo-DC1 rack {n}",),
    )


def add(story: Story, net: Network, workload: Workload, dump_bytes: int, routine: Routine) -> None:
    """The routine's scheduled jobs over the period; the database's ones send `workload`'s statements, the
    backup moves `dump_bytes` (the database's size)."""
    rng, r, w = story.rng, routine, workload
    nights = {date.fromisoformat(n) for n in r.admin_sweep.nights} if r.admin_sweep else set()
    export_bytes = w.export_rows * 230
    pid = 20_000
    for d in range(clock.DAYS):
        day = clock.FIRST_DAY + timedelta(days=d)
        weekday = WEEKDAYS[day.weekday()]
        if r.backup:
            pid += 3
            _backup(story, net, w, rng, _job_time(d, r.backup.at) + int(rng.integers(0, 90)) * clock.US, pid,
                    dump_bytes)
        if r.nightly_export:
            pid += 3
            _export(story, net, w, rng, _job_time(d, r.nightly_export.at) + int(rng.integers(0, 180)) * clock.US,
                    pid, export_bytes, day.strftime("%Y%m%d"))
        if r.bi_report and clock.is_workday(day):
            pid += 3
            _bi(story, net, w, rng, _job_time(d, r.bi_report.at) + int(rng.integers(0, 60)) * clock.US, pid, day)
        if r.offsite_backup and weekday in r.offsite_backup.weekdays:
            _offsite(story, net, rng, _job_time(d, r.offsite_backup.at) + int(rng.integers(0, 300)) * clock.US,
                     dump_bytes)
        if r.change_window and weekday in r.change_window.weekdays:
            _change_window(story, net, rng,
                           _job_time(d, r.change_window.at) + int(rng.integers(0, 1800)) * clock.US)
        if day in nights and r.admin_sweep:
            _admin_sweep(story, net, rng, _job_time(d, r.admin_sweep.at))


def _db_conn(story: Story, t: int, src: str, dst: str, dur_s: float, down: int, tag: str) -> None:
    story.conn(t, src, int(story.rng.integers(49152, 65536)), dst, story.engine.port, "tcp", "-", dur_s, 3_000, down,
               tag=tag)


def _backup(story: Story, net: Network, w: Workload, rng: np.random.Generator, t: int, pid: int,
            dump_bytes: int) -> None:
    tag = "benign:backup"
    bkp, dbh = net.host("backup"), net.host("db")
    stmts = []
    ts = t + 900_000
    if story.engine.name != "postgresql":  # mysqldump (mariadb-dump): set-up, then each table's definition and rows
        for sql, rels in mysqldump_statements(w.database, tuple(name for name, _ in w.backup_tables)):
            stmts.append(PgStatement(ts, sql, rels))
            ts += int(rng.integers(2, 20)) * clock.US if rels else 2_000
    for name, columns in w.backup_tables if story.engine.name == "postgresql" else ():
        table = f"public.{ident(name)}"  # pg_dump quotes a reserved name, and pgAudit logs it so
        stmts.append(PgStatement(ts, f"COPY {table} ({', '.join(columns)}) TO stdout;", (table,)))
        ts += int(rng.integers(2, 20)) * clock.US
    story.pg(PgSession(bkp.ip, int(rng.integers(40000, 60000)), "backup", story.engine.dump_tool, pid, t,
                       ts + 400_000, stmts, w.database), tag)
    _db_conn(story, t, bkp.ip, dbh.ip, (ts - t) / clock.US, dump_bytes, tag)
    for fs in net.with_role("file")[:2]:
        size = int(rng.lognormal(np.log(6e9), 0.6))
        story.conn(t + 5 * clock.MINUTE, bkp.ip, int(rng.integers(49152, 65536)), fs.ip, 445, "tcp",
                   "smb,gssapi", size / 9.0e7, 2_000_000, size, tag=tag)


def _program_names(program: str) -> tuple[str, str]:
    """Sysmon's Description and Product of the export program: the NTT story's, or made from its path
    (C:\\Jobs\\clinic-export.exe: "Clinic export", "Jobs")."""
    if program == Workload.export_program:
        return "Order export", "OrderBatch"
    folder, _, file = program.rpartition("\\")
    stem = file.rsplit(".", 1)[0]
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", re.sub(r"[-_.]+", " ", stem)).split()
    description = " ".join(words).capitalize() or file
    return description, folder.rpartition("\\")[2] or description


def _export_app(w: Workload) -> str:
    """The export program's client name: the application's with `-export` for `-api` (order-export)."""
    return w.app_name.removesuffix("-api") + "-export"


def _export(story: Story, net: Network, w: Workload, rng: np.random.Generator, t: int, pid: int, size: int,
            stamp: str) -> None:
    tag = "benign:nightly_export"
    bat, dbh, fs = net.host("batch"), net.host("db"), net.host("export_share")
    program, rows, export = w.export_program, w.export_rows, w.nightly_export
    folder, _, file = program.rpartition("\\")
    out_file = w.export_file.format(stamp=stamp)
    description, product = _program_names(program)
    story.win(t - 2 * clock.US, bat.name, 1, [
        ("RuleName", "-"), ("UtcTime", _utc(t)), ("ProcessGuid", "{" + rng.bytes(16).hex() + "}"),
        ("ProcessId", "6120"), ("Image", program), ("FileVersion", "3.4.1"),
        ("Description", description), ("Product", product), ("Company", "-"),
        ("OriginalFileName", file),
        ("CommandLine", f"{program} /job:nightly /out:\\\\{fs.name}\\Exports\\{out_file}"),
        ("CurrentDirectory", f"{folder}\\"), ("User", f"{net.domain}\\{net.batch_account}"),
        ("LogonGuid", "{" + rng.bytes(16).hex() + "}"), ("LogonId", "0x5e21a"), ("TerminalSessionId", "0"),
        ("IntegrityLevel", "High"), ("Hashes", "SHA256=" + rng.bytes(32).hex().upper()),
        ("ParentProcessGuid", "{" + rng.bytes(16).hex() + "}"), ("ParentProcessId", "1288"),
        ("ParentImage", "C:\\Windows\\System32\\svchost.exe"),
        ("ParentCommandLine", "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule"),
        ("ParentUser", "NT AUTHORITY\\SYSTEM")], tag, sysmon=True)
    dur = 45 + rows / 4000
    dialect = story.engine.sql_dialect
    st = PgStatement(t + 600_000, export.text(dialect), export.relations, copy=dialect == "postgres")
    story.pg(PgSession(bat.ip, int(rng.integers(49152, 65536)), "batch_export", _export_app(w), pid, t,
                       t + int(dur * clock.US), [st], w.database), tag)
    _db_conn(story, t, bat.ip, dbh.ip, dur, size, tag)
    t2 = t + int(dur * clock.US) + 5 * clock.US
    sport = int(rng.integers(49152, 65536))
    uid = story.conn(t2, bat.ip, sport, fs.ip, 445, "tcp", "smb,gssapi", size / 4.0e7, size + 12_000, 8_000, tag=tag)
    stamp_t = clock.epoch_s6(np.array([t2]))[0].as_py()
    story.zeek("smb_files", t2 + 300_000, {
        "uid": uid, "id.orig_h": bat.ip, "id.orig_p": str(sport), "id.resp_h": fs.ip, "id.resp_p": "445",
        "fuid": story.uid(b"F"), "action": "SMB::FILE_WRITE", "path": f"\\\\\\\\{fs.name}\\\\Exports",
        "name": out_file, "size": str(size), "times.modified": stamp_t, "times.accessed": stamp_t,
        "times.created": stamp_t, "times.changed": stamp_t}, tag)


def _bi_statement(report: Template, ts: int, dialect: str, day: date) -> PgStatement:
    """A report's statement; the one parameter a report may take is the month of usage it reports on."""
    if report.params not in ((), ("usage_month",)):
        raise ValueError(f"BI report {report.name}: parameters {report.params} (only usage_month is known)")
    values = [report_month(day).isoformat()] if report.params else []
    if dialect == "postgres":
        return PgStatement(ts, report.sql, report.relations, values)
    # the values inside the text
    text = report.text(dialect)
    return PgStatement(ts, inline(text, [mysql_quote(v) for v in values]) if values else text, report.relations)


def _bi(story: Story, net: Network, w: Workload, rng: np.random.Generator, t: int, pid: int, day: date) -> None:
    tag = "benign:bi_report"
    bi, dbh = net.host("bi"), net.host("db")
    dialect = story.engine.sql_dialect
    # the reports run one after the other (0.8 s, 9.5 s, 18.2 s ... after the connection)
    stmts = [_bi_statement(report, t + 800_000 + i * 8_700_000, dialect, day) for i, report in enumerate(w.bi_reports)]
    story.pg(PgSession(bi.ip, int(rng.integers(49152, 65536)), "bi_reader", "bi-report", pid, t, t + 30 * clock.US,
                       stmts, w.database), tag)
    _db_conn(story, t, bi.ip, dbh.ip, 30.0, 6_000_000, tag)


def _offsite(story: Story, net: Network, rng: np.random.Generator, t: int, dump_bytes: int) -> None:
    tag = "benign:offsite_backup"
    bkp = net.host("backup")
    site = next(s for s in net.sites if s.domain.startswith("s3."))
    size = int(rng.lognormal(np.log(4e10), 0.3))
    sport = int(rng.integers(49152, 65536))
    dur = size / 1.2e8
    uid = story.conn(t, bkp.ip, sport, site.ips[0], 443, "tcp", "ssl", dur, size, 2_400_000, tag=tag)
    story.ssl(t + 30_000, uid, bkp.ip, sport, site.ips[0], 443, "backup-vault.s3.ap-northeast-1.amazonaws.com", tag)
    cid = int(rng.integers(170_000_000, 179_000_000))
    nport = int(rng.integers(49152, 65536))
    end = t + int(dur * clock.US)
    story.asa(t, "6-302013", f"Built outbound TCP connection {cid} for outside:{site.ips[0]}/443 ({site.ips[0]}/443) "
              f"to inside:{bkp.ip}/{sport} ({net.public_nat}/{nport})", tag)
    secs = int(dur)
    story.asa(end, "6-302014", f"Teardown TCP connection {cid} for outside:{site.ips[0]}/443 to inside:{bkp.ip}/"
              f"{sport} duration {secs // 3600}:{secs // 60 % 60:02d}:{secs % 60:02d} bytes {size + 2_400_000} "
              "TCP FINs from inside", tag)
    story.flow(t, end, bkp.ip, site.ips[0], sport, 443, 6, size, size // 1400, tag)
    story.flow(t + 300, end, site.ips[0], bkp.ip, 443, sport, 6, 2_400_000, 2_000, tag, in_if="1", out_if="3")


def _change_window(story: Story, net: Network, rng: np.random.Generator, t: int) -> None:
    tag = "benign:change_window"
    routers = [h.name for h in net.with_role("router")]
    admin, source = net.network_admin, net.host("jump").ip
    commands = routine_commands(net)
    for r in rng.choice(routers, 2, replace=False).tolist():
        story.ios(t, r, "SEC_LOGIN-5-LOGIN_SUCCESS", f"Login Success [user: {admin}] [Source: {source}] "
                  f"[localport: 22] at {_at(t)}", tag)
        cmds = commands[int(rng.integers(0, len(commands)))]
        ts = t + 30 * clock.US
        for c in cmds:
            text = c.format(n=int(rng.integers(1, 48)), f=int(rng.integers(2, 9)))
            story.ios(ts, r, "PARSER-5-CFGLOG_LOGGEDCMD", f"User:{admin}  logged command:{text}", tag)
            ts += int(rng.integers(5, 40)) * clock.US
        story.ios(ts + 20 * clock.US, r, "SYS-5-CONFIG_I", f"Configured from console by {admin} on vty0 ({source})",
                  tag)
        t = ts + int(rng.integers(5, 20)) * clock.MINUTE


def _admin_sweep(story: Story, net: Network, rng: np.random.Generator, t: int) -> None:
    tag = "benign:admin_sweep"
    jump = net.host("jump")
    others = net.other_admins
    sam = others[1 % len(others)] if others else net.network_admin  # an administrator of the daily work
    admin = next(u for u in net.admins if u.sam == sam)
    for h in net.servers:
        if h.name == jump.name:
            continue
        t += int(rng.integers(60, 400)) * clock.US
        story.conn(t, jump.ip, int(rng.integers(49152, 65536)), h.ip, 3389, "tcp", "ssl", 610.0, 1_800_000, 9_000_000,
                   tag=tag)
        story.win(t + 2 * clock.US, h.name, 4624, [
            ("SubjectUserSid", "S-1-5-18"), ("SubjectUserName", f"{h.name}$"), ("SubjectDomainName", net.domain),
            ("SubjectLogonId", "0x3e7"), ("TargetUserSid", admin.sid), ("TargetUserName", admin.sam),
            ("TargetDomainName", net.domain), ("TargetLogonId", "0x" + rng.bytes(3).hex()), ("LogonType", "10"),
            ("LogonProcessName", "User32 "), ("AuthenticationPackageName", "Negotiate"), ("WorkstationName", jump.name),
            ("LogonGuid", "{" + rng.bytes(16).hex() + "}"), ("TransmittedServices", "-"), ("LmPackageName", "-"),
            ("KeyLength", "0"), ("ProcessId", "0x2c8"), ("ProcessName", "C:\\Windows\\System32\\svchost.exe"),
            ("IpAddress", jump.ip), ("IpPort", "0"), ("ImpersonationLevel", "%%1833"),
            ("RestrictedAdminMode", "%%1843"), ("TargetOutboundUserName", "-"), ("TargetOutboundDomainName", "-"),
            ("VirtualAccount", "%%1843"), ("TargetLinkedLogonId", "0x0"), ("ElevatedToken", "%%1842")], tag)
        story.win(t + 60 * clock.US, h.name, 1, [
            ("RuleName", "-"), ("UtcTime", _utc(t + 60 * clock.US)), ("ProcessGuid", "{" + rng.bytes(16).hex() + "}"),
            ("ProcessId", "7712"), ("Image", "C:\\Windows\\System32\\wusa.exe"), ("FileVersion", "10.0.17763.1"),
            ("Description", "Windows Update Standalone Installer"), ("Product", "Microsoft Windows"),
            ("Company", "Microsoft Corporation"), ("OriginalFileName", "wusa.exe"),
            ("CommandLine", f"wusa.exe \\\\{net.host('wsus').name}\\Patches\\windows10.0-kb5050008-x64.msu "
                            "/quiet /norestart"),
            ("CurrentDirectory", "C:\\Windows\\system32\\"), ("User", f"{net.domain}\\{admin.sam}"),
            ("LogonGuid", "{" + rng.bytes(16).hex() + "}"), ("LogonId", "0x" + rng.bytes(3).hex()),
            ("TerminalSessionId", "2"), ("IntegrityLevel", "High"), ("Hashes", "SHA256=" + rng.bytes(32).hex().upper()),
            ("ParentProcessGuid", "{" + rng.bytes(16).hex() + "}"), ("ParentProcessId", "5520"),
            ("ParentImage", "C:\\Windows\\explorer.exe"), ("ParentCommandLine", "C:\\Windows\\Explorer.EXE"),
            ("ParentUser", f"{net.domain}\\{admin.sam}")], tag, sysmon=True)


def _utc(us: int) -> str:
    return clock.sysmon_utc(np.array([us]))[0].as_py()


def _at(us: int) -> str:
    return str(clock.cisco_login_at(np.array([us]))[0].as_py())


__all__ = ["add", "descriptions"]
