"""amt_conductor.handlers.start: one execution per spec version or schedule tick, whatever EventBridge repeats."""

from __future__ import annotations

import json

import pytest
from conftest import World, client_error, spec_doc

from amt_conductor.handlers import start
from amt_conductor.runtime.sagemaker_ops import Transient


def executions(w: World) -> list[dict]:
    return w.sfn.list_executions(stateMachineArn=w.state_machine_arn)["executions"]


def test_an_upload_starts_one_run_named_after_its_version(world: World) -> None:
    loc = world.put_spec(spec_doc())
    out = world.call(start, world.s3_event(loc))
    assert out["started"] is True
    [execution] = executions(world)
    assert execution["executionArn"] == out["execution_arn"]
    payload = json.loads(world.sfn.describe_execution(executionArn=out["execution_arn"])["input"])
    assert payload == {"source": loc, "trigger": "s3"}  # Prepare takes an upload's explicit parents on "s3"
    # No run id in the input: the workflow takes the execution's own name ($$.Execution.Name).
    assert "run_id" not in payload
    newer = world.put_spec(spec_doc(rounds={"max": 2}))
    assert world.call(start, world.s3_event(newer))["execution_arn"] != out["execution_arn"]


def test_the_same_event_twice_starts_one_run(world: World) -> None:
    event = world.s3_event(world.put_spec(spec_doc()))
    first = world.call(start, event)
    second = world.call(start, {**event, "id": "redelivered"})
    assert len(executions(world)) == 1
    assert second["execution_arn"] == first["execution_arn"]


def test_a_duplicate_after_the_run_ended_starts_nothing(world: World) -> None:
    event = world.s3_event(world.put_spec(spec_doc()))
    first = world.call(start, event)
    world.sfn.stop_execution(executionArn=first["execution_arn"])
    again = world.call(start, event)
    assert again == {"execution_arn": first["execution_arn"], "started": False}
    assert len(executions(world)) == 1


@pytest.mark.parametrize("key", ["other/churn.yaml", "configs/churn.txt", "configs/readme.md"])
def test_objects_that_are_not_specs_are_ignored(world: World, key: str) -> None:
    loc = world.put_spec(spec_doc(), key=key)
    assert world.call(start, world.s3_event(loc)) == {"execution_arn": None, "started": False, "ignored": key}
    assert executions(world) == []


def test_schedule_ticks_start_one_run_per_tick(world: World) -> None:
    tick = {"study": "churn", "trigger": "schedule", "time": "2026-11-23T03:00:00Z"}
    first = world.call(start, tick)
    world.call(start, tick)
    world.call(start, {**tick, "time": "2026-11-30T03:00:00Z"})
    assert len(executions(world)) == 2
    payload = json.loads(world.sfn.describe_execution(executionArn=first["execution_arn"])["input"])
    # docs/architecture.md: the input of a scheduled run; no run id in it (the workflow takes the execution's
    # own name, $$.Execution.Name: issue 9, finding 5).
    assert payload == {"study": "churn", "trigger": "schedule"}


def test_throttling_is_transient(world: World) -> None:
    world.sfn.fail["start_execution"] = [client_error("ThrottlingException", "Rate exceeded")]
    with pytest.raises(Transient, match=r"^StartExecution: ThrottlingException: Rate exceeded$"):
        world.call(start, world.s3_event(world.put_spec(spec_doc())))


def test_an_object_in_another_bucket_starts_nothing(world: World) -> None:
    # The rule filters by bucket; a misrouted or hand-made event must not start a run either.
    event = world.s3_event(world.put_spec(spec_doc()))
    event["detail"]["bucket"]["name"] = "someone-elses-bucket"
    out = world.call(start, event)
    assert out["started"] is False and out["ignored"].startswith("s3://someone-elses-bucket/")
    assert executions(world) == []


@pytest.mark.parametrize("event", [
    [], "text", {"detail": "text"}, {"detail": []}, {"detail": {"bucket": "b", "object": "o"}},
    {"detail": {"bucket": {"name": None}, "object": {"key": None}}},
])
def test_a_malformed_event_is_ignored_not_a_traceback(world: World, event: object) -> None:
    out = world.call(start, event)  # type: ignore[arg-type]
    assert out["started"] is False
    assert executions(world) == []


def test_a_tick_without_its_time_is_keyed_on_the_minute(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # Duplicates of one tick (same minute) start one run; ticks an hour or a minute apart start one each.
    from datetime import UTC, datetime

    import amt_conductor.runtime.workflow

    now = [datetime(2026, 11, 23, 10, 0, 5, tzinfo=UTC)]

    class Clock(datetime):
        @classmethod
        def now(cls, tz: object = None) -> datetime:  # type: ignore[override]
            return now[0]

    monkeypatch.setattr(amt_conductor.runtime.workflow, "datetime", Clock)
    tick = {"study": "churn", "trigger": "schedule"}
    names = []
    for at in ((10, 0, 5), (10, 0, 50), (10, 1, 0), (11, 0, 5)):
        now[0] = datetime(2026, 11, 23, *at, tzinfo=UTC)
        names.append(world.call(start, tick)["execution_arn"])
    assert names[0] == names[1] and len(set(names)) == 3
    assert len(executions(world)) == 3


def test_the_runtime_reads_its_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from amt_conductor.contract import Settings
    from amt_conductor.runtime.workflow import Runtime

    monkeypatch.setenv("AMT_REGISTRY_TABLE", "table-from-env")
    assert Runtime.from_env().settings == Settings.from_env()
    assert Runtime.from_env().settings.registry_table == "table-from-env"


def test_a_runtime_given_a_session_makes_its_clients_from_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests hand the runtime a session of their own (its credentials, its region)."""
    import boto3

    from amt_conductor.contract import Settings
    from amt_conductor.runtime.workflow import Runtime

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    rt = Runtime(Settings.from_env(), session=boto3.session.Session(region_name="eu-west-1"))
    assert rt.region == "eu-west-1" and rt.client("s3").meta.region_name == "eu-west-1"
    # Standard retry mode (throttling and transient errors retried with backoff) whatever the runtime's default:
    # older botocore releases, as a Lambda runtime may bundle, default to legacy (here set by the environment).
    monkeypatch.setenv("AWS_RETRY_MODE", "legacy")
    assert boto3.session.Session(region_name="eu-west-1").client("s3").meta.config.retries["mode"] == "legacy"
    assert rt.client("s3").meta.config.retries["mode"] == "standard"
    assert Runtime(Settings.from_env()).region == "us-east-1"


def test_an_object_in_another_bucket_starts_nothing_and_says_which(world: World) -> None:
    event = world.s3_event(world.put_spec(spec_doc()))
    event["detail"]["bucket"]["name"] = "someone-elses-bucket"
    assert world.call(start, event) == {"execution_arn": None, "started": False,
                                        "ignored": "s3://someone-elses-bucket/configs/churn.yaml"}
    assert executions(world) == []


@pytest.mark.parametrize("event", [
    {"study": "churn", "trigger": "new-data-object", "key": "churn/train/part-0.csv", "time": "2026-11-23T12:00:00Z"},
    {"study": "churn", "trigger": "new-data-check", "quiet_seconds": 3600, "prefixes": ["s3://no-data/churn/"]},
], ids=["upload-noted", "check-finds-nothing"])
def test_a_new_data_notice_is_not_a_schedule_tick(world: World, event: dict) -> None:
    # Both carry a study and no S3 detail, like a schedule tick: read as one, every upload and every check
    # would start a run. They go to the data trigger, which starts nothing here (no quiet new data).
    out = world.call(start, event)
    assert out["started"] is False
    assert executions(world) == []


@pytest.mark.parametrize(("key", "stem", "prefix"), [
    ("configs/churn-xgb.yaml", "churn-xgb", "churn-xgb"),
    ("configs/team-a/churn-xgb.yml", "churn-xgb", "churn-xgb"),  # the file's name, not its folder
    ("configs/churn.v2.json", "churn.v2", "churn-v2"),  # only the last suffix goes; a name has no dots
])
def test_the_execution_is_named_after_the_spec_file(world: World, key: str, stem: str, prefix: str) -> None:
    from amt_conductor.spec.naming import execution_name

    loc = world.put_spec(spec_doc(), key=key)
    out = world.call(start, world.s3_event(loc))
    name = out["execution_arn"].rsplit(":", 1)[1]
    assert name == execution_name(stem, f"{loc['bucket']}/{key}@{loc['version_id']}")
    assert name.startswith(f"{prefix}-")


def test_without_a_version_an_upload_is_told_apart_by_its_event_then_its_etag(world: World) -> None:
    """An unversioned bucket's events carry no version-id (and a hand-made event no sequencer): EventBridge's
    event id keys the run, and without one the object's ETag; the same upload redelivered starts nothing."""
    loc = world.put_spec(spec_doc())
    event = world.s3_event(loc, event_id="evt-a")
    del event["detail"]["object"]["version-id"]
    first = world.call(start, event)
    assert world.call(start, event)["execution_arn"] == first["execution_arn"]
    assert len(executions(world)) == 1
    second = world.call(start, {**event, "id": "evt-b"})
    assert second["started"] is True and second["execution_arn"] != first["execution_arn"]
    no_id = {k: v for k, v in event.items() if k != "id"}
    by_etag = world.call(start, no_id)
    other_etag = world.call(start, {**no_id, "detail": {**no_id["detail"], "object": {
        **no_id["detail"]["object"], "etag": "f"}}})
    assert by_etag["started"] and other_etag["started"]
    assert len({first["execution_arn"], second["execution_arn"], by_etag["execution_arn"],
                other_etag["execution_arn"]}) == 4 == len(executions(world))



def test_without_a_version_the_writes_sequencer_keys_the_run_before_the_event_id(world: World) -> None:
    """S3's sequencer names the write itself: the same write in two events (an archive replay gets a new event
    id) starts one run, and a later write of the same key (a larger sequencer) starts another."""
    loc = world.put_spec(spec_doc())
    event = world.s3_event(loc, event_id="evt-a")
    obj = event["detail"]["object"]
    del obj["version-id"]
    first = world.call(start, {**event, "detail": {**event["detail"], "object": {**obj, "sequencer": "0A1"}}})
    replay = world.call(start, {**event, "id": "evt-replayed", "detail": {**event["detail"], "object": {
        **obj, "sequencer": "0A1"}}})
    later = world.call(start, {**event, "detail": {**event["detail"], "object": {**obj, "sequencer": "0A2"}}})
    assert replay["execution_arn"] == first["execution_arn"] and later["execution_arn"] != first["execution_arn"]
    assert len(executions(world)) == 2

def test_start_log_lines_carry_the_run_and_its_study_or_spec(world: World) -> None:
    """The correlation keys of docs/operations.md ("Logs"): a tick's study and run, an upload's spec and run."""
    from amt_conductor.runtime.observability import logger

    tick = world.call(start, {"study": "churn", "trigger": "schedule", "time": "2026-11-23T03:00:00Z"})
    keys = logger.get_current_keys()
    assert (keys.get("study"), keys.get("run_id")) == ("churn", tick["execution_arn"].rsplit(":", 1)[1])
    loc = world.put_spec(spec_doc())
    upload = world.call(start, world.s3_event(loc))
    keys = logger.get_current_keys()
    assert (keys.get("spec_key"), keys.get("run_id")) == (loc["key"], upload["execution_arn"].rsplit(":", 1)[1])


def test_each_run_started_is_counted(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    from conftest import emitted_metrics

    capsys.readouterr()
    world.call(start, world.s3_event(world.put_spec(spec_doc())))
    assert [(n, v) for n, v, _ in emitted_metrics(capsys) if n == "RunsStarted"] == [("RunsStarted", 1.0)]
