"""Autotune: `autotune: true` and `{type: auto, hint}` ranges render as botocore's Autotune and AutoParameters;
what Autotune may choose is counted at its largest in the budget, and `amt plan` says so."""

from __future__ import annotations

from typing import Any

import pytest
from spec_factory import custom_spec, errors_of, only_error, parse, setin
from test_render import assert_valid_request, input_shape, render

from amt_conductor.spec.budget import AUTOTUNE_MAX_RETRIES, job_wall_seconds, worst_case_instance_hours
from amt_conductor.spec.plan import make_plan

AUTO = {"type": "auto", "hint": "0.1"}


def autotuned(**top: Any) -> dict[str, Any]:
    doc = custom_spec(autotune=True, **top)
    doc["ranges"]["momentum"] = AUTO
    return doc


def test_autotune_renders_autotune_and_auto_parameters() -> None:
    request = render(parse(autotuned()))
    assert_valid_request(request)
    assert request["Autotune"] == {"Mode": "Enabled"}
    assert input_shape().members["Autotune"].members["Mode"].enum == ["Enabled"]
    ranges = request["HyperParameterTuningJobConfig"]["ParameterRanges"]
    assert ranges["AutoParameters"] == [{"Name": "momentum", "ValueHint": "0.1"}]
    assert [r["Name"] for r in ranges["ContinuousParameterRanges"]] == ["lr"]


def test_no_autotune_by_default() -> None:
    request = render(parse(custom_spec()))
    assert "Autotune" not in request
    assert "AutoParameters" not in request["HyperParameterTuningJobConfig"]["ParameterRanges"]


def test_auto_ranges_need_autotune() -> None:
    doc = setin(custom_spec(), "ranges.momentum", AUTO)
    assert only_error(doc).path == "ranges.momentum.type"


def test_with_autotune_ranges_and_max_jobs_may_be_left_to_it() -> None:
    doc = custom_spec(autotune=True, ranges={})
    del doc["resources"]["max_jobs"]
    request = render(parse(doc))
    assert_valid_request(request)
    assert "MaxNumberOfTrainingJobs" not in request["HyperParameterTuningJobConfig"]["ResourceLimits"]
    without = custom_spec(ranges={})
    del without["resources"]["max_jobs"]
    assert {e.path for e in errors_of(without)} == {"ranges", "resources.max_jobs"}


@pytest.mark.parametrize(("strategy", "jobs"), [("bayesian", 750), ("random", 10_000)])
def test_budget_assumes_the_most_jobs_autotune_may_choose(strategy: str, jobs: int) -> None:
    doc = autotuned(strategy=strategy)
    del doc["resources"]["max_jobs"]
    spec = parse(doc)
    assert worst_case_instance_hours(spec) == jobs  # 1 instance x 1 h each
    warnings = make_plan(spec).warnings
    assert any(f"max_jobs (up to {jobs})" in w and "assumes the largest" in w for w in warnings)


def test_wait_assumes_the_most_retries_autotune_may_choose() -> None:
    meta = input_shape().members["TrainingJobDefinition"].members["RetryStrategy"].members["MaximumRetryAttempts"]
    assert meta.metadata["max"] == AUTOTUNE_MAX_RETRIES
    assert job_wall_seconds(parse(autotuned())) > job_wall_seconds(parse(autotuned(retry={"max_attempts": 1})))


def test_auto_ranges_in_a_definition_render_in_its_hyperparameter_ranges() -> None:
    from test_multi_algorithm import XGB, multi_spec

    xgb = {**XGB, "ranges": {**XGB["ranges"], "max_depth": {"type": "auto", "hint": "6"}}}
    request = render(parse(multi_spec(xgb, autotune=True)))
    assert_valid_request(request)
    [definition] = request["TrainingJobDefinitions"]
    assert definition["HyperParameterRanges"]["AutoParameters"] == [{"Name": "max_depth", "ValueHint": "6"}]
