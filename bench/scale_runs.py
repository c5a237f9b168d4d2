"""Many studies submitted at once under a quota of 10 concurrent tuning jobs (issue 10, item 4).

Each study (a copy of configs/churn-xgb.yaml, one round of a 1 h tuning job) goes through the simulator's
fleet mode: the synthesized state machine in moto with the real handlers, simulated SageMaker enforcing
the account's quota (ResourceLimitExceeded beyond it), every execution at once on simulated time (time
moves only while all of them wait: `cli/simulate/clock.Coordinator`). So the figures are those of the real
workflow, not of a model of it; wall time is what this machine spends executing the states and handlers.

`scale.runs.<N>` = {submitted, succeeded, failed, makespan_h, ideal_makespan_h, transitions_per_round,
lambda_invocations_per_round, registry_reads_per_reconcile_tick_max, ...}; ideal = total job hours / quota.
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
# 1,000 studies cost about 6 s of wall time each on a shared 2-core machine (well over an hour), so they
# run on request: AMT_BENCH_RUNS=10,100,1000 make bench.
COUNTS = tuple(int(n) for n in os.environ.get("AMT_BENCH_RUNS", "10,100").split(","))


def _base(folder: Path) -> Path:
    doc = yaml.safe_load((ROOT / "configs" / "churn-xgb.yaml").read_text())
    doc["resources"].update(max_jobs=4, max_parallel_jobs=2)
    path = folder / "base.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


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
            orchestration = {k: v for k, v in r.invocations.items() if k != "reconcile"}
            rounds = max(r.rounds, 1)
            out[str(n)] = {
                "submitted": r.submitted, "succeeded": r.succeeded, "failed": r.failed,
                "makespan_h": round(r.makespan_s / 3600, 3),
                "ideal_makespan_h": round(r.job_seconds / QUOTA / 3600, 3),
                "transitions_per_round": round(r.transitions / rounds, 2),
                "lambda_invocations_per_round": round(sum(orchestration.values()) / rounds, 2),
                "registry_reads_per_reconcile_tick_max": max(r.reconcile_reads, default=0),
                "reconcile_ticks": len(r.reconcile_reads),
                "refused_creates": r.refused_creates,
                "max_concurrent_jobs": r.max_concurrent_jobs,
                "invocations": r.invocations,
                "wall_s": r.wall_seconds,
            }
    return {"runs": out}
