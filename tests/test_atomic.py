"""model/atomic.py: every file breachscope puts in place is the old one or the new one, never half."""

from __future__ import annotations

from pathlib import Path

import pytest

from breachscope.model.atomic import atomic_path, atomic_write, move_into_place, temp_path


def test_a_write_replaces_the_whole_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "summary.json"
    target.write_text("old\n" * 1000)
    atomic_write(target, "new\r\n")  # text as given: no newline translation
    assert target.read_bytes() == b"new\r\n"
    atomic_write(target, b"\x00bytes", durable=True)
    assert target.read_bytes() == b"\x00bytes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]


def test_a_failed_write_keeps_the_old_file_and_removes_its_temporary(tmp_path: Path) -> None:
    target = tmp_path / "subjects.parquet"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="killed"), atomic_path(target) as tmp:
        tmp.write_bytes(b"half of the new")
        raise RuntimeError("killed half-way")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["subjects.parquet"]


def test_temporary_names_are_hidden_beside_the_target(tmp_path: Path) -> None:
    tmp = temp_path(tmp_path / "f.csv")
    assert tmp.parent == tmp_path and tmp.name.startswith(".f.csv.") and tmp.name.endswith(".tmp")
    part = tmp_path / "part.parquet.tmp"
    part.write_bytes(b"rows")
    move_into_place(part, tmp_path / "part.parquet", durable=True)
    assert (tmp_path / "part.parquet").read_bytes() == b"rows" and not part.exists()
