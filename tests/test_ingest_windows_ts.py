"""The windows ts column: events.ts_array (Arrow for the usual ISO texts, the odd ones one by one) gives
what batch.timestamps() gives for the same values, on every EVTX record of the shared samples and on
odd texts, in any batch composition."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
from evtx import PyEvtxParser

from breachscope.ingest.batch import timestamps, to_array
from breachscope.ingest.timeparse import parse_ts_us
from breachscope.ingest.windows.events import ts_array
from breachscope.ingest.windows.evtx import _attr
from breachscope.model.schema import TS

EVTX_FOLDERS = ("evtx-attack-samples", "deepbluecli-evtx", "evtx-parser-samples")
ODD: list[Any] = [
    "1601-01-01T00:00:00.000000Z", "2018-08-08T03:47:41.4751476Z UTC", "2019-02-30T00:00:00Z",
    "0000-01-01T00:00:00Z", "2019-02-13T15:43:25.402914Z", "2019-02-13T15:43:25Z", "2019-02-13 15:43:25",
    "2019-02-13T15:43:25+02:00", "2019-02-13T23:59:60Z", "9999-12-31T23:59:59.999999Z", "garbage", "",
    None, 1_550_000_000_000_000, "2019-13-01T00:00:00Z", " 2019-02-13T15:43:25Z ",
]


def _evtx_times(datasets: Path) -> list[Any]:
    """What evtx.read hands the builder as ts, for every record the parser yields."""
    out: list[Any] = []
    for folder in EVTX_FOLDERS:
        for path in sorted((datasets / folder).rglob("*.evtx")):
            try:
                records = PyEvtxParser(str(path)).records_json()
            except (RuntimeError, OSError):
                continue
            while True:
                try:
                    rec = next(records)
                except StopIteration:
                    break
                except Exception:  # a bad record: evtx.read rejects it
                    continue
                try:
                    system = orjson.loads(rec["data"])["Event"]["System"]  # type: ignore[index]
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    continue
                out.append(_attr(system.get("TimeCreated"), "SystemTime") or rec["timestamp"])  # type: ignore[index]
    return out


def _same(values: list[Any]) -> None:
    try:
        expected = timestamps(values)
    except pa.ArrowTypeError:  # texts mixed with numbers: batch.timestamps raised (the reader died with a
        # traceback, e.g. on an evtx_json SystemTime that is a number); each value is now read on its own
        expected = pa.array([parse_ts_us(v) for v in values], pa.int64()).cast(TS)
    assert to_array(ts_array(values), TS).equals(expected)


def test_evtx_timestamps_as_before(datasets: Path) -> None:
    values = _evtx_times(datasets)
    assert len(values) > 30_000
    _same(values)
    for size in (1, 7, 4096):  # batches of many sizes, some holding the 1601 record or a " UTC" text
        for start in range(0, len(values), size * 13):
            _same(values[start:start + size])


def test_odd_timestamps_as_before() -> None:
    rnd = random.Random(15)
    usual = ["2019-02-13T15:43:25.402914Z", "2020-01-01T00:00:00Z"]
    for one in ODD:
        _same([one])
        _same([*usual, one, *usual])
    for _ in range(200):
        _same([rnd.choice(ODD + usual) for _ in range(rnd.randint(1, 12))])
