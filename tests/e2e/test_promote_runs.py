"""Issue 12 end to end: the best model of a chain is registered for review, only when it is better, once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from amt_conductor.cli.simulate.engine import data_uploads, run_simulation, upload_spec
from amt_conductor.cli.simulate.results import SimulationResult, find_key
from amt_conductor.runtime.promote import Meta

pytestmark = pytest.mark.e2e

GROUP = "churn-xgb"  # configs/churn-xgb.yaml


def _run(template: dict[str, Any], spec: Any, **kwargs: Any) -> SimulationResult:
    result = run_simulation(spec, template=template, **kwargs)
    assert not result.handler_errors, result.handler_errors
    return result


def _best_training_job(result: SimulationResult) -> tuple[str, float]:
    (study,) = [i for i in result.registry if i["pk"] == "STUDY#churn-xgb" and i["sk"] == "META"]
    return study["best_training_job"], float(study["best_objective"])


def test_a_chain_ends_with_a_pending_package_of_its_best_job(template: dict[str, Any], make_spec: Any) -> None:
    result = _run(template, make_spec(rounds={"max": 3, "min_improvement": 0}))

    assert result.status == "SUCCEEDED" and len(result.rounds) == 3
    (pkg,) = result.model_packages
    best_job, best_value = _best_training_job(result)
    assert best_value == max(r.best_objective or 0 for r in result.rounds)
    assert pkg["group"] == GROUP and pkg["status"] == "PendingManualApproval"
    meta = pkg["metadata"]
    assert meta[Meta.TRAINING_JOB] == best_job and meta[Meta.METRIC] == "validation:auc"
    assert float(meta[Meta.VALUE]) == best_value
    best_round = next(r for r in result.rounds if r.best_objective == best_value)
    assert meta[Meta.TUNING_JOB] == best_round.job_name and meta[Meta.ROUND] == str(best_round.round)
    container = pkg["inference"]["Containers"][0]
    assert container["ModelDataUrl"].endswith(f"/{best_job}/output/model.tar.gz")
    assert "sagemaker-xgboost:1.7-1" in container["Image"]
    run = next(i for i in result.registry if str(i["pk"]).startswith("RUN#"))
    assert run["package_arn"] == pkg["arn"] and run["status"] == "SUCCEEDED"
    (note,) = result.notifications
    assert "model registered" in note["subject"] and pkg["arn"] in note["message"]


def test_a_second_run_that_does_not_improve_registers_nothing(template: dict[str, Any], make_spec: Any,
                                                              tmp_path: Path) -> None:
    spec = make_spec(rounds={"max": 1})
    # The second run has one training job: a warm start re-evaluates the incumbent first, so it ties.
    doc = yaml.safe_load(spec.read_text())
    doc["resources"].update(max_jobs=1, max_parallel_jobs=1)
    (tmp_path / "second").mkdir()
    again = tmp_path / "second" / spec.name
    again.write_text(yaml.safe_dump(doc, sort_keys=False))
    result = _run(template, spec, then=[upload_spec(again)], artifacts_dir=tmp_path / "out")

    assert [e["status"] for e in result.executions] == ["SUCCEEDED", "SUCCEEDED"]
    first, second = result.rounds
    # The simulated second round re-evaluates the incumbent first (warm start) and finds nothing better.
    assert second.parents == [first.job_name] and second.best_objective == first.best_objective
    (pkg,) = result.model_packages
    assert pkg["metadata"][Meta.TRAINING_JOB] == _best_training_job(result)[0]
    runs = sorted((i for i in result.registry if str(i["pk"]).startswith("RUN#")), key=lambda r: r["base_round"])
    assert runs[0]["package_arn"] == pkg["arn"] and "package_arn" not in runs[1]
    assert "does not beat" in runs[1]["promotion"]["reason"]
    last = result.notifications[-1]
    assert "no model registered" in last["subject"] and "does not beat" in last["message"]
    report = json.loads((tmp_path / "out" / "reports" / "churn-xgb" / second.job_name / "report.json").read_text())
    assert report["promotion"]["registered"] is False
    md = (tmp_path / "out" / "reports" / "churn-xgb" / second.job_name / "report.md").read_text()
    assert "## Model registry: `churn-xgb`" in md and "not registered" in md


def test_duplicate_events_register_one_version(template: dict[str, Any], make_spec: Any) -> None:
    result = _run(template, make_spec(rounds={"max": 1}), duplicate_s3_event=True, duplicate_events=True)

    assert len(result.executions) == 1 and result.status == "SUCCEEDED"
    assert len(result.model_packages) == 1


def test_a_failed_run_registers_nothing(template: dict[str, Any], make_spec: Any) -> None:
    result = run_simulation(make_spec(rounds={"max": 2}), template=template, fail_round=1)

    assert result.status == "FAILED"
    assert result.model_packages == []
    assert "promote" not in result.lambda_invocations_by_function


def test_a_burst_of_new_data_starts_one_transfer_learning_run(template: dict[str, Any], make_spec: Any) -> None:
    result = _run(template, make_spec(rounds={"max": 1}),
                  then=[data_uploads("s3://example-ml-data/churn/train/", 50, quiet_s=3600)])

    assert [e["status"] for e in result.executions] == ["SUCCEEDED", "SUCCEEDED"]  # the upload's, then one
    # The spec upload, 50 object events (noted), the check during the burst and the one after it.
    assert result.lambda_invocations_by_function["start"] == 1 + 50 + 2
    first, second = result.rounds
    assert second.parents == [first.job_name]
    assert find_key(result.history, "WarmStartType") == "TransferLearning"  # the data run's request
    runs = sorted((i for i in result.registry if str(i["pk"]).startswith("RUN#")), key=lambda r: r["base_round"])
    assert [r["trigger"] for r in runs] == ["s3", "new-data"]
    improved = second.best_objective is not None and first.best_objective is not None and \
        second.best_objective > first.best_objective
    assert len(result.model_packages) == (2 if improved else 1)
    assert ("package_arn" in runs[1]) is improved
