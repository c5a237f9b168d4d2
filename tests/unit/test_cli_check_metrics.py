"""`amt check-metrics SPEC LOGFILE...` and the metric warnings of `amt validate`, as their users read them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from spec_factory import builtin_spec, custom_spec, setin, to_yaml

from amt_conductor.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
VISION = ROOT / "configs" / "vision-hyperband.yaml"
LOG = """\
2026-12-02 10:00:01 INFO starting, 81 epochs
epoch 1/81 step 400 train_loss=1.2031 val_loss=1.1012 val_acc=0.4120
epoch 2/81 step 800 train_loss=0.9120 val_loss=0.9873 val_acc=0.5533
warning: val_acc=. (not computed this epoch)
epoch 3/81 step 1200 train_loss=0.7711 val_loss=0.8120 val_acc=0.6310
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def rows(out: str) -> dict[str, list[str]]:
    """The table's rows by metric name (cells split on runs of two or more spaces)."""
    import re

    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("metric "))
    return {cells[0]: cells[1:] for cells in (re.split(r"\s{2,}", line) for line in lines[start + 2:])}


def test_values_found_first_last_and_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "train.log"
    log.write_text(LOG)
    code, out, err = run(capsys, "check-metrics", str(VISION), str(log))
    assert code == 0, err
    assert out.startswith("5 log lines from 1 file(s)")
    table = rows(out)
    assert table["val:loss (objective)"] == ["3", "1.1012", "0.812", "-"]
    assert table["val:accuracy"] == ["3", "0.412", "0.631", "1 (e.g. '.')"]
    assert table["train:loss"] == ["3", "1.2031", "0.7711", "-"]


def test_logs_are_read_in_order_across_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = tmp_path / "a.log", tmp_path / "b.json"
    first.write_text(LOG)
    second.write_text(json.dumps({"events": [{"message": "epoch 4/81 train_loss=0.7 val_loss=0.75 val_acc=0.66"}]}))
    code, out, _ = run(capsys, "check-metrics", str(VISION), str(first), str(second))
    assert code == 0
    assert rows(out)["val:loss (objective)"][:3] == ["4", "1.1012", "0.75"]


def test_exit_1_when_the_objective_is_never_found(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "train.log"
    log.write_text("epoch 1 train_loss=0.9\nepoch 1 validation loss: 0.8\n")
    code, out, err = run(capsys, "check-metrics", str(VISION), str(log))
    assert code == 1
    assert rows(out)["val:loss (objective)"][:3] == ["0", "-", "-"]
    assert err.strip() == (f"{VISION}: objective.metric: 'val:loss' is never found in the log(s): SageMaker would "
                           "record no objective for such a training job")


def test_a_missing_log_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "check-metrics", str(VISION), str(tmp_path / "nope.log"))
    assert code == 1
    assert err.strip() == f"{tmp_path / 'nope.log'}: cannot read: No such file or directory"


def test_a_builtin_spec_has_no_regexes_to_apply(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec, log = tmp_path / "xgb.yaml", tmp_path / "train.log"
    spec.write_text(to_yaml(builtin_spec()))
    log.write_text(LOG)
    code, _, err = run(capsys, "check-metrics", str(spec), str(log))
    assert code == 1
    assert err.startswith(f"{spec}: algorithm.metrics: no metric definitions to apply")


def test_an_invalid_spec_is_reported_before_any_log_is_read(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "bad.yaml"
    doc = setin(custom_spec(), "algorithm.metrics.0", {"name": "val:loss", "regex": "val_loss=([0-9.]+)",
                                                        "example": "epoch 1 val-loss 0.5"})
    spec.write_text(to_yaml(doc))
    code, out, err = run(capsys, "check-metrics", str(spec), str(tmp_path / "never-read.log"))
    assert (code, out) == (1, "")
    assert err.strip() == f"{spec}: algorithm.metrics.0.regex: 'val:loss' does not match its example " \
                          "'epoch 1 val-loss 0.5'"


def test_validate_prints_a_builtins_metric_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "xgb.yaml"
    spec.write_text(to_yaml(setin(builtin_spec(), "objective.goal", "minimize")))
    code, out, err = run(capsys, "validate", str(spec))
    assert code == 0 and out.startswith(f"{spec}: ok")
    warnings = [line for line in err.splitlines() if ": warning: " in line]
    assert [w.split(": warning: ")[1].split(":")[0] for w in warnings] == ["objective.goal", "objective.metric"]
