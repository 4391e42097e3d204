"""Zeek ASCII (TSV) logs, as Zeek 6 writes them by default."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from breachscope.simulate.clock import epoch_s6, zeek_open_text
from breachscope.simulate.text import decimal6, join

_ID = [("uid", "string"), ("id.orig_h", "addr"), ("id.orig_p", "port"), ("id.resp_h", "addr"), ("id.resp_p", "port")]
FIELDS: dict[str, list[tuple[str, str]]] = {
    "conn": [("ts", "time"), *_ID, ("proto", "enum"), ("service", "string"), ("duration", "interval"),
             ("orig_bytes", "count"), ("resp_bytes", "count"), ("conn_state", "string"), ("local_orig", "bool"),
             ("local_resp", "bool"), ("missed_bytes", "count"), ("history", "string"), ("orig_pkts", "count"),
             ("orig_ip_bytes", "count"), ("resp_pkts", "count"), ("resp_ip_bytes", "count"),
             ("tunnel_parents", "set[string]")],
    "dns": [("ts", "time"), *_ID, ("proto", "enum"), ("trans_id", "count"), ("rtt", "interval"), ("query", "string"),
            ("qclass", "count"), ("qclass_name", "string"), ("qtype", "count"), ("qtype_name", "string"),
            ("rcode", "count"), ("rcode_name", "string"), ("AA", "bool"), ("TC", "bool"), ("RD", "bool"),
            ("RA", "bool"), ("Z", "count"), ("answers", "vector[string]"), ("TTLs", "vector[interval]"),
            ("rejected", "bool")],
    "http": [("ts", "time"), *_ID, ("trans_depth", "count"), ("method", "string"), ("host", "string"),
             ("uri", "string"), ("referrer", "string"), ("version", "string"), ("user_agent", "string"),
             ("origin", "string"), ("request_body_len", "count"), ("response_body_len", "count"),
             ("status_code", "count"), ("status_msg", "string"), ("info_code", "count"), ("info_msg", "string"),
             ("tags", "set[enum]"), ("username", "string"), ("password", "string"), ("proxied", "set[string]"),
             ("orig_fuids", "vector[string]"), ("orig_filenames", "vector[string]"),
             ("orig_mime_types", "vector[string]"), ("resp_fuids", "vector[string]"),
             ("resp_filenames", "vector[string]"), ("resp_mime_types", "vector[string]")],
    "ssl": [("ts", "time"), *_ID, ("version", "string"), ("cipher", "string"), ("curve", "string"),
            ("server_name", "string"), ("resumed", "bool"), ("last_alert", "string"), ("next_protocol", "string"),
            ("established", "bool"), ("ssl_history", "string"), ("cert_chain_fps", "vector[string]"),
            ("client_cert_chain_fps", "vector[string]"), ("sni_matches_cert", "bool"),
            ("validation_status", "string")],
    "smb_files": [("ts", "time"), *_ID, ("fuid", "string"), ("action", "enum"), ("path", "string"),
                  ("name", "string"), ("size", "count"), ("prev_name", "string"), ("times.modified", "time"),
                  ("times.accessed", "time"), ("times.created", "time"), ("times.changed", "time")],
    "smb_mapping": [("ts", "time"), *_ID, ("path", "string"), ("service", "string"),
                    ("native_file_system", "string"), ("share_type", "string")],
    "kerberos": [("ts", "time"), *_ID, ("request_type", "string"), ("client", "string"), ("service", "string"),
                 ("success", "bool"), ("error_msg", "string"), ("from", "time"), ("till", "time"),
                 ("cipher", "string"), ("forwardable", "bool"), ("renewable", "bool"),
                 ("client_cert_subject", "string"), ("client_cert_fuid", "string"),
                 ("server_cert_subject", "string"), ("server_cert_fuid", "string")],
    "dce_rpc": [("ts", "time"), *_ID, ("rtt", "interval"), ("named_pipe", "string"), ("endpoint", "string"),
                ("operation", "string")],
    # written by the story only (RDP brute force, SSH, FTP): the noise has no such sessions
    "rdp": [("ts", "time"), *_ID, ("cookie", "string"), ("result", "string"), ("security_protocol", "string"),
            ("client_channels", "vector[string]"), ("keyboard_layout", "string"), ("client_build", "string"),
            ("client_name", "string"), ("client_dig_product_id", "string"), ("desktop_width", "count"),
            ("desktop_height", "count"), ("requested_color_depth", "string"), ("cert_type", "string"),
            ("cert_count", "count"), ("cert_permanent", "bool"), ("encryption_level", "string"),
            ("encryption_method", "string")],
    "ssh": [("ts", "time"), *_ID, ("version", "count"), ("auth_success", "bool"), ("auth_attempts", "count"),
            ("direction", "enum"), ("client", "string"), ("server", "string"), ("cipher_alg", "string"),
            ("mac_alg", "string"), ("compression_alg", "string"), ("kex_alg", "string"), ("host_key_alg", "string"),
            ("host_key", "string")],
    "ftp": [("ts", "time"), *_ID, ("user", "string"), ("password", "string"), ("command", "string"),
            ("arg", "string"), ("mime_type", "string"), ("file_size", "count"), ("reply_code", "count"),
            ("reply_msg", "string"), ("data_channel.passive", "bool"), ("data_channel.orig_h", "addr"),
            ("data_channel.resp_h", "addr"), ("data_channel.resp_p", "port"), ("fuid", "string")],
}
LOGS = tuple(FIELDS)


def header(log: str, opened_us: int) -> str:
    names = "\t".join(f for f, _ in FIELDS[log])
    types = "\t".join(t for _, t in FIELDS[log])
    return ("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n"
            f"#path\t{log}\n#open\t{zeek_open_text(opened_us)}\n#fields\t{names}\n#types\t{types}\n")


def footer(closed_us: int) -> str:
    return f"#close\t{zeek_open_text(closed_us)}\n"


def escape(arr: pa.Array) -> pa.Array:
    """Zeek's ASCII writer doubles backslashes (SMB paths) and escapes the separator."""
    return pc.replace_substring(pc.replace_substring(arr, "\\", "\\\\"), "\t", "\\x09")


def lines(log: str, ts_us: np.ndarray, cols: dict[str, pa.Array | str]) -> pa.Array:
    """Records of one log type: `cols` maps field names to text columns or constants; absent = unset."""
    parts: list[pa.Array | str] = [epoch_s6(ts_us)]
    for name, _ in FIELDS[log][1:]:
        value = cols.get(name, "-")
        parts += ["\t", value]
    parts.append("\n")
    return join(*parts)


def interval(seconds: np.ndarray) -> pa.Array:
    """Durations as Zeek prints them (6 decimals)."""
    return decimal6(np.maximum(np.round(np.asarray(seconds, dtype=np.float64) * 1e6).astype(np.int64), 0))
