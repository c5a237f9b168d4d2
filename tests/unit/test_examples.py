"""The example specs in configs/ are real studies a user could copy: valid, and consistent with each other."""

from __future__ import annotations

from pathlib import Path

from amt_conductor.spec.loader import load_spec, load_specs
from amt_conductor.spec.naming import job_name
from amt_conductor.spec.warmstart import compatibility_problems

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_every_example_is_valid_and_the_strategies_are_all_shown() -> None:
    good, bad = load_specs([CONFIGS])
    assert not bad, [line for e in bad for line in e.lines()]
    assert {spec.strategy for _, spec in good} == {"bayesian", "random", "grid", "hyperband"}
    assert any(spec.algorithm.image for _, spec in good) and any(spec.spot.enabled for _, spec in good)
    assert any(spec.warm_start and spec.warm_start.type == "transfer_learning" for _, spec in good)


def test_the_transfer_example_names_churn_xgb_round_1_as_its_parent() -> None:
    # Job names hash the spec: editing churn-xgb.yaml renames its jobs, and this example must follow.
    parent = load_spec(CONFIGS / "churn-xgb.yaml")
    child = load_spec(CONFIGS / "churn-xgb-transfer.yaml")
    assert child.warm_start is not None
    assert child.warm_start.parents == [job_name(parent, 1)], (
        f"set warm_start.parents in churn-xgb-transfer.yaml to [{job_name(parent, 1)}]")
    assert compatibility_problems(child, [parent]) == []
