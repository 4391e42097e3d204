"""Zeek logs of the internal sensor: connections and the protocol logs derived from them.

Every dns/http/ssl/kerberos/smb record belongs to a conn record of the same uid and addresses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pyarrow as pa

from breachscope.simulate import clock
from breachscope.simulate.dbengine import engine
from breachscope.simulate.formats import zeek as Z
from breachscope.simulate.network import Network
from breachscope.simulate.noise import partner_ftp, scanner
from breachscope.simulate.noise.common import Hosts, Options, choose, lognormal_int, ports, zipf_index
from breachscope.simulate.noise.zeek_admin import AdminTraffic, host_key, merge
from breachscope.simulate.streams import Chunk, Context, Output
from breachscope.simulate.text import join, lpad, pick, random_b62, random_hex, strs, where

#: connection kinds: (name, share, proto, derived log)
KINDS = (
    ("dns", 26, "udp", "dns"), ("web_tls", 30, "tcp", "ssl"), ("web_http", 4, "tcp", "http"),
    ("app_tls", 6, "tcp", "ssl"), ("smb", 8, "tcp", "smb"), ("kerberos", 6, "tcp", "kerberos"),
    ("ldap", 5, "tcp", ""), ("db", 4, "tcp", ""), ("ntp", 2, "udp", ""), ("rpc", 6, "tcp", ""),
    ("icmp", 1, "icmp", ""), ("srv_tls", 2, "tcp", "ssl"),
)
_K = {k[0]: i for i, k in enumerate(KINDS)}
DERIVED_PER_CONN = (26 + 30 + 4 + 6 + 8 * 0.6 + 6 + 2) / 100
STATES = ("SF", "S0", "RSTO", "RSTR", "REJ", "SH", "OTH")
HISTORY = {"SF": ("ShADadFf", "ShADadfF", "ShADdaFf", "ShAdDaFf"), "S0": ("S",), "RSTO": ("ShADadR", "ShADR"),
           "RSTR": ("ShADadr", "ShADdar"), "REJ": ("Sr",), "SH": ("ShAF",), "OTH": ("CC", "DadA")}
_CRYPTOAPI, _NCSI = "Microsoft-CryptoAPI/10.0", "Microsoft NCSI"
_BROWSERS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
             "Safari/537.36 Edg/131.0.0.0",
             "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/132.0.0.0 "
             "Safari/537.36")
#: what is asked of each plain-HTTP site: (uri, user agent, response type); Windows fetches its certificate
#: lists and revocation data with CryptoAPI and checks connectivity with NCSI, people browse
HTTP_REQUESTS = {
    "ctldl.windowsupdate.com": (
        ("/msdownload/update/v3/static/trustedr/en/authrootstl.cab", _CRYPTOAPI, "application/vnd.ms-cab-compressed"),
        ("/msdownload/update/v3/static/trustedr/en/disallowedcertstl.cab", _CRYPTOAPI,
         "application/vnd.ms-cab-compressed")),
    "www.msftconnecttest.com": (("/connecttest.txt", _NCSI, "text/plain"),),
    "ocsp.digicert.com": (("/MFEwTzBNMEswSTAJBgUrDgMCGgUABBTfqhLjKLEJQZPin0KCzkdAQpVYowQUsT7DaQP4v0cB1JgmGggC72Nk"
                           "K8MCEAx5qUSwjBGVIJJhX%2BJrHYM%3D", _CRYPTOAPI, "application/ocsp-response"),),
    "crl.globalsign.com": (("/gsrsaovsslca2018.crl", _CRYPTOAPI, "application/pkix-crl"),),
}
BROWSING = (("/", "text/html"), ("/index.html", "text/html"), ("/news/rss.xml", "text/xml"),
            ("/api/v1/status", "application/json"))
#: files of the disk shares (share name, name relative to the share)
FILES = (("Shared", "Sales\\2025\\quote_{}.xlsx"), ("Shared", "Ops\\minutes\\meeting_{}.docx"),
         ("Shared", "Finance\\invoices\\inv_{}.pdf"), ("Projects", "order-sys\\spec_v{}.pptx"),
         ("Users", "desktop.ini"), ("Scan", "scan{}.pdf"))

PORTAL = 4  # position of the application portal in InternalNames.dns


@dataclass(frozen=True)
class InternalNames:
    """The organization's own names as its workstations use them: DNS names and their hosts, SRV records,
    the application portal, file shares, Kerberos service names."""

    dns: pa.Array  # names asked of the domain controllers (the last two are SRV records)
    dns_hosts: np.ndarray  # the host (index in Hosts) answering each name
    srv_answer: str
    portal: str
    shares: tuple[tuple[str, str, str], ...]  # (server, share, type)
    services: pa.Array
    realm: str

    @classmethod
    def of(cls, net: Network, h: Hosts) -> InternalNames:
        f = net.fqdn
        dcs, files = net.with_role("dc"), net.with_role("file")
        dc0, dc1, fs0, fs1 = dcs[0].name, dcs[1 % len(dcs)].name, files[0].name, files[1 % len(files)].name
        wsus, prn, bi, portal = net.host("wsus").name, net.host("printer").name, net.host("bi").name, net.spec.portal
        names = [dc0, dc1, fs0, fs1, portal, wsus, prn, bi]
        answering = [dc0, dc1, fs0, fs1, net.with_role("app")[0].name, wsus, prn, bi, dc0, dc0]
        return cls(pa.array([*(f"{n.lower()}.{f}" for n in names), f"_ldap._tcp.dc._msdcs.{f}", f"_kerberos._tcp.{f}"]),
                   h.of(*answering), f"{dc0.lower()}.{f},{dc1.lower()}.{f}", f"{portal}.{f}",
                   ((fs0, "Shared", "DISK"), (fs0, "IPC$", "PIPE"), (fs1, "Projects", "DISK"), (fs0, "Users", "DISK"),
                    (fs1, "Scan", "DISK")),
                   pa.array([f"cifs/{fs0}.{f}", f"cifs/{fs1}.{f}", f"host/{dc0}.{f}", f"ldap/{dc0}.{f}/{f}",
                             f"HTTP/{portal}.{f}", f"MSSQLSvc/{bi}.{f}:1433", f"host/{wsus}.{f}"]), net.realm)


@dataclass(frozen=True)
class Conns:
    """The connections of a slice, column by column; every protocol log record belongs to one of them."""

    line: pa.Array  # conn.log lines
    uid: pa.Array
    src_ip: pa.Array
    sport: np.ndarray
    dst_ip: pa.Array
    dport: np.ndarray
    site: np.ndarray  # index of the outside site (meaningful for connections to the internet)
    src: np.ndarray  # index of the originating host
    dst: np.ndarray  # index of the responding host (-1: the internet)
    rb: np.ndarray  # bytes from the responder
    ob: np.ndarray  # bytes from the originator
    dead: np.ndarray  # no answer (state S0)

    def take(self, sel: np.ndarray) -> Conns:
        """The connections at positions `sel`, in that order."""
        rows = pa.array(sel)
        return Conns(self.line.take(rows), self.uid.take(rows), self.src_ip.take(rows), self.sport[sel],
                     self.dst_ip.take(rows), self.dport[sel], self.site[sel], self.src[sel], self.dst[sel],
                     self.rb[sel], self.ob[sel], self.dead[sel])


class ZeekGroup:
    name = "zeek"
    share = 0.33
    profile = "office"

    def __init__(self, ctx: Context) -> None:
        cfg, net = ctx.cfg, ctx.net
        self.silence = ctx.silence
        self.cfg = cfg
        self.net = net
        self.h = Hosts(net)
        self.names = InternalNames.of(net, self.h)
        self.db, self.wsus = self.h.index[net.host("db").name], self.h.index[net.host("wsus").name]
        self.db_port = engine(net.spec.database).port  # 5432, or 3306 for MySQL and MariaDB
        sites = net.sites
        self.site_w = np.array([s.weight for s in sites])
        self.site_name = pa.array([s.domain for s in sites])
        self.site_ip = pa.array([s.ips[0] for s in sites])
        self.site_answers = pa.array([",".join(s.ips) for s in sites])
        self.site_ttls = pa.array([",".join(["300.000000"] * len(s.ips)) for s in sites])
        self.site_fp = pa.array([f"{abs(hash_text(s.domain)):064x}"[:64] for s in sites])
        self.tls_sites = np.array([i for i, s in enumerate(sites) if s.service == "ssl"])
        self.http_sites = np.array([i for i, s in enumerate(sites) if s.service == "http"])
        # each file server's shares, and the files of its disk shares (a server beyond the two that hold the
        # shares serves the same ones)
        shares = self.names.shares
        by_fs = [[i for i, x in enumerate(shares) if x[0] == self.h.list[f].name] or list(range(len(shares)))
                 for f in self.h.files]
        self.fs_shares = Options(by_fs)
        self.fs_files = Options([[i for i, (sh, _) in enumerate(FILES) if any(shares[j][1] == sh for j in x)]
                                 for x in by_fs])
        # (file server, file) -> the share the file is on
        self.file_share = np.array([[next((j for j in x if shares[j][1] == sh), 0) for sh, _ in FILES] for x in by_fs])
        # the requests of each plain-HTTP site (browsing for a site not in HTTP_REQUESTS)
        reqs = [HTTP_REQUESTS.get(s.domain, tuple((u, b, m) for u, m in BROWSING for b in _BROWSERS)) for s in sites]
        flat = [r for x in reqs for r in x]
        first = np.cumsum([0, *(len(x) for x in reqs)])
        self.site_requests = Options([list(range(first[i], first[i + 1])) for i in range(len(sites))])
        self.req_uri, self.req_agent, self.req_mime = (pa.array([r[j] for r in flat]) for j in range(3))
        self.update_site = next(i for i, s in enumerate(sites) if s.domain == "ctldl.windowsupdate.com")
        # what the resolver answers for each internal name; the portal is round-robin over the application
        # servers (its answers: every rotation of them, after the others)
        apps = [self.h.list[i].ip for i in self.h.apps]
        self.internal_answers = pa.array([*(self.h.list[i].ip for i in self.names.dns_hosts),
                                          *(",".join(apps[k:] + apps[:k]) for k in range(len(apps)))])
        self.internal_ttls = pa.array([",".join(["1200.000000"] * (a.count(",") + 1))
                                       for a in self.internal_answers.to_pylist()])
        self.users = pa.array([u.sam for u in net.users])
        self.ws_user = np.array([i % len(net.people) for i in range(len(self.h.ws))])
        self.logs = list(Z.LOGS)  # a log nobody wrote to on a day leaves no file (the story's dce_rpc, rdp...)
        noise = net.spec.noise  # the administration's sessions and DCE/RPC (network.noise, off by default)
        self.admin = (AdminTraffic(net, self.h, cfg.seed, cfg.events) if noise.admin_sessions or noise.linux_syslog
                      else None)
        # the uploads to partners and the inside scanner (noise/partner_ftp.py, noise/scanner.py), off by default
        self.ftp = (partner_ftp.FtpPlan(net, cfg.seed, cfg.scenario_spec, self.h.index, ctx.silence)
                    if noise.partner_ftp else None)
        self.scan = scanner.ScanPlan(net, cfg.seed, self.h, ctx.silence) if noise.scanner else None
        self.host_keys = pa.array([host_key(x.name, x.os) for x in self.h.list] if self.scan else [], pa.string())

    def outputs(self) -> list[Output]:
        def path(log: str) -> Callable[[int], str]:
            return lambda d: f"zeek/{(clock.FIRST_DAY + timedelta(days=d)).isoformat()}/{log}.log"

        def header(log: str) -> Callable[[int], str]:
            return lambda d: Z.header(log, clock.day_start(d))

        return [Output(f"zeek.{log}", path(log), header(log), lambda d: Z.footer(clock.day_start(d + 1)))
                for log in self.logs]

    # --- one slice ---------------------------------------------------------------------------------------
    def chunk(self, rng: np.random.Generator, times: np.ndarray, sl: clock.Slice) -> dict[str, Chunk]:
        n = max(1, round(len(times) / (1 + DERIVED_PER_CONN)))
        ts = np.sort(rng.choice(times, n, replace=False)) if n < len(times) else times
        kind = choose(rng, n, [k[1] for k in KINDS])
        c = self._conns(rng, ts, kind)
        out = {"zeek.conn": Chunk(ts, c.line)}
        for log, fn in (("dns", self._dns), ("ssl", self._ssl), ("http", self._http), ("kerberos", self._kerberos)):
            sel = np.flatnonzero(np.isin(kind, [i for i, k in enumerate(KINDS) if k[3] == log]))
            out[f"zeek.{log}"] = fn(rng, ts[sel], kind[sel], c.take(sel))
        sel = np.flatnonzero(kind == _K["smb"])
        out.update(self._smb(rng, ts[sel], c.take(sel)))
        if self.admin is not None:
            extra = self.admin.chunks(len(times), sl)
            if self.admin.dce:
                r = c.take(np.flatnonzero((kind == _K["rpc"]) & ~c.dead))
                extra.setdefault("zeek.dce_rpc", []).append(self.admin.ept_map(sl, ts[np.flatnonzero(
                    (kind == _K["rpc"]) & ~c.dead)], {"uid": r.uid, "id.orig_h": r.src_ip, "id.orig_p": strs(r.sport),
                                                      "id.resp_h": r.dst_ip, "id.resp_p": "135"}))
            out = merge(out, extra)
        more: dict[str, list[Chunk]] = {}
        if self.ftp is not None:
            partner_ftp.zeek_chunks(self.ftp.between(sl.start, sl.end), sl, more)
        if self.scan is not None:
            scanner.zeek_chunks(self.scan, self.scan.between(sl.start, sl.end), self.host_keys, more)
        if more:
            out = merge(out, more)
        return {k: v for k, v in out.items() if k in {f"zeek.{x}" for x in self.logs}}

    def _conns(self, rng: np.random.Generator, ts: np.ndarray, kind: np.ndarray) -> Conns:
        n = len(ts)
        h = self.h
        ws = h.ws[zipf_index(rng, n, len(h.ws), 0.6)]
        src = ws.copy()
        # servers originate some traffic too: app servers to the database, WSUS to the internet
        dst_host = np.full(n, -1)
        dst_host = np.where(np.isin(kind, [_K["dns"], _K["kerberos"], _K["ldap"], _K["ntp"], _K["rpc"]]),
                            h.dcs[rng.integers(0, len(h.dcs), n)], dst_host)
        dst_host = np.where(kind == _K["smb"], h.files[rng.integers(0, len(h.files), n)], dst_host)
        dst_host = np.where(kind == _K["app_tls"], h.apps[rng.integers(0, len(h.apps), n)], dst_host)
        db = self.db
        src = np.where(kind == _K["db"], h.apps[rng.integers(0, len(h.apps), n)], src)
        dst_host = np.where(kind == _K["db"], db, dst_host)
        src = np.where(kind == _K["srv_tls"], self.wsus, src)
        site = self.tls_sites[zipf_index(rng, n, len(self.tls_sites), 0.9)]
        site = np.where(kind == _K["web_http"], self.http_sites[rng.integers(0, len(self.http_sites), n)], site)
        site = np.where(kind == _K["srv_tls"], self.update_site, site)  # WSUS synchronizing with Microsoft Update
        external = np.isin(kind, [_K["web_tls"], _K["web_http"], _K["srv_tls"], _K["icmp"]])
        dst_ip = where(external, pick(self.site_ip, site), pick(h.ip, np.maximum(dst_host, 0)))
        dport = np.select([kind == _K["dns"], kind == _K["web_http"], kind == _K["smb"], kind == _K["kerberos"],
                           kind == _K["ldap"], kind == _K["db"], kind == _K["ntp"], kind == _K["rpc"],
                           kind == _K["icmp"]], [53, 80, 445, 88, 389, self.db_port, 123, 135, 0], 443)
        sport = np.where(kind == _K["ntp"], 123, np.where(kind == _K["icmp"], 8, ports(rng, n)))
        proto = np.array([k[2] for k in KINDS])[kind]
        state_w = {True: [97, 3, 0, 0, 0, 0, 0], False: [86, 3, 4, 3, 2, 1, 1]}
        udp = proto != "tcp"
        state = np.where(udp, choose(rng, n, state_w[True]), choose(rng, n, state_w[False]))
        med = np.array([0.004, 2.5, 0.4, 1.2, 30, 0.02, 0.05, 45, 0.01, 0.03, 0.001, 4])[kind]
        dur = rng.lognormal(np.log(med), 1.2)
        ob_med = np.array([38, 1800, 420, 2400, 9000, 1500, 900, 4200, 48, 800, 64, 2200])[kind]
        rb_med = np.array([140, 28000, 9000, 18000, 60000, 1600, 2400, 90000, 48, 600, 64, 180000])[kind]
        ob = (rng.lognormal(0, 1.3, n) * ob_med).astype(np.int64)
        rb = (rng.lognormal(0, 1.6, n) * rb_med).astype(np.int64)
        dead = state == STATES.index("S0")
        ob = np.where(dead, 0, ob)
        rb = np.where(dead | (state == STATES.index("REJ")), 0, rb)
        hdr = np.where(proto == "tcp", 52, 28)
        opk = np.maximum(1, ob // 1200 + rng.integers(1, 6, n))
        rpk = np.where(rb > 0, np.maximum(1, rb // 1400 + rng.integers(1, 4, n)), np.where(dead, 0, 1))
        hist_vocab, hist_idx = _history(rng, state, udp)
        service = np.array(["dns", "ssl", "http", "ssl", "smb,gssapi", "krb_tcp", "ldap_tcp", "-", "ntp",
                            "dce_rpc", "-", "ssl"])[kind]
        service = np.where(dead, "-", service)
        uid = random_b62(rng, n, 17, b"C")
        src_ip = pick(self.h.ip, src)
        line = Z.lines("conn", ts, {
            "uid": uid, "id.orig_h": src_ip, "id.orig_p": strs(sport), "id.resp_h": dst_ip, "id.resp_p": strs(dport),
            "proto": pa.array(proto), "service": pa.array(service), "duration": Z.interval(dur),
            "orig_bytes": strs(ob), "resp_bytes": strs(rb), "conn_state": pick(pa.array(STATES), state),
            "local_orig": "T", "local_resp": where(external, "F", "T"),
            "missed_bytes": "0", "history": pick(hist_vocab, hist_idx), "orig_pkts": strs(opk),
            "orig_ip_bytes": strs(ob + opk * hdr), "resp_pkts": strs(rpk), "resp_ip_bytes": strs(rb + rpk * hdr),
            "tunnel_parents": "(empty)",
        })
        return Conns(line, uid, src_ip, sport, dst_ip, dport, site, src, dst_host, rb, ob, dead)

    def _dns(self, rng: np.random.Generator, ts: np.ndarray, kind: np.ndarray, c: Conns) -> Chunk:
        n = len(ts)
        internal = rng.random(n) < 0.3
        site = self.tls_sites[zipf_index(rng, n, len(self.tls_sites), 0.9)]
        # the plain-HTTP sites (update, OCSP/CRL, connectivity checks) are looked up too
        site = np.where(rng.random(n) < 0.12, self.http_sites[rng.integers(0, len(self.http_sites), n)], site)
        names = self.names.dns
        iname = rng.integers(0, len(names), n)
        query = where(internal, pick(names, iname), pick(self.site_name, site))
        qtype = np.where(internal & (iname >= len(names) - 2), 33, np.where(rng.random(n) < 0.22, 28, 1))
        nx = rng.random(n) < 0.04
        aaaa = qtype == 28
        # the answer of each internal name; the portal's: its servers, in the order the resolver rotates them
        ans = np.where(iname == PORTAL, len(names) + rng.integers(0, len(self.h.apps), n), iname)
        answers = where(internal, pick(self.internal_answers, ans), pick(self.site_answers, site))
        answers = where(aaaa | nx, "-", answers)
        ttls = where(internal, pick(self.internal_ttls, ans), pick(self.site_ttls, site))
        ttls = where(aaaa | nx, "-", ttls)
        srv = qtype == 33
        answers = where(srv, self.names.srv_answer, answers)
        ttls = where(srv, "600.000000,600.000000", ttls)
        dead = c.dead
        line = Z.lines("dns", ts, {
            "uid": c.uid, "id.orig_h": c.src_ip, "id.orig_p": strs(c.sport), "id.resp_h": c.dst_ip,
            "id.resp_p": "53", "proto": "udp", "trans_id": strs(rng.integers(0, 65536, n)),
            "rtt": where(dead, "-", Z.interval(rng.lognormal(np.log(0.0008), 0.8, n))),
            "query": query, "qclass": "1", "qclass_name": "C_INTERNET", "qtype": strs(qtype),
            "qtype_name": pick(pa.array(["A", "AAAA", "SRV"]), np.where(qtype == 1, 0, np.where(aaaa, 1, 2))),
            "rcode": where(dead, "-", strs(np.where(nx, 3, 0))),
            "rcode_name": where(dead, "-", pick(pa.array(["NOERROR", "NXDOMAIN"]), nx.astype(int))),
            "AA": where(internal, "T", "F"), "TC": "F", "RD": "T",
            "RA": where(dead, "F", "T"), "Z": "0",
            "answers": where(dead, "-", answers), "TTLs": where(dead, "-", ttls),
            "rejected": "F",
        })
        return Chunk(ts, line)

    def _ssl(self, rng: np.random.Generator, ts: np.ndarray, kind: np.ndarray, c: Conns) -> Chunk:
        n = len(ts)
        t = ts + rng.integers(200, 40_000, n)
        order = np.argsort(t, kind="stable")
        v13 = rng.random(n) < 0.72
        app = kind == _K["app_tls"]
        sni = where(app, self.names.portal, pick(self.site_name, c.site))
        fps = where(v13, "(empty)", pick(self.site_fp, c.site))
        cipher = where(v13, pick(pa.array(["TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256"]), rng.integers(0, 2, n)),
                       "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
        est = ~c.dead
        line = Z.lines("ssl", t, {
            "uid": c.uid, "id.orig_h": c.src_ip, "id.orig_p": strs(c.sport), "id.resp_h": c.dst_ip,
            "id.resp_p": strs(c.dport), "version": where(v13, "TLSv13", "TLSv12"),
            "cipher": cipher, "curve": pick(pa.array(["x25519", "secp256r1"]), (rng.random(n) < 0.2).astype(int)),
            "server_name": sni, "resumed": where(rng.random(n) < 0.2, "T", "F"),
            "next_protocol": pick(pa.array(["h2", "http/1.1", "-"]), choose(rng, n, [6, 2, 2])),
            "established": where(est, "T", "F"),
            "ssl_history": where(v13, "CsiI", "CsxknGIi"),
            "cert_chain_fps": fps, "client_cert_chain_fps": "(empty)",
            "sni_matches_cert": where(v13, "-", "T"),
            "validation_status": where(v13, "-", "ok"),
        })
        return Chunk(t[order], line.take(pa.array(order)))

    def _http(self, rng: np.random.Generator, ts: np.ndarray, kind: np.ndarray, c: Conns) -> Chunk:
        n = len(ts)
        t = ts + rng.integers(100, 20_000, n)
        order = np.argsort(t, kind="stable")
        req = self.site_requests.draw(rng, c.site)
        status = choose(rng, n, [85, 8, 4, 3])
        body = np.where(status == 1, 0, c.rb // 2)
        line = Z.lines("http", t, {
            "uid": c.uid, "id.orig_h": c.src_ip, "id.orig_p": strs(c.sport), "id.resp_h": c.dst_ip,
            "id.resp_p": "80", "trans_depth": "1", "method": "GET",
            "host": pick(self.site_name, c.site), "uri": pick(self.req_uri, req),
            "version": "1.1", "user_agent": pick(self.req_agent, req),
            "request_body_len": "0", "response_body_len": strs(body),
            "status_code": pick(pa.array(["200", "304", "302", "404"]), status),
            "status_msg": pick(pa.array(["OK", "Not Modified", "Found", "Not Found"]), status), "tags": "(empty)",
            "resp_fuids": where(body > 0, random_b62(rng, n, 17, b"F"), "-"),
            "resp_mime_types": where(body > 0, pick(self.req_mime, req), "-"),
        })
        return Chunk(t[order], line.take(pa.array(order)))

    def _kerberos(self, rng: np.random.Generator, ts: np.ndarray, kind: np.ndarray, c: Conns) -> Chunk:
        n = len(ts)
        t = ts + rng.integers(100, 5_000, n)
        order = np.argsort(t, kind="stable")
        as_req = rng.random(n) < 0.3
        fail = as_req & (rng.random(n) < 0.35)  # the first AS-REQ without pre-authentication
        user = self.users.take(pa.array(self.ws_user[np.searchsorted(self.h.ws, c.src).clip(0, len(self.h.ws) - 1)]))
        svc, realm = self.names.services, self.names.realm
        service = where(as_req, f"krbtgt/{realm}", pick(svc, rng.integers(0, len(svc), n)))
        till = (ts // 1_000_000 + 36000) * 1_000_000
        rc4 = rng.random(n) < 0.015  # a legacy service account still on RC4 (a hard negative)
        line = Z.lines("kerberos", t, {
            "uid": c.uid, "id.orig_h": c.src_ip, "id.orig_p": strs(c.sport), "id.resp_h": c.dst_ip,
            "id.resp_p": "88", "request_type": where(as_req, "AS", "TGS"),
            "client": join(user, f"/{realm}"), "service": service,
            "success": where(fail, "F", "T"),
            "error_msg": where(fail, "KDC_ERR_PREAUTH_REQUIRED", "-"),
            "till": where(fail, "-", clock.epoch_s6(till)),
            "cipher": where(fail, "-", where(rc4, "rc4-hmac",
                                                               "aes256-cts-hmac-sha1-96")),
            "forwardable": where(fail, "-", "T"),
            "renewable": where(fail, "-", "T"),
        })
        return Chunk(t[order], line.take(pa.array(order)))

    def _smb(self, rng: np.random.Generator, ts: np.ndarray, c: Conns) -> dict[str, Chunk]:
        n = len(ts)
        out = {}
        shares = self.names.shares
        fs = np.searchsorted(self.h.files, c.dst)  # the shares of the server the connection goes to
        share = self.fs_shares.draw(rng, fs)
        paths = pa.array([f"\\\\\\\\{h}\\\\{s}" for h, s, _ in shares])
        m = rng.random(n) < 0.2
        idx = np.flatnonzero(m)
        t = ts[idx] + 500
        out["zeek.smb_mapping"] = Chunk(t, Z.lines("smb_mapping", t, {
            "uid": c.uid.take(pa.array(idx)), "id.orig_h": c.src_ip.take(pa.array(idx)),
            "id.orig_p": strs(c.sport[idx]), "id.resp_h": c.dst_ip.take(pa.array(idx)), "id.resp_p": "445",
            "path": pick(paths, share[idx]),
            "service": pick(pa.array(["A:" if s[2] == "DISK" else "IPC" for s in shares]), share[idx]),
            "native_file_system": pick(pa.array(["NTFS" if s[2] == "DISK" else "-" for s in shares]), share[idx]),
            "share_type": pick(pa.array([s[2] for s in shares]), share[idx]),
        }))
        f = np.flatnonzero(rng.random(n) < 0.4)
        t = ts[f] + 900
        k = len(f)
        fi = self.fs_files.draw(rng, fs[f])  # a file of a disk share of that server
        pre = pa.array([x.split("{}")[0].replace("\\", "\\\\") for _, x in FILES])
        suf = pa.array([(x.split("{}")[1] if "{}" in x else "").replace("\\", "\\\\") for _, x in FILES])
        has = np.array(["{}" in x for _, x in FILES])
        num = where(has[fi], lpad(strs(rng.integers(0, 9999, k)), 4), pa.array([""] * k))
        fname = join(pick(pre, fi), num, pick(suf, fi))
        mtime = clock.epoch_s6(ts[f] - rng.integers(0, 400 * 86400, k) * 1_000_000)
        out["zeek.smb_files"] = Chunk(t, Z.lines("smb_files", t, {
            "uid": c.uid.take(pa.array(f)), "id.orig_h": c.src_ip.take(pa.array(f)),
            "id.orig_p": strs(c.sport[f]), "id.resp_h": c.dst_ip.take(pa.array(f)), "id.resp_p": "445",
            "fuid": random_b62(rng, k, 17, b"F"),
            "action": pick(pa.array(["SMB::FILE_OPEN", "SMB::FILE_READ", "SMB::FILE_WRITE", "SMB::FILE_CLOSE"]),
                           choose(rng, k, [55, 25, 10, 10])),
            "path": pick(paths, self.file_share[fs[f], fi]), "name": fname,
            "size": strs(lognormal_int(rng, k, 60_000, 1.5)), "times.modified": mtime, "times.accessed": mtime,
            "times.created": mtime, "times.changed": mtime,
        }))
        return out


def _history(rng: np.random.Generator, state: np.ndarray, udp: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    flat: list[str] = []
    base = {}
    for s in STATES:
        base[s] = len(flat)
        flat += list(HISTORY[s])
    counts = np.array([len(HISTORY[s]) for s in STATES])
    starts = np.array([base[s] for s in STATES])
    idx = starts[state] + (rng.random(len(state)) * counts[state]).astype(np.int64)
    flat.append("Dd")
    flat.append("D")
    idx = np.where(udp, np.where(state == 1, len(flat) - 1, len(flat) - 2), idx)
    return pa.array(flat), idx


def hash_text(s: str) -> int:
    import hashlib

    return int.from_bytes(hashlib.sha256(s.encode()).digest(), "big")


__all__ = ["ZeekGroup", "random_hex"]
