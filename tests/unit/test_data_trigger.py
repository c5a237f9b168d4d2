"""triggers.new_data in the start handler: a burst of uploads starts one run after its quiet period; a
bucket that sends no events is scanned; nothing starts for data that was there before."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import World, spec_doc

from amt_conductor.handlers import start
from amt_conductor.runtime.data_trigger import CHECK, OBJECT_EVENT
from amt_conductor.runtime.registry import Registry

DATA = "my-data-bucket"
PREFIX = "s3://my-data-bucket/churn/train/"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def data_world(world: World) -> tuple[World, Clock]:
    clock = Clock()
    world.rt.registry = Registry(world.ddb, world.rt.registry._table, clock=clock)  # type: ignore[attr-defined]
    src = world.put_spec(spec_doc(triggers={"new_data": {"channels": ["train"], "quiet_period": "1h"}}))
    world.rt.registry.put_study_spec("churn", spec_location=src, goal="maximize", schedule=None)
    world.s3.create_bucket(Bucket=DATA)
    return world, clock


def _upload(w: World, clock: Clock, n: int) -> None:
    for i in range(n):
        w.s3.put_object(Bucket=DATA, Key=f"churn/train/part-{i}.csv", Body=b"1")
        w.call(start, {"study": "churn", "trigger": OBJECT_EVENT, "key": f"churn/train/part-{i}.csv",
                       "time": (clock.now + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ")})


def _check(w: World) -> dict[str, Any]:
    out: dict[str, Any] = w.call(start, {"study": "churn", "trigger": CHECK, "quiet_seconds": 3600,
                                         "prefixes": [PREFIX]})
    return out


def test_a_burst_starts_one_run_after_the_quiet_period(data_world: tuple[World, Clock]) -> None:
    w, clock = data_world
    _upload(w, clock, 50)
    clock.now += timedelta(minutes=30)
    assert _check(w)["started"] is False  # still within the quiet period
    clock.now += timedelta(minutes=31)
    first = _check(w)
    assert first["started"] is True
    assert _check(w)["started"] is False  # the next tick: already started for this upload
    (call,) = w.sfn.calls["start_execution"]
    assert '"trigger": "new-data"' in call["input"]


def test_new_uploads_after_a_run_start_another(data_world: tuple[World, Clock]) -> None:
    w, clock = data_world
    _upload(w, clock, 3)
    clock.now += timedelta(hours=2)
    assert _check(w)["started"] is True
    _upload(w, clock, 2)
    clock.now += timedelta(hours=2)
    assert _check(w)["started"] is True
    names = [c["name"] for c in w.sfn.calls["start_execution"]]
    assert len(set(names)) == 2


def test_a_bucket_without_events_is_scanned_and_old_data_is_not_new(data_world: tuple[World, Clock]) -> None:
    w, clock = data_world
    w.s3.put_object(Bucket=DATA, Key="churn/train/old.csv", Body=b"1")
    clock.now = datetime.now(UTC) + timedelta(hours=2)  # moto stamps LastModified with the real time
    assert _check(w)["reason"].startswith("first look")  # what is there already is the baseline
    clock.now += timedelta(hours=2)
    assert _check(w)["started"] is False
    time.sleep(1.1)  # S3 times have one-second resolution: the new object must be later than the baseline
    w.s3.put_object(Bucket=DATA, Key="churn/train/new.csv", Body=b"1")  # no event: found by the scan
    # The check's clock is two hours past the object's LastModified: quiet long enough, one run starts.
    assert _check(w)["started"] is True
    assert _check(w)["started"] is False
    meta = w.rt.registry.study("churn")
    assert meta is not None and not meta.get("data_events")
