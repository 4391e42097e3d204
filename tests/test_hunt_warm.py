"""`hunt EVIDENCE` reuses the case it ingested while the evidence is unchanged (issue 15, the warm path):
real EVTX samples from ../shared copied to tmp_path, the cache pointed at tmp_path (BREACHSCOPE_CACHE_DIR)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from breachscope.ingest import case_cache
from tests.conftest import DATASETS

CA = DATASETS / "evtx-attack-samples" / "Credential Access"
SAMPLES = ("CA_DCSync_4662.evtx", "dc_applog_ntdsutil_dfir_325_326_327.evtx", "kerberos_pwd_spray_4771.evtx",
           "CA_4624_4625_LogonType2_LogonProc_chrome.evtx")
REUSED = "evidence unchanged"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    ev = tmp_path / "evidence"
    ev.mkdir()
    for name in SAMPLES:
        shutil.copyfile(CA / name, ev / name)
    return ev


def hunt(tmp_path: Path, evidence: Path, *extra: str) -> tuple[bytes, str]:
    """(findings as JSON lines, stderr) of `breachscope hunt evidence` with the cache in tmp_path."""
    out = tmp_path / f"out-{len(list(tmp_path.glob('out-*')))}.jsonl"
    r = subprocess.run(_cmd(evidence, out, *extra), capture_output=True, text=True, timeout=600, env=_env(tmp_path))
    assert r.returncode == 0, r.stderr
    return out.read_bytes(), r.stderr


def _cmd(evidence: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "breachscope.cli.main", "hunt", str(evidence), "--format", "jsonl", "--out",
            str(out), *extra]


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "BREACHSCOPE_CACHE_DIR": str(tmp_path / "cache")}


def cases(tmp_path: Path) -> list[Path]:
    root = tmp_path / "cache" / "cases"
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")) if root.is_dir() else []


def test_warm_run_reuses_the_case_and_finds_the_same(tmp_path: Path, folder: Path) -> None:
    cold, err = hunt(tmp_path, folder)
    assert REUSED not in err and cold.count(b"\n") >= 5  # DCSync, NTDS.dit copy, password spraying
    assert len(cases(tmp_path)) == 1
    warm, err = hunt(tmp_path, folder)
    assert REUSED in err and "reused the case ingested at" in err
    assert warm == cold
    uncached, _ = hunt(tmp_path, folder, "--no-cache")
    assert uncached == cold


@pytest.mark.parametrize("change", ["modified", "added", "removed"])
def test_changed_evidence_builds_a_new_case(tmp_path: Path, folder: Path, change: str) -> None:
    held = tmp_path / "held.evtx"
    if change == "added":  # the DCSync log comes later, under another name
        (folder / SAMPLES[0]).rename(held)
    before, _ = hunt(tmp_path, folder)
    built = (cases(tmp_path)[0] / "evidence.json").read_text()
    if change == "modified":  # the NTDS.dit copy log replaced by a logon log: that finding goes
        (folder / SAMPLES[1]).write_bytes((CA / "CA_hashdump_4663_4656_lsass_access.evtx").read_bytes())
    elif change == "added":
        held.rename(folder / "more.evtx")
    else:
        (folder / SAMPLES[0]).unlink()  # the DCSync findings go
    after, err = hunt(tmp_path, folder)
    assert REUSED not in err
    assert after != before
    assert len(cases(tmp_path)) == 1 and (cases(tmp_path)[0] / "evidence.json").read_text() != built
    fresh, _ = hunt(tmp_path, folder, "--no-cache")
    assert after == fresh  # what a cold run finds
    again, err = hunt(tmp_path, folder)
    assert REUSED in err and again == after


def test_no_cache_never_writes_the_cache(tmp_path: Path, folder: Path) -> None:
    hunt(tmp_path, folder, "--no-cache")
    assert not (tmp_path / "cache" / "cases").exists()


def test_an_unwritable_cache_falls_back_to_a_temporary_case(tmp_path: Path, folder: Path) -> None:
    expected, _ = hunt(tmp_path, folder, "--no-cache")
    (tmp_path / "cache" / "cases").write_text("a file where the folder of cached cases should be")
    found, err = hunt(tmp_path, folder)
    assert found == expected and "temporary case" in err and "Traceback" not in err


@pytest.mark.parametrize("damage", ["part deleted", "part truncated", "manifest deleted", "evidence.json torn",
                                    "case folder deleted"])
def test_a_damaged_cached_case_is_rebuilt(tmp_path: Path, folder: Path, damage: str) -> None:
    cold, _ = hunt(tmp_path, folder)
    entry = cases(tmp_path)[0]
    parts = sorted((entry / "case" / "events").rglob("*.parquet"))
    assert parts
    if damage == "part deleted":
        parts[0].unlink()
    elif damage == "part truncated":
        with parts[-1].open("r+b") as fh:
            fh.truncate(parts[-1].stat().st_size // 2)
    elif damage == "manifest deleted":
        (entry / "case" / "manifest.jsonl").unlink()
    elif damage == "evidence.json torn":
        text = (entry / "evidence.json").read_text()
        (entry / "evidence.json").write_text(text[: len(text) // 2])
    else:
        shutil.rmtree(entry / "case")
    again, err = hunt(tmp_path, folder)
    assert REUSED not in err and "Traceback" not in err
    assert again == cold
    assert REUSED in hunt(tmp_path, folder)[1]  # and the rebuilt case is good


def test_two_concurrent_hunts_both_succeed(tmp_path: Path, folder: Path) -> None:
    expected, _ = hunt(tmp_path, folder, "--no-cache")
    outs = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    procs = [subprocess.Popen(_cmd(folder, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=_env(tmp_path)) for out in outs]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    assert all(out.read_bytes() == expected for out in outs)
    assert len(cases(tmp_path)) == 1
    assert not [p for p in (tmp_path / "cache" / "cases").iterdir() if p.name.startswith(".")]  # no leftovers
    assert REUSED in hunt(tmp_path, folder)[1]


def test_a_killed_build_leaves_no_case_that_is_served(tmp_path: Path, folder: Path) -> None:
    """An ingest that dies mid-way: nothing is served from it, and the next hunt builds the case."""
    root = tmp_path / "cache" / "cases"

    def dies(paths: list[str], case: Path) -> int:
        case.mkdir(parents=True)
        (case / "case.json").write_text("{}")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt), case_cache.cached_case([str(folder)], root, dies):
        pass
    assert not list(root.iterdir()) or all(p.suffix == ".lock" for p in root.iterdir())
    _, err = hunt(tmp_path, folder)
    assert REUSED not in err


def test_the_cache_keeps_the_most_recently_used_cases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Eviction by last use, with a stand-in ingest (no evidence reading: this is about the bookkeeping)."""
    monkeypatch.setattr(case_cache, "KEEP", 2)
    root = tmp_path / "cases"
    built: list[str] = []

    def fake(paths: list[str], case: Path) -> int:
        case.mkdir(parents=True)
        (case / "case.json").write_text("{}")
        built.append(paths[0])
        return 0

    files = []
    for i in range(4):
        f = tmp_path / f"ev{i}.json"
        f.write_text("{}\n")
        files.append(f)
    for f in files[:2]:
        with case_cache.cached_case([str(f)], root, fake) as c:
            assert c is not None and not c.reused
    os.utime(root / f"{case_cache.evidence_key([str(files[0])])}.lock", ns=(1, 1))  # files[0]: used least lately
    with case_cache.cached_case([str(files[2])], root, fake):
        pass
    kept = {p.name for p in root.iterdir() if p.is_dir()}
    assert kept == {case_cache.evidence_key([str(f)]) for f in files[1:3]}
    assert not (root / f"{case_cache.evidence_key([str(files[0])])}.lock").exists()
