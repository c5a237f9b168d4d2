"""The registry's conditional writes: what makes duplicate events and retries harmless."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from conftest import TABLE, World

from amt_conductor.runtime.registry import Registry, RoundTaken, TokenStatus, better, rank_rounds, round_key

LOC = {"bucket": "b", "key": "configs/churn.yaml", "version_id": "v1"}


@pytest.fixture
def reg(world: World, clock: Any) -> Registry:
    return Registry(world.ddb, TABLE, clock=clock)


def test_round_keys_are_zero_padded_so_they_sort() -> None:
    assert round_key("s", 7)["sk"] == "ROUND#0007"
    assert round_key("s", 12)["sk"] > round_key("s", 9)["sk"]


def test_claim_token_resumes_once_and_leaves_the_inflight_index(reg: Registry) -> None:
    reg.put_token("churn-r1-abc", "tok", study="churn", round_no=1, run_id="run")
    assert [i["job_name"] for i in reg.quiet_tokens(reg.clock() + timedelta(seconds=1))] == ["churn-r1-abc"]
    first = reg.claim_token("churn-r1-abc")
    assert first is not None and first["token"] == "tok" and first["study"] == "churn"
    assert reg.claim_token("churn-r1-abc") is None
    assert reg.quiet_tokens(reg.clock() + timedelta(days=1)) == []
    assert reg.claim_token("never-stored") is None


def test_a_resumed_token_is_not_rearmed_but_a_new_one_is(reg: Registry) -> None:
    reg.put_token("j", "tok-1", study="s", round_no=1, run_id="r")
    reg.claim_token("j")
    assert reg.put_token("j", "tok-1", study="s", round_no=1, run_id="r") is False
    assert reg.claim_token("j") is None
    # A retried Launch brings a fresh token: that one must be resumable.
    assert reg.put_token("j", "tok-2", study="s", round_no=1, run_id="r") is True
    claimed = reg.claim_token("j")
    assert claimed is not None and claimed["token"] == "tok-2"


def test_release_rearms_a_claimed_token(reg: Registry) -> None:
    reg.put_token("j", "tok", study="s", round_no=1, run_id="r")
    reg.claim_token("j")
    reg.release_token("j", "tok")
    assert (reg.token("j") or {})["status"] == TokenStatus.WAITING
    assert reg.claim_token("j") is not None


def test_abandon_only_touches_waiting_tokens(reg: Registry) -> None:
    reg.put_token("j", "tok", study="s", round_no=1, run_id="r")
    assert reg.abandon_token("j") is True
    assert reg.abandon_token("j") is False
    assert reg.claim_token("j") is None


def test_quiet_tokens_respects_the_cutoff(reg: Registry, clock: Any) -> None:
    reg.put_token("old", "t1", study="s", round_no=1, run_id="r")
    clock.now += timedelta(minutes=40)
    reg.put_token("new", "t2", study="s", round_no=2, run_id="r")
    cutoff = clock.now - timedelta(minutes=30)
    assert [i["job_name"] for i in reg.quiet_tokens(cutoff)] == ["old"]
    reg.touch_token("old")
    assert reg.quiet_tokens(cutoff) == []
    assert reg.inflight_count() == 2


def test_claim_run_keeps_its_base_round_when_retried(reg: Registry) -> None:
    reg.put_study_spec("churn", spec_location=LOC, goal="maximize", schedule=None)
    run = reg.claim_run("run-1", study="churn", trigger="s3", spec_location=LOC)
    assert run["base_round"] == 1
    reg.claim_round("churn", 1, run_id="run-1", job_name="j1", parents=[], spec_location=LOC,
                    worst_case_hours=4.0)
    assert (reg.study("churn") or {})["latest_round"] == 1
    assert reg.claim_run("run-1", study="churn", trigger="s3", spec_location=LOC)["base_round"] == 1
    assert reg.claim_run("run-2", study="churn", trigger="s3", spec_location=LOC)["base_round"] == 2


def test_a_round_belongs_to_one_run(reg: Registry) -> None:
    kw: dict[str, Any] = {"job_name": "j1", "parents": [], "spec_location": LOC, "worst_case_hours": 1.5}
    first = reg.claim_round("churn", 1, run_id="run-1", **kw)
    again = reg.claim_round("churn", 1, run_id="run-1", **kw)
    assert again["created_at"] == first["created_at"] and again["worst_case_hours"] == 1.5
    with pytest.raises(RoundTaken, match="run-1"):
        reg.claim_round("churn", 1, run_id="run-2", **kw)


def test_claim_round_does_not_move_latest_round_backwards(reg: Registry) -> None:
    kw: dict[str, Any] = {"parents": [], "spec_location": LOC, "worst_case_hours": 1.0}
    reg.claim_round("churn", 3, run_id="a", job_name="j3", **kw)
    reg.claim_round("churn", 2, run_id="b", job_name="j2", **kw)
    assert (reg.study("churn") or {})["latest_round"] == 3


@pytest.mark.parametrize(("goal", "values", "kept"), [
    ("maximize", [0.8, 0.7, 0.9], 0.9),
    ("minimize", [0.8, 0.7, 0.9], 0.7),
])
def test_study_best_only_improves(reg: Registry, goal: str, values: list[float], kept: float) -> None:
    for i, v in enumerate(values, start=1):
        reg.update_study_best("s", goal=goal, objective=v, training_job=f"tj{i}", hyperparameters={"eta": "0.1"},
                              round_no=i, report_uri=f"s3://r/{i}")
    meta = reg.study("s") or {}
    assert meta["best_objective"] == kept
    assert meta["last_report_uri"] == "s3://r/3"


def test_numbers_come_back_as_json_numbers(reg: Registry) -> None:
    reg.set_round("s", 1, "COMPLETED", best_objective=0.5, count=3, whole=1.0, hp={"a": "1"})
    item = reg.round("s", 1) or {}
    assert item["best_objective"] == 0.5 and isinstance(item["best_objective"], float)
    assert item["count"] == 3 and isinstance(item["count"], int)
    assert isinstance(item["whole"], float)


def test_finish_run_reports_only_the_first_transition(reg: Registry) -> None:
    reg.claim_run("r", study="s", trigger="s3", spec_location=LOC)
    assert reg.finish_run("r", "FAILED", reason="x") is True
    assert reg.finish_run("r", "FAILED", reason="x") is False
    assert reg.finish_run("r", "SUCCEEDED") is False
    assert (reg.run("r") or {})["status"] == "FAILED"


def test_rank_rounds_is_direction_aware_and_capped() -> None:
    rounds = [{"round": i, "status": "COMPLETED", "best_objective": v, "job_name": f"j{i}"}
              for i, v in enumerate([0.5, 0.9, 0.1, 0.7, 0.3, 0.8, 0.2], start=1)]
    rounds.append({"round": 8, "status": "FAILED", "best_objective": 0.99, "job_name": "j8"})
    assert [r["job_name"] for r in rank_rounds(rounds, "maximize")] == ["j2", "j6", "j4", "j1", "j5"]
    assert [r["job_name"] for r in rank_rounds(rounds, "minimize", limit=2)] == ["j3", "j7"]
    assert [r["job_name"] for r in rank_rounds(rounds, "maximize", exclude=2, limit=1)] == ["j6"]


def test_better() -> None:
    assert better("maximize", 2.0, 1.0) and not better("maximize", 1.0, 2.0)
    assert better("minimize", 1.0, 2.0) and better("minimize", 1.0, None)
    assert not better("minimize", None, 1.0)
