"""handlers.reconcile: jobs whose end event was lost still resume their execution."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from conftest import TABLE, World, spec_doc

from amt.registry import Registry
from handlers import reconcile


def test_quiet_jobs_are_resumed_or_touched(world: World, clock: Any) -> None:
    world.rt.registry = Registry(world.ddb, TABLE, clock=clock)
    loc = world.put_spec(spec_doc())
    done = world.launch_round(loc, "run-1")
    running = world.launch_round(loc, "run-2")
    world.sm.status[running["job_name"]] = ("InProgress", "")
    clock.now += timedelta(minutes=5)
    fresh = world.launch_round(loc, "run-3")  # launched recently: not looked at yet
    clock.now += timedelta(minutes=27)  # quiet period is 30 minutes
    out = world.call(reconcile, {})
    assert out == {"checked": 2, "resumed": 1, "running": 1, "missing": 0, "released": 0, "admitted": 0}
    [(method, call)] = world.task_results()
    assert method == "send_task_success" and call["taskToken"] == f"token-{done['job_name']}"
    assert world.rt.registry.token(running["job_name"])["updated_at"] == "2026-11-23T12:32:00Z"
    assert world.rt.registry.token(fresh["job_name"])["status"] == "WAITING"
    # A later event for the same job finds nothing to resume.
    from handlers import resume
    assert world.call(resume, world.job_event(done["job_name"], "Completed")) == "duplicate"


def test_a_token_whose_job_never_existed_fails_the_wait(world: World, clock: Any) -> None:
    world.rt.registry = Registry(world.ddb, TABLE, clock=clock)
    world.rt.registry.put_token("churn-r9-000000", "tok", study="churn", round_no=9, run_id="run-9")
    clock.now += timedelta(hours=1)
    assert world.call(reconcile, {})["missing"] == 1
    [(method, call)] = world.task_results()
    assert method == "send_task_failure" and call["error"] == "TuningJobMissing"
    assert world.call(reconcile, {})["checked"] == 0
