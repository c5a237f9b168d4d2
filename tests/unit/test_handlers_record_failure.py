"""amt_conductor.handlers.record_failure: the run and round marked FAILED, one readable message per run."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import World, spec_doc

from amt_conductor.handlers import prepare, record_failure
from amt_conductor.runtime.rounds import SpecInvalid


def lambda_cause(exc: Exception) -> str:
    """What Step Functions puts in Cause for a Lambda function's exception."""
    return json.dumps({"errorMessage": str(exc), "errorType": type(exc).__name__, "stackTrace": ["..."]})


def inbox(w: World) -> list[str]:
    """Messages the topic delivered to its SQS subscriber."""
    resp = w.sqs.receive_message(QueueUrl=w.queue_url, MaxNumberOfMessages=10)
    return [m["Body"] for m in resp.get("Messages", [])]


def test_an_invalid_spec_is_recorded_and_notified_with_the_field(world: World) -> None:
    bad = spec_doc()
    bad["resources"]["max_parallel_jobs"] = 0
    execution_input = {"source": world.put_spec(bad), "run_id": "run-1", "trigger": "s3"}
    with pytest.raises(SpecInvalid) as exc:
        world.call(prepare, execution_input)
    event = {"input": {**execution_input, "error": {"Error": "SpecInvalid", "Cause": lambda_cause(exc.value)}},
             "error": {"Error": "SpecInvalid", "Cause": lambda_cause(exc.value)}}
    out = world.call(record_failure, event)
    assert out["notified"] is True
    [published] = world.published()
    assert published["Subject"] == "amt s3://amt-configs/configs/churn.yaml: FAILED - the spec is invalid"
    assert "configs/churn.yaml: resources.max_parallel_jobs:" in published["Message"]
    assert "Next step: Fix the field(s)" in published["Message"]
    assert world.rt.registry.run("run-1")["status"] == "FAILED"
    assert world.rt.registry.run("run-1")["error"] == "SpecInvalid"
    assert world.sm.created == []
    assert len(inbox(world)) == 1  # delivered to the topic's subscribers


def test_a_repeated_failure_is_notified_once(world: World) -> None:
    event = {"input": {"source": world.put_spec(spec_doc()), "run_id": "run-1"},
             "error": {"Error": "BudgetExhausted", "Cause": "budget"}}
    assert world.call(record_failure, event)["notified"] is True
    assert world.call(record_failure, event)["notified"] is False
    assert len(world.published()) == 1


def test_a_failed_tuning_job_marks_its_round(world: World) -> None:
    p = world.launch_round(world.put_spec(spec_doc()))
    event = {"input": {"prepared": p}, "error": {"Error": "TuningJobFailed",
                                                  "Cause": "No training job succeeded after 3 attempts"}}
    world.call(record_failure, event)
    item = world.rt.registry.round("churn", 1)
    assert item["status"] == "FAILED"
    assert item["failure_reason"] == "TuningJobFailed: No training job succeeded after 3 attempts"
    message = world.published()[0]["Message"]
    assert f"tuning job {p['job_name']}" in message and "round 1" in message and "study churn" in message
    assert "No training job succeeded after 3 attempts" in message


def test_a_timed_out_wait_stops_the_job_and_drops_the_token(world: World) -> None:
    p = world.launch_round(world.put_spec(spec_doc()))
    world.sm.status[p["job_name"]] = ("InProgress", "")
    event: dict[str, Any] = {"input": {"prepared": p}, "error": {"Error": "States.Timeout", "Cause": ""}}
    world.call(record_failure, event)
    assert world.sm.stopped == [p["job_name"]]
    assert world.rt.registry.token(p["job_name"])["status"] == "ABANDONED"
    assert "did not finish in time" in world.published()[0]["Subject"]


def test_a_prepared_state_from_another_run_is_not_trusted(world: World) -> None:
    """An execution's input could carry a victim's `prepared`; the catch gets the execution's own name and
    fails only what that run prepared."""
    victim = world.launch_round(world.put_spec(spec_doc()), run_id="victim-run")
    world.call(record_failure, {"input": {"prepared": victim, "run_id": "victim-run"}, "run_id": "attacker-run",
                                "error": {"Error": "States.Timeout", "Cause": ""}})
    assert world.rt.registry.run("victim-run")["status"] == "RUNNING"
    assert world.rt.registry.round("churn", victim["round"])["status"] != "FAILED"
    assert world.rt.registry.token(victim["job_name"])["status"] == "WAITING"
