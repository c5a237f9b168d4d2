"""`amt simulate PATH` for a spec that is not in configs/ (issue 8, bug 7): the user simulates the spec
they are writing, so the simulator synthesizes the stack for that spec."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from amt_cli.simulate.template import PROJECT_ROOT

pytestmark = pytest.mark.e2e


def test_simulate_runs_a_study_that_configs_does_not_have(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from amt_cli.main import main

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
