"""The simulator itself: a hand-written stack with stub handlers, the poll-loop baseline, the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from amt_conductor.cli.simulate import engine
from amt_conductor.cli.simulate.baseline import EVENT_TARGETS, poll_loop_definition, poll_loop_functions
from amt_conductor.cli.simulate.engine import run_simulation

from . import stub_stack

pytestmark = pytest.mark.e2e


def _stub_run(spec: Path, **kwargs: Any) -> Any:
    return run_simulation(spec, template=stub_stack.template(), state_machine_definition=stub_stack.definition(),
                          extra_functions=stub_stack.Stubs().functions(), **kwargs)


def test_stub_stack_runs_rounds_on_simulated_time(make_spec: Any) -> None:
    lines: list[str] = []
    result = _stub_run(make_spec(rounds={"max": 2}), job_duration_s=86400, progress=lines.append)

    assert result.status == "SUCCEEDED", (result.error, result.cause, result.handler_errors)
    # The first prepare fails with an hour-long retry interval: simulated, not slept.
    assert result.handler_errors == ["prepare: Transient: throttled, try again"]
    assert result.simulated_seconds >= 3600 + 2 * 86400 and result.wall_seconds < 60
    assert [r.parents for r in result.rounds] == [[], [result.rounds[0].job_name]]
    # report paged through the training jobs (MaxResults 10 by default, 6 jobs: one page each)
    assert result.sagemaker_calls_by_operation["ListTrainingJobsForHyperParameterTuningJob"] == 2
    assert any("round 2: Completed" in line for line in lines)
    assert any("test harness, not AWS" in line for line in lines)


def test_a_token_wait_longer_than_its_timeout_times_out(make_spec: Any) -> None:
    result = _stub_run(make_spec(rounds={"max": 1}), job_duration_s=8 * 86400)  # stubs wait 7 days at most

    assert result.status == "FAILED"
    (note,) = result.notifications
    assert "States.Timeout" in json.dumps(result.history) and "failed" in note["message"]
    # A failed assertion on a result shows how the run ended, not thousands of characters of history.
    shown = repr(result)
    assert shown.startswith("SimulationResult(status='FAILED'") and "States.Timeout" in shown and len(shown) < 4000


def test_poll_loop_baseline_pays_per_minute(template: dict[str, Any], make_spec: Any) -> None:
    spec = make_spec(rounds={"max": 1})
    kwargs = {"template": template, "state_machine_definition": poll_loop_definition(60),
              "extra_functions": poll_loop_functions(), "event_targets": EVENT_TARGETS}
    hour = run_simulation(spec, job_duration_s=3600, **kwargs)
    two = run_simulation(spec, job_duration_s=7200, **kwargs)

    assert hour.status == two.status == "SUCCEEDED"
    assert hour.lambda_invocations_by_function["describe_job"] == 60
    assert two.lambda_invocations_by_function["describe_job"] == 120
    assert two.state_transitions - hour.state_transitions == 3 * 60  # Wait, Describe, Poll each minute
    assert "resume" not in hour.lambda_invocations_by_function


def test_cli_json(template: dict[str, Any], make_spec: Any, monkeypatch: pytest.MonkeyPatch,
                  capsys: pytest.CaptureFixture[str]) -> None:
    from amt_conductor.cli.main import main

    monkeypatch.setattr(engine, "synthesize", lambda **_: template)
    code = main(["simulate", str(make_spec()), "--rounds", "1", "--json", "--job-hours", "2"])

    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    assert {"status", "rounds", "report_uri", "state_transitions", "lambda_invocations"} <= set(doc)
    assert doc["status"] == "SUCCEEDED" and len(doc["rounds"]) == 1
    assert {"job_name", "parents", "best_objective", "training_jobs"} <= set(doc["rounds"][0])
    assert "test harness" in err and "round 1: Completed" in err


def test_cli_bad_input_is_one_line_and_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from amt_conductor.cli.main import main

    missing = tmp_path / "nope.yaml"
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nstrategy: sideways\n")

    assert main(["simulate", str(missing)]) == 1
    assert main(["simulate", str(bad), "--json"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    assert err.splitlines()[0].startswith(f"{missing}: ")
