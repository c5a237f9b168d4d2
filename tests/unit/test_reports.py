"""Reports, chart and the next-round decision, without AWS."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
import yaml
from conftest import spec_doc
from hypothesis import given
from hypothesis import strategies as st

from amt_conductor.runtime.chart import Point, best_so_far, convergence_svg, nice_ticks
from amt_conductor.runtime.notify import failure_message, subject_line
from amt_conductor.runtime.reports import (
    build_report,
    clean_hyperparameters,
    decide_next,
    improvement,
    rank_jobs,
    render_markdown,
)
from amt_conductor.spec.loader import parse_spec


def job(i: int, objective: float | None, **hp: str) -> dict[str, Any]:
    return {"name": f"j-{i:03d}", "tuning_job": "j", "status": "Completed" if objective is not None else "Failed",
            "objective": objective, "created": f"2026-01-01T00:{i:02d}:00", "billable_seconds": 1800,
            "hyperparameters": hp or {"eta": str(i)}}


DESC = {"name": "churn-r1-abc123", "status": "Completed", "objective": {"metric": "auc", "type": "Maximize"},
        "parents": [], "consumed_seconds": 3723, "training_job_counters": {"Completed": 3},
        "objective_counters": {"Succeeded": 3}, "static_hyperparameters": {"num_round": "100",
                                                                         "_tuning_objective_metric": "auc"},
        "instance_count": 2, "best_training_job": None}


def report(goal: str = "maximize", jobs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return build_report(study="churn", round_no=1, run_id="r", goal=goal, desc=DESC,
                        jobs=jobs or [job(0, 0.7), job(1, None), job(2, 0.9), job(3, 0.8)], parent_jobs=[])


def test_leaderboard_is_best_first_for_either_goal() -> None:
    assert [r["name"] for r in report()["leaderboard"]] == ["j-002", "j-003", "j-000", "j-001"]
    assert [r["name"] for r in report("minimize")["leaderboard"]] == ["j-000", "j-003", "j-002", "j-001"]
    assert [j["name"] for j in rank_jobs([job(1, 0.5), job(0, 0.5)], "maximize")] == ["j-000", "j-001"]


def test_report_counts_billable_instance_hours_and_strips_sagemaker_keys() -> None:
    r = report()
    assert r["billable_instance_hours"] == 4 * 0.5 * 2  # 4 jobs x 30 min x 2 instances
    assert r["best"] == {"training_job": "j-002", "objective": 0.9,
                         "hyperparameters": {"eta": "2", "num_round": "100"}}
    assert clean_hyperparameters({"_tuning_objective_metric": "m", "_num_gpus": 1, "b": 2, "a": "3"}) == {
        "_num_gpus": "1", "a": "3", "b": "2"}


def test_markdown_has_summary_best_and_leaderboard() -> None:
    md = render_markdown(report(), study_best={"objective": 0.95, "round": 0})
    assert "| tuning time | 1h 02m 03s |" in md
    assert "| best objective (study) | 0.95 (round 0) |" in md
    rows = [line for line in md.splitlines() if line.startswith("| ") and "`j-" in line]
    assert [re.search(r"`(j-\d+)`", r).group(1) for r in rows] == ["j-002", "j-002", "j-003", "j-000", "j-001"]
    assert "_tuning_objective_metric" not in md


def test_chart_marks_parents_and_draws_the_running_best() -> None:
    svg = convergence_svg([Point("p1", 0.5, parent=True), Point("a", 0.4), Point("b", None), Point("c", 0.8)],
                          goal="maximize", metric="auc", title="churn <round 2>")
    assert svg.count('class="parent"') == 1 and svg.count('class="job"') == 2
    assert "churn &lt;round 2&gt;" in svg and "auc (maximize)" in svg
    assert svg.count("<path ") == 1


def test_chart_without_objectives_says_so() -> None:
    svg = convergence_svg([Point("a", None)], goal="minimize", metric="loss", title="t")
    assert "no training job reported an objective" in svg and "<path " not in svg


@given(st.lists(st.one_of(st.none(), st.floats(-1e6, 1e6)), max_size=30), st.sampled_from(["maximize", "minimize"]))
def test_best_so_far_never_gets_worse(values: list[float | None], goal: str) -> None:
    best = [b for b in best_so_far(values, goal) if b is not None]
    pairs = itertools.pairwise(best)
    assert all((b >= a) if goal == "maximize" else (b <= a) for a, b in pairs)


@given(st.floats(-1e6, 1e6), st.floats(0, 1e6))
def test_ticks_cover_the_range(lo: float, span: float) -> None:
    ticks = nice_ticks(lo, lo + span)
    assert ticks[0] <= lo + 1e-9 * max(1, abs(lo)) and ticks[-1] >= lo + span - 1e-9 * max(1, abs(lo + span))
    assert ticks == sorted(ticks) and 2 <= len(ticks) <= 12


def spec(**changes: Any) -> Any:
    return parse_spec(yaml.safe_dump(spec_doc(**changes)), "configs/churn.yaml")


@pytest.mark.parametrize(("kw", "go_on", "reason"), [
    ({}, True, "round 1 of 3 done (first round of the run); continuing with round 2"),
    # A run's first round always counts, even when it gains less than min_improvement over an earlier run's best.
    ({"gain": 0.0005}, True, "round 1 of 3 done (first round of the run); continuing with round 2"),
    ({"round_no": 2, "gain": 0.01}, True, "round 2 of 3 done (improved by 0.01); continuing with round 3"),
    ({"round_no": 3, "gain": 0.5}, False, "ran rounds.max (3) round(s) in this run"),
    ({"round_no": 2, "gain": 0.0005}, False, "round 2 improved the best by 0.0005, less than "
                                             "rounds.min_improvement (0.001)"),
    ({"round_best": None}, False, "round 1: no training job reported validation:auc"),
    ({"spent_hours": 17.0}, False, "budget: 17 of 20 instance-hours committed; the next round may need 4"),
])
def test_decide_next(kw: dict[str, Any], go_on: bool, reason: str) -> None:
    args: dict[str, Any] = {"round_no": 1, "base_round": 1, "round_best": 0.8, "study_best": 0.8, "gain": None,
                            "spent_hours": 4.0, "next_worst_hours": 4.0, **kw}
    assert decide_next(spec(), **args) == (go_on, reason)


def test_target_is_direction_aware() -> None:
    minimize = spec(objective={"metric": "validation:auc", "goal": "minimize"}, completion={"target": 0.1})
    common: dict[str, Any] = {"round_no": 1, "base_round": 1, "gain": None, "spent_hours": 0, "next_worst_hours": 1}
    assert decide_next(minimize, round_best=0.09, study_best=0.09, **common)[0] is False
    assert decide_next(minimize, round_best=0.2, study_best=0.2, **common)[0] is True
    assert improvement("minimize", 0.3, 0.2) == pytest.approx(0.1)
    assert improvement("maximize", 0.3, 0.2) == pytest.approx(-0.1)
    assert improvement("maximize", None, 0.2) is None


@pytest.mark.parametrize("goal", ["maximize", "minimize"])
def test_a_target_met_exactly_is_reached(goal: str) -> None:
    """Issue 14, item 4: SageMaker's TargetObjectiveMetricValue is reached when the objective gets to it, so the
    chain stops at equality too (0.75 and 0.5 are exact in binary: no rounding blurs the boundary)."""
    doc = spec(objective={"metric": "validation:auc", "goal": goal}, completion={"target": 0.75})
    common: dict[str, Any] = {"round_no": 1, "base_round": 1, "gain": None, "spent_hours": 0, "next_worst_hours": 1}
    go_on, reason = decide_next(doc, round_best=0.75, study_best=0.75, **common)
    assert (go_on, reason) == (False, "target 0.75 reached (best 0.75)")
    short_of_it = 0.5 if goal == "maximize" else 1.0
    assert decide_next(doc, round_best=short_of_it, study_best=short_of_it, **common)[0] is True


def test_an_improvement_of_exactly_min_improvement_continues_the_chain() -> None:
    """Issue 14, item 5: rounds.min_improvement means "improved by at least" (README), so equality continues."""
    doc = spec(rounds={"max": 5, "min_improvement": 0.25})
    common: dict[str, Any] = {"round_no": 2, "base_round": 1, "round_best": 0.75, "study_best": 0.75,
                              "spent_hours": 0, "next_worst_hours": 1}
    assert decide_next(doc, gain=0.25, **common)[0] is True
    go_on, reason = decide_next(doc, gain=0.125, **common)
    assert (go_on, reason) == (False, "round 2 improved the best by 0.125, less than rounds.min_improvement (0.25)")


def test_failure_messages_name_the_field_and_the_next_step() -> None:
    subject, text = failure_message(error="SpecInvalid", message="configs/churn.yaml: ranges.eta.min: must be > 0",
                                    stage="Prepare", study=None, round_no=None, job_name=None, run_id="run-1",
                                    spec_uri="s3://amt-configs/configs/churn.yaml")
    assert subject == "amt s3://amt-configs/configs/churn.yaml: FAILED - the spec is invalid"
    assert "  configs/churn.yaml: ranges.eta.min: must be > 0" in text
    assert "Where: state Prepare (handlers.prepare)." in text
    assert "Next step: Fix the field(s) named above" in text


def test_subjects_fit_sns() -> None:
    s = subject_line("é" * 50 + "\nx" * 100)
    assert len(s) == 100 and s.isascii() and "\n" not in s
