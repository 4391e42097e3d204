"""WindowsBuilder: a field named twice in one event (two keys that are the same field once their spaces
are removed) never spills into another event's row, whatever the batch holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from breachscope.ingest.context import IngestOptions, ReadContext, SourceInfo
from breachscope.ingest.windows.events import SYSTEM_NAMES, WindowsBuilder


@pytest.mark.parametrize("others", [0, 1, 3])
def test_promoted_field_twice_in_one_event_keeps_its_last_value(tmp_path: Path, others: int) -> None:
    path = tmp_path / "x.json"
    path.write_text("{}\n", encoding="utf-8")
    ctx = ReadContext(source=SourceInfo("x.json", path, "ab" * 32, 3, 0.0), options=IngestOptions())
    builder = WindowsBuilder(ctx, "nxlog")
    system = tuple(None for _ in SYSTEM_NAMES)
    builder.add(1, 0, system, {"Process Name": "C:\\a.exe", "ProcessName": "C:\\b.exe", "Threat Name": "EICAR"})
    for i in range(others):  # before the fix, a batch of as many names as rows (2 here) shifted them
        builder.add(2 + i, 0, system, {"Image": "C:\\c.exe"})
    batch = builder.flush()
    assert batch.column("ProcessName").to_pylist() == ["C:\\b.exe", *[None] * others]
    extra = batch.column("extra").to_pylist()
    assert extra[0] == [("ThreatName", "EICAR")] and all(e == [] for e in extra[1:])
