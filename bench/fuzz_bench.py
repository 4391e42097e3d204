"""Fuzz benchmark (issue 10 item 6): >= 10^6 executions over every reader and scope's statement parser.

    nice -n 10 .venv/bin/python bench/fuzz_bench.py [--execs 1000000] [--jobs 2] [--sql-share 0.5]
        [--guided-share 0.15] [--out bench-out/fuzz] [--full-every 100] [--plan-every 2] [--rss-limit-mb 2048]

Targets (tests/fuzz_harness.py says what each execution runs and what counts as a failure):
- readers: mutated evidence (seeds: tests/fuzz_corpus/<reader>/ and archive/) through the ingest worker
  as `ingest` runs it: sniffing or --format (the first input byte picks which), archive expansion, the
  reader, reject accounting; batches are validated in memory. Every --full-every-th execution also goes
  through the whole `ingest` (Parquet parts, manifest) and the case is opened and counted; so does, at the
  end, every input the guided phase kept (each reached new code) and every failing input.
- sql: mutated statements (tests/fuzz_corpus/sql/) through statement_body, literal_tokens and
  parse_statement, and (every --plan-every-th execution) Replayer.plan, the rewrite, over the scope tests'
  snapshot.

Two phases per target: a guided one (atheris: coverage-guided libFuzzer over breachscope's code; about
3x slower per execution) grows a corpus from the seeds, then a mutation loop at full speed mutates seeds
and that corpus. Without atheris (`pip install atheris`) the mutation loop does all executions. Each job is
a process of its own, in an empty scratch folder that is also its cwd, TMPDIR and HOME: after every
execution those must hold nothing but the execution's case, and an audit hook refuses Python-level writes
outside the case while it runs. Reported: executions per target and phase, time, unique failures
(signature, example input saved under --out), peak RSS per job, timeouts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the harness lives in tests/
STATS_EVERY = 500


class FuzzTimeout(BaseException):
    """One execution took longer than --timeout (a hang): past readers' `except Exception`."""


def reader_input(data: bytes) -> tuple[bytes, str, str | None]:
    """[mode][name] + content: mode >= 0x80 forces a reader (--format), else sniffing decides."""
    from tests.fuzz_harness import FILE_NAMES, READER_NAMES

    mode, name, content = (data[0], data[1], data[2:]) if len(data) >= 2 else (0, 0, data)
    forced = READER_NAMES[(mode - 0x80) % len(READER_NAMES)] if mode >= 0x80 else None
    return content, FILE_NAMES[name % len(FILE_NAMES)], forced


def sql_input(data: bytes) -> tuple[str, str, str | None, tuple[str | None, ...] | None]:
    """[dialect][command][parameters] + statement text."""
    from tests.fuzz_harness import SqlTarget

    dialect = "mysql" if (data[:1] or b"\0")[0] & 1 else "postgres"
    command = SqlTarget.COMMANDS[(data[1:2] or b"\0")[0] % len(SqlTarget.COMMANDS)]
    p = (data[2:3] or b"\0")[0] % 4
    params = None if p == 0 else ("5", "x", None, "<long param suppressed>")[:p]
    return data[3:].decode("utf-8", "replace"), dialect, command, params


# --- one job (a worker process) ----------------------------------------------------------------------------

class Job:
    def __init__(self, target: str, execs: int, out: Path, full_every: int, plan_every: int, timeout: int) -> None:
        self.target, self.limit, self.out = target, execs, out
        self.full_every, self.plan_every, self.timeout = full_every, plan_every, timeout
        self.scratch = Path.cwd()
        self.work = self.scratch / "work"
        self.stats: dict[str, Any] = {"target": target, "execs": 0, "full_path": 0, "failures": {}, "timeouts": 0,
                                      "by_status": {}, "scratch_violations": [], "max_rss_mb": 0.0,
                                      "started": time.time()}
        (out / "crashes").mkdir(parents=True, exist_ok=True)
        signal.signal(signal.SIGALRM, self._alarm)

    def _alarm(self, *_: object) -> None:
        raise FuzzTimeout(f"execution over {self.timeout} s")

    def setup(self) -> None:
        from tests import fuzz_harness as h  # imported here: atheris instruments what is imported inside its hook

        self.h = h
        self.readers = h.READER_NAMES
        self.sql = h.SqlTarget(self.scratch / "sqlsnap") if self.target == "sql" else None
        self.guard = h.WriteGuard.get()

    # input encoding: readers: [mode][name] + content; sql: [dialect][command][params] + text
    def seeds(self) -> list[bytes]:
        h = self.h
        if self.target == "readers":
            out = []
            for s in h.reader_seeds():
                forced = self.readers.index(s.folder) if s.folder in self.readers else 0
                name = h.FILE_NAMES.index("input.log")
                out += [bytes([0, name]) + s.data, bytes([0x80 + forced, name]) + s.data]
            return out
        return [bytes([0 if d == "postgres" else 1, 1, 1]) + t.encode() for d, t in h.sql_seeds()]

    def one(self, data: bytes) -> None:
        self.stats["execs"] += 1
        n = self.stats["execs"]
        signal.alarm(self.timeout)
        cpu = time.process_time()
        try:
            outcome = self._run(data, full=n % (self.full_every if self.target == "readers" else self.plan_every) == 0)
        except FuzzTimeout as exc:
            self.stats["timeouts"] += 1
            outcome = self.h.Outcome(failure=str(exc), signature="timeout")
        finally:
            signal.alarm(0)
        self._slowest(data, time.process_time() - cpu)
        if outcome.failure:
            self._record(data, outcome)
        key = f"{outcome.status}/{outcome.format}" if self.target == "readers" else str(outcome.status)
        self.stats["by_status"][key] = self.stats["by_status"].get(key, 0) + 1
        self._check_scratch(data)
        if n % STATS_EVERY == 0 or n >= self.limit:
            self.flush()
        if n >= self.limit:
            self.flush()
            os._exit(0)  # libFuzzer would also stop at -runs; exit now so that the stats are final

    def _run(self, data: bytes, full: bool) -> Any:
        h = self.h
        if self.target == "readers":
            content, fname, forced = reader_input(data)
            out = h.run_worker(content, fname, self.work, forced)
            if full and out.failure is None:
                self.stats["full_path"] += 1
                out = h.run_ingest(content, fname, self.work, forced, verify_case=True)
            return out
        if full:
            self.stats["full_path"] += 1
        return self.sql.run(*sql_input(data), plan=full)  # type: ignore[union-attr]

    def _slowest(self, data: bytes, cpu: float) -> None:
        """The slowest execution (CPU time, whatever the load) is kept: a super-linear reader shows here."""
        if cpu > self.stats.get("slowest_cpu_s", 0.0):
            self.stats["slowest_cpu_s"] = round(cpu, 3)
            self.stats["slowest_input"] = str(self.out / "slowest.bin")
            self.stats["slowest_input_bytes"] = len(data)
            (self.out / "slowest.bin").write_bytes(data)

    def _record(self, data: bytes, outcome: Any) -> None:
        sig = outcome.signature or "?"
        entry = self.stats["failures"].setdefault(sig, {"count": 0, "example": None})
        entry["count"] += 1
        if entry["example"] is None:
            name = hashlib.sha1(data).hexdigest()[:16]
            (self.out / "crashes" / f"{name}.bin").write_bytes(data)
            (self.out / "crashes" / f"{name}.txt").write_text(f"{sig}\n\n{outcome.failure}\n", encoding="utf-8")
            entry["example"] = str(self.out / "crashes" / f"{name}.bin")

    def _check_scratch(self, data: bytes) -> None:
        """cwd, TMPDIR and HOME are this job's scratch: only the work folder (emptied after each run) and the
        SQL snapshot may be there."""
        leftovers = [p for p in self.scratch.iterdir() if p.name not in ("work", "sqlsnap", "tmp", "home")]
        for sub in ("tmp", "home", "work"):
            d = self.scratch / sub
            leftovers += [p for p in d.iterdir()
                          if not (sub == "work" and p.name == "evidence" and not any(p.iterdir()))]
        if leftovers:
            self.stats["scratch_violations"].append([str(p) for p in leftovers][:5])
            self._record(data, self.h.Outcome(failure=f"written outside the case: {leftovers[:5]}",
                                              signature="scratch written"))
            for p in leftovers:
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)

    def flush(self) -> None:
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self.stats["max_rss_mb"] = round(rss, 1)
        self.stats["elapsed_s"] = round(time.time() - self.stats["started"], 1)
        tmp = self.out / "stats.json.tmp"
        tmp.write_text(json.dumps(self.stats, indent=1))
        os.replace(tmp, self.out / "stats.json")


def run_job(args: argparse.Namespace) -> None:
    out = Path(args.out)
    for sub in ("work", "tmp", "home"):
        (Path.cwd() / sub).mkdir(exist_ok=True)
    job = Job(args.worker, args.execs, out, args.full_every, args.plan_every, args.timeout)
    if args.engine == "atheris":
        import atheris

        with atheris.instrument_imports(include=["breachscope"]):
            job.setup()
        seeds = out / "seeds"
        seeds.mkdir(exist_ok=True)
        for s in job.seeds():
            (seeds / hashlib.sha1(s).hexdigest()).write_bytes(s)
        corpus = out / "corpus"
        corpus.mkdir(exist_ok=True)
        argv = [sys.argv[0], str(corpus), str(seeds), f"-runs={args.execs + 10_000}", f"-seed={args.seed}",
                "-max_len=131072", f"-rss_limit_mb={args.rss_limit_mb}", f"-timeout={args.timeout * 5}",
                "-print_final_stats=1", "-print_pcs=0", f"-artifact_prefix={out / 'artifacts'}/"]
        (out / "artifacts").mkdir(exist_ok=True)  # libFuzzer's slow-unit files: not in the scratch folder
        atheris.Setup(argv, job.one)
        atheris.Fuzz()
    else:
        job.setup()
        rnd = random.Random(args.seed)
        seeds = job.seeds() + [f.read_bytes() for d in args.corpus for f in sorted(Path(d).glob("*"))]
        job.stats["inputs_to_mutate"] = len(seeds)
        while True:
            base = rnd.choice(seeds)
            head, body = (base[:2], base[2:]) if args.worker == "readers" else (base[:3], base[3:])
            if rnd.random() < 0.1:
                head = bytes(rnd.randrange(256) for _ in head)
            others = [s[len(head):] for s in rnd.sample(seeds, min(3, len(seeds)))]
            job.one(head + job.h.mutate(body, job.h.random_ops(rnd, rnd.randint(1, 8)), others))


# --- the benchmark (parent) --------------------------------------------------------------------------------

def replay_kept(jobs: list[dict[str, Any]]) -> dict[str, Any]:
    """Inputs the fuzzer kept (each reached new code) and failing inputs, through the whole ingest."""
    from tests import fuzz_harness as h

    kept, failures, done = 0, {}, 0
    with tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as tmp:
        sql = h.SqlTarget(Path(tmp) / "snap")
        for j in jobs:
            files = sorted((Path(j["out"]) / "corpus").glob("*")) + sorted((Path(j["out"]) / "crashes").glob("*.bin"))
            for f in files:
                data = f.read_bytes()
                kept += 1
                if j["target"] == "readers":
                    content, fname, forced = reader_input(data)
                    o = h.run_ingest(content, fname, Path(tmp) / "w", forced)
                else:
                    o = sql.run(*sql_input(data))
                done += 1
                if o.failure:
                    e = failures.setdefault(o.signature, {"count": 0, "example": str(f)})
                    e["count"] += 1
        sql.close()
    return {"inputs": kept, "replayed": done, "failures": failures}


def start_job(out: Path, scratch_root: Path, name: str, target: str, execs: int, engine: str, seed: int,
              args: argparse.Namespace, corpus: list[Path]) -> tuple[dict[str, Any], subprocess.Popen[bytes]]:
    job_out = (out / name).resolve()
    job_out.mkdir()
    scratch = scratch_root / name
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch / "tmp"), "HOME": str(scratch / "home"),
           # this checkout's source first: the venv's editable install may point at another checkout
           "PYTHONPATH": os.pathsep.join((str(ROOT / "src"), str(ROOT))), "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", target, "--execs", str(execs),
           "--engine", engine, "--out", str(job_out), "--seed", str(seed), "--full-every", str(args.full_every),
           "--plan-every", str(1 if engine == "atheris" else args.plan_every),
           "--rss-limit-mb", str(args.rss_limit_mb), "--timeout", str(args.timeout)]
    for c in corpus:
        cmd += ["--corpus", str(c)]
    log = (job_out / "fuzzer.log").open("w")
    info = {"name": name, "target": target, "engine": engine, "planned": execs, "out": str(job_out)}
    return info, subprocess.Popen(cmd, cwd=scratch, env=env, stdout=log, stderr=log)


def finish(started: list[tuple[dict[str, Any], subprocess.Popen[bytes]]]) -> list[dict[str, Any]]:
    jobs = []
    for info, p in started:
        rc = p.wait()
        stats_file = Path(info["out"]) / "stats.json"
        stats = json.loads(stats_file.read_text()) if stats_file.exists() else {}
        jobs.append({**info, "rc": rc, **stats})
    return jobs


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--execs", type=int, default=1_000_000, help="executions in all (both targets, both phases)")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes per phase (at least one per target)")
    ap.add_argument("--sql-share", type=float, default=0.5, help="share of the executions for the SQL target")
    ap.add_argument("--guided-share", type=float, default=0.15, help="share of the executions run by atheris")
    ap.add_argument("--engine", choices=("atheris", "mutate"), default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=str(ROOT / "bench-out" / "fuzz"))
    ap.add_argument("--full-every", type=int, default=100, help="readers: whole ingest every N executions")
    ap.add_argument("--plan-every", type=int, default=2, help="sql: Replayer.plan every N executions")
    ap.add_argument("--rss-limit-mb", type=int, default=2048)
    ap.add_argument("--timeout", type=int, default=60, help="seconds one execution may take (a hang)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-replay", action="store_true")
    ap.add_argument("--worker", choices=("readers", "sql"), help=argparse.SUPPRESS)
    ap.add_argument("--corpus", action="append", default=[], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        run_job(args)
        return 0
    try:
        import atheris  # noqa: F401

        guided = args.guided_share
    except ImportError:
        print("atheris is not installed (pip install atheris): the mutation loop runs every execution",
              file=sys.stderr)
        guided = 0.0

    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    scratch_root = Path(tempfile.mkdtemp(prefix="fuzz-scratch-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    targets = {"readers": round(args.execs * (1 - args.sql_share)), "sql": round(args.execs * args.sql_share)}
    targets = {t: n for t, n in targets.items() if n > 0}
    per_target = max(1, args.jobs // len(targets))
    t0 = time.time()
    phase1: list[dict[str, Any]] = []
    if guided > 0:
        phase1 = finish([start_job(out, scratch_root, f"guided-{t}", t, round(n * guided), "atheris", args.seed, args,
                                   []) for t, n in targets.items()])
    t1 = time.time()
    started = []
    for t, n in targets.items():
        done = sum(j.get("execs", 0) for j in phase1 if j["target"] == t)
        kept = [Path(j["out"]) / "corpus" for j in phase1 if j["target"] == t]
        for k, execs in enumerate(split(max(0, n - done), per_target)):
            started.append(start_job(out, scratch_root, f"mutate-{t}-{k}", t, execs, "mutate", args.seed + 1 + k,
                                     args, kept))
    phase2 = finish(started)
    t2 = time.time()
    shutil.rmtree(scratch_root, ignore_errors=True)
    jobs = phase1 + phase2
    replay = None if args.no_replay else replay_kept(jobs)
    summary = {
        "wall_s": round(t2 - t0, 1), "guided_wall_s": round(t1 - t0, 1), "mutate_wall_s": round(t2 - t1, 1),
        "load_avg_at_end": [round(x, 2) for x in os.getloadavg()],
        "execs": sum(j.get("execs", 0) for j in jobs),
        "by_target": {t: sum(j.get("execs", 0) for j in jobs if j["target"] == t) for t in targets},
        "by_engine": {e: sum(j.get("execs", 0) for j in jobs if j["engine"] == e) for e in ("atheris", "mutate")},
        "whole_ingest_execs": sum(j.get("full_path", 0) for j in jobs if j["target"] == "readers"),
        "replay_plans": sum(j.get("full_path", 0) for j in jobs if j["target"] == "sql"),
        "failures": {f"{j['name']}: {sig}": v for j in jobs for sig, v in j.get("failures", {}).items()},
        "timeouts": sum(j.get("timeouts", 0) for j in jobs),
        "slow_units_over_10s": sum(len(list((Path(j["out"]) / "artifacts").glob("slow-unit-*"))) for j in jobs),
        "slowest_cpu_s": {j["name"]: [j.get("slowest_cpu_s"), j.get("slowest_input_bytes")] for j in jobs},
        "max_rss_mb": max((j.get("max_rss_mb", 0) for j in jobs), default=0),
        "rss_limit_mb": args.rss_limit_mb,
        "jobs": [{k: j.get(k) for k in ("name", "planned", "execs", "rc", "elapsed_s", "max_rss_mb", "full_path",
                                        "inputs_to_mutate", "by_status")} for j in jobs],
        "replay_of_kept_inputs": replay,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))
    bad = summary["failures"] or (replay and replay["failures"]) or any(j["rc"] != 0 for j in jobs) \
        or summary["max_rss_mb"] > args.rss_limit_mb
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
