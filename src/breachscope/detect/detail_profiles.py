"""Details profiles: which fields of an event of each kind an analyst reads first (data only).

In the spirit of Hayabusa's details profiles: a Sysmon process creation shows the command line,
image, user, parent command line and logon id; a 4624 logon its type, target user, source computer
and address; a Zeek conn record its 5-tuple and state. A profile is written as
`Label=Field[|Field...][:names]`: the first field with a value is shown, `names` turns a code into its
meaning (`3` -> `3 - NETWORK`). Windows events are keyed by (channel, event id), other families by
table. `details.py` renders them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# --- value names (what a number or code means) ------------------------------------------------
LOGON_TYPES = {
    "0": "SYSTEM", "2": "INTERACTIVE", "3": "NETWORK", "4": "BATCH", "5": "SERVICE", "7": "UNLOCK",
    "8": "NETWORK_CLEARTEXT", "9": "NEW_CREDENTIALS", "10": "REMOTE_INTERACTIVE", "11": "CACHED_INTERACTIVE",
    "12": "CACHED_REMOTE_INTERACTIVE", "13": "CACHED_UNLOCK",
}
# NTSTATUS codes of failed logons and NTLM validations (4625 Status/SubStatus, 4776 Status)
NTSTATUS = {
    "0x0": "success", "0xc0000064": "unknown user", "0xc000006a": "wrong password",
    "0xc000006d": "bad user name or password", "0xc000006e": "account restriction",
    "0xc000006f": "outside allowed hours", "0xc0000070": "workstation not allowed", "0xc0000071": "password expired",
    "0xc0000072": "account disabled", "0xc00000dc": "server in wrong state", "0xc0000133": "clock skew",
    "0xc000015b": "logon type not granted", "0xc000018c": "trust failure", "0xc0000192": "netlogon not started",
    "0xc0000193": "account expired", "0xc0000224": "must change password", "0xc0000225": "windows bug",
    "0xc0000234": "account locked out", "0xc0000371": "local account store", "0xc0000413": "authentication firewall",
    "0xc000005e": "no logon servers",
}
# Kerberos result codes (4768, 4769, 4771 Status)
KERBEROS_STATUS = {
    "0x0": "success", "0x6": "unknown principal", "0x7": "unknown server", "0xc": "policy restriction",
    "0x12": "account disabled, expired or locked", "0x17": "password expired",
    "0x18": "pre-auth failed (wrong password)",
    "0x1b": "server requires user-to-user", "0x1f": "integrity check failed", "0x20": "ticket expired",
    "0x25": "clock skew", "0x26": "bad address", "0x29": "modified message", "0x3c": "generic error",
    "0xe": "encryption type not supported", "0xd": "bad option", "0x10": "pre-auth needs smart card",
}
VALUE_NAMES: dict[str, Mapping[str, str]] = {"logon": LOGON_TYPES, "ntstatus": NTSTATUS, "kerberos": KERBEROS_STATUS}


@dataclass(frozen=True)
class Item:
    label: str
    fields: tuple[str, ...]  # the first that has a value is shown
    names: str | None = None  # key of VALUE_NAMES


@dataclass(frozen=True)
class Profile:
    kind: str
    items: tuple[Item, ...]


def profile(kind: str, spec: str) -> Profile:
    """`"Cmdline=CommandLine Proc=Image|NewProcessName Type=LogonType:logon"`: label=field[|field...][:names]."""
    items = []
    for token in spec.split():
        label, _, rest = token.partition("=")
        fields, _, names = rest.partition(":")
        if names and names not in VALUE_NAMES:
            raise ValueError(f"{kind}: unknown value names {names!r}")
        items.append(Item(label, tuple(fields.split("|")), names or None))
    return Profile(kind, tuple(items))


SYSMON = "Microsoft-Windows-Sysmon/Operational"
LINUX_SYSMON = "Linux-Sysmon/Operational"
SECURITY = "Security"
SYSTEM = "System"
PS_OPERATIONAL = ("Microsoft-Windows-PowerShell/Operational", "PowerShellCore/Operational")

_SYSMON: dict[int, Profile] = {
    1: profile("process creation", "Cmdline=CommandLine Proc=Image User=User ParentCmdline=ParentCommandLine "
               "LID=LogonId Integrity=IntegrityLevel PID=ProcessId ParentPID=ParentProcessId"),
    2: profile("file creation time changed", "Path=TargetFilename Proc=Image CreationTime=CreationUtcTime "
               "PrevTime=PreviousCreationUtcTime User=User"),
    3: profile("network connection", "Proto=Protocol SrcIP=SourceIp SrcPort=SourcePort SrcHost=SourceHostname "
               "TgtIP=DestinationIp TgtPort=DestinationPort TgtHost=DestinationHostname User=User Proc=Image "
               "PID=ProcessId"),
    4: profile("sysmon state", "State=State Version=Version Schema=SchemaVersion"),
    5: profile("process terminated", "Proc=Image PID=ProcessId User=User"),
    6: profile("driver loaded", "Path=ImageLoaded Signed=Signed Sig=Signature SigStatus=SignatureStatus Hashes=Hashes"),
    7: profile("image loaded", "Image=ImageLoaded Proc=Image Signed=Signed Sig=Signature OrigName=OriginalFileName "
               "Description=Description User=User"),
    8: profile("remote thread", "SrcProc=SourceImage TgtProc=TargetImage StartModule=StartModule "
               "StartFunction=StartFunction StartAddr=StartAddress SrcPID=SourceProcessId TgtPID=TargetProcessId"),
    9: profile("raw disk read", "Device=Device Proc=Image PID=ProcessId User=User"),
    10: profile("process access", "SrcProc=SourceImage TgtProc=TargetImage Access=GrantedAccess SrcUser=SourceUser "
                "TgtUser=TargetUser SrcPID=SourceProcessId TgtPID=TargetProcessId"),
    11: profile("file created", "Path=TargetFilename Proc=Image User=User PID=ProcessId"),
    12: profile("registry key", "EventType=EventType TgtObj=TargetObject Proc=Image User=User"),
    13: profile("registry value set", "EventType=EventType TgtObj=TargetObject Data=Details Proc=Image User=User"),
    14: profile("registry rename", "TgtObj=TargetObject NewName=NewName Proc=Image User=User"),
    15: profile("alternate data stream", "Path=TargetFilename Proc=Image Hash=Hash Contents=Contents User=User"),
    16: profile("sysmon config", "Config=Configuration Hash=ConfigurationFileHash"),
    17: profile("pipe created", "Pipe=PipeName Proc=Image User=User PID=ProcessId"),
    18: profile("pipe connected", "Pipe=PipeName Proc=Image User=User PID=ProcessId"),
    19: profile("WMI filter", "Operation=Operation Namespace=EventNamespace Name=Name Query=Query User=User"),
    20: profile("WMI consumer", "Operation=Operation Name=Name Type=Type Dst=Destination User=User"),
    21: profile("WMI binding", "Operation=Operation Consumer=Consumer Filter=Filter User=User"),
    22: profile("DNS query", "Query=QueryName Result=QueryResults Status=QueryStatus Proc=Image PID=ProcessId "
                "User=User"),
    23: profile("file deleted", "Path=TargetFilename Proc=Image User=User Archived=Archived"),
    24: profile("clipboard", "Proc=Image Session=Session Client=ClientInfo Hashes=Hashes User=User"),
    25: profile("process tampering", "Type=Type Proc=Image PID=ProcessId User=User"),
    26: profile("file delete logged", "Path=TargetFilename Proc=Image User=User"),
    27: profile("executable blocked", "Path=TargetFilename Proc=Image User=User Hashes=Hashes"),
    28: profile("shredding blocked", "Path=TargetFilename Proc=Image User=User Hashes=Hashes"),
    29: profile("executable detected", "Path=TargetFilename Proc=Image User=User Hashes=Hashes"),
    255: profile("sysmon error", "ID=ID Description=Description"),
}
_LOGON = "Type=LogonType:logon TgtUser=TargetUserName SrcComp=WorkstationName SrcIP=IpAddress LID=TargetLogonId"
_ACCOUNT = "TgtUser=TargetUserName TgtDomain=TargetDomainName SrcUser=SubjectUserName TgtSID=TargetSid"
_SECURITY: dict[int, Profile] = {
    1102: profile("audit log cleared", "User=SubjectUserName Domain=SubjectDomainName"),
    4624: profile("logon", _LOGON + " AuthPkg=AuthenticationPackageName LogonProc=LogonProcessName"),
    4625: profile("failed logon", _LOGON.replace(" LID=TargetLogonId", "") + " Status=SubStatus|Status:ntstatus "
                  "AuthPkg=AuthenticationPackageName Proc=ProcessName"),
    4634: profile("logoff", "TgtUser=TargetUserName Type=LogonType:logon LID=TargetLogonId"),
    4647: profile("logoff (user initiated)", "TgtUser=TargetUserName LID=TargetLogonId"),
    4648: profile("explicit credentials logon", "TgtUser=TargetUserName TgtSvr=TargetServerName "
                  "SrcUser=SubjectUserName SrcIP=IpAddress Proc=ProcessName LID=SubjectLogonId"),
    4656: profile("object handle requested", "Obj=ObjectName Type=ObjectType Access=AccessList|AccessMask "
                  "Proc=ProcessName User=SubjectUserName"),
    4657: profile("registry value modified", "TgtObj=ObjectName Value=ObjectValueName NewVal=NewValue "
                  "Proc=ProcessName User=SubjectUserName"),
    4661: profile("SAM/AD object handle requested", "Obj=ObjectName Type=ObjectType Access=AccessList|AccessMask "
                  "Proc=ProcessName User=SubjectUserName"),
    4662: profile("directory object operation", "Obj=ObjectName Type=ObjectType Props=Properties "
                  "Access=AccessList|AccessMask User=SubjectUserName"),
    4663: profile("object access", "Obj=ObjectName Type=ObjectType Access=AccessList|AccessMask Proc=ProcessName "
                  "User=SubjectUserName"),
    4672: profile("special privileges at logon", "TgtUser=SubjectUserName LID=SubjectLogonId Privs=PrivilegeList"),
    4673: profile("privileged service called", "Service=Service Privs=PrivilegeList Proc=ProcessName "
                  "User=SubjectUserName"),
    4688: profile("process creation", "Cmdline=CommandLine Proc=NewProcessName PID=NewProcessId User=SubjectUserName "
                  "ParentProc=ParentProcessName LID=SubjectLogonId"),
    4697: profile("service installed", "Svc=ServiceName Path=ServiceFileName Type=ServiceType "
                  "StartType=ServiceStartType Acct=ServiceAccount User=SubjectUserName"),
    4698: profile("scheduled task created", "Name=TaskName Content=TaskContent User=SubjectUserName"),
    4699: profile("scheduled task deleted", "Name=TaskName User=SubjectUserName"),
    4702: profile("scheduled task updated", "Name=TaskName Content=TaskContentNew User=SubjectUserName"),
    4720: profile("user account created", _ACCOUNT),
    4722: profile("user account enabled", _ACCOUNT),
    4723: profile("password change attempt", _ACCOUNT),
    4724: profile("password reset attempt", _ACCOUNT),
    4725: profile("user account disabled", _ACCOUNT),
    4726: profile("user account deleted", _ACCOUNT),
    4738: profile("user account changed", _ACCOUNT + " UAC=UserAccountControl"),
    4740: profile("account locked out", "TgtUser=TargetUserName SrcComp=TargetDomainName"),
    4728: profile("member added to global group", "Member=MemberName|MemberSid Group=TargetUserName "
                  "SrcUser=SubjectUserName"),
    4732: profile("member added to local group", "Member=MemberName|MemberSid Group=TargetUserName "
                  "SrcUser=SubjectUserName"),
    4756: profile("member added to universal group", "Member=MemberName|MemberSid Group=TargetUserName "
                  "SrcUser=SubjectUserName"),
    4741: profile("computer account created", _ACCOUNT + " DNS=DnsHostName"),
    4742: profile("computer account changed", _ACCOUNT + " SPNs=ServicePrincipalNames"),
    4765: profile("SID history added", "TgtUser=TargetUserName SrcUser=SourceUserName SIDs=SidList "
                  "User=SubjectUserName"),
    4798: profile("local group membership enumerated", "TgtUser=TargetUserName Caller=CallerProcessName "
                  "User=SubjectUserName"),
    4799: profile("local group enumerated", "Group=TargetUserName Caller=CallerProcessName User=SubjectUserName"),
    4719: profile("audit policy changed", "Subcategory=SubcategoryGuid Changes=AuditPolicyChanges "
                  "User=SubjectUserName"),
    4768: profile("Kerberos TGT requested", "TgtUser=TargetUserName Svc=ServiceName SrcIP=IpAddress "
                  "Status=Status:kerberos PreAuth=PreAuthType EncType=TicketEncryptionType"),
    4769: profile("Kerberos service ticket requested", "TgtUser=TargetUserName Svc=ServiceName SrcIP=IpAddress "
                  "Status=Status:kerberos EncType=TicketEncryptionType Options=TicketOptions"),
    4771: profile("Kerberos pre-authentication failed", "TgtUser=TargetUserName Svc=ServiceName SrcIP=IpAddress "
                  "Status=Status:kerberos PreAuth=PreAuthType"),
    4776: profile("NTLM credential validation", "TgtUser=TargetUserName SrcComp=Workstation Status=Status:ntstatus "
                  "AuthPkg=PackageName"),
    4778: profile("session reconnected", "TgtUser=AccountName SrcComp=ClientName SrcIP=ClientAddress "
                  "Session=SessionName"),
    4779: profile("session disconnected", "TgtUser=AccountName SrcComp=ClientName SrcIP=ClientAddress "
                  "Session=SessionName"),
    4794: profile("DSRM password set", "User=SubjectUserName SrcComp=Workstation Status=Status:ntstatus"),
    5136: profile("directory object modified", "Obj=ObjectDN Attr=AttributeLDAPDisplayName Value=AttributeValue "
                  "Op=OperationType User=SubjectUserName"),
    5140: profile("network share accessed", "Share=ShareName Path=ShareLocalPath SrcIP=IpAddress User=SubjectUserName"),
    5145: profile("network share object checked", "Share=ShareName Path=RelativeTargetName SrcIP=IpAddress "
                  "User=SubjectUserName Access=AccessList"),
    5156: profile("connection permitted (WFP)", "Proc=Application Dir=Direction SrcIP=SourceAddress SrcPort=SourcePort "
                  "TgtIP=DestAddress TgtPort=DestPort Proto=Protocol"),
}
_SYSTEM: dict[int, Profile] = {
    104: profile("event log cleared", "User=SubjectUserName Domain=SubjectDomainName Backup=BackupPath"),
    7036: profile("service state changed", "Svc=param1 State=param2"),
    7040: profile("service start type changed", "Svc=param1 From=param2 To=param3"),
    7045: profile("service installed", "Svc=ServiceName Path=ImagePath Type=ServiceType StartType=StartType "
                  "Acct=AccountName"),
}
_POWERSHELL: dict[int, Profile] = {
    4103: profile("PowerShell module", "Payload=Payload Context=ContextInfo"),
    4104: profile("PowerShell script block", "ScriptBlock=ScriptBlockText Path=Path SBID=ScriptBlockId"),
}
_CLASSIC_PS = profile("PowerShell (classic)", "HostApp=HostApplication Data=Data")
_DEFENDER = profile("Defender detection", "Threat=ThreatName Severity=SeverityName Path=Path Proc=ProcessName "
                    "User=DetectionUser Action=ActionName")
_TASKS = profile("scheduled task", "Name=TaskName Action=ActionName User=UserContext|UserName")
_RDP_SESSION = profile("RDP session", "User=User SrcIP=Address Session=SessionID")

WINDOWS: dict[tuple[str, int], Profile] = {
    **{(SYSMON, k): v for k, v in _SYSMON.items()},
    **{(LINUX_SYSMON, k): _SYSMON[k] for k in (1, 3, 5, 11, 23)},
    **{(SECURITY, k): v for k, v in _SECURITY.items()},
    **{(SYSTEM, k): v for k, v in _SYSTEM.items()},
    **{(c, k): v for c in PS_OPERATIONAL for k, v in _POWERSHELL.items()},
    **{("Windows PowerShell", k): _CLASSIC_PS for k in (400, 403, 600, 800)},
    **{("Microsoft-Windows-Windows Defender/Operational", k): _DEFENDER for k in (1006, 1007, 1015, 1116, 1117)},
    **{("Microsoft-Windows-TaskScheduler/Operational", k): _TASKS for k in (106, 140, 141, 200, 201)},
    **{("Microsoft-Windows-TerminalServices-LocalSessionManager/Operational", k): _RDP_SESSION
       for k in (21, 22, 23, 24, 25)},
    ("Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational", 1149):
        profile("RDP authentication", "User=Param1 Domain=Param2 SrcIP=Param3"),
    ("Microsoft-Windows-WMI-Activity/Operational", 5861):
        profile("WMI permanent subscription", "Namespace=Namespace ESS=ESS Consumer=CONSUMER|Consumer "
                "Cause=PossibleCause"),
    ("Microsoft-Windows-Bits-Client/Operational", 3):
        profile("BITS job created", "Job=jobTitle Owner=jobOwner Proc=processPath"),
    ("Microsoft-Windows-Bits-Client/Operational", 59): profile("BITS transfer started", "Job=name URL=url"),
    ("Microsoft-Windows-Bits-Client/Operational", 60): profile("BITS transfer stopped", "Job=name URL=url "
                                                               "Bytes=bytesTotal"),
}

_ADDR = "SrcIP=src_ip SrcPort=src_port TgtIP=dst_ip TgtPort=dst_port"
TABLES: dict[str, Profile] = {
    "syslog": profile("syslog", "App=app_name Mnemonic=cisco_mnemonic User=user " + _ADDR + " Msg=message|raw"),
    "db_audit": profile("database audit", "DB=database User=user Client=src_ip Session=session_id Class=audit_class "
                        "Cmd=command Obj=object_name Stmt=statement Params=parameters Rows=rows Ret=retcode"),
    "flow": profile("flow", "Proto=proto " + _ADDR + " Dir=direction State=state Bytes=bytes Pkts=packets "
                    "Dur=duration Label=label"),
    "zeek_conn": profile("Zeek conn", "Proto=proto Svc=service " + _ADDR + " State=conn_state Dur=duration "
                         "OrigBytes=orig_bytes RespBytes=resp_bytes History=history UID=uid"),
    "zeek_dns": profile("Zeek dns", "Query=query Type=qtype_name Answers=answers RCode=rcode_name " + _ADDR),
    "zeek_http": profile("Zeek http", "Method=method Host=host URI=uri Status=status_code UA=user_agent "
                         "" + _ADDR),
    "zeek_ssl": profile("Zeek ssl", "SNI=server_name Version=version Cipher=cipher Established=established "
                        "JA3=ja3 " + _ADDR),
    "zeek_ssh": profile("Zeek ssh", "Auth=auth_success Attempts=auth_attempts Client=client Server=server " + _ADDR),
    "zeek_files": profile("Zeek files", "Name=filename MIME=mime_type Source=source Size=total_bytes MD5=md5 SHA1=sha1 "
                          "Tx=tx_hosts Rx=rx_hosts"),
    "zeek_notice": profile("Zeek notice", "Note=note Msg=msg Sub=sub Src=src Dst=dst " + _ADDR),
    "zeek_weird": profile("Zeek weird", "Name=name Addl=addl " + _ADDR),
    "zeek_smb_files": profile("Zeek smb_files", "Action=action Path=path Name=name Size=size " + _ADDR),
    "zeek_smb_mapping": profile("Zeek smb_mapping", "Path=path Share=share_type Svc=service " + _ADDR),
    "zeek_kerberos": profile("Zeek kerberos", "Req=request_type Client=client Svc=service Success=success "
                             "Error=error_msg Cipher=cipher " + _ADDR),
    "zeek_ntlm": profile("Zeek ntlm", "User=username Domain=domainname Host=hostname Success=success " + _ADDR),
    "zeek_rdp": profile("Zeek rdp", "Cookie=cookie Result=result Security=security_protocol Client=client_name "
                        "" + _ADDR),
    "zeek_dce_rpc": profile("Zeek dce_rpc", "Endpoint=endpoint Op=operation Pipe=named_pipe " + _ADDR),
    "zeek_ftp": profile("Zeek ftp", "User=user Cmd=command Arg=arg Reply=reply_code ReplyMsg=reply_msg " + _ADDR),
    "zeek_smtp": profile("Zeek smtp", "From=mailfrom To=rcptto Subject=subject Helo=helo " + _ADDR),
    "zeek_x509": profile("Zeek x509", "Subject=certificate.subject Issuer=certificate.issuer SAN=san.dns "
                         "NotAfter=certificate.not_valid_after"),
}
