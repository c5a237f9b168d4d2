"""scripts/mutate.py's sampling of untested mutants and the estimate it writes to docs/testing.md."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def mutate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutate_script", ROOT / "scripts" / "mutate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "mutate_script", module)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "STAGE", tmp_path)
    (tmp_path / "naming").mkdir()
    monkeypatch.setattr(module, "equivalents", lambda: {"m.x__mutmut_0": "listed"})
    return module


@pytest.mark.parametrize(("k", "n"), [(9, 10), (0, 12), (40, 40), (117, 130), (1, 3)])
def test_the_wilson_interval_is_scipys(mutate: ModuleType, k: int, n: int) -> None:
    # scipy is installed with the SageMaker SDK (a dev dependency, for the image catalog).
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert mutate._wilson(k, n) == pytest.approx((ci.low, ci.high), abs=1e-4)


def test_no_sample_says_nothing(mutate: ModuleType) -> None:
    assert mutate._wilson(0, 0) == (0.0, 1.0)


def test_draws_are_seeded_disjoint_and_together_one_sample(mutate: ModuleType, tmp_path: Path) -> None:
    mine = {f"m.x__mutmut_{i}": "not checked" for i in range(30)} | {"m.x__mutmut_99": "killed"}
    first = mutate._sample("naming", mine, 5)
    second = mutate._sample("naming", mine, 5)
    state = json.loads((tmp_path / "naming" / "sample.json").read_text())
    assert len(first) == len(second) == 5 and not set(first) & set(second)
    assert state["sampled"] == sorted(first + second)
    # The population is what was untested and not listed as equivalent when the first draw was made.
    assert "m.x__mutmut_0" not in state["population"] and "m.x__mutmut_99" not in state["population"]
    assert len(state["population"]) == 29
    (tmp_path / "naming" / "sample.json").unlink()
    assert mutate._sample("naming", mine, 5) == first  # the same draw on every machine


def test_a_renumbered_population_starts_over(mutate: ModuleType, tmp_path: Path) -> None:
    mutate._sample("naming", {f"m.x__mutmut_{i}": "not checked" for i in range(1, 10)}, 3)
    renumbered = {f"m.y__mutmut_{i}": "not checked" for i in range(1, 10)}
    drawn = mutate._sample("naming", renumbered, 3)
    state = json.loads((tmp_path / "naming" / "sample.json").read_text())
    assert set(state["population"]) == set(renumbered) and state["sampled"] == sorted(drawn)


def test_the_estimate_counts_tested_mutants_as_they_are_and_the_rest_at_the_sample_rate(
        mutate: ModuleType, tmp_path: Path) -> None:
    tested = {f"m.a__mutmut_{i}": "killed" for i in range(10)}
    population = [f"m.b__mutmut_{i}" for i in range(20)]
    sampled = population[:10]
    mine = tested | dict.fromkeys(population, "not checked")
    mine |= dict.fromkeys(sampled[:9], "killed") | {sampled[9]: "survived"}
    (tmp_path / "naming" / "sample.json").write_text(json.dumps({"population": population, "sampled": sampled}))
    # 19 of 20 tested killed; the 10 untested at the sample's 9/10: (19 + 9) / 30.
    text = mutate.estimate("naming", mine, {})
    assert text.startswith("93.3% (") and text.endswith("; 10 sampled)")
    low, high = mutate._wilson(9, 10)
    assert f"{100 * (19 + 10 * low) / 30:.1f}%-{100 * (19 + 10 * high) / 30:.1f}%" in text
    # A sampled mutant listed as equivalent leaves the score, and that share of the untested ones with it.
    text = mutate.estimate("naming", mine, {sampled[9]: "why"})
    assert text.startswith(f"{100 * (19 + 9) / (19 + 9):.1f}% (")
    assert mutate.estimate("other", mine, {}) == ""


def test_the_rest_is_estimated_from_the_samples_first_verdicts_not_from_after_its_survivors_got_tests(
        mutate: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    population = [f"m.b__mutmut_{i}" for i in range(20)]
    sampled = population[:10]
    state = {"population": population, "sampled": sampled}
    (tmp_path / "naming" / "sample.json").write_text(json.dumps(state))
    first_run = dict.fromkeys(population, "not checked") | dict.fromkeys(sampled[:8], "killed")
    first_run |= dict.fromkeys(sampled[8:], "survived")
    monkeypatch.setattr(mutate, "verdicts", lambda name: first_run)
    mutate.record_first_verdicts("naming")
    # Tests written for the two survivors kill them: the sample itself counts as killed, the rest at 8/10.
    now = first_run | dict.fromkeys(sampled[8:], "killed")
    monkeypatch.setattr(mutate, "verdicts", lambda name: now)
    mutate.record_first_verdicts("naming")  # a later recording keeps the first verdicts
    assert json.loads((tmp_path / "naming" / "sample.json").read_text())["first"][sampled[9]] == "survived"
    assert mutate.estimate("naming", now, {}).startswith(f"{100 * (10 + 8) / 20:.1f}% (")


def test_a_mutant_child_that_uses_no_cpu_is_found_hung_and_a_busy_one_is_not(mutate: ModuleType) -> None:
    import subprocess

    # Titled as mutmut titles its children; one sleeps (as a deadlocked child does), one computes.
    asleep = subprocess.Popen(["bash", "-c", 'exec -a "mutmut: m.x__mutmut_1" sleep 60'])
    busy = subprocess.Popen(["bash", "-c", 'exec -a "mutmut: m.x__mutmut_2" bash -c "while :; do :; done"'])
    try:
        import time

        time.sleep(0.5)
        seen: dict[int, tuple[int, float]] = {}
        assert mutate.hung_children(seen, 0.0, limit_s=100) == []  # first sight: nothing to compare with
        assert {asleep.pid, busy.pid} <= set(seen)  # both found by their titles
        deadline = time.monotonic() + 30  # until the busy one has used CPU since (a loaded machine may be slow)
        while mutate._cpu_ticks(busy.pid) == seen[busy.pid][0] and time.monotonic() < deadline:
            time.sleep(0.1)
        hung = mutate.hung_children(seen, 100.0, limit_s=100)
        assert (asleep.pid, "m.x__mutmut_1") in hung
        assert busy.pid not in [pid for pid, _ in hung] and busy.poll() is None  # still running, not hung
    finally:
        asleep.kill()
        busy.kill()


def test_a_row_is_stamped_with_head_only_when_its_module_ran(mutate: ModuleType, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    doc = tmp_path / "testing.md"
    row = "| naming | `x` | 2 | 2 | 0 | 0 | 0 | 0 | 100.0% | 100.0% | `abc1234`, 2026-01-01 |"
    doc.write_text(f"# t\n{mutate.BEGIN}\n{row}\n{mutate.END}\n")
    monkeypatch.setattr(mutate, "DOC", doc)
    found = {f"amt_conductor.spec.naming.x_f__mutmut_{i}": "killed" for i in (1, 2)}
    monkeypatch.setattr(mutate, "verdicts", lambda name: found if name == "naming" else {})
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True).stdout.strip()

    def naming_row(table: str) -> str:
        return next(line for line in table.splitlines() if line.startswith("| naming |"))

    # A report-only rewrite (or another module's run) measured nothing new for naming: its stamp stays.
    assert naming_row(mutate.score_table(frozenset())).endswith("| `abc1234`, 2026-01-01 |")
    assert naming_row(mutate.score_table(frozenset({"rules"}))).endswith("| `abc1234`, 2026-01-01 |")
    assert f"| `{head}`, " in naming_row(mutate.score_table(frozenset({"naming"})))
    # A module with results and no row yet gets HEAD's stamp.
    doc.write_text(f"# t\n{mutate.BEGIN}\n{mutate.END}\n")
    assert f"| `{head}`, " in naming_row(mutate.score_table(frozenset()))
