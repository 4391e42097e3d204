"""Syslog lines as an rsyslog collector stores them (RSYSLOG_FileFormat: RFC 3339 time, host, message):
Cisco IOS (sequence number, origin host name, device clock in local time), Cisco ASA messages and Linux hosts'
programs (sshd, systemd-logind)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from breachscope.simulate.clock import cisco_local, rfc3339_local
from breachscope.simulate.text import Col, join, strs


def ios_lines(ts_us: np.ndarray, host: Col, seq: np.ndarray, mnemonic: Col, text: Col,
              device_lag_us: np.ndarray | None = None) -> pa.Array:
    """`<received> host seq: host: <device time>: %FAC-SEV-MNEMONIC: text` (device clock a few ms earlier)."""
    ts_us = np.asarray(ts_us, dtype=np.int64)
    lag = device_lag_us if device_lag_us is not None else np.full(len(ts_us), 2_000, dtype=np.int64)
    return join(rfc3339_local(ts_us), " ", host, " ", strs(seq), ": ", host, ": ", cisco_local(ts_us - lag), ": %",
                mnemonic, ": ", text, "\n")


def asa_lines(ts_us: np.ndarray, host: Col, level_and_id: Col, text: Col) -> pa.Array:
    """`<received> host %ASA-6-302013: text`."""
    return join(rfc3339_local(np.asarray(ts_us, dtype=np.int64)), " ", host, " %ASA-", level_and_id, ": ", text, "\n")


def linux_lines(ts_us: np.ndarray, host: Col, program: Col, pid: Col, text: Col) -> pa.Array:
    """`<received> host program[pid]: text` (a Linux host's rsyslog forwarding to the collector)."""
    return join(rfc3339_local(np.asarray(ts_us, dtype=np.int64)), " ", host, " ", program, "[", pid, "]: ", text, "\n")
