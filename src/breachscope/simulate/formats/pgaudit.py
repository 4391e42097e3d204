"""PostgreSQL stderr log lines with pgAudit records, as the server writes them with
log_line_prefix = '%m [%p] %q%u@%d %r %a ', log_connections/log_disconnections on and
pgaudit.log = 'read, write, ddl', log_parameter = on, log_relation = on, log_catalog = off.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from breachscope.simulate.clock import pg_local
from breachscope.simulate.text import Col, join, strs, where


def csv_field(value: str) -> str:
    """pgAudit's append_valid_csv: quoted only when it holds a comma, a quote or a line break."""
    if any(c in value for c in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


def param_field(params: Sequence[str | None] | None) -> str:
    """The PARAMETER field: <none>, or the parameters as a CSV list inside one CSV field."""
    if params is None:
        return "<not logged>"
    if not params:
        return "<none>"
    return csv_field(",".join("" if p is None else csv_field(p) for p in params))


def tabbed(text: str) -> str:
    """The server starts every continuation line of a log entry with a tab."""
    return text.replace("\n", "\n\t")


def csv_field_arr(arr: pa.Array) -> pa.Array:
    needs = pc.match_substring_regex(arr, r'[,"\n\r]')
    quoted = join('"', pc.replace_substring(arr, '"', '""'), '"')
    return pc.if_else(needs, quoted, arr)


def param_field_arr(params: Sequence[pa.Array]) -> pa.Array:
    """Vectorized param_field for non-null parameters."""
    parts: list[Col] = []
    for i, p in enumerate(params):
        parts += ([] if i == 0 else [","]) + [csv_field_arr(p)]
    return csv_field_arr(join(*parts) if len(parts) > 1 else parts[0])


def prefix(ts_us: np.ndarray, pid: Col, user: Col, db: Col, client: Col, app: Col) -> list[Col]:
    return [pg_local(ts_us), " [", pid, "] ", user, "@", db, " ", client, " ", app, " "]


def audit_lines(ts_us: np.ndarray, pid: Col, user: Col, db: Col, client: Col, app: Col, stmt_id: Col, sub_id: Col,
                klass: Col, command: Col, obj_type: Col, obj_name: Col, statement: Col, params: Col) -> pa.Array:
    """`statement` and `params` are finished fields (csv_field + tabbed of the text)."""
    return join(*prefix(ts_us, pid, user, db, client, app), "LOG:  AUDIT: SESSION,", stmt_id, ",", sub_id, ",",
                klass, ",", command, ",", obj_type, ",", obj_name, ",", statement, ",", params, "\n")


def client_text(ip: Col, port: Col) -> Col:
    return join(ip, "(", port, ")") if not isinstance(ip, str) or not isinstance(port, str) else f"{ip}({port})"


def connection_lines(ts_received: np.ndarray, ts_authorized: np.ndarray, pid: Col, ip: Col, port: Col, user: Col,
                     db: Col, app: Col) -> tuple[pa.Array, pa.Array]:
    client = join(ip, "(", port, ")")
    received = join(*prefix(ts_received, pid, "[unknown]", "[unknown]", client, "[unknown]"),
                    "LOG:  connection received: host=", ip, " port=", port, "\n")
    # a client that sets no application_name (psqlODBC) gets none on this line
    named: Col = "" if isinstance(app, str) and not app else join(" application_name=", app)
    authorized = join(*prefix(ts_authorized, pid, user, db, client, "[unknown]"),
                      "LOG:  connection authorized: user=", user, " database=", db, named, "\n")
    return received, authorized


def disconnection_lines(ts_us: np.ndarray, pid: Col, ip: Col, port: Col, user: Col, db: Col, app: Col,
                        session_us: np.ndarray) -> pa.Array:
    client = join(ip, "(", port, ")")
    return join(*prefix(ts_us, pid, user, db, client, app), "LOG:  disconnection: session time: ",
                session_time(session_us), " user=", user, " database=", db, " host=", ip, " port=", port, "\n")


def session_time(us: np.ndarray) -> pa.Array:
    """h:mm:ss.mmm as PostgreSQL prints a session's length."""
    ms = np.asarray(us, dtype=np.int64) // 1000
    s, ms = divmod(ms, 1000)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    from breachscope.simulate.text import lpad

    return join(strs(h), ":", lpad(strs(m), 2), ":", lpad(strs(s), 2), ".", lpad(strs(ms), 3))


def statement_field(sql: str) -> str:
    return tabbed(csv_field(sql))


def params_text(params: Sequence[str | None] | None) -> str:
    return tabbed(param_field(params))


__all__ = ["audit_lines", "connection_lines", "csv_field", "disconnection_lines", "param_field", "param_field_arr",
           "params_text", "statement_field", "where"]
