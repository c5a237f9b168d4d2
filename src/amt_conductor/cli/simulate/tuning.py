"""A simulated tuning job: deterministic training jobs, objectives and a timeline.

Pure logic, no moto: given a CreateHyperParameterTuningJob request, the parents' results and a
duration, it decides which training jobs run when, with which hyperparameters and objectives.

- Hyperparameters are drawn from the ParameterRanges (honouring the scaling type) by a random
  generator seeded with the job name and RandomSeed, so a run is reproducible.
- The objective is a smooth function of the hyperparameters with its optimum inside the ranges
  (the optimum depends only on the parameter names, so every round of a study chases the same one).
- Bayesian and warm-started jobs exploit: after the first wave, and from the start when parents
  exist, part of the proposals are drawn around the incumbent. A warm-started job first
  re-evaluates the parents' incumbent; with a deterministic objective that keeps the best
  objective monotone across rounds whichever of BestTrainingJob or OverallBestTrainingJob a
  report reads.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field
from typing import Any

SCORE_FLOOR = {"Maximize": 0.5, "Minimize": 0.05}  # worst objective the landscape yields
SCORE_SPAN = 0.45


@dataclass
class TrainingJob:
    name: str
    index: int
    hyperparameters: dict[str, str]
    objective: float
    start_s: float
    end_s: float
    status: str = "Completed"  # final status, reached at end_s
    failure_reason: str | None = None
    definition: str | None = None  # multi-algorithm: the TrainingJobDefinitionName it ran


@dataclass
class TuningPlan:
    """Everything that happens to one tuning job, in simulated seconds from the clock's epoch."""

    name: str
    metric: str
    goal: str  # Maximize | Minimize
    created_s: float
    end_s: float
    final_status: str  # Completed | Failed
    training_jobs: list[TrainingJob]
    failure_reason: str | None = None
    target_reached: bool = False
    parents: list[str] = field(default_factory=list)
    warm_start_type: str | None = None
    stopped_s: float | None = None

    def better(self, a: float, b: float) -> bool:
        return a > b if self.goal == "Maximize" else a < b

    def best(self, jobs: list[TrainingJob]) -> TrainingJob | None:
        done = [j for j in jobs if j.status == "Completed"]
        if not done:
            return None
        key = (lambda j: (-j.objective, j.index)) if self.goal == "Maximize" else (
            lambda j: (j.objective, j.index))
        return min(done, key=key)


def _unit_hash(*parts: str) -> float:
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _seed(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest()[:8], "big")


# --- the search space ------------------------------------------------------------------------

@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # Integer | Continuous | Categorical
    lo: float = 0.0
    hi: float = 1.0
    scaling: str = "Auto"
    values: tuple[str, ...] = ()

    def to_unit(self, value: str) -> float:
        """Position of `value` in [0, 1] under this parameter's scaling."""
        if self.kind == "Categorical":
            return self.values.index(value) / max(1, len(self.values) - 1)
        x = float(value)
        if self.hi == self.lo:
            return 0.5
        if self.scaling == "Logarithmic" and self.lo > 0:
            return (math.log(x) - math.log(self.lo)) / (math.log(self.hi) - math.log(self.lo))
        if self.scaling == "ReverseLogarithmic" and self.hi < 1:
            return 1 - (math.log(1 - x) - math.log(1 - self.hi)) / (math.log(1 - self.lo) - math.log(1 - self.hi))
        return (x - self.lo) / (self.hi - self.lo)

    def from_unit(self, u: float) -> str:
        u = min(1.0, max(0.0, u))
        if self.kind == "Categorical":
            return self.values[min(len(self.values) - 1, int(u * len(self.values)))]
        if self.scaling == "Logarithmic" and self.lo > 0:
            x = math.exp(math.log(self.lo) + u * (math.log(self.hi) - math.log(self.lo)))
        elif self.scaling == "ReverseLogarithmic" and self.hi < 1:
            x = 1 - math.exp(math.log(1 - self.hi) + (1 - u) * (math.log(1 - self.lo) - math.log(1 - self.hi)))
        else:
            x = self.lo + u * (self.hi - self.lo)
        if self.kind == "Integer":
            return str(int(min(self.hi, max(self.lo, round(x)))))
        return f"{min(self.hi, max(self.lo, x)):.6g}"

    def optimum(self) -> float:
        """Where this parameter is best, in unit space: inside the range, fixed by the name."""
        return 0.2 + 0.6 * _unit_hash("optimum", self.name)

    def best_value(self) -> str:
        return self.values[int(_unit_hash("best", self.name) * len(self.values))]


def parse_ranges(ranges: dict[str, Any]) -> list[Param]:
    params: list[Param] = []
    for r in ranges.get("IntegerParameterRanges") or []:
        params.append(Param(r["Name"], "Integer", float(r["MinValue"]), float(r["MaxValue"]),
                            r.get("ScalingType", "Auto")))
    for r in ranges.get("ContinuousParameterRanges") or []:
        params.append(Param(r["Name"], "Continuous", float(r["MinValue"]), float(r["MaxValue"]),
                            r.get("ScalingType", "Auto")))
    for r in ranges.get("CategoricalParameterRanges") or []:
        params.append(Param(r["Name"], "Categorical", values=tuple(r["Values"])))
    return sorted(params, key=lambda p: p.name)


def quality(params: list[Param], hps: dict[str, str]) -> float:
    """How close `hps` are to the optimum, in (0, 1]; smooth in every numeric parameter."""
    dist = 0.0
    cat_penalty = 0.0
    for p in params:
        if p.name not in hps:
            continue
        if p.kind == "Categorical":
            cat_penalty += 0.0 if hps[p.name] == p.best_value() else 0.15
        else:
            dist += (p.to_unit(hps[p.name]) - p.optimum()) ** 2
    n = max(1, sum(1 for p in params if p.kind != "Categorical"))
    return math.exp(-4.0 * dist / n) * math.exp(-cat_penalty)


def objective(params: list[Param], hps: dict[str, str], goal: str) -> float:
    q = quality(params, hps)
    value = SCORE_FLOOR["Maximize"] + SCORE_SPAN * q if goal == "Maximize" else (
        SCORE_FLOOR["Minimize"] + SCORE_SPAN * (1 - q))
    return round(value, 6)


# --- proposals -------------------------------------------------------------------------------

def _propose(params: list[Param], rng: random.Random, centre: dict[str, str] | None,
             spread: float = 0.12) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in params:
        if centre is not None and p.name in centre and rng.random() < 0.85:
            if p.kind == "Categorical":
                out[p.name] = centre[p.name]
            else:
                out[p.name] = p.from_unit(rng.gauss(p.to_unit(centre[p.name]), spread))
        else:
            out[p.name] = p.from_unit(rng.random())
    return out


def _grid(params: list[Param]) -> list[dict[str, str]]:
    combos: list[dict[str, str]] = [{}]
    for p in params:
        combos = [{**c, p.name: v} for c in combos for v in p.values]
    return combos


def plan_tuning_job(request: dict[str, Any], *, created_s: float, duration_s: float,
                    parent_best: list[tuple[dict[str, str], float]] | None = None,
                    fail_reason: str | None = None) -> TuningPlan:
    """Plan the job in `request` (CreateHyperParameterTuningJob shape) starting at `created_s`.

    `parent_best` holds the parents' best (hyperparameters, objective); `fail_reason` makes the
    job end Failed after half its training jobs.
    """
    name = request["HyperParameterTuningJobName"]
    cfg = request["HyperParameterTuningJobConfig"]
    # Multi-algorithm: jobs go to the definitions in turn, each drawn from its own ranges.
    definitions = request.get("TrainingJobDefinitions") or []
    obj = cfg.get("HyperParameterTuningJobObjective") or (definitions[0].get("TuningObjective")
                                                          if definitions else None) or {"Type": "Maximize",
                                                                                        "MetricName": "objective"}
    goal, metric = obj["Type"], obj["MetricName"]
    limits = cfg.get("ResourceLimits") or {}
    params = parse_ranges(cfg.get("ParameterRanges") or {})
    by_definition = [(str(d.get("DefinitionName", "")), parse_ranges(d.get("HyperParameterRanges") or {}))
                     for d in definitions]
    strategy = cfg.get("Strategy", "Bayesian")
    grid = _grid(params) if strategy == "Grid" else []
    total = int(limits.get("MaxNumberOfTrainingJobs") or len(grid) or 1)
    parallel = max(1, min(total, int(limits.get("MaxParallelTrainingJobs") or 1)))
    target = (cfg.get("TuningJobCompletionCriteria") or {}).get("TargetObjectiveMetricValue")
    warm = request.get("WarmStartConfig") or {}
    parents = [p["HyperParameterTuningJobName"] for p in warm.get("ParentHyperParameterTuningJobs") or []]
    rng = random.Random(_seed(name, str(cfg.get("RandomSeed", ""))))

    incumbent: tuple[dict[str, str], float] | None = None
    for hps, value in parent_best or []:
        if incumbent is None or (value > incumbent[1] if goal == "Maximize" else value < incumbent[1]):
            incumbent = (hps, value)

    waves = math.ceil(total / parallel)
    wave_s = max(1.0, duration_s / waves)
    jobs: list[TrainingJob] = []
    best: tuple[dict[str, str], float] | None = incumbent
    target_reached = False
    exploit = strategy == "Bayesian" or (incumbent is not None and strategy != "Grid")
    for i in range(total):
        wave = i // parallel
        definition = None
        if by_definition:
            definition, params = by_definition[i % len(by_definition)]
        if grid:
            hps = grid[i % len(grid)]
        elif i == 0 and incumbent is not None:
            hps = dict(incumbent[0])  # the parents' incumbent, re-evaluated first
        else:
            centre = best[0] if exploit and best is not None and (wave > 0 or incumbent) and rng.random() < 0.6 \
                else None
            hps = _propose(params, rng, centre, spread=0.15 / (1 + wave))
        value = objective(params, hps, goal)
        start = created_s + wave * wave_s
        job = TrainingJob(f"{name}-{i + 1:03d}-{_seed(name, str(i)) % 16**8:08x}", i + 1, hps, value,
                          start, start + wave_s * (0.6 + 0.4 * _unit_hash(name, "t", str(i))), definition=definition)
        jobs.append(job)
        if best is None or (value > best[1] if goal == "Maximize" else value < best[1]):
            best = (hps, value)
        if target is not None and (value >= target if goal == "Maximize" else value <= target):
            target_reached = True
            break

    # The tuning job ends with the last wave it ran: exactly `duration_s` unless the target cut it short.
    end_s = created_s + (((len(jobs) - 1) // parallel) + 1) * wave_s
    final_status, reason = "Completed", None
    if fail_reason is not None:
        cut = max(1, len(jobs) // 2)
        for j in jobs[cut:]:
            j.status, j.failure_reason = "Failed", fail_reason
        final_status, reason = "Failed", fail_reason
    return TuningPlan(name, metric, goal, created_s, end_s, final_status, jobs, reason, target_reached,
                      parents, warm.get("WarmStartType"))
