"""amt_conductor.handlers.resume: a terminal job event resumes its execution exactly once."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import TABLE, World, client_error, emitted_metrics, spec_doc

from amt_conductor.handlers import admit, launch, prepare, resume
from amt_conductor.runtime.sagemaker_ops import Transient


def launched(w: World) -> dict[str, Any]:
    return w.launch_round(w.put_spec(spec_doc()))


def test_completed_resumes_with_job_and_status(world: World) -> None:
    p = launched(world)
    assert world.call(resume, world.job_event(p["job_name"], "Completed")) == "resumed"
    [(method, call)] = world.task_results()
    assert method == "send_task_success" and call["taskToken"] == f"token-{p['job_name']}"
    assert json.loads(call["output"]) == {"job_name": p["job_name"], "status": "Completed"}
    assert world.rt.registry.token(p["job_name"])["status"] == "RESUMED"


def test_a_duplicate_event_resumes_once(world: World) -> None:
    p = launched(world)
    world.call(resume, world.job_event(p["job_name"], "Completed"))
    assert world.call(resume, world.job_event(p["job_name"], "Completed")) == "duplicate"
    assert len(world.task_results()) == 1


@pytest.mark.parametrize(("status", "error"), [("Failed", "TuningJobFailed"), ("Stopped", "TuningJobStopped")])
def test_failed_and_stopped_fail_the_task_with_the_reason(world: World, status: str, error: str) -> None:
    p = launched(world)
    world.sm.status[p["job_name"]] = (status, "No training job succeeded" if status == "Failed" else "")
    world.call(resume, world.job_event(p["job_name"], status))
    [(method, call)] = world.task_results()
    assert method == "send_task_failure" and call["error"] == error
    assert call["cause"] == ("No training job succeeded" if status == "Failed"
                             else f"tuning job {p['job_name']} ended Stopped")


@pytest.mark.parametrize("status", ["InProgress", "Stopping"])
def test_non_terminal_statuses_are_ignored(world: World, status: str) -> None:
    p = launched(world)
    assert world.call(resume, world.job_event(p["job_name"], status)) == "not-terminal"
    assert world.task_results() == []
    assert world.rt.registry.token(p["job_name"])["status"] == "WAITING"


def test_jobs_we_did_not_start_are_ignored(world: World) -> None:
    assert world.call(resume, world.job_event("someone-elses-job", "Completed")) == "unknown"
    assert world.task_results() == []


@pytest.mark.parametrize("code", ["TaskTimedOut", "InvalidToken"])
def test_a_token_nobody_waits_on_is_not_an_error(world: World, code: str) -> None:
    p = launched(world)
    world.sfn.fail["send_task_success"] = [client_error(code, "gone")]
    assert world.call(resume, world.job_event(p["job_name"], "Completed")) == "stale"


def test_a_throttled_resume_is_retried_by_the_next_delivery(world: World) -> None:
    p = launched(world)
    world.sfn.fail["send_task_success"] = [client_error("ThrottlingException", "slow down")]
    with pytest.raises(Transient):
        world.call(resume, world.job_event(p["job_name"], "Completed"))
    assert world.task_results() == []
    assert world.call(resume, world.job_event(p["job_name"], "Completed")) == "resumed"
    assert len(world.task_results()) == 1


@pytest.mark.parametrize("event", [[], "text", {"detail": "text"}, {"detail": []}, {"detail": {"x": 1}}])
def test_a_malformed_event_is_ignored_not_a_traceback(world: World, event: object) -> None:
    assert world.call(resume, event) == "not-terminal"  # type: ignore[arg-type]
    assert world.task_results() == []


def test_an_event_claiming_an_end_the_job_has_not_reached_resumes_nothing(world: World) -> None:
    # Anyone allowed to put events could forge "Completed": resume asks SageMaker (issue 9, finding 11).
    p = launched(world)
    world.sm.status[p["job_name"]] = ("InProgress", "")
    assert world.call(resume, world.job_event(p["job_name"], "Completed")) == "not-terminal"
    assert world.task_results() == []
    assert world.rt.registry.token(p["job_name"])["status"] == "WAITING"


def test_the_described_status_wins_over_the_event(world: World) -> None:
    p = launched(world)
    world.sm.status[p["job_name"]] = ("Failed", "AlgorithmError: exit 1")
    world.call(resume, world.job_event(p["job_name"], "Completed"))
    [(method, call)] = world.task_results()
    assert method == "send_task_failure" and call["error"] == "TuningJobFailed"
    assert call["cause"] == "AlgorithmError: exit 1"


def test_an_event_for_a_job_that_is_not_ours_is_not_described(world: World) -> None:
    calls: list[str] = []
    original = world.sm.describe_hyper_parameter_tuning_job
    world.sm.describe_hyper_parameter_tuning_job = lambda **kw: calls.append(kw["HyperParameterTuningJobName"]) \
        or original(**kw)  # type: ignore[method-assign]
    assert world.call(resume, world.job_event("someone-elses-job", "Completed")) == "unknown"
    assert calls == []


def test_an_event_for_a_waited_on_job_sagemaker_does_not_know_resumes_nothing(world: World) -> None:
    # Anyone who may put events on the bus could claim our job ended: SageMaker's answer decides.
    world.rt.registry.put_token("churn-r9-000000", "tok", study="churn", round_no=9, run_id="run-9")
    assert world.call(resume, world.job_event("churn-r9-000000", "Completed")) == "unknown"
    assert world.task_results() == []
    assert world.rt.registry.token("churn-r9-000000")["status"] == "WAITING"


def test_a_permanent_send_error_re_arms_the_token_so_the_reconciler_retries(world: World, clock: Any) -> None:
    """Issue 14, item 6: AccessDenied on SendTaskSuccess must not leave the token RESUMED (the run would
    hang until its timeout: no redelivery, and the reconciler lists only WAITING tokens)."""
    from datetime import timedelta

    from botocore.exceptions import ClientError

    from amt_conductor.handlers import reconcile
    from amt_conductor.runtime.registry import Registry

    world.rt.registry = Registry(world.ddb, TABLE, clock=clock)
    p = launched(world)
    world.sfn.fail["send_task_success"] = [client_error("AccessDeniedException", "not authorized")]
    with pytest.raises(ClientError, match="AccessDenied"):
        world.call(resume, world.job_event(p["job_name"], "Completed"))
    assert world.task_results() == []
    assert world.rt.registry.token(p["job_name"])["status"] == "WAITING"
    clock.now += timedelta(minutes=31)  # past the reconciler's quiet period
    assert world.call(reconcile, {})["resumed"] == 1
    [(method, call)] = world.task_results()
    assert method == "send_task_success" and call["taskToken"] == f"token-{p['job_name']}"


def test_launch_and_resume_count_per_study(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    loc = world.put_spec(spec_doc(name="churn"))
    p = world.call(prepare, {"source": loc, "run_id": "run-1", "trigger": "s3"})


    world.call(admit, {"prepared": p})
    capsys.readouterr()
    world.call(launch, {"token": "tok", "prepared": p})
    launched = [(v, d.get("study")) for n, v, d in emitted_metrics(capsys) if n == "TuningJobsLaunched"]
    assert launched == [(1.0, "churn")]
    world.sm.status[p["job_name"]] = ("Completed", "")
    world.call(resume, world.job_event(p["job_name"], "Completed"))
    resumed = [(v, d.get("study")) for n, v, d in emitted_metrics(capsys) if n == "JobsResumed"]
    assert resumed == [(1.0, "churn")]


def test_resume_job_says_what_happened(world: World) -> None:
    """What the reconciler and a racing second delivery get back from resume_job itself."""
    from amt_conductor.runtime.workflow import resume_job

    p = launched(world)
    assert resume_job(world.rt, p["job_name"], "Completed", "") == "resumed"
    assert resume_job(world.rt, p["job_name"], "Completed", "") == "duplicate"
    assert resume_job(world.rt, "someone-elses-job", "Completed", "") == "unknown"
    assert resume_job(world.rt, p["job_name"], "InProgress", "") == "not-terminal"


def test_a_terminal_event_without_a_job_name_asks_nobody(world: World) -> None:
    # DynamoDB refuses an empty key value: an event naming no job must not reach the registry at all.
    event = world.job_event("x", "Completed")
    del event["detail"]["HyperParameterTuningJobName"]
    reads: list[dict[str, Any]] = []
    world.rt.registry._ddb.meta.events.register("provide-client-params.dynamodb.GetItem",
                                               lambda params, **_: reads.append(params))
    assert world.call(resume, event) == "unknown"
    assert reads == [] and world.task_results() == []


def test_resume_log_lines_carry_the_job(world: World) -> None:
    from amt_conductor.runtime.observability import logger

    world.call(resume, world.job_event("someone-elses-job", "Completed"))
    assert logger.get_current_keys().get("job_name") == "someone-elses-job"
