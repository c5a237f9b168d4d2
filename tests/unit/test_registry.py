"""The registry's conditional writes: what makes duplicate events and retries harmless."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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


def test_a_round_belongs_to_one_run(reg: Registry, clock: Any) -> None:
    kw: dict[str, Any] = {"job_name": "j1", "parents": [], "spec_location": LOC, "worst_case_hours": 1.5}
    first = reg.claim_round("churn", 1, run_id="run-1", **kw)
    clock.now += timedelta(minutes=3)
    again = reg.claim_round("churn", 1, run_id="run-1", **kw)
    assert again["created_at"] == first["created_at"] and again["worst_case_hours"] == 1.5
    with pytest.raises(RoundTaken) as exc:
        reg.claim_round("churn", 1, run_id="run-2", **kw)
    assert str(exc.value) == ("study churn: round 1 already belongs to run run-1 (job j1); runs of one study must "
                              "not overlap")


def test_a_retried_claim_leaves_a_launched_rounds_status_alone(reg: Registry) -> None:
    kw: dict[str, Any] = {"job_name": "j1", "parents": [], "spec_location": LOC, "worst_case_hours": 1.5}
    reg.claim_round("churn", 1, run_id="run-1", **kw)
    reg.set_round("churn", 1, "IN_PROGRESS")
    assert reg.claim_round("churn", 1, run_id="run-1", **kw)["status"] == "IN_PROGRESS"


def test_a_run_of_a_study_never_recorded_starts_at_round_one(reg: Registry) -> None:
    run = reg.claim_run("run-1", study="fresh", trigger="schedule", spec_location=LOC)
    assert (run["run_id"], run["study"], run["trigger"], run["base_round"], run["status"]) == (
        "run-1", "fresh", "schedule", 1, "RUNNING")


def test_two_claims_of_one_run_at_once_both_get_the_run_that_won(world: World, clock: Any) -> None:
    """The read finds no run, but another claim writes it before this one's conditional put."""
    winner = Registry(world.ddb, TABLE, clock=clock)

    class Racing:
        def __getattr__(self, op: str) -> Any:
            real = getattr(world.ddb, op)
            if op != "put_item":
                return real

            def put_item(**kw: Any) -> Any:
                winner.claim_run("run-1", study="churn", trigger="schedule", spec_location=LOC)
                return real(**kw)
            return put_item

    clock.now += timedelta(seconds=1)
    late = Registry(Racing(), TABLE, clock=lambda: clock.now + timedelta(seconds=5))
    got = late.claim_run("run-1", study="churn", trigger="s3", spec_location=LOC)
    assert got == winner.run("run-1") and got["trigger"] == "schedule"


def test_claim_round_does_not_move_latest_round_backwards(reg: Registry) -> None:
    kw: dict[str, Any] = {"parents": [], "spec_location": LOC, "worst_case_hours": 1.0}
    reg.claim_round("churn", 3, run_id="a", job_name="j3", **kw)
    reg.claim_round("churn", 2, run_id="b", job_name="j2", **kw)
    assert (reg.study("churn") or {})["latest_round"] == 3


@pytest.mark.parametrize(("goal", "values", "kept", "improved"), [
    ("maximize", [0.8, 0.7, 0.9], 0.9, [True, False, True]),
    ("minimize", [0.8, 0.7, 0.9], 0.7, [True, True, False]),
])
def test_study_best_only_improves(reg: Registry, goal: str, values: list[float], kept: float,
                                  improved: list[bool]) -> None:
    recorded = [reg.update_study_best("s", goal=goal, objective=v, training_job=f"tj{i}",
                                      hyperparameters={"eta": "0.1"}, round_no=i, report_uri=f"s3://r/{i}")
                for i, v in enumerate(values, start=1)]
    meta = reg.study("s") or {}
    assert meta["best_objective"] == kept
    assert recorded == improved  # True exactly for the values that beat the stored best when they came
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
    # A tie is no improvement in either direction: the first to reach a value stays the best.
    assert not better("maximize", 1.0, 1.0) and not better("minimize", 1.0, 1.0)


def test_a_client_error_without_an_error_member_is_no_failed_condition() -> None:
    from botocore.exceptions import ClientError

    from amt_conductor.runtime.registry import _conditional_failed

    assert _conditional_failed(ClientError({}, "UpdateItem")) is False
    assert _conditional_failed(ClientError({"Error": {"Code": "ConditionalCheckFailedException"}}, "UpdateItem"))


def test_equal_objectives_rank_the_later_round_first() -> None:
    # Warm-starting from the newer of two equally good rounds: it saw the newer data.
    rounds = [{"round": i, "status": "COMPLETED", "best_objective": 0.8, "job_name": f"j{i}"} for i in (1, 2, 3)]
    assert [r["job_name"] for r in rank_rounds(rounds, "maximize", limit=2)] == ["j3", "j2"]
    assert [r["job_name"] for r in rank_rounds(rounds, "minimize", limit=2)] == ["j3", "j2"]


class _SmallPages:
    """The DynamoDB client, answering queries one item per page (as a table past 1 MB of results does)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.pages = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def query(self, **kwargs: Any) -> Any:
        self.pages += 1
        return self._client.query(**{**kwargs, "Limit": 1})


def test_listings_follow_every_page(world: World, clock: Any) -> None:
    # A long study's rounds and many waiting jobs span several pages: none may be left out (the lineage,
    # the reconciler and the in-flight gauge read them).
    paged = _SmallPages(world.ddb)
    reg = Registry(paged, TABLE, clock=clock)
    kw: dict[str, Any] = {"parents": [], "spec_location": LOC, "worst_case_hours": 1.0}
    for n in (1, 2, 3):
        reg.claim_round("churn", n, run_id="run", job_name=f"j{n}", **kw)
        reg.put_token(f"j{n}", f"t{n}", study="churn", round_no=n, run_id="run")
    assert [r["round"] for r in reg.rounds("churn")] == [1, 2, 3]
    assert sorted(t["job_name"] for t in reg.quiet_tokens(clock.now + timedelta(seconds=1))) == ["j1", "j2", "j3"]
    assert reg.inflight_count() == 3
    assert paged.pages > 3


def test_a_late_release_does_not_rearm_a_newer_token(reg: Registry) -> None:
    # Launch retried: tok-2 replaced tok-1 and was resumed. The failed SendTask of tok-1 re-arms nothing,
    # or the reconciler would resume the execution a second time with tok-2.
    reg.put_token("j", "tok-1", study="s", round_no=1, run_id="r")
    reg.claim_token("j")
    reg.put_token("j", "tok-2", study="s", round_no=1, run_id="r")
    assert (reg.claim_token("j") or {}).get("token") == "tok-2"
    reg.release_token("j", "tok-1")
    assert reg.claim_token("j") is None
    # Nor does a release invent a waiting token for a job that has none.
    reg.release_token("never-launched", "t")
    assert reg.token("never-launched") is None
    assert reg.quiet_tokens(reg.clock() + timedelta(days=1)) == []


def test_touch_keeps_only_waiting_tokens_and_invents_none(reg: Registry) -> None:
    # The reconciler touches a job it found running; a job with no token is not one of ours.
    reg.touch_token("someone-elses-job")
    assert reg.token("someone-elses-job") is None
    reg.put_token("j", "tok", study="s", round_no=1, run_id="r")
    reg.claim_token("j")
    reg.touch_token("j")
    assert (reg.token("j") or {})["status"] == TokenStatus.RESUMED
    assert reg.quiet_tokens(reg.clock() + timedelta(days=1)) == []


def test_the_first_baseline_of_a_study_stays(reg: Registry) -> None:
    # Two first looks at the prefixes race: the later one (which saw an upload the first did not) must not
    # move the baseline past that upload, or it would never count as new data.
    reg.set_data_baseline("churn", "2026-12-01T10:00:00Z")
    reg.set_data_baseline("churn", "2026-12-01T11:00:00Z")
    assert (reg.study("churn") or {})["data_baseline"] == "2026-12-01T10:00:00Z"


def test_the_newest_upload_time_only_moves_forward(reg: Registry) -> None:
    # Events arrive out of order: an older upload noted late must not hide the newer one.
    reg.note_new_data("churn", "2026-12-01T11:00:00Z", via_event=True)
    reg.note_new_data("churn", "2026-12-01T10:00:00Z", via_event=True)
    assert (reg.study("churn") or {})["data_last_at"] == "2026-12-01T11:00:00Z"


def test_an_upload_starts_one_run_however_many_checks_claim_it(reg: Registry) -> None:
    reg.note_new_data("churn", "2026-12-01T10:00:00Z", via_event=True)
    assert reg.claim_data_run("churn", "2026-12-01T10:00:00Z") is True
    assert reg.claim_data_run("churn", "2026-12-01T10:00:00Z") is False
    # A check that read an upload since superseded claims nothing: the newer one gets its own run.
    reg.note_new_data("churn", "2026-12-01T12:00:00Z", via_event=True)
    assert reg.claim_data_run("churn", "2026-12-01T11:00:00Z") is False
    assert reg.claim_data_run("churn", "2026-12-01T12:00:00Z") is True


def test_a_retried_promotion_keeps_the_first_outcome(reg: Registry) -> None:
    reg.claim_run("run-1", study="churn", trigger="s3", spec_location=LOC)
    first = {"registered": True, "package_arn": "arn:pkg/1", "candidate": {"training_job": "tj-1"},
             "model_artifact": "s3://m/1"}
    again = {"registered": True, "package_arn": "arn:pkg/2", "candidate": {"training_job": "tj-2"},
             "model_artifact": "s3://m/2"}
    assert reg.record_promotion("run-1", "churn", first) == first
    assert reg.record_promotion("run-1", "churn", again) == first
    assert (reg.run("run-1") or {})["package_arn"] == "arn:pkg/1"
    meta = reg.study("churn") or {}
    assert (meta["package_arn"], meta["package_training_job"], meta["package_model_artifact"]) == (
        "arn:pkg/1", "tj-1", "s3://m/1")
    # A later run that registers nothing leaves the study's model package as it was (`amt best` shows it).
    reg.claim_run("run-2", study="churn", trigger="s3", spec_location=LOC)
    reg.record_promotion("run-2", "churn", {"registered": False, "package_arn": None, "candidate": {}})
    assert (reg.study("churn") or {})["package_arn"] == "arn:pkg/1"


def test_an_abandoned_token_leaves_the_inflight_index(reg: Registry) -> None:
    # A stopped run's job is no longer checked by the reconciler nor counted as in flight.
    reg.put_token("j", "tok", study="s", round_no=1, run_id="r")
    reg.abandon_token("j")
    assert reg.quiet_tokens(reg.clock() + timedelta(days=1)) == []
    assert reg.inflight_count() == 0


def test_the_registry_reads_its_own_items_strongly_consistent(world: World, clock: Any) -> None:
    """A round claimed a moment ago must be seen by the next read (lineage, budget, a retried Prepare): moto is
    always consistent, so the requests themselves are checked. Only the `inflight` index is read eventually
    consistent (a global secondary index offers nothing else)."""
    calls: list[tuple[str, dict[str, Any]]] = []

    class Spy:
        def __getattr__(self, op: str) -> Any:
            real = getattr(world.ddb, op)

            def call(**kw: Any) -> Any:
                calls.append((op, kw))
                return real(**kw)
            return call

    reg = Registry(Spy(), TABLE, clock=clock)
    reg.claim_round("s", 1, run_id="r", job_name="j1", parents=[], spec_location=LOC, worst_case_hours=1.0)
    reg.put_token("j1", "tok", study="s", round_no=1, run_id="r")
    for read in (lambda: reg.rounds("s"), lambda: reg.round("s", 1), lambda: reg.study("s"),
                 lambda: reg.token("j1"), lambda: reg.run("r"), lambda: reg.quiet_tokens(clock() + timedelta(days=1))):
        read()
    reads = [(op, kw) for op, kw in calls if op in ("get_item", "query")]
    assert {op for op, _ in reads} == {"get_item", "query"}
    assert any(kw.get("IndexName") for _, kw in reads)
    for op, kw in reads:
        assert kw.get("ConsistentRead") is (None if kw.get("IndexName") else True), (op, kw)


def test_a_study_item_records_its_name_goal_and_schedule(reg: Registry) -> None:
    """docs/architecture.md's registry: the study's name, goal (`amt best` prints it) and schedule ("" when it
    has none)."""
    reg.put_study_spec("s", spec_location=None, goal="minimize", schedule=None)
    item = reg.study("s") or {}
    assert (item["study"], item["goal"], item["schedule"], item["latest_round"]) == ("s", "minimize", "", 0)
    assert "spec_location" not in item  # an upload points the study nowhere
    reg.claim_round("s", 1, run_id="r", job_name="j1", parents=[], spec_location=LOC, worst_case_hours=1.0)
    reg.put_study_spec("s", spec_location=LOC, goal="minimize", schedule="rate(1 day)")
    item = reg.study("s") or {}
    assert (item["schedule"], item["spec_location"], item["latest_round"]) == ("rate(1 day)", LOC, 1)


def test_set_round_says_whether_it_wrote(reg: Registry) -> None:
    reg.claim_round("s", 1, run_id="r", job_name="j1", parents=[], spec_location=LOC, worst_case_hours=1.0)
    assert reg.set_round("s", 1, "IN_PROGRESS", only_if="LAUNCHING") is True
    assert reg.set_round("s", 1, "IN_PROGRESS", only_if="LAUNCHING") is False  # no longer launching
    assert reg.set_round("s", 1, "COMPLETED", report_uri="s3://r/1") is True  # unconditional: always written
    assert (reg.round("s", 1) or {})["status"] == "COMPLETED"


def test_the_registry_stores_json_values_and_refuses_others() -> None:
    from decimal import Decimal

    from amt_conductor.runtime.registry import _to_dynamo

    assert _to_dynamo({"a": None, "b": [1, None, "x", True], "c": 0.5}) == {"b": [1, None, "x", True],
                                                                          "c": Decimal("0.5")}
    assert _to_dynamo(None) is None and _to_dynamo(float("nan")) is None
    with pytest.raises(TypeError, match=r"^cannot store set in the registry$"):
        _to_dynamo({1, 2})


def test_only_a_failed_condition_is_an_answer_other_errors_of_a_conditional_write_raise(
        world: World, clock: Any) -> None:
    """A throttled conditional write must not pass for a lost race (None): it propagates, and is retried."""
    from botocore.exceptions import ClientError

    class Throttled:
        def __getattr__(self, op: str) -> Any:
            if op == "update_item":
                def update_item(**kw: Any) -> Any:
                    raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "UpdateItem")
                return update_item
            return getattr(world.ddb, op)

    reg = Registry(Throttled(), TABLE, clock=clock)
    with pytest.raises(ClientError, match="ProvisionedThroughputExceeded"):
        reg.set_round("s", 1, "COMPLETED", only_if="IN_PROGRESS")
    with pytest.raises(ClientError, match="ProvisionedThroughputExceeded"):
        reg.claim_token("j1")


def test_the_items_are_where_docs_architecture_md_says_deployed_tables_hold_them(world: World,
                                                                                 reg: Registry) -> None:
    # The layout is what a deployed table already holds: a key moved in a release would orphan every
    # in-flight token (a waiting execution would never resume) and every study's lineage at upgrade.
    reg.put_token("churn-r1-abc", "tok", study="churn", round_no=1, run_id="run")
    reg.put_study_spec("churn", spec_location=None, goal="maximize", schedule=None)
    reg.claim_round("churn", 1, run_id="run", job_name="churn-r1-abc", parents=[], spec_location=LOC,
                    worst_case_hours=1.0)
    reg.claim_run("run", study="churn", trigger="s3", spec_location=LOC)
    keys = {(i["pk"]["S"], i["sk"]["S"]) for i in world.ddb.scan(TableName=TABLE)["Items"]}
    assert keys == {("JOB#churn-r1-abc", "TOKEN"), ("STUDY#churn", "META"), ("STUDY#churn", "ROUND#0001"),
                    ("RUN#run", "META")}


def test_a_rounds_best_before_is_the_studys_best_when_first_claimed(reg: Registry) -> None:
    # A retried Report must compute the same improvement: a retried claim keeps the first best_before.
    kw: dict[str, Any] = {"job_name": "j2", "parents": [], "spec_location": LOC, "worst_case_hours": 1.0}
    reg.put_study_spec("churn", spec_location=None, goal="maximize", schedule=None)
    reg.update_study_best("churn", goal="maximize", objective=0.8, training_job="t1", hyperparameters={},
                          round_no=1, report_uri="s3://r/1")
    assert reg.claim_round("churn", 2, run_id="run", **kw)["best_before"] == 0.8
    reg.update_study_best("churn", goal="maximize", objective=0.9, training_job="t2", hyperparameters={},
                          round_no=2, report_uri="s3://r/2")
    assert reg.claim_round("churn", 2, run_id="run", **kw)["best_before"] == 0.8


def test_every_write_stamps_the_item_with_its_time(reg: Registry, clock: Any) -> None:
    # docs/architecture.md: study, round, run and token items carry `updated_at`, the time of their last write (for
    # people reading the table when a run misbehaves).
    def at(minutes: int) -> str:
        clock.now = datetime(2026, 11, 23, 12, minutes, tzinfo=UTC)
        return f"2026-11-23T12:{minutes:02d}:00Z"

    stamp = at(1)
    reg.put_study_spec("churn", spec_location=None, goal="maximize", schedule=None)
    assert (reg.study("churn") or {})["updated_at"] == stamp
    stamp = at(2)
    assert reg.claim_run("run", study="churn", trigger="s3", spec_location=LOC)["updated_at"] == stamp
    stamp = at(3)
    reg.claim_round("churn", 1, run_id="run", job_name="j1", parents=[], spec_location=LOC, worst_case_hours=1.0)
    assert (reg.round("churn", 1) or {})["updated_at"] == stamp
    assert (reg.study("churn") or {})["updated_at"] == stamp  # its latest round moved
    stamp = at(4)
    reg.set_round("churn", 1, "IN_PROGRESS")
    assert (reg.round("churn", 1) or {})["updated_at"] == stamp


def test_timestamps_are_utc_whatever_the_machines_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from amt_conductor.runtime.registry import iso

    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        assert iso(datetime(2026, 11, 23, 12, 0, tzinfo=UTC)) == "2026-11-23T12:00:00Z"
    finally:
        monkeypatch.undo()
        time.tzset()
