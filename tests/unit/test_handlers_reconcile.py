"""amt_conductor.handlers.reconcile: jobs whose end event was lost still resume their execution."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import TABLE, World, client_error, emitted_metrics, spec_doc

from amt_conductor.handlers import reconcile
from amt_conductor.runtime.registry import Registry


def test_quiet_jobs_are_resumed_or_touched(world: World, clock: Any) -> None:
    world.rt.registry = Registry(world.ddb, TABLE, clock=clock)
    loc = world.put_spec(spec_doc())
    done = world.launch_round(loc, "run-1")
    running = world.launch_round(loc, "run-2")
    world.sm.status[running["job_name"]] = ("InProgress", "")
    also_running = world.launch_round(loc, "run-4")
    world.sm.status[also_running["job_name"]] = ("Stopping", "")
    clock.now += timedelta(minutes=5)
    fresh = world.launch_round(loc, "run-3")  # launched recently: not looked at yet
    clock.now += timedelta(minutes=27)  # quiet period is 30 minutes
    out = world.call(reconcile, {})
    assert out == {"checked": 3, "resumed": 1, "running": 2, "missing": 0, "released": 0, "admitted": 0}
    [(method, call)] = world.task_results()
    assert method == "send_task_success" and call["taskToken"] == f"token-{done['job_name']}"
    assert world.rt.registry.token(running["job_name"])["updated_at"] == "2026-11-23T12:32:00Z"
    assert world.rt.registry.token(fresh["job_name"])["status"] == "WAITING"
    # A later event for the same job finds nothing to resume.
    from amt_conductor.handlers import resume
    assert world.call(resume, world.job_event(done["job_name"], "Completed")) == "duplicate"


def test_a_token_whose_job_never_existed_fails_the_wait(world: World, clock: Any) -> None:
    world.rt.registry = Registry(world.ddb, TABLE, clock=clock)
    world.rt.registry.put_token("churn-r9-000000", "tok", study="churn", round_no=9, run_id="run-9")
    world.rt.registry.put_token("churn-r8-000000", "tok8", study="churn", round_no=8, run_id="run-8")
    clock.now += timedelta(hours=1)
    assert world.call(reconcile, {})["missing"] == 2
    calls = sorted(world.task_results(), key=lambda mc: mc[1]["taskToken"])
    assert [(m, c["taskToken"], c["error"]) for m, c in calls] == [
        ("send_task_failure", "tok", "TuningJobMissing"), ("send_task_failure", "tok8", "TuningJobMissing")]
    assert calls[0][1]["cause"] == "SageMaker has no tuning job churn-r9-000000"
    assert world.call(reconcile, {})["checked"] == 0


def test_a_failed_send_for_a_missing_job_re_arms_the_token(world: World, clock: Any) -> None:
    """Issue 14, item 6, on the reconciler's own path: SendTaskFailure denied leaves the token WAITING."""
    world.rt.registry = Registry(world.ddb, TABLE, clock=clock)
    world.rt.registry.put_token("churn-r9-000000", "tok", study="churn", round_no=9, run_id="run-9")
    clock.now += timedelta(hours=1)
    world.sfn.fail["send_task_failure"] = [client_error("AccessDeniedException", "not authorized")]
    with pytest.raises(ClientError, match="AccessDenied"):
        world.call(reconcile, {})
    assert world.rt.registry.token("churn-r9-000000")["status"] == "WAITING"
    clock.now += timedelta(hours=1)
    assert world.call(reconcile, {})["missing"] == 1
    [(method, call)] = world.task_results()
    assert method == "send_task_failure" and call["error"] == "TuningJobMissing"


def test_one_job_that_cannot_be_resumed_does_not_hold_up_the_others(world: World, clock: Any) -> None:
    world.rt.registry = Registry(world.ddb, TABLE, clock=clock)
    loc = world.put_spec(spec_doc())
    first = world.launch_round(loc, "run-1")
    clock.now += timedelta(minutes=1)
    second = world.launch_round(loc, "run-2")
    clock.now += timedelta(minutes=40)
    world.sfn.fail["send_task_success"] = [client_error("AccessDeniedException", "not authorized")]
    with pytest.raises(ClientError, match="AccessDenied"):  # the invocation still fails visibly
        world.call(reconcile, {})
    [(method, call)] = world.task_results()
    assert method == "send_task_success" and call["taskToken"] == f"token-{second['job_name']}"
    assert world.rt.registry.token(first["job_name"])["status"] == "WAITING"
    assert world.rt.registry.token(second["job_name"])["status"] == "RESUMED"


def test_the_reconciler_counts_the_jobs_it_resumed(world: World, clock: Any,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    world.rt.registry = Registry(world.ddb, TABLE, clock=clock)
    loc = world.put_spec(spec_doc())
    for run in ("run-1", "run-2"):
        world.launch_round(loc, run)  # their jobs ended; the events were lost
    clock.now += timedelta(hours=1)
    capsys.readouterr()
    assert world.call(reconcile, {})["resumed"] == 2
    got = {n: v for n, v, _ in emitted_metrics(capsys)}
    assert got["JobsReconciled"] == 2.0
    assert got["TuningJobsInFlight"] == 0.0 and got["QueueDepth"] == 0.0
