"""The cold-start comparison's judged figure (bench/cold_start.py): the geometric mean of the handlers' ratios,
with the largest ratio and the A/A control beside it."""

from __future__ import annotations

import math

from bench.cold_start import ratio_summary


def test_the_judged_figure_is_the_geometric_mean_of_the_ratios() -> None:
    rows = {"a": {"now": 1.1, "now_again": 1.0, "old": 1.0},
            "b": {"now": 0.9, "now_again": 0.95, "old": 1.0},
            "c": {"now": 1.0, "now_again": 0.8}}  # a handler the old tree did not have
    s = ratio_summary(rows, "old")
    assert s is not None
    assert math.isclose(s["geomean"], math.sqrt(1.1 * 0.9)) and s["max"] == 1.1
    # The control is the run's, over every handler, either way round: c's 1.0 against 0.8 is the widest.
    assert math.isclose(s["aa_max"], 1.0 / 0.8)
    assert ratio_summary(rows, "missing") is None


def test_a_run_without_the_control_says_so() -> None:
    s = ratio_summary({"a": {"now": 1.0, "old": 2.0}}, "old")
    assert s is not None and s["geomean"] == 0.5 and math.isnan(s["aa_max"])
