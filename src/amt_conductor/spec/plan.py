"""A human summary of what a spec will do and cost, with warnings worth reading before launch."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from amt_conductor.spec.budget import (
    job_wall_seconds,
    rounds_within_budget,
    worst_case_instance_hours,
    worst_case_round_seconds,
)
from amt_conductor.spec.durations import format_duration
from amt_conductor.spec.instances import local_storage_types
from amt_conductor.spec.model import CategoricalRange, ContinuousRange, IntegerRange, Spec
from amt_conductor.spec.naming import job_name

# Beyond this share of parallel jobs, Bayesian search learns little between waves.
BAYESIAN_PARALLEL_SHARE = 0.25


@dataclass
class Plan:
    """What one spec will do; `warnings` are advice, not errors."""

    study: str
    strategy: str
    job_name: str
    search_space: str
    dimensions: int
    max_jobs: int
    parallel: int
    rounds: int
    worst_case_hours_per_round: float
    worst_case_hours_total: float
    worst_case_round_time: str
    worst_case_job_time: str = ""
    spot_wait: str | None = None  # the part of a job's wall-clock worst case spent waiting for Spot (not billed)
    warnings: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    code: str | None = None

    def lines(self) -> list[str]:
        rows = [
            ("study", self.study),
            ("strategy", self.strategy),
            ("first job name", self.job_name),
            ("search space", self.search_space),
            ("training jobs", f"{self.max_jobs} per round, {self.parallel} in parallel"),
            ("rounds", str(self.rounds)),
            ("worst case, billed", f"{self.worst_case_hours_per_round:g} instance-hours per round; "
                                   f"{self.worst_case_hours_total:g} instance-hours in all"),
            ("worst case, wall clock", f"{self.worst_case_round_time} per round, {self.worst_case_job_time} per job"
                                       + (f" (up to {self.spot_wait} of it waiting for Spot capacity, not billed)"
                                          if self.spot_wait else "")),
        ]
        rows += [("code", self.code)] if self.code else []
        rows += [("metrics" if i == 0 else "", m) for i, m in enumerate(self.metrics)]
        width = max(len(k) for k, _ in rows)
        out = [f"{k.ljust(width)}  {v}".rstrip() for k, v in rows]
        out += [f"warning: {w}" for w in self.warnings] or ["no warnings"]
        return out


def space_description(spec: Spec) -> tuple[str, int]:
    """('2 continuous, 1 integer (8 values), 1 categorical (2 values)', dimensions); a multi-algorithm spec's
    definitions one after the other ('xgb: ...; linear: ...'), with their dimensions summed."""
    if spec.algorithms:
        described = [(d.name, space_description(view)) for d, view in zip(spec.algorithms, spec.definitions(),
                                                                             strict=True)]
        return " | ".join(f"{name}: {text}" for name, (text, _) in described), sum(n for _, (_, n) in described)
    parts = []
    cont = [r for r in spec.ranges.values() if isinstance(r, ContinuousRange)]
    ints = [r for r in spec.ranges.values() if isinstance(r, IntegerRange)]
    cats = [r for r in spec.ranges.values() if isinstance(r, CategoricalRange)]
    if cont:
        parts.append(f"{len(cont)} continuous")
    if ints:
        parts.append(f"{len(ints)} integer ({math.prod(r.max - r.min + 1 for r in ints):,} combinations)")
    if cats:
        parts.append(f"{len(cats)} categorical ({math.prod(len(r.values) for r in cats):,} combinations)")
    auto = len(spec.ranges) - len(cont) - len(ints) - len(cats)
    if auto or (spec.autotune and not spec.ranges):
        parts.append(f"{auto} chosen by Autotune" if auto else "ranges chosen by Autotune")
        return f"{', '.join(parts)}; unknown until Autotune chooses", len(spec.ranges)
    finite = "infinite" if cont else f"{spec.grid_size() if not ints else _finite(ints, cats):,} points"
    return f"{', '.join(parts)}; {finite}", len(spec.ranges)


def _finite(ints: list[IntegerRange], cats: list[CategoricalRange]) -> int:
    return math.prod(r.max - r.min + 1 for r in ints) * math.prod(len(r.values) for r in cats)


def make_plan(spec: Spec) -> Plan:
    """Summarize `spec`: search space, worst cases and warnings."""
    space, dims = space_description(spec)
    per_round = worst_case_instance_hours(spec)
    wait = spec.spot_max_wait()
    rounds = spec.rounds.max
    allowed = rounds_within_budget(spec)
    warnings = _warnings(spec, allowed)
    if allowed is not None:
        rounds = min(rounds, max(allowed, 1))
    return Plan(
        study=spec.name,
        strategy=spec.strategy,
        job_name=job_name(spec, 1),
        search_space=space,
        dimensions=dims,
        max_jobs=spec.max_jobs_effective(),
        parallel=spec.resources.max_parallel_jobs,
        rounds=rounds,
        worst_case_hours_per_round=round(per_round, 2),
        worst_case_hours_total=round(per_round * rounds, 2),
        worst_case_round_time=format_duration(worst_case_round_seconds(spec)),
        worst_case_job_time=format_duration(job_wall_seconds(spec)),
        spot_wait=format_duration(wait - spec.resources.max_runtime_per_job)
        if wait and wait > spec.resources.max_runtime_per_job else None,
        warnings=warnings,
        metrics=metric_lines(spec),
        code=_code(spec),
    )


def _code(spec: Spec) -> str | None:
    algo = spec.algorithm
    if algo is None:  # multi-algorithm: code comes per definition from `source` (source_dir is single-algorithm)
        return None
    if algo.source_dir is not None and algo.source_sha256 is not None:
        return (f"{algo.entry_point} in {algo.source_dir} (sourcedir.tar.gz sha256 {algo.source_sha256[:12]}..., "
                "shipped by cdk deploy)")
    if algo.source is not None:
        return f"{algo.entry_point} in {algo.source}"
    return None


def metric_lines(spec: Spec) -> list[str]:
    """One line per metric: its regex, and whether it was checked against an example log line."""
    from amt_conductor.spec.metrics import builtin_objectives, example_value, objective_source

    if spec.algorithms:
        return [f"{d.name}: {line}" for d, view in zip(spec.algorithms, spec.definitions(), strict=True)
                for line in metric_lines(view)]
    metrics = spec.algo.metrics
    names = [m.name + (" (objective)" if m.name == spec.objective.metric else "") for m in metrics]
    name_width = max((len(n) for n in names), default=0)
    regex_width = max((len(m.regex) for m in metrics), default=0)
    lines = [f"{name.ljust(name_width)}  {m.regex.ljust(regex_width)}  "
             + (f"checked: reads {example_value(m):g} from {m.example!r}" if m.example is not None
                else "not checked (no example)")
             for name, m in zip(names, metrics, strict=True)]
    builtin = spec.algo.builtin
    if not lines and builtin and spec.objective.metric in (builtin_objectives(builtin) or {}):
        lines.append(f"{spec.objective.metric} (objective): emitted by the {builtin} algorithm itself "
                     f"({objective_source(builtin, spec.objective.metric)})")
    return lines


def _accelerated(instance_type: str) -> bool:
    return instance_type.split(".")[1].startswith(("p", "g", "trn"))


def _warnings(spec: Spec, allowed_rounds: int | None) -> list[str]:
    from amt_conductor.spec.metrics import metric_warnings

    out: list[str] = metric_warnings(spec)
    jobs, par = spec.max_jobs_effective(), spec.resources.max_parallel_jobs
    if spec.strategy == "bayesian" and jobs and par / jobs > BAYESIAN_PARALLEL_SHARE:
        out.append(f"max_parallel_jobs {par} is {par / jobs:.0%} of max_jobs {jobs}: Bayesian search learns "
                   "from finished jobs, so high parallelism weakens its feedback (random search would do as well)")
    if par > 10:
        out.append(f"max_parallel_jobs {par} exceeds the default quota of 10 parallel training jobs per tuning "
                   "job; request an increase first")
    if spec.strategy == "bayesian" and jobs and jobs < 2 * len(spec.ranges) + 10:
        out.append(f"{jobs} jobs for {len(spec.ranges)} ranges is little for Bayesian search to learn from")
    if allowed_rounds is not None and allowed_rounds < spec.rounds.max:
        out.append(f"the budget allows {allowed_rounds} of the {spec.rounds.max} rounds by worst case")
    for name, r in (item for view in spec.definitions() for item in view.ranges.items()):
        if isinstance(r, ContinuousRange) and r.scaling in ("auto", "linear") and r.min > 0 and r.max / r.min >= 100:
            out.append(f"ranges.{name} spans {r.max / r.min:.0f}x with {r.scaling} scaling; log scaling "
                       "explores orders of magnitude evenly")
    if spec.autotune:
        chosen = [what for what, unset in (
            (f"max_jobs (up to {spec.max_jobs_effective()})", spec.resources.max_jobs is None),
            ("retries (up to 30)", spec.retry is None),
            ("max_tuning_runtime", spec.resources.max_tuning_runtime is None)) if unset]
        if chosen:
            out.append(f"autotune may choose {', '.join(chosen)}: the worst case above assumes the largest")
    if spec.spot.enabled and spec.checkpoint is None:
        out.append("spot is on without a checkpoint: a training job interrupted by Spot restarts from zero "
                   "(set checkpoint.uri, and save checkpoints to checkpoint.local_path in the training code)")
    types = list(dict.fromkeys(c.instance_type for view in spec.definitions() for c in view.instance_choices()))
    if spec.resources.max_pending is not None and not any(_accelerated(t) for t in types):
        out.append(f"resources.max_pending has no effect on {', '.join(types)}: SageMaker applies it "
                   "to accelerated instance types only (ml.p, ml.g, ml.trn)")
    local = list(dict.fromkeys(t for view in spec.definitions() for t in local_storage_types(view)))
    if spec.kms_key_id and local:
        out.append(f"kms_key_id encrypts the outputs only: {', '.join(local)} has local NVMe storage, which its "
                   "hardware encrypts and on which SageMaker refuses a volume KMS key, so none is sent")
    if spec.early_stopping == "off" and spec.strategy in ("bayesian", "random") and jobs >= 50:
        out.append("early_stopping is off: with many jobs, auto early stopping usually saves instance-hours")
    return out
