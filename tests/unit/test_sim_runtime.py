"""The simulator's Lambda runtime: a handler's environment while it runs, and other threads meanwhile."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from amt_conductor.cli.simulate.engine import Simulation
from amt_conductor.cli.simulate.moto_patches import patched
from amt_conductor.cli.simulate.runtime import Function, Runtime

BASE = {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@pytest.fixture()
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in BASE.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AMT_TOPIC_ARN", raising=False)
    yield


def _function(call: Any, **env: str) -> Function:
    return Function(name="fn", label="fn", arn="arn:aws:lambda:us-east-1:123456789012:function:fn",
                    env=env, call=call)


def test_a_handler_runs_under_its_environment_and_leaves_the_process_as_it_was(environment: None) -> None:
    seen: dict[str, str | None] = {}

    def handler(event: Any, context: Any) -> None:
        seen.update(topic=os.environ.get("AMT_TOPIC_ARN"), name=os.environ.get("AWS_LAMBDA_FUNCTION_NAME"),
                    region=os.environ.get("AWS_DEFAULT_REGION"))
        os.environ["SET_BY_HANDLER"] = "1"  # what a handler does to the environment stays in its container
        os.environ["AWS_DEFAULT_REGION"] = "eu-west-1"

    before = dict(os.environ)
    Runtime([_function(handler, AMT_TOPIC_ARN="arn:topic")], base_env={"AWS_DEFAULT_REGION": "us-west-2"}) \
        .invoke("fn", {})

    assert seen == {"topic": "arn:topic", "name": "fn", "region": "us-west-2"}
    assert dict(os.environ) == before


def _race(runtime: Runtime, read: Any, calls: int = 2000) -> list[str]:
    """Invoke `fn` `calls` times while another thread runs `read()` in a loop; what it reported."""
    problems: list[str] = []
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                problem = read()
            except Exception as exc:  # whatever the reader hit is the finding
                problem = f"{type(exc).__name__} {exc}"
            if problem:
                problems.append(problem)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: a race shows within a few calls
    reader = threading.Thread(target=loop)
    reader.start()
    try:
        for _ in range(calls):
            runtime.invoke("fn", {})
    finally:
        stop.set()
        reader.join()
        sys.setswitchinterval(interval)
    return problems


def test_other_threads_always_see_the_process_environment(environment: None) -> None:
    # moto's executions and the coordinator read the region and credentials while handlers run.
    runtime = Runtime([_function(lambda event, context: None, AMT_TOPIC_ARN="arn:topic", AMT_OTHER="x")],
                      base_env=dict(BASE))

    assert _race(runtime, lambda: None if os.environ.get("AWS_DEFAULT_REGION") == "us-east-1"
                 else "region missing") == []


def test_a_listing_under_the_runtime_lock_never_misses_a_key(environment: None) -> None:
    # What lists os.environ (creating a client) holds the lock: an invocation's keys come and go outside it.
    runtime = Runtime([_function(lambda event, context: None, AMT_TOPIC_ARN="arn:topic", AMT_OTHER="x")],
                      base_env=dict(BASE))

    def listing() -> str | None:
        with runtime.lock:
            env = dict(os.environ)
        return None if "AMT_TOPIC_ARN" not in env else "an invocation's key seen outside it"

    assert _race(runtime, listing, calls=500) == []


def test_no_client_is_created_while_a_handler_runs(environment: None) -> None:
    # Creating a boto3 client copies os.environ: in another thread it waits until the invocation ends.
    order: list[str] = []
    inside, release = threading.Event(), threading.Event()

    def handler(event: Any, context: Any) -> None:
        inside.set()
        release.wait(timeout=10)
        order.append("handler ended")

    runtime = Runtime([_function(handler, AMT_TOPIC_ARN="arn:topic")], base_env=dict(BASE))
    sim = Simulation(runtime, job_duration_s=60, fail_round=None, duplicate_events=False, progress=lambda _: None)
    with patched(sim):
        invocation = threading.Thread(target=runtime.invoke, args=("fn", {}))
        invocation.start()
        assert inside.wait(timeout=10)
        creator = threading.Thread(target=lambda: (boto3.session.Session().client("sqs"),
                                                   order.append("client created")))
        creator.start()
        creator.join(timeout=0.5)  # unblocked, it would be done by now
        release.set()
        invocation.join(timeout=10)
        creator.join(timeout=10)

    assert order == ["handler ended", "client created"]
