"""`amt simulate PATH` for a spec that is not in configs/ (issue 8, bug 7): the user simulates the spec
they are writing, so the simulator synthesizes the stack for that spec."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from amt_conductor.cli.simulate.template import PROJECT_ROOT

pytestmark = pytest.mark.e2e


def test_simulate_runs_a_study_that_configs_does_not_have(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from amt_conductor.cli.main import main

    doc: dict[str, Any] = yaml.safe_load((PROJECT_ROOT / "configs" / "churn-xgb.yaml").read_text())
    doc.update(name="draft-study", completion=None, budget=None)
    doc["resources"].update(max_jobs=4, max_parallel_jobs=2)
    configs_names = {yaml.safe_load(p.read_text())["name"] for p in (PROJECT_ROOT / "configs").glob("*.yaml")}
    assert doc["name"] not in configs_names
    path = tmp_path / "draft.yaml"
    path.write_text(yaml.safe_dump({k: v for k, v in doc.items() if v is not None}, sort_keys=False))

    code = main(["simulate", str(path), "--rounds", "1", "--json"])

    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out)
    assert result["status"] == "SUCCEEDED", err
    (only,) = result["rounds"]
    assert only["job_name"].startswith("draft-study-r1-") and only["training_jobs"] == 4
    assert "outside the studies" not in err


def test_simulate_a_multi_algorithm_study_reports_by_definition(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from amt_conductor.cli.main import main

    doc: dict[str, Any] = yaml.safe_load((PROJECT_ROOT / "configs" / "churn-xgb.yaml").read_text())
    doc.update(name="multi-draft", completion=None, budget=None)
    doc["resources"].update(max_jobs=4, max_parallel_jobs=2)
    doc["algorithms"] = [
        {"name": "xgb", "algorithm": doc.pop("algorithm"), "hyperparameters": doc.pop("hyperparameters"),
         "ranges": doc.pop("ranges")},
        {"name": "linear", "algorithm": {"builtin": "linear-learner", "version": "1"},
         "hyperparameters": {"predictor_type": "binary_classifier"},
         "ranges": {"learning_rate": {"type": "continuous", "min": 0.0001, "max": 1.0, "scaling": "log"}},
         "objective": {"metric": "validation:roc_auc_score", "goal": "maximize"}}]
    path = tmp_path / "multi.yaml"
    path.write_text(yaml.safe_dump({k: v for k, v in doc.items() if v is not None}, sort_keys=False))

    code = main(["simulate", str(path), "--rounds", "1", "--json", "--out", str(tmp_path / "out")])

    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["status"] == "SUCCEEDED", err
    [report_path] = (tmp_path / "out").rglob("report.json")
    report = json.loads(report_path.read_text())
    assert report["definitions"] == ["linear", "xgb"]
    assert sorted(r["definition"] for r in report["leaderboard"]) == ["linear", "linear", "xgb", "xgb"]
    assert "### linear (2 training jobs)" in (report_path.parent / "report.md").read_text()
