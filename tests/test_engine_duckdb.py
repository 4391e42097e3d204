"""The DuckDB engine's resource behaviour: which tables it holds in memory, what it does when a query
runs out of memory, and that it leaves no spill folder behind."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import duckdb
import pyarrow as pa

from breachscope.engines.duckdb_case import DuckDBEngine, open_case
from tests.conftest import run_ingest


def test_hold_in_memory_only_tables_under_the_byte_budget(tmp_path: Path) -> None:
    lines = [json.dumps({"@timestamp": f"2025-02-05T01:{i % 60:02d}:00Z", "winlog": {
        "channel": "Security", "event_id": 4624, "computer_name": "DC1", "record_id": i,
        "event_data": {"TargetUserName": f"user{i}", "CommandLine": "x" * 200 + str(i)}}}) for i in range(2000)]
    (tmp_path / "ev.json").write_text("\n".join(lines) + "\n")
    run_ingest([tmp_path / "ev.json"], tmp_path / "case")
    with open_case(tmp_path / "case") as c:
        assert c.hold_in_memory(max_bytes=10) == []
        assert c.hold_in_memory() == ["windows"]
        assert c.count("windows") == 2000


class _Starved(DuckDBEngine):
    """Fails every query that runs on more than one thread, as a wide aggregation under a tight
    memory limit does."""

    def _query(self, sql: str) -> pa.Table:
        threads = int(self.con.execute("SELECT current_setting('threads')").fetchall()[0][0])
        if threads > 1:
            raise duckdb.OutOfMemoryException("failed to allocate data of size 128.0 MiB")
        return super()._query(sql)


def test_out_of_memory_query_is_retried_on_one_thread() -> None:
    engine = _Starved.from_arrow({"t": pa.table({"a": [1, 2, 3]})})
    with engine:
        engine.con.execute("SET threads = 2")
        assert engine.query("SELECT sum(a) AS s FROM t").column("s").to_pylist() == [6]
        # the setting is restored for the next queries
        assert engine.rows("SELECT current_setting('threads')") == [(2,)]


def test_spill_folder_removed_even_when_not_closed() -> None:
    engine = DuckDBEngine()
    spill = Path(engine._spill)
    assert spill.is_dir()
    del engine
    gc.collect()
    assert not spill.exists()
