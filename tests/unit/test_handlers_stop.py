"""amt_conductor.handlers.stop: an aborted or timed-out execution stops its tuning job."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import World, spec_doc

from amt_conductor.handlers import stop


def execution_event(run_id: str, status: str) -> dict[str, Any]:
    return {"source": "aws.states", "detail-type": "Step Functions Execution Status Change",
            "detail": {"name": run_id, "status": status, "executionArn": f"arn:aws:states:::execution:sm:{run_id}"}}


@pytest.mark.parametrize("status", ["ABORTED", "TIMED_OUT"])
def test_an_ended_execution_stops_its_job_once(world: World, status: str) -> None:
    p = world.launch_round(world.put_spec(spec_doc()))
    world.sm.status[p["job_name"]] = ("InProgress", "")
    assert world.call(stop, execution_event("run-1", status)) == {"stopped": True, "job_name": p["job_name"]}
    assert world.call(stop, execution_event("run-1", status))["stopped"] is False
    assert world.sm.stopped == [p["job_name"]]
    reg = world.rt.registry
    assert reg.run("run-1")["status"] == status
    assert reg.run("run-1")["failure_reason"] == f"execution {status}"  # the run record says what ended it
    assert reg.round("churn", 1)["status"] == "STOPPED"
    assert reg.round("churn", 1)["failure_reason"] == f"execution {status}"
    assert reg.token(p["job_name"])["status"] == "ABANDONED"


def test_other_statuses_and_unknown_runs_are_ignored(world: World) -> None:
    p = world.launch_round(world.put_spec(spec_doc()))
    world.sm.status[p["job_name"]] = ("InProgress", "")
    ignored = world.call(stop, execution_event("run-1", "SUCCEEDED"))
    assert ignored["stopped"] is False and "SUCCEEDED" in ignored["reason"]  # what a person invoking it reads
    assert world.call(stop, execution_event("nobody", "ABORTED"))["stopped"] is False
    assert world.sm.stopped == []


def test_a_run_aborted_before_it_launched_a_job_stops_nothing(world: World) -> None:
    # Aborted while preparing its first round: the run is recorded, no job yet.
    world.rt.registry.claim_run("run-0", study="churn", trigger="s3", spec_location={"bucket": "b", "key": "k"})
    out = world.call(stop, execution_event("run-0", "ABORTED"))
    assert out == {"stopped": False, "reason": "no tuning job recorded for this run"}
    assert world.sm.stopped == []


@pytest.mark.parametrize("event", [[], "text", {"detail": "text"}, {"detail": []}])
def test_a_malformed_event_is_ignored_not_a_traceback(world: World, event: object) -> None:
    out = world.call(stop, event)  # type: ignore[arg-type]
    assert out["stopped"] is False


def test_stop_log_lines_carry_the_run_its_study_and_job(world: World) -> None:
    from amt_conductor.runtime.observability import logger

    p = world.launch_round(world.put_spec(spec_doc()))
    world.sm.status[p["job_name"]] = ("InProgress", "")
    world.call(stop, execution_event("run-1", "ABORTED"))
    keys = logger.get_current_keys()
    assert (keys.get("run_id"), keys.get("study"), keys.get("job_name")) == ("run-1", "churn", p["job_name"])
    world.call(stop, execution_event("run-2", "SUCCEEDED"))  # ignored, but its lines still name the run
    assert logger.get_current_keys().get("run_id") == "run-2"


def test_a_completed_round_keeps_its_status_when_the_execution_times_out_later(world: World) -> None:
    # The round's job completed and was reported; the execution then timed out (in Promote or Notify): its round
    # is a finished result that the next round warm-starts from, not a stopped one.
    from amt_conductor.runtime.registry import RoundStatus

    p = world.launch_round(world.put_spec(spec_doc()))
    world.sm.status[p["job_name"]] = ("Completed", "")
    world.rt.registry.set_round("churn", 1, RoundStatus.COMPLETED)
    # Nothing to stop: the job has ended.
    assert world.call(stop, execution_event("run-1", "TIMED_OUT")) == {"stopped": False, "job_name": p["job_name"]}
    assert world.rt.registry.round("churn", 1)["status"] == "COMPLETED"
    assert "failure_reason" not in world.rt.registry.round("churn", 1)
    assert world.rt.registry.run("run-1")["status"] == "TIMED_OUT"
