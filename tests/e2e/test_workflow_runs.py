"""End-to-end runs of the synthesized workflow with the real handlers, in the simulator."""

from __future__ import annotations

import json
from typing import Any

import pytest

from amt_conductor.cli.simulate.engine import run_simulation
from amt_conductor.cli.simulate.results import SimulationResult

pytestmark = pytest.mark.e2e


def _run(template: dict[str, Any], spec: Any, **kwargs: Any) -> SimulationResult:
    result = run_simulation(spec, template=template, **kwargs)
    assert not result.handler_errors, result.handler_errors
    return result


def test_one_round(template: dict[str, Any], make_spec: Any) -> None:
    result = _run(template, make_spec(rounds={"max": 1}, promote=None))  # with promote: test_promote_runs.py

    assert result.status == "SUCCEEDED"
    (only,) = result.rounds
    assert only.status == "Completed" and only.parents == [] and only.training_jobs == 6
    assert only.best_objective is not None
    assert result.report_uri and result.report_uri in " ".join(result.artifacts)
    assert len(result.notifications) == 1 and only.job_name in result.notifications[0]["message"]
    assert result.lambda_invocations_by_function == {"start": 1, "prepare": 1, "admit": 1, "launch": 1,
                                                     "resume": 1, "report": 1}
    assert result.task_callbacks == {"SendTaskSuccess": 1}
    assert 0 < result.state_transitions <= 15


def test_three_chained_rounds_warm_start_from_the_best(template: dict[str, Any], make_spec: Any) -> None:
    result = _run(template, make_spec(rounds={"max": 3, "min_improvement": 0}))

    assert result.status == "SUCCEEDED"
    assert [r.round for r in result.rounds] == [1, 2, 3]
    best_so_far = result.rounds[0]
    for previous, current in zip(result.rounds, result.rounds[1:], strict=False):
        assert current.parents and current.parents[0] == best_so_far.job_name
        assert previous.job_name in current.parents
        assert current.best_objective is not None and best_so_far.best_objective is not None
        assert current.best_objective >= best_so_far.best_objective  # maximize: never worse
        best_so_far = current if current.best_objective >= best_so_far.best_objective else best_so_far
    assert result.task_callbacks == {"SendTaskSuccess": 3}
    rounds_in_registry = [i for i in result.registry if str(i["sk"]).startswith("ROUND#")]
    assert [i["job_name"] for i in rounds_in_registry] == [r.job_name for r in result.rounds]


def test_target_reached_in_round_one_ends_the_chain(template: dict[str, Any], make_spec: Any) -> None:
    result = _run(template, make_spec(rounds={"max": 3}, completion={"target": 0.6}))

    assert result.status == "SUCCEEDED"
    (only,) = result.rounds
    assert only.target_reached and only.best_objective is not None and only.best_objective >= 0.6
    assert only.training_jobs < 6  # the target stopped the job early
    assert len(result.notifications) == 1


def test_budget_for_two_rounds_stops_at_two(template: dict[str, Any], make_spec: Any) -> None:
    # 6 jobs x 1 instance x 1 h = 6 instance-hours per round by worst case; 12 allow two rounds.
    result = _run(template, make_spec(rounds={"max": 3, "min_improvement": 0}, budget={"max_instance_hours": 12}))

    assert result.status == "SUCCEEDED"
    assert len(result.rounds) == 2
    assert result.lambda_invocations_by_function["launch"] == 2


def test_failed_tuning_job_ends_in_a_notified_failure(template: dict[str, Any], make_spec: Any) -> None:
    result = run_simulation(make_spec(rounds={"max": 2}), template=template, fail_round=1)

    assert result.status == "FAILED"
    (failed,) = result.rounds
    assert failed.status == "Failed"
    run = next(i for i in result.registry if str(i["pk"]).startswith("RUN#"))
    assert run["status"] == "FAILED" and "simulated failure" in json.dumps(run)
    round_item = next(i for i in result.registry if i["sk"] == "ROUND#0001")
    assert round_item["status"] == "FAILED"
    (note,) = result.notifications
    assert failed.job_name in note["message"] and "FAILED" in note["subject"]
    assert result.task_callbacks == {"SendTaskFailure": 1}


def test_same_s3_event_twice_starts_one_run(template: dict[str, Any], make_spec: Any) -> None:
    result = _run(template, make_spec(rounds={"max": 1}), duplicate_s3_event=True)

    assert [t["target"] for t in result.triggers] == ["start", "start"]
    assert len(result.executions) == 1 and result.status == "SUCCEEDED"
    assert result.lambda_invocations_by_function["prepare"] == 1


def test_duplicate_sagemaker_events_resume_once(template: dict[str, Any], make_spec: Any) -> None:
    result = _run(template, make_spec(rounds={"max": 2, "min_improvement": 0}), duplicate_events=True)

    assert result.status == "SUCCEEDED" and len(result.rounds) == 2
    assert result.lambda_invocations_by_function["resume"] == 4  # two deliveries per round
    assert result.task_callbacks == {"SendTaskSuccess": 2}  # one resume per round


def test_lost_events_are_recovered_by_the_scheduled_reconciler(template: dict[str, Any], make_spec: Any) -> None:
    # No state-change event ever arrives: the reconciler, on the template's schedule, finds each ended job
    # once its token has been quiet for AMT_RECONCILE_QUIET_MINUTES and resumes the run itself.
    result = _run(template, make_spec(rounds={"max": 2, "min_improvement": 0}), lose_events=True)

    assert result.status == "SUCCEEDED" and [r.status for r in result.rounds] == ["Completed", "Completed"]
    assert "resume" not in result.lambda_invocations_by_function
    assert result.lambda_invocations_by_function["reconcile"] >= 2
    assert result.task_callbacks == {"SendTaskSuccess": 2}
    # Later than an event would have been (each job lasts 1 h), but within the quiet window plus two periods.
    assert 2 * 3600 < result.simulated_seconds <= 2 * (3600 + 30 * 60 + 2 * 15 * 60)
    assert result.handler_errors == []


def test_a_day_long_job_costs_the_same_transitions_as_an_hour(template: dict[str, Any], make_spec: Any) -> None:
    spec = make_spec(rounds={"max": 1}, resources={"max_runtime_per_job": "1d", "max_tuning_runtime": "2d"})
    hour = _run(template, spec, job_duration_s=3600)
    day = _run(template, spec, job_duration_s=86400)

    assert hour.status == day.status == "SUCCEEDED"
    assert day.simulated_seconds >= 86400 > hour.simulated_seconds
    assert (day.state_transitions, day.lambda_invocations, day.sagemaker_calls) == (
        hour.state_transitions, hour.lambda_invocations, hour.sagemaker_calls)
