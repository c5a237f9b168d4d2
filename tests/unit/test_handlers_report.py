"""amt_conductor.handlers.report: reports written, registry updated, and the next-round decision."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import ARTIFACTS, World, spec_doc, summary

from amt_conductor.handlers import report


def body(w: World, uri: str, name: str) -> str:
    key = uri.removeprefix(f"s3://{ARTIFACTS}/").rsplit("/", 1)[0] + "/" + name
    return w.s3.get_object(Bucket=ARTIFACTS, Key=key)["Body"].read().decode()


def test_report_reads_every_page_and_writes_three_files(world: World) -> None:
    p = world.launch_round(world.put_spec(spec_doc()))
    job = p["job_name"]
    objectives: list[float | None] = [round(0.5 + (i % 37) / 100, 2) for i in range(250)]
    objectives[3] = None  # a failed training job: no objective
    out = world.complete_round(p, objectives)
    assert [c.get("NextToken") for c in world.sm.list_calls] == [None, "100", "200"]
    assert all(c["MaxResults"] == 100 for c in world.sm.list_calls)
    assert out["report_uri"] == f"s3://{ARTIFACTS}/reports/churn/{job}/report.md"
    doc = json.loads(body(world, out["report_uri"], "report.json"))
    assert len(doc["leaderboard"]) == 250
    assert doc["best"]["objective"] == max(v for v in objectives if v is not None) == out["best_objective"]
    md = body(world, out["report_uri"], "report.md")
    assert "## Leaderboard (250 training jobs, best first)" in md
    svg = body(world, out["report_uri"], "convergence.svg")
    assert svg.count('class="job"') == 249 and 'class="parent"' not in svg


def test_best_hyperparameters_merge_static_and_tuned_without_sagemaker_keys(world: World, monkeypatch: Any) -> None:
    p = world.launch_round(world.put_spec(spec_doc()))
    real = world.sm.describe_hyper_parameter_tuning_job

    def describe(**kw: Any) -> dict[str, Any]:
        d = real(**kw)
        d["TrainingJobDefinition"]["StaticHyperParameters"]["_tuning_objective_metric"] = "validation:auc"
        return d
    monkeypatch.setattr(world.sm, "describe_hyper_parameter_tuning_job", describe, raising=False)
    job = p["job_name"]
    world.sm.training_jobs[job] = [summary(job, 0, 0.7, eta="0.1", max_depth="4"),
                                   summary(job, 1, 0.9, eta="0.2", max_depth="6")]
    out = world.call(report, {"prepared": p, "launch": {"job_name": job, "status": "Completed"}})
    assert out["best_hyperparameters"] == {"eta": "0.2", "max_depth": "6", "num_round": "100"}
    assert out["best_training_job"] == f"{job}-001-abcdef"
    assert "_tuning_objective_metric" not in body(world, out["report_uri"], "report.md")


def test_first_round_continues_and_hands_over_the_next_input(world: World) -> None:
    p = world.launch_round(world.put_spec(spec_doc()))
    out = world.complete_round(p, [0.7, 0.8])
    assert out["continue"] is True and out["improvement"] is None
    assert out["next"] == {"study": "churn", "round": 2, "run_id": "run-1", "source": p["spec_location"],
                           "trigger": "s3"}
    reg = world.rt.registry
    assert reg.round("churn", 1)["status"] == "COMPLETED"
    assert reg.round("churn", 1)["report_uri"] == out["report_uri"]
    assert reg.study("churn")["best_objective"] == 0.8
    assert reg.run("run-1")["status"] == "RUNNING"
    assert len(out["subject"]) <= 100


def test_the_chain_stops_when_a_round_does_not_improve_enough(world: World) -> None:
    loc = world.put_spec(spec_doc())  # min_improvement 0.001
    first = world.complete_round(world.launch_round(loc), [0.8])
    second = world.complete_round(world.launch_round(first["next"]["source"], **_next(first)), [0.8005])
    assert second["continue"] is False
    assert "improved the best by 0.0005, less than rounds.min_improvement (0.001)" in second["reason"]
    assert second["best_objective"] == 0.8005
    assert world.rt.registry.run("run-1")["status"] == "SUCCEEDED"


def test_a_worse_round_keeps_the_study_best(world: World) -> None:
    loc = world.put_spec(spec_doc(objective={"metric": "validation:auc", "goal": "minimize"}))
    first = world.complete_round(world.launch_round(loc), [0.3, 0.2])
    second = world.complete_round(world.launch_round(loc, **_next(first)), [0.25])
    assert second["best_objective"] == 0.2 and second["round_best_objective"] == 0.25
    assert second["improvement"] == pytest.approx(-0.05)
    assert second["continue"] is False
    assert world.rt.registry.study("churn")["best_round"] == 1


def test_reaching_the_target_ends_the_chain(world: World) -> None:
    loc = world.put_spec(spec_doc(completion={"target": 0.85}))
    out = world.complete_round(world.launch_round(loc), [0.7, 0.86])
    assert out["continue"] is False and out["reason"] == "target 0.85 reached (best 0.86)"
    assert "best validation:auc 0.86" in out["subject"]
    assert "Report: s3://" in out["message"] and "eta = " in out["message"]


def test_rounds_max_ends_the_chain(world: World) -> None:
    loc = world.put_spec(spec_doc(rounds={"max": 1}))
    out = world.complete_round(world.launch_round(loc), [0.7])
    assert out["continue"] is False and out["reason"] == "ran rounds.max (1) round(s) in this run"


def test_the_budget_stops_before_a_round_that_might_not_fit(world: World) -> None:
    loc = world.put_spec(spec_doc(budget={"max_instance_hours": 8}, rounds={"max": 5}))  # 4 per round
    first = world.complete_round(world.launch_round(loc), [0.5])
    assert first["continue"] is True
    second = world.complete_round(world.launch_round(loc, **_next(first)), [0.6])
    assert second["continue"] is False and second["reason"].startswith("budget: 8 of 8 instance-hours")


def test_a_round_without_any_objective_stops(world: World) -> None:
    p = world.launch_round(world.put_spec(spec_doc()))
    out = world.complete_round(p, [None, None])
    assert out["continue"] is False
    assert out["reason"] == "round 1: no training job reported validation:auc"
    assert out["best_objective"] is None and out["best_hyperparameters"] is None
    assert "No training job reported the objective metric." in body(world, out["report_uri"], "report.md")


def test_report_is_idempotent(world: World) -> None:
    p = world.launch_round(world.put_spec(spec_doc()))
    first = world.complete_round(p, [0.7, 0.8])
    again = world.complete_round(p, [0.7, 0.8])
    assert again == first


def test_parents_jobs_are_marked_on_the_chart(world: World) -> None:
    loc = world.put_spec(spec_doc())
    first_p = world.launch_round(loc)
    first = world.complete_round(first_p, [0.6, 0.7])
    second_p = world.launch_round(loc, **_next(first))
    assert second_p["parents"] == [first_p["job_name"]]
    out = world.complete_round(second_p, [0.75, 0.72, 0.9])
    svg = body(world, out["report_uri"], "convergence.svg")
    assert svg.count('class="parent"') == 2 and svg.count('class="job"') == 3


def _next(report_out: dict[str, Any]) -> dict[str, Any]:
    n = report_out["next"]
    return {"round": n["round"], "study": n["study"]}
