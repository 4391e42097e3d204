"""Active Directory evidence the AD tests build: Windows Security events as Winlogbeat JSON lines, Zeek logs
as JSON lines, and a small domain (two domain controllers, workstations, a legacy RC4 application, a
directory synchronisation server) whose ordinary activity holds the hard negatives of the AD detections."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.conftest import run_ingest

T0 = datetime(2025, 3, 3, 0, 0, tzinfo=UTC)
REALM = "CORP.TEST"
DC1, DC2 = ("DC1.corp.test", "10.0.0.10"), ("DC2.corp.test", "10.0.0.11")
SYNC = ("SYNC01", "10.0.0.30")  # runs Entra Connect: replicates every day with MSOL_ account
LEGACY = "10.0.5.5"  # an application server that asks RC4 tickets for legacy services
WORKSTATIONS = [(f"ws{i:02d}", f"10.0.2.{10 + i}", f"user{i:02d}") for i in range(12)]
ROASTABLE = ["svc_sql", "svc_web", "svc_backup", "svc_scan", "svc_crm"]
LEGACY_SERVICES = ["svc_legacy1", "svc_legacy2", "svc_legacy3"]
DS_GET_CHANGES = "1131f6aa-9c07-11d1-f79f-00c04fc2dcd2"
DS_GET_CHANGES_ALL = "1131f6ad-9c07-11d1-f79f-00c04fc2dcd2"
DOMAIN_CLASS = "19195a5b-6da0-11d0-afd3-00c04fd930c9"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


class Evidence:
    """Collects events; `case(dir)` writes and ingests them."""

    def __init__(self) -> None:
        self.windows: list[str] = []
        self.zeek: list[str] = []
        self._record = 0
        self._uid = 0

    def win(self, t: datetime, eid: int, computer: str, channel: str = "Security",
            provider: str = "Microsoft-Windows-Security-Auditing", **data: str) -> None:
        self._record += 1
        self.windows.append(json.dumps({"@timestamp": t.isoformat().replace("+00:00", "Z"), "winlog": {
            "channel": channel, "event_id": eid, "provider_name": provider,
            "computer_name": computer, "record_id": self._record, "event_data": data}}))

    def zeek_log(self, path: str, t: datetime, orig: str, resp: str, resp_p: int, **fields: object) -> None:
        self._uid += 1
        self.zeek.append(json.dumps({"_path": path, "ts": t.timestamp(), "uid": f"C{self._uid:017d}",
                                     "id.orig_h": orig, "id.orig_p": 50000 + self._uid % 10000,
                                     "id.resp_h": resp, "id.resp_p": resp_p, **fields}))

    # --- events of the domain -------------------------------------------------------------------------
    def tgt(self, t: datetime, dc: tuple[str, str], user: str, ip: str, status: str = "0x0",
            preauth: str = "2", enc: str = "0x12") -> None:
        self.win(t, 4768, dc[0], TargetUserName=user, TargetDomainName="CORP", ServiceName="krbtgt",
                 TicketOptions="0x40810010", Status=status, TicketEncryptionType=enc, PreAuthType=preauth,
                 IpAddress=f"::ffff:{ip}", IpPort="50123")
        self.zeek_log("kerberos", t, ip, dc[1], 88, request_type="AS", client=f"{user}/{REALM}",
                      service=f"krbtgt/{REALM}", success=status == "0x0", cipher="aes256-cts-hmac-sha1-96",
                      till=(t + timedelta(hours=10)).timestamp())

    def tgs(self, t: datetime, dc: tuple[str, str], user: str, ip: str, service: str, enc: str = "0x12",
            zeek: bool = True) -> None:
        self.win(t, 4769, dc[0], TargetUserName=f"{user}@{REALM}", TargetDomainName=REALM, ServiceName=service,
                 TicketOptions="0x40810000", TicketEncryptionType=enc, IpAddress=f"::ffff:{ip}", IpPort="50124",
                 Status="0x0")
        if zeek:  # Zeek names the service by its SPN: a computer account's are host/cifs/ldap...
            cipher = "rc4-hmac" if enc == "0x17" else "aes256-cts-hmac-sha1-96"
            spn = (f"cifs/{service[:-1].lower()}.corp.test" if service.endswith("$") else
                   f"krbtgt/{REALM}" if service == "krbtgt" else f"http/{service}.corp.test")
            self.zeek_log("kerberos", t, ip, dc[1], 88, request_type="TGS", client=f"{user}/{REALM}", service=spn,
                          success=True, cipher=cipher, till=(t + timedelta(hours=10)).timestamp())

    def logon(self, t: datetime, computer: str, user: str, ip: str, logon_id: str) -> None:
        self.win(t, 4624, computer, SubjectUserSid="S-1-0-0", SubjectUserName="-", SubjectLogonId="0x0",
                 TargetUserName=user, TargetDomainName="CORP", TargetLogonId=logon_id, LogonType="3",
                 LogonProcessName="Kerberos", AuthenticationPackageName="Kerberos", IpAddress=ip, IpPort="50125")

    def replication(self, t: datetime, dc: tuple[str, str], account: str, logon_id: str,
                    rights: Iterable[str] = (DS_GET_CHANGES, DS_GET_CHANGES_ALL)) -> None:
        for i, guid in enumerate(rights):
            self.win(t + timedelta(milliseconds=200 * i), 4662, dc[0], SubjectUserName=account,
                     SubjectDomainName="CORP", SubjectLogonId=logon_id, ObjectServer="DS",
                     ObjectType=f"%{{{DOMAIN_CLASS}}}", ObjectName="%{6b1e2e9a-0000-4000-8000-000000000001}",
                     OperationType="Object Access", AccessList="%%7688\r\n\t\t\t\t", AccessMask="0x100",
                     Properties=f"%%7688\r\n\t\t{{{guid}}}\r\n\t{{{DOMAIN_CLASS}}}\r\n")

    def drs(self, t: datetime, src: str, dst: str, calls: int = 2) -> None:
        for i, op in enumerate(["DRSBind", *["DRSGetNCChanges"] * calls, "DRSUnbind"]):
            self.zeek_log("dce_rpc", t + timedelta(milliseconds=300 * i), src, dst, 49667, rtt=0.004,
                          named_pipe="49667", endpoint="drsuapi", operation=op)

    def case(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        files = []
        if self.windows:
            (folder / "security.json").write_text("\n".join(self.windows) + "\n")
            files.append(folder / "security.json")
        if self.zeek:
            (folder / "zeek.log").write_text("\n".join(self.zeek) + "\n")
            files.append(folder / "zeek.log")
        run_ingest(files, folder / "case")
        return folder / "case"


def ordinary_domain(ev: Evidence, days: int = 4, tgt_dcs: tuple[tuple[str, str], ...] = (DC1, DC2),
                    legacy: tuple[str, ...] = tuple(LEGACY_SERVICES)) -> None:
    """Days of ordinary activity: users get a TGT each morning (logged by the DCs in `tgt_dcs`) and service
    tickets (AES) through the day, the two DCs replicate with each other (4662 by their machine accounts,
    DRSGetNCChanges both ways), the synchronisation server replicates with MSOL_ every day, and the legacy
    application server gets RC4 tickets for its `legacy` services together, every day."""
    for d in range(days):
        day = d * 24 * 60
        for i, (_, ip, user) in enumerate(WORKSTATIONS):
            dc = DC1 if i % 2 else DC2
            start = day + 8 * 60 + i
            if dc in tgt_dcs:
                ev.tgt(at(start), dc, user, ip)
            for k in range(4):
                ev.tgs(at(start + 1 + 90 * k), dc, user, ip, ["cifs", "http", "ldap", "host"][k] + "_svc")
        for h in range(0, 24, 6):
            ev.replication(at(day + h * 60 + 5), DC1, "DC2$", f"0x{d}{h}a1")
            ev.replication(at(day + h * 60 + 7), DC2, "DC1$", f"0x{d}{h}b2")
            ev.drs(at(day + h * 60 + 5), DC2[1], DC1[1])
            ev.drs(at(day + h * 60 + 7), DC1[1], DC2[1])
        ev.logon(at(day + 3 * 60), DC1[0], "MSOL_1a2b3c", SYNC[1], f"0x{d}c3")
        ev.replication(at(day + 3 * 60 + 0.1), DC1, "MSOL_1a2b3c", f"0x{d}c3")
        ev.drs(at(day + 3 * 60), SYNC[1], DC1[1])
        if DC1 in tgt_dcs:
            ev.tgt(at(day + 6 * 60), DC1, "appsvc", LEGACY)
        for k, svc in enumerate(legacy):
            ev.tgs(at(day + 6 * 60 + 1 + k * 0.2), DC1, "appsvc", LEGACY, svc, enc="0x17")
