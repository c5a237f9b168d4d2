"""The simulated tuning job's model: deterministic, honours ranges and scaling, stops at the target."""

from __future__ import annotations

import math
from typing import Any

from amt_conductor.cli.simulate.tuning import objective, parse_ranges, plan_tuning_job

RANGES = {
    "ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0.01", "MaxValue": "0.3",
                                   "ScalingType": "Logarithmic"}],
    "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "3", "MaxValue": "10", "ScalingType": "Auto"}],
    "CategoricalParameterRanges": [{"Name": "booster", "Values": ["gbtree", "dart"]}],
}


def _request(name: str = "study-r1-abc", jobs: int = 20, target: float | None = None,
             parents: list[str] | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "Strategy": "Bayesian", "ParameterRanges": RANGES,
        "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:auc"},
        "ResourceLimits": {"MaxNumberOfTrainingJobs": jobs, "MaxParallelTrainingJobs": 4},
    }
    if target is not None:
        config["TuningJobCompletionCriteria"] = {"TargetObjectiveMetricValue": target}
    request: dict[str, Any] = {"HyperParameterTuningJobName": name, "HyperParameterTuningJobConfig": config}
    if parents:
        request["WarmStartConfig"] = {"WarmStartType": "IdenticalDataAndAlgorithm", "ParentHyperParameterTuningJobs":
                                      [{"HyperParameterTuningJobName": p} for p in parents]}
    return request


def test_same_request_same_plan() -> None:
    a = plan_tuning_job(_request(), created_s=0, duration_s=3600)
    b = plan_tuning_job(_request(), created_s=0, duration_s=3600)
    assert [(j.name, j.hyperparameters, j.objective) for j in a.training_jobs] == [
        (j.name, j.hyperparameters, j.objective) for j in b.training_jobs]
    assert a.end_s == 3600 and len(a.training_jobs) == 20


def test_values_stay_in_range_and_log_scaling_spreads_by_magnitude() -> None:
    plan = plan_tuning_job(_request(jobs=200), created_s=0, duration_s=3600)
    etas = [float(j.hyperparameters["eta"]) for j in plan.training_jobs]
    depths = [int(j.hyperparameters["max_depth"]) for j in plan.training_jobs]
    assert all(0.01 <= e <= 0.3 for e in etas) and all(3 <= d <= 10 for d in depths)
    assert {j.hyperparameters["booster"] for j in plan.training_jobs} == {"gbtree", "dart"}
    below_geometric_middle = sum(e < math.sqrt(0.01 * 0.3) for e in etas)
    assert below_geometric_middle > 40  # linear sampling would put ~17% there


def test_target_stops_the_job_early() -> None:
    plan = plan_tuning_job(_request(target=0.6), created_s=0, duration_s=3600)
    assert plan.target_reached and len(plan.training_jobs) < 20 and plan.end_s < 3600
    assert plan.training_jobs[-1].objective >= 0.6


def test_warm_start_never_worse_than_the_parents() -> None:
    params = parse_ranges(RANGES)
    parent = plan_tuning_job(_request("study-r1-abc"), created_s=0, duration_s=3600)
    best = parent.best(parent.training_jobs)
    assert best is not None
    child = plan_tuning_job(_request("study-r2-abc", parents=["study-r1-abc"]), created_s=3600, duration_s=3600,
                            parent_best=[(best.hyperparameters, best.objective)])
    child_best = child.best(child.training_jobs)
    assert child_best is not None and child_best.objective >= best.objective
    assert objective(params, best.hyperparameters, "Maximize") == best.objective


def test_injected_failure_fails_the_job_with_a_reason() -> None:
    plan = plan_tuning_job(_request(), created_s=0, duration_s=3600, fail_reason="AlgorithmError: boom")
    assert plan.final_status == "Failed" and plan.failure_reason == "AlgorithmError: boom"
    assert any(j.status == "Failed" for j in plan.training_jobs)


def test_multi_algorithm_jobs_take_turns_over_the_definitions_and_their_ranges() -> None:
    request = _request(jobs=6)
    config = request["HyperParameterTuningJobConfig"]
    objective_ = config.pop("HyperParameterTuningJobObjective")
    config.pop("ParameterRanges")
    other = {"ContinuousParameterRanges": [{"Name": "learning_rate", "MinValue": "0.0001", "MaxValue": "1",
                                            "ScalingType": "Logarithmic"}]}
    request["TrainingJobDefinitions"] = [
        {"DefinitionName": "xgb", "TuningObjective": objective_, "HyperParameterRanges": RANGES},
        {"DefinitionName": "linear", "TuningObjective": objective_, "HyperParameterRanges": other}]
    plan = plan_tuning_job(request, created_s=0, duration_s=3600)
    assert [j.definition for j in plan.training_jobs] == ["xgb", "linear"] * 3
    assert all(set(j.hyperparameters) == ({"learning_rate"} if j.definition == "linear" else
                                          {"eta", "max_depth", "booster"}) for j in plan.training_jobs)
    assert plan.metric == "validation:auc"
