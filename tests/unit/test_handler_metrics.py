"""The metrics the handlers emit (CloudWatch embedded metric format on stdout): the dashboard graphs them by
name and by the `study` dimension, so a renamed metric or a lost dimension leaves an empty graph."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from conftest import TABLE, World, spec_doc

from amt_conductor.handlers import launch, prepare, reconcile, resume
from amt_conductor.runtime.registry import Registry


def emitted(capsys: pytest.CaptureFixture[str]) -> list[tuple[str, float, dict[str, str]]]:
    """(metric, value, dimensions) of every EMF line printed since the last call."""
    out: list[tuple[str, float, dict[str, str]]] = []
    for line in capsys.readouterr().out.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if not isinstance(doc, dict) or "_aws" not in doc:
            continue
        (directive,) = doc["_aws"]["CloudWatchMetrics"]
        dims = {d: str(doc[d]) for group in directive["Dimensions"] for d in group}
        for metric in directive["Metrics"]:
            value = doc[metric["Name"]]
            for v in value if isinstance(value, list) else [value]:
                out.append((metric["Name"], float(v), dims))
    return out


def test_launch_and_resume_count_per_study(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    loc = world.put_spec(spec_doc(name="churn"))
    p = world.call(prepare, {"source": loc, "run_id": "run-1", "trigger": "s3"})
    from amt_conductor.handlers import admit

    world.call(admit, {"prepared": p})
    capsys.readouterr()
    world.call(launch, {"token": "tok", "prepared": p})
    launched = [(v, d.get("study")) for n, v, d in emitted(capsys) if n == "TuningJobsLaunched"]
    assert launched == [(1.0, "churn")]
    world.sm.status[p["job_name"]] = ("Completed", "")
    world.call(resume, world.job_event(p["job_name"], "Completed"))
    resumed = [(v, d.get("study")) for n, v, d in emitted(capsys) if n == "JobsResumed"]
    assert resumed == [(1.0, "churn")]


def test_the_reconciler_counts_the_jobs_it_resumed(world: World, clock: Any,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    world.rt.registry = Registry(world.ddb, TABLE, clock=clock)
    loc = world.put_spec(spec_doc())
    for run in ("run-1", "run-2"):
        world.launch_round(loc, run)  # their jobs ended; the events were lost
    clock.now += timedelta(hours=1)
    capsys.readouterr()
    assert world.call(reconcile, {})["resumed"] == 2
    got = {n: v for n, v, _ in emitted(capsys)}
    assert got["JobsReconciled"] == 2.0
    assert got["TuningJobsInFlight"] == 0.0
