"""Plan and budget: billable worst case = max_jobs x instance_count x max_runtime_per_job (Spot waiting is
not billed; the wall-clock worst case counts it), rounds the budget allows, how long the workflow waits,
and the warnings `amt plan` shows."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from spec_factory import custom_spec, grid_spec, only_error, parse, setin

from amt_conductor.spec.budget import (
    rounds_within_budget,
    wait_timeout_seconds,
    worst_case_instance_hours,
    worst_case_round_seconds,
)
from amt_conductor.spec.model import Spec
from amt_conductor.spec.naming import job_name
from amt_conductor.spec.plan import make_plan, space_description


def with_resources(**resources: object) -> Spec:
    doc = custom_spec()
    for key, value in resources.items():
        setin(doc, f"resources.{key}", value)
    return parse(doc)


# --- worst case -----------------------------------------------------------------------------

def test_worst_case_on_demand() -> None:
    assert worst_case_instance_hours(with_resources(max_jobs=20, instance_count=3, max_runtime_per_job="30m")) == 30


def test_worst_case_on_spot_bills_runtime_not_the_wait_for_capacity() -> None:
    # Billable time is bounded by MaxRuntimeInSeconds; waiting for Spot capacity is not billed (issue 8, bug 6).
    spec = parse(custom_spec(spot={"enabled": True, "max_wait": "3h"}))  # 10 jobs x 1 x 1h
    assert worst_case_instance_hours(spec) == 10
    assert worst_case_instance_hours(parse(custom_spec(spot={"enabled": True}))) == 10


def test_a_spot_study_within_its_billable_budget_is_accepted() -> None:
    # 10 jobs x 1h on Spot (max_wait 2h by default): 10 billable instance-hours, under a budget of 12.
    spec = parse(custom_spec(spot={"enabled": True}, budget={"max_instance_hours": 12}))
    assert worst_case_instance_hours(spec) == 10
    err = only_error(custom_spec(spot={"enabled": True}, budget={"max_instance_hours": 9}))
    assert err.path == "budget.max_instance_hours" and "max_runtime_per_job 1h" in err.message


def test_plan_shows_the_wall_clock_worst_case_with_spot_waiting_apart() -> None:
    spec = parse(custom_spec(spot={"enabled": True, "max_wait": "3h"}))
    plan = make_plan(spec)
    text = "\n".join(plan.lines())
    assert plan.worst_case_hours_per_round == 10  # billed: 10 jobs x 1h
    assert plan.worst_case_job_time == "3h" and plan.spot_wait == "2h"
    assert plan.worst_case_round_time == "15h"  # 5 waves of 2 parallel jobs, 3h each
    assert "billed" in text and "wall clock" in text and "2h of it waiting for Spot capacity" in text


def test_worst_case_of_a_grid_counts_combinations() -> None:
    assert worst_case_instance_hours(parse(grid_spec())) == 6  # 3 x 2 combinations x 1h


@settings(max_examples=50, deadline=None)
@given(jobs=st.integers(1, 750), count=st.integers(1, 8), runtime=st.integers(60, 28 * 86400),
       spot=st.booleans(), extra_wait=st.integers(0, 86400))
def test_worst_case_formula(jobs: int, count: int, runtime: int, spot: bool, extra_wait: int) -> None:
    doc = custom_spec(spot={"enabled": True, "max_wait": runtime + extra_wait} if spot else {})
    for key, value in {"max_jobs": jobs, "instance_count": count, "max_runtime_per_job": runtime,
                       "max_parallel_jobs": 1}.items():
        setin(doc, f"resources.{key}", value)
    assert worst_case_instance_hours(parse(doc)) == pytest.approx(jobs * count * runtime / 3600)


# --- rounds and waiting ---------------------------------------------------------------------

def test_rounds_within_budget() -> None:
    assert rounds_within_budget(parse(custom_spec(budget={"max_instance_hours": 35}))) == 3  # 10h per round
    assert rounds_within_budget(parse(custom_spec(budget={"max_instance_hours": 10}))) == 1
    assert rounds_within_budget(parse(custom_spec())) is None


def test_round_time_is_waves_of_parallel_jobs() -> None:
    # 10 jobs, 3 at a time: 4 waves of 1h.
    assert worst_case_round_seconds(with_resources(max_parallel_jobs=3)) == 4 * 3600


def test_round_time_capped_by_max_tuning_runtime() -> None:
    assert worst_case_round_seconds(with_resources(max_parallel_jobs=1, max_tuning_runtime="3h")) == 3 * 3600


def test_round_time_on_spot_uses_max_wait() -> None:
    spec = parse(setin(custom_spec(spot={"enabled": True, "max_wait": "2h"}), "resources.max_parallel_jobs", 5))
    assert worst_case_round_seconds(spec) == 2 * 2 * 3600


@settings(max_examples=50, deadline=None)
@given(jobs=st.integers(1, 750), parallel=st.integers(1, 100), runtime=st.integers(1, 28 * 86400),
       cap=st.one_of(st.none(), st.integers(120, 15_768_000)), spot=st.booleans())
def test_wait_timeout_covers_the_worst_round(jobs: int, parallel: int, runtime: int, cap: int | None,
                                             spot: bool) -> None:
    doc = custom_spec(spot={"enabled": spot})
    setin(doc, "resources.max_jobs", jobs)
    setin(doc, "resources.max_parallel_jobs", min(parallel, jobs))
    setin(doc, "resources.max_runtime_per_job", runtime)
    if cap is not None:
        setin(doc, "resources.max_tuning_runtime", cap)
    spec = parse(doc)
    per_job = 2 * runtime if spot else runtime
    round_seconds = math.ceil(jobs / min(parallel, jobs)) * per_job
    if cap is not None:
        round_seconds = min(round_seconds, cap)
    assert worst_case_round_seconds(spec) == round_seconds
    assert wait_timeout_seconds(spec) >= round_seconds


# --- the plan -------------------------------------------------------------------------------

def test_plan_names_the_first_job_and_the_worst_case() -> None:
    spec = parse(custom_spec(rounds={"max": 2}, budget={"max_instance_hours": 100}))
    plan = make_plan(spec)
    assert plan.job_name == job_name(spec, 1)
    assert plan.worst_case_hours_per_round == 10
    assert plan.worst_case_hours_total == 20
    assert plan.worst_case_round_time == "5h"  # 10 jobs, 2 at a time, 1h each
    text = "\n".join(plan.lines())
    assert job_name(spec, 1) in text
    assert "10 instance-hours" in text and "20 instance-hours in all" in text


def test_plan_rounds_limited_by_budget() -> None:
    plan = make_plan(parse(custom_spec(rounds={"max": 5}, budget={"max_instance_hours": 25})))
    assert plan.rounds == 2
    assert plan.worst_case_hours_total == 20
    assert any("budget allows 2 of the 5 rounds" in w for w in plan.warnings)


def test_plan_warns_about_high_bayesian_parallelism() -> None:
    # 5 of 10 jobs in parallel leaves Bayesian search little to learn from between waves.
    plan = make_plan(with_resources(max_parallel_jobs=5))
    [warning] = [w for w in plan.warnings if "max_parallel_jobs" in w]
    assert "50%" in warning and "Bayesian" in warning
    assert any(line.startswith("warning: max_parallel_jobs 5") for line in plan.lines())


def test_plan_no_parallelism_warning_for_random_or_low_parallelism() -> None:
    random = parse(setin(custom_spec(strategy="random"), "resources.max_parallel_jobs", 5))
    assert not [w for w in make_plan(random).warnings if "feedback" in w]
    low = with_resources(max_jobs=40, max_parallel_jobs=4)
    assert not [w for w in make_plan(low).warnings if "feedback" in w]


def test_plan_warns_about_the_parallel_quota() -> None:
    plan = make_plan(parse(setin(setin(custom_spec(strategy="random"), "resources.max_jobs", 100),
                                 "resources.max_parallel_jobs", 20)))
    assert any("quota of 10" in w for w in plan.warnings)


def test_plan_suggests_log_scaling_for_wide_ranges() -> None:
    doc = custom_spec(ranges={"lr": {"type": "continuous", "min": 0.0001, "max": 1.0}})
    setin(doc, "resources.max_jobs", 40)
    assert any(w.startswith("ranges.lr spans 10000x") for w in make_plan(parse(doc)).warnings)


def test_plan_without_warnings_says_so() -> None:
    doc = custom_spec(ranges={"lr": {"type": "continuous", "min": 0.01, "max": 0.1, "scaling": "log"}})
    setin(doc, "resources.max_jobs", 40)
    plan = make_plan(parse(doc))
    assert plan.warnings == []
    assert plan.lines()[-1] == "no warnings"


def test_search_space_description() -> None:
    text, dims = space_description(parse(grid_spec()))
    assert dims == 2
    assert text == "2 categorical (6 combinations); 6 points"
    text, dims = space_description(parse(custom_spec()))
    assert dims == 3
    assert "1 continuous" in text and "1 integer (7 combinations)" in text and text.endswith("infinite")
