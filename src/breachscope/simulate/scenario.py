"""One simulation run: the network, the order database, the story, then the evidence (in parallel)."""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from multiprocessing.context import BaseContext

from breachscope.model.outdir import claim_folder
from breachscope.model.progress import report
from breachscope.simulate import (
    benign,
    clock,
    datastory,
    episodes,
    network,
    schedule,
    snapshot,
    sources,
    truth,
)
from breachscope.simulate.attack import Attack, StoryInputs
from breachscope.simulate.config import SimConfig
from breachscope.simulate.noise.devices import Firewall, Flows, Routers
from breachscope.simulate.noise.linux import LinuxSyslog
from breachscope.simulate.noise.postgres import Postgres
from breachscope.simulate.noise.windows import DcSecurity, MemberSecurity, Sysmon
from breachscope.simulate.noise.zeek import ZeekGroup
from breachscope.simulate.rng import rng_for
from breachscope.simulate.story import Story
from breachscope.simulate.streams import Context, GroupResult, Injected, noise_counts, run_group

#: the log groups, most expensive first (they are spread over the worker processes in this order)
GROUPS = {g.name: g for g in (Sysmon, ZeekGroup, MemberSecurity, DcSecurity, Firewall, Postgres, Flows, Routers,
                               LinuxSyslog)}
OUR_OUTPUTS = ("evidence", "snapshot", "inventory.yaml", "truth.json")


@dataclass
class SimSummary:
    out: str
    records: int
    noise_records: int
    files: int
    bytes: int
    seconds: float
    organizations: int
    by_group: dict[str, int] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)  # seconds per phase (not part of the output files)


def _prepare(cfg: SimConfig) -> None:
    out = cfg.out
    # a folder holding an earlier simulation (marked, or with its truth.json) is ours to rewrite
    if claim_folder(out, "simulate", also_ours=lambda f: (f / "truth.json").is_file()):
        for name in OUR_OUTPUTS:  # only what an earlier run wrote
            p = out / name
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            elif p.exists() or p.is_symlink():
                p.unlink()
    out.mkdir(parents=True, exist_ok=True)


def _work(args: tuple) -> GroupResult | None:
    if args[0] == "dump":
        snapshot.write_dump(args[1], args[2])
        return None
    cfg, name, count, injected, silence, refs = args
    clock.use(cfg.scenario_spec.period.clock_period())  # a worker process starts on the default period
    net = network.build(cfg.scenario_spec.network, cfg.seed, cfg.events)
    group = GROUPS[name](Context(cfg, net, count, silence, refs))
    return run_group(cfg, group, count, injected, sources.of_network(net))


def run(cfg: SimConfig) -> SimSummary:
    cfg = cfg.validate()
    with clock.using(cfg.scenario_spec.period.clock_period()):
        return _run(cfg)


def _run(cfg: SimConfig) -> SimSummary:
    started = time.perf_counter()
    phases: dict[str, float] = {}
    mark = [started]

    def phase(name: str) -> None:
        now = time.perf_counter()
        phases[name] = round(now - mark[0], 3)
        mark[0] = now

    _prepare(cfg)
    report("the database, its snapshot and the truth of the attacker's statements")
    net = network.build(cfg.scenario_spec.network, cfg.seed, cfg.events)
    data = datastory.build_story(cfg, cfg.out)
    phase("snapshot_and_truth_queries")
    report("the attack and the story around it")
    story = Story(net, rng_for(cfg.seed, "story"))
    story.database, story.app_name = data.database, data.refs.workload.app_name
    queries, results = data.queries, data.results
    spec = cfg.scenario_spec.attack
    attack = Attack(net, story, spec, rng_for(cfg.seed, "attack", cfg.variant)).build(
        spec.variants[cfg.variant], StoryInputs(queries, results, cfg.out))
    refs = data.refs
    schedule.add(story, net, refs.workload, data.dump_bytes, cfg.scenario_spec.routine)
    benign.add(story, net, spec, cfg.scenario_spec.routine.steps, StoryInputs(queries, results, cfg.out),
               rng_for(cfg.seed, "routine steps"))
    silence = {h: [(t, 2**62)] for h, t in attack.silence.items()}
    sections = {}
    for name in cfg.episodes:
        sections[name] = episodes.builder(name)(story, net, cfg, rng_for(cfg.seed, "episode", name))
        for host, quiet_from, quiet_to in episodes.silenced(name, sections[name]):
            silence.setdefault(host, []).append((quiet_from, quiet_to))
    story.render()
    phase("story")
    spec_net = cfg.scenario_spec.network  # a group whose volume depends on the scenario's noise settings
    collected = sources.of_network(net)
    outputs = {name: {o.key for o in g(Context(cfg, net, 0, silence, refs)).outputs()} for name, g in GROUPS.items()}
    active = [name for name, keys in outputs.items() if any(collected.collects(k) for k in keys)]
    counts = noise_counts(cfg, {name: getattr(GROUPS[name], "share_for", lambda _, g=GROUPS[name]: g.share)(spec_net)
                                for name in active})
    jobs: list[tuple] = []
    not_collected: Counter[str] = Counter()  # the story's records in logs the organization does not keep, by tag
    for name, keys in outputs.items():
        injected: dict[str, list[Injected]] = {}
        for k in keys & set(story.records):
            written, left_out = collected.story_records(k, story.records[k])
            if collected.collects(k):
                injected[k] = written
            not_collected.update(r.tag for r in left_out if r.tag)
        if name in active:
            jobs.append((cfg, name, counts[name], injected, silence, refs))
    stray = set(story.records) - set().union(*outputs.values())
    if stray:
        raise RuntimeError(f"story records for logs nobody writes: {sorted(stray)}")
    dump, truth_data = data.dump, data.without_tables()
    del data, results
    jobs.insert(2, ("dump", cfg.out / "snapshot", dump))  # the SQL dump is written beside the logs
    group_results = [r for r in _run_jobs(cfg, jobs) if r is not None]
    phase("evidence")
    report("truth")
    t = truth.build(cfg, attack, truth_data, group_results, sections, dict(not_collected))
    truth.write(cfg.out / "truth.json", t)
    phase("truth")
    return SimSummary(str(cfg.out), t["output"]["records"], t["output"]["noise_records"], t["output"]["files"],
                      t["output"]["bytes"], time.perf_counter() - started, t["affected"]["organization_count"] or
                      t["affected"]["person_count"],
                      {g.name: g.records for g in group_results}, phases)


def _run_jobs(cfg: SimConfig, jobs: list[tuple]) -> list[GroupResult | None]:
    step = "writing the evidence (log groups)"
    if cfg.jobs <= 1:
        out = []
        for i, j in enumerate(jobs):
            report(step, i, len(jobs))
            out.append(_work(j))
        return out
    if os.name == "posix":  # workers start from a server that has imported the simulator once
        server = get_context("forkserver")
        server.set_forkserver_preload(["breachscope.simulate.scenario"])
        ctx: BaseContext = server
    else:
        ctx = get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(cfg.jobs, len(jobs)), mp_context=ctx) as pool:
        futures = [pool.submit(_work, j) for j in jobs]
        report(step, 0, len(jobs))
        for i, _ in enumerate(as_completed(futures), start=1):
            report(step, i, len(jobs))
        return [f.result() for f in futures]
