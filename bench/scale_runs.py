"""Many studies submitted at once under a quota of 10 concurrent tuning jobs (issue 10, item 4).

Each study (a copy of configs/churn-xgb.yaml, one round of a 1 h tuning job) goes through the simulator's
fleet mode: the synthesized state machine in moto with the real handlers, simulated SageMaker enforcing
the account's quota (ResourceLimitExceeded beyond it), every execution at once on simulated time (time
moves only while all of them wait: `amt_conductor.cli.simulate.clock.Coordinator`). So the figures are those
of the real workflow, not of a model of it; wall time is what this machine spends executing the states and
handlers (`AMT_BENCH_RUNS=1,10` picks the fleet sizes).

`scale.runs.<N>` = {submitted, succeeded, failed, makespan_h, ideal_makespan_h, transitions_per_round,
lambda_invocations_per_round, registry_reads_per_reconcile_tick_max, ...}; ideal = total job hours / quota (at
least one job's hours).
The per-round means are split into rounds admitted at once and rounds that queued (`transitions_per_round_*`),
and the reconciler's reads per tick are shown beside what was in flight and how much history the registry held.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from bench.common import ROOT, progress

QUOTA = 10
JOB_HOURS = 1.0
# One study first: the per-round cost the others are held to (issue 10: "unchanged from one study").
COUNTS = tuple(int(n) for n in os.environ.get("AMT_BENCH_RUNS", "1,10,100,1000").split(","))


def _base(folder: Path) -> Path:
    doc = yaml.safe_load((ROOT / "configs" / "churn-xgb.yaml").read_text())
    doc["resources"].update(max_jobs=4, max_parallel_jobs=2)
    # As in the orchestration figures: promotion is once per run, not per round (and a thousand studies
    # promoting into one model package group is not a fleet anyone runs).
    doc.pop("promote", None)
    path = folder / "base.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _per_round(runs: list[Any]) -> float | None:
    rounds = sum(c.rounds for c in runs)
    return round(sum(c.transitions for c in runs) / rounds, 2) if rounds else None


def figures(r: Any) -> dict[str, Any]:
    """`scale.runs.<N>` from a `FleetResult`."""
    orchestration = {k: v for k, v in r.invocations.items() if k != "reconcile"}
    rounds = max(r.rounds, 1)
    costs = list(r.runs.values())
    queued = sum(c.queued for c in costs)
    return {
        "submitted": r.submitted, "succeeded": r.succeeded, "failed": r.failed,
        "makespan_h": round(r.makespan_s / 3600, 3),
        # The work over the quota; never less than one job (fewer studies than the quota cannot use all of it).
        "ideal_makespan_h": round(max(r.job_seconds / QUOTA, r.longest_job_seconds) / 3600, 3),
        "transitions_per_round": round(r.transitions / rounds, 2),
        "lambda_invocations_per_round": round(sum(orchestration.values()) / rounds, 2),
        "registry_reads_per_reconcile_tick_max": max(r.reconcile_reads, default=0),
        # What the per-round means are made of: rounds admitted at once and rounds that queued.
        "rounds": r.rounds,
        "queued_rounds": queued,
        "transitions_per_round_admitted_at_once": _per_round([c for c in costs if not c.queued]),
        "transitions_per_round_queued": _per_round([c for c in costs if c.queued]),
        "admit_invocations_per_round": round(r.invocations.get("admit", 0) / rounds, 2),
        # The reconciler's cost per tick against what was in flight then, and the history it did not read.
        "reconcile_ticks": len(r.reconcile_reads),
        "registry_reads_per_reconcile_tick_min": min(r.reconcile_reads, default=0),
        "runs_in_flight_at_reconcile_tick_max": max(r.reconcile_in_flight, default=0),
        "registry_items_at_end": r.registry_items,
        "refused_creates": r.refused_creates,
        "max_concurrent_jobs": r.max_concurrent_jobs,
        "invocations": r.invocations,
        "wall_s": r.wall_seconds,
    }


def run(counts: tuple[int, ...] = COUNTS) -> dict[str, Any]:
    from amt_conductor.cli.simulate.fleet import fleet_specs, run_fleet
    from amt_conductor.cli.simulate.sagemaker import AccountQuotas
    from amt_conductor.cli.simulate.template import synthesize

    progress(f"scale runs: synthesizing the app with amt:quotaTuningJobs={QUOTA}")
    template = synthesize(context={"amt:quotaTuningJobs": QUOTA, "amt:studyPrefixes": ["fleet"]})
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = _base(Path(tmp))
        for n in counts:
            progress(f"scale runs: {n} studies at once, quota {QUOTA} concurrent tuning jobs")
            r = run_fleet(fleet_specs(base, n), template=template, quotas=AccountQuotas(tuning_jobs=QUOTA),
                          job_duration_s=JOB_HOURS * 3600, wall_timeout_s=4 * 3600, progress=progress)
            out[str(n)] = figures(r)
    return {"runs": out}
