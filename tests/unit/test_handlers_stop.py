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
    assert reg.round("churn", 1)["status"] == "STOPPED"
    assert reg.token(p["job_name"])["status"] == "ABANDONED"


def test_other_statuses_and_unknown_runs_are_ignored(world: World) -> None:
    p = world.launch_round(world.put_spec(spec_doc()))
    world.sm.status[p["job_name"]] = ("InProgress", "")
    assert world.call(stop, execution_event("run-1", "SUCCEEDED"))["stopped"] is False
    assert world.call(stop, execution_event("nobody", "ABORTED"))["stopped"] is False
    assert world.sm.stopped == []


@pytest.mark.parametrize("event", [[], "text", {"detail": "text"}, {"detail": []}])
def test_a_malformed_event_is_ignored_not_a_traceback(world: World, event: object) -> None:
    out = world.call(stop, event)  # type: ignore[arg-type]
    assert out["stopped"] is False
