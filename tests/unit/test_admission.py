"""Quota-aware admission (issue 10, item 2): rounds take account capacity before launching, or wait in a
queue without polling, in order (FIFO by submission, then priority), and give it back on every ending path."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from conftest import World, client_error, spec_doc

from amt_conductor.contract import Quotas
from amt_conductor.handlers import admit, launch, prepare, reconcile, record_failure, resume, stop
from amt_conductor.runtime.admission import AlreadyAdmitted, CapacityNeverFits, QueueEntryMissing
from amt_conductor.runtime.capacity import Capacity


def limit(w: World, tuning_jobs: int = 100, **instances: int) -> None:
    quotas = Quotas(tuning_jobs=tuning_jobs, instances={k.replace("_", "."): v for k, v in instances.items()})
    w.rt.settings = dataclasses.replace(w.rt.settings, quotas=quotas)


def study(w: World, name: str, **changes: Any) -> dict[str, Any]:
    return w.put_spec(spec_doc(name=name, **changes), key=f"configs/{name}.yaml")


def submit(w: World, loc: dict[str, Any], run_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Prepare + Admit (+ WaitInQueue when queued, with token `q-<run>`); returns (prepared, admit's answer)."""
    p = w.call(prepare, {"input": {"source": loc, "trigger": "s3"}, "run_id": run_id})
    out = w.call(admit, {"prepared": p})
    if not out["admitted"]:
        w.call(admit, {"token": f"q-{run_id}", "prepared": p})
    return p, out


def start_job(w: World, p: dict[str, Any]) -> None:
    w.call(launch, {"token": f"t-{p['run_id']}", "prepared": p})
    w.sm.status[p["job_name"]] = ("InProgress", "")


def end_job(w: World, p: dict[str, Any], status: str = "Completed") -> None:
    w.sm.status[p["job_name"]] = (status, "")
    w.call(resume, w.job_event(p["job_name"], status))


def _request(w: World, job: str) -> dict[str, Any]:
    from amt_conductor.spec.loader import parse_spec
    from amt_conductor.spec.render import render_request

    spec = parse_spec(json.dumps(spec_doc(name="urgent", priority=1)).encode(), "configs/urgent.yaml")
    request = render_request(spec, region="us-east-1", role_arn=w.rt.settings.execution_role_arn,
                             output_bucket="amt-artifacts", round_no=1, parents=[])
    assert request["HyperParameterTuningJobName"] == job
    return request


def woken(w: World) -> list[str]:
    return [c["taskToken"] for c in w.sfn.calls["send_task_success"] if c["taskToken"].startswith("q-")]


def used(w: World) -> dict[str, int]:
    return Capacity(w.rt.registry).used()


def test_a_round_that_fits_is_admitted_at_once_and_holds_its_instances(world: World) -> None:
    _, out = submit(world, study(world, "alpha"), "run-a")
    assert out["admitted"] is True
    # SPEC: max_parallel_jobs 2 x instance_count 1 on ml.m5.xlarge.
    assert used(world) == {"tuning-jobs": 1, "instances#ml.m5.xlarge": 2}
    assert list(Capacity(world.rt.registry).queue()) == []


def test_over_the_tuning_job_quota_a_round_waits_and_a_job_end_wakes_it(world: World) -> None:
    limit(world, tuning_jobs=1)
    first, _ = submit(world, study(world, "alpha"), "run-a")
    start_job(world, first)
    second, out = submit(world, study(world, "beta"), "run-b")
    assert out == {"admitted": False, "job_name": second["job_name"], "position": 1}
    assert woken(world) == []
    end_job(world, first)
    assert woken(world) == ["q-run-b"]
    call = next(c for c in world.sfn.calls["send_task_success"] if c["taskToken"] == "q-run-b")
    assert json.loads(call["output"])["admitted"] is True
    assert used(world) == {"tuning-jobs": 1, "instances#ml.m5.xlarge": 2}  # first gave back, second took
    end_job(world, first)  # a duplicate event gives back nothing twice
    assert used(world) == {"tuning-jobs": 1, "instances#ml.m5.xlarge": 2}


def test_rounds_are_admitted_first_in_first_out(world: World, clock: Any) -> None:
    from datetime import timedelta

    from amt_conductor.runtime.registry import Registry

    world.rt.registry = Registry(world.ddb, "amt-registry", clock=clock)
    limit(world, tuning_jobs=1)
    head, _ = submit(world, study(world, "alpha"), "run-a")
    start_job(world, head)
    waiting = []
    for name in ("beta", "gamma", "delta"):
        clock.now += timedelta(seconds=10)
        waiting.append(submit(world, study(world, name), f"run-{name}")[0])
    end_job(world, head)
    assert woken(world) == ["q-run-beta"]
    start_job(world, waiting[0])
    end_job(world, waiting[0])
    assert woken(world) == ["q-run-beta", "q-run-gamma"]


def test_priority_goes_ahead_but_a_long_wait_wins_in_the_end(world: World, clock: Any) -> None:
    from datetime import timedelta

    from amt_conductor.runtime.registry import Registry

    world.rt.registry = Registry(world.ddb, "amt-registry", clock=clock)
    limit(world, tuning_jobs=1)
    head, _ = submit(world, study(world, "alpha"), "run-a")
    start_job(world, head)
    submit(world, study(world, "old"), "run-old")  # priority 0, waits from t0
    clock.now += timedelta(minutes=30)
    submit(world, study(world, "urgent", priority=1), "run-urgent")  # one hour ahead: before "old"
    clock.now += timedelta(hours=3)
    submit(world, study(world, "late", priority=2), "run-late")  # two hours ahead, but 3.5 h later than "old"
    end_job(world, head)
    assert woken(world) == ["q-run-urgent"]
    urgent = world.rt.registry.run("run-urgent")["current_job"]
    world.call(launch, {"token": "t-urgent", "prepared": {"job_name": urgent, "study": "urgent", "round": 1,
                                                         "run_id": "run-urgent", "request": _request(world, urgent)}})
    world.sm.status[urgent] = ("Completed", "")
    world.call(resume, world.job_event(urgent, "Completed"))
    assert woken(world) == ["q-run-urgent", "q-run-old"]  # waited 3.5 h: ahead of a priority-2 newcomer


def test_a_round_waiting_for_its_instance_type_blocks_only_that_type(world: World) -> None:
    limit(world, tuning_jobs=10, ml_m5_xlarge=3, ml_c5_xlarge=4)
    big, _ = submit(world, study(world, "alpha"), "run-a")  # 2 x m5
    start_job(world, big)
    _, out_m5 = submit(world, study(world, "beta"), "run-b")  # 2 more m5: 4 > 3, waits
    _, out_c5 = submit(world, study(world, "gamma", resources={**spec_doc()["resources"],
                                                                "instance_type": "ml.c5.xlarge"}), "run-c")
    small = {**spec_doc()["resources"], "max_parallel_jobs": 1}
    submit(world, study(world, "delta", resources=small), "run-d")  # 1 m5 would fit, but beta is first
    assert out_m5["admitted"] is False
    # gamma is behind beta in the queue but needs another instance type: the next pump admits it.
    assert out_c5["admitted"] is False
    world.call(reconcile, {})
    assert woken(world) == ["q-run-c"]
    end_job(world, big)
    assert woken(world) == ["q-run-c", "q-run-b", "q-run-d"]  # 2 + 1 of 3 m5


def test_a_round_larger_than_the_quota_fails_clearly_instead_of_waiting_forever(world: World) -> None:
    limit(world, ml_m5_xlarge=1)
    p = world.call(prepare, {"input": {"source": study(world, "alpha"), "trigger": "s3"}, "run_id": "run-a"})
    with pytest.raises(CapacityNeverFits, match=r"configs/alpha.yaml: resources.max_parallel_jobs: .* needs 2 "
                                                  r"ml.m5.xlarge .* allows 1"):
        world.call(admit, {"prepared": p})


def test_retried_admit_and_release_change_the_counters_once(world: World) -> None:
    p, _ = submit(world, study(world, "alpha"), "run-a")
    assert world.call(admit, {"prepared": p})["admitted"] is True
    assert used(world)["tuning-jobs"] == 1
    cap = Capacity(world.rt.registry)
    assert cap.release(p["job_name"]) is True
    assert cap.release(p["job_name"]) is False
    assert used(world) == {"tuning-jobs": 0, "instances#ml.m5.xlarge": 0}


def test_admitted_before_parking_goes_on_to_launch(world: World) -> None:
    limit(world, tuning_jobs=1)
    first, _ = submit(world, study(world, "alpha"), "run-a")
    start_job(world, first)
    p = world.call(prepare, {"input": {"source": study(world, "beta"), "trigger": "s3"}, "run_id": "run-b"})
    assert world.call(admit, {"prepared": p})["admitted"] is False
    end_job(world, first)  # the pump admits beta before its token is parked: nobody to wake
    with pytest.raises(AlreadyAdmitted):
        world.call(admit, {"token": "q-run-b", "prepared": p})
    assert used(world)["tuning-jobs"] == 1


def test_stopping_a_queued_run_leaves_the_queue_and_a_running_one_gives_back(world: World) -> None:
    limit(world, tuning_jobs=1)
    first, _ = submit(world, study(world, "alpha"), "run-a")
    start_job(world, first)
    second, _ = submit(world, study(world, "beta"), "run-b")
    third, _ = submit(world, study(world, "gamma"), "run-c")
    world.call(stop, {"detail": {"status": "ABORTED", "name": "run-b"}})
    assert [e["job_name"] for e in Capacity(world.rt.registry).queue()] == [third["job_name"]]
    with pytest.raises(QueueEntryMissing):
        world.call(admit, {"token": "q-run-b-again", "prepared": second})
    world.call(stop, {"detail": {"status": "ABORTED", "name": "run-a"}})
    assert woken(world) == ["q-run-c"]


def test_a_failed_run_gives_back_and_the_reconciler_admits_the_next(world: World) -> None:
    limit(world, tuning_jobs=1)
    first, _ = submit(world, study(world, "alpha"), "run-a")
    submit(world, study(world, "beta"), "run-b")
    world.call(record_failure, {"input": {"prepared": first}, "run_id": "run-a",
                                "error": {"Error": "Transient", "Cause": "ResourceLimitExceeded"}})
    assert used(world)["tuning-jobs"] == 0 and woken(world) == []  # the workflow's functions wake nobody
    world.call(reconcile, {})
    assert woken(world) == ["q-run-b"]


def test_a_wake_up_nobody_waits_for_gives_the_capacity_back(world: World) -> None:
    limit(world, tuning_jobs=1)
    first, _ = submit(world, study(world, "alpha"), "run-a")
    start_job(world, first)
    submit(world, study(world, "beta"), "run-b")
    world.sfn.fail["send_task_success"] = [client_error("TaskTimedOut", "gone")]
    end_job(world, first)
    assert used(world)["tuning-jobs"] == 0
    assert list(Capacity(world.rt.registry).queue()) == []


def test_the_reconciler_gives_back_what_ended_runs_still_hold_and_keeps_what_running_ones_hold(
        world: World) -> None:
    limit(world, tuning_jobs=3)
    for name, run in (("alpha", "run-a"), ("beta", "run-b"), ("gamma", "run-c")):
        submit(world, study(world, name), run)
    assert used(world)["tuning-jobs"] == 3
    # Two runs ended without giving their capacity back (a crash between steps); run-c still runs.
    world.rt.registry.finish_run("run-a", "FAILED", reason="crashed")
    world.rt.registry.finish_run("run-b", "ABORTED", reason="crashed")
    counts = world.call(reconcile, {})
    assert counts["released"] == 2
    assert used(world) == {"tuning-jobs": 1, "instances#ml.m5.xlarge": 2}
    assert [h["run_id"] for h in Capacity(world.rt.registry).holds()] == ["run-c"]
    assert world.call(reconcile, {})["released"] == 0  # given back once


def test_capacity_given_back_by_the_reconciler_admits_the_queue_once_and_counts_it(world: World) -> None:
    # The reconciler releases an ended run's hold without waking anyone itself, then admits the queue in order
    # (its pump): what it admitted is counted (the dashboard's figure), and nobody is admitted twice.
    limit(world, tuning_jobs=1)
    submit(world, study(world, "alpha"), "run-a")
    submit(world, study(world, "beta"), "run-b")  # queued behind alpha
    world.rt.registry.finish_run("run-a", "FAILED", reason="crashed")
    counts = world.call(reconcile, {})
    assert (counts["released"], counts["admitted"]) == (1, 1)
    assert [h["run_id"] for h in Capacity(world.rt.registry).holds()] == ["run-b"]
    assert list(Capacity(world.rt.registry).queue()) == []
