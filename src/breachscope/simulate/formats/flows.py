"""NetFlow v9/IPFIX records exported as CSV with IPFIX element names (what `nfdump`-style collectors and
nProbe templates write; read by breachscope's netflow_csv reader)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from breachscope.simulate.text import Col, join, strs

HEADER = ("flowStartMilliseconds,flowEndMilliseconds,sourceIPv4Address,destinationIPv4Address,"
          "sourceTransportPort,destinationTransportPort,protocolIdentifier,octetDeltaCount,packetDeltaCount,"
          "tcpControlBits,ingressInterface,egressInterface\n")


def lines(start_us: np.ndarray, end_us: np.ndarray, src: Col, dst: Col, sport: np.ndarray, dport: np.ndarray,
          proto: np.ndarray, octets: np.ndarray, packets: np.ndarray, flags: np.ndarray, in_if: Col,
          out_if: Col) -> pa.Array:
    return join(strs(np.asarray(start_us) // 1000), ",", strs(np.asarray(end_us) // 1000), ",", src, ",", dst, ",",
                strs(sport), ",", strs(dport), ",", strs(proto), ",", strs(octets), ",", strs(packets), ",",
                strs(flags), ",", in_if, ",", out_if, "\n")
