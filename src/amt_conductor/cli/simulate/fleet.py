"""`run_fleet`: many studies submitted at once through one simulated stack, under the account's quotas.

The same harness as `run_simulation` (the template's state machine in moto, the real handlers, simulated
SageMaker), with every study's execution running at once: a `clock.Coordinator` moves simulated time only
while all executions wait, so the figures (makespan, transitions, invocations, registry reads) are those
of the real workflow on simulated time, whatever this machine's speed.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from amt_conductor.cdk.ids import States
from amt_conductor.cli.simulate import engine
from amt_conductor.cli.simulate import results as R
from amt_conductor.cli.simulate.clock import Coordinator
from amt_conductor.cli.simulate.reconciler import reconcile_schedule, start_reconciler
from amt_conductor.cli.simulate.runtime import Runtime
from amt_conductor.cli.simulate.sagemaker import AccountQuotas
from amt_conductor.cli.simulate.template import Resolver
from amt_conductor.cli.simulate.world import World, functions_from_template
from amt_conductor.contract import DEFAULT_CONFIGS_PREFIX, EnvKeys

REGISTRY_READS = frozenset({"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"})


@dataclass(frozen=True)
class RunCost:
    """One execution's state transitions, its rounds (Launch entered) and how many of them queued."""

    transitions: int
    rounds: int
    queued: int


@dataclass
class FleetResult:
    submitted: int
    statuses: dict[str, str]  # execution name -> final status
    makespan_s: float
    job_seconds: float  # the tuning jobs' total duration (the work)
    longest_job_seconds: float
    rounds: int
    transitions: int
    invocations: dict[str, int]
    reconcile_reads: list[int]  # registry reads of each reconcile tick
    reconcile_in_flight: list[int]  # runs in flight (started, not ended) at each reconcile tick
    refused_creates: int  # ResourceLimitExceeded answers from simulated SageMaker
    max_concurrent_jobs: int  # most tuning jobs running at one simulated moment
    handler_errors: list[str] = field(default_factory=list)
    failure_reasons: list[str] = field(default_factory=list)  # from the registry's failed runs
    runs: dict[str, RunCost] = field(default_factory=dict)  # execution name -> its cost
    registry_items: int = 0  # items in the registry at the end: everything the studies left behind
    wall_seconds: float = 0.0

    @property
    def succeeded(self) -> int:
        return sum(1 for s in self.statuses.values() if s == "SUCCEEDED")

    @property
    def failed(self) -> int:
        return self.submitted - self.succeeded


def run_fleet(specs: Sequence[tuple[str, bytes]], *, template: dict[str, Any], quotas: AccountQuotas,
              job_duration_s: float = 3600, wall_timeout_s: float = 1800,
              progress: Callable[[str], None] | None = None) -> FleetResult:
    """Upload every `(file name, spec body)` at simulated time 0 and run all studies to their end."""
    say = progress or (lambda _line: None)
    started = time.monotonic()
    resolver = Resolver(template)
    runtime = Runtime(functions_from_template(resolver, {}), base_env=engine._ENV)
    sim = engine.Simulation(runtime, job_duration_s=job_duration_s, fail_round=None, duplicate_events=False,
                            progress=lambda _line: None)
    sim.sagemaker.quotas = quotas
    coordinator = Coordinator(sim.clock)
    reads: list[int] = []
    in_flight: list[int] = []

    from moto import mock_aws

    from amt_conductor.cli.simulate.moto_patches import patched

    with engine._ONE_AT_A_TIME, engine._quiet_stdout(), warnings.catch_warnings(), \
            mock.patch.dict(os.environ, engine._ENV), mock_aws(config=engine.MOTO_CONFIG), patched(sim), \
            _count_reconcile_reads(runtime, reads, in_flight, lambda: coordinator.started - coordinator.ended):
        warnings.filterwarnings("ignore", module="aws_lambda_powertools")
        world = sim.world = World(resolver, runtime)
        world.build()
        lid, period_s = reconcile_schedule(template)
        start_reconciler(sim, resolver.arn(lid), period_s, running=lambda: not sim.finished)
        bucket = world.env_value(EnvKeys.CONFIGS_BUCKET)
        prefix = world.env_value(EnvKeys.CONFIGS_PREFIX) or DEFAULT_CONFIGS_PREFIX
        s3 = world.client("s3")
        say(f"fleet: submitting {len(specs)} studies at once")
        for name, body in specs:
            key = f"{prefix}{name}"
            version = s3.put_object(Bucket=bucket, Key=key, Body=body).get("VersionId", "null")
            world.put_event(engine.s3_object_created_event(bucket, key, version, len(body)))
        finished = coordinator.run(lambda: coordinator.started >= len(specs) and
                                   coordinator.ended >= coordinator.started, wall_timeout_s)
        sim.finished = True
        if not finished:
            say(f"fleet: wall-clock timeout after {wall_timeout_s:g} s; unfinished runs count as failed")
        statuses, runs = _executions(world)
        jobs = list(sim.sagemaker.jobs.values())
        durations = [min(j.plan.end_s, j.plan.stopped_s or j.plan.end_s) - j.plan.created_s for j in jobs]
        registry = R.read_registry(world.client("dynamodb"), world.env_value(EnvKeys.REGISTRY_TABLE))
        result = FleetResult(
            submitted=len(specs), statuses=statuses, makespan_s=max(coordinator.end_times, default=0.0),
            job_seconds=sum(durations), longest_job_seconds=max(durations, default=0.0),
            rounds=len(jobs), transitions=sum(c.transitions for c in runs.values()),
            invocations=dict(runtime.invocations),
            reconcile_reads=reads, reconcile_in_flight=in_flight, refused_creates=sim.sagemaker.refused,
            max_concurrent_jobs=_max_concurrent([(j.plan.created_s, j.plan.stopped_s or j.plan.end_s) for j in jobs]),
            handler_errors=list(runtime.errors),
            failure_reasons=[str(i.get("failure_reason")) for i in registry
                             if str(i.get("pk", "")).startswith("RUN#") and i.get("status") == "FAILED"],
            runs=runs, registry_items=len(registry))
    result.wall_seconds = round(time.monotonic() - started, 1)
    say(f"fleet: {result.succeeded}/{result.submitted} succeeded, makespan {result.makespan_s / 3600:.2f} h "
        f"({result.wall_seconds:.0f} s of wall time)")
    return result


def _max_concurrent(intervals: list[tuple[float, float]]) -> int:
    # An end and a start at the same moment do not overlap: ends sort first.
    points = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    most = now = 0
    for _, delta in points:
        now += delta
        most = max(most, now)
    return most


def _executions(world: World) -> tuple[dict[str, str], dict[str, RunCost]]:
    """Each execution's final status and what it cost, by name."""
    sfn = world.client("stepfunctions")
    statuses: dict[str, str] = {}
    costs: dict[str, RunCost] = {}
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=world.state_machine_arn):
        for e in page["executions"]:
            statuses[e["name"]] = e["status"]
            history = R.read_history(sfn, e["executionArn"])
            entered = [str(h.get("stateEnteredEventDetails", {}).get("name")) for h in history
                       if h["type"].endswith("StateEntered")]
            costs[e["name"]] = RunCost(R.count_transitions(history), entered.count(States.LAUNCH),
                                       entered.count(States.WAIT_IN_QUEUE))
    return statuses, costs


@contextmanager
def _count_reconcile_reads(runtime: Runtime, reads: list[int], in_flight: list[int],
                           runs_in_flight: Callable[[], int]) -> Iterator[None]:
    """Registry reads made by each reconcile invocation (botocore calls, counted by operation), and the
    runs in flight when it ran."""
    from botocore.client import BaseClient

    original_call, original_invoke = BaseClient._make_api_call, runtime.invoke
    counter: list[int] = []

    def make_api_call(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if counter and self.meta.service_model.service_name == "dynamodb" and operation in REGISTRY_READS:
            counter[-1] += 1
        return original_call(self, operation, params)

    def invoke(name_or_arn: str, event: Any) -> Any:
        fn = runtime.find(name_or_arn)
        if fn is None or fn.label != "reconcile":
            return original_invoke(name_or_arn, event)
        counter.append(0)
        in_flight.append(runs_in_flight())
        try:
            return original_invoke(name_or_arn, event)
        finally:
            reads.append(counter.pop())

    with mock.patch.object(BaseClient, "_make_api_call", make_api_call), \
            mock.patch.object(runtime, "invoke", invoke):
        yield


def fleet_specs(base: Path, count: int, *, prefix: str = "fleet", rounds: int = 1) -> list[tuple[str, bytes]]:
    """`count` copies of the spec at `base`, named `<prefix>-0001`..., `rounds` rounds each."""
    import yaml

    doc = yaml.safe_load(base.read_text())
    out = []
    for i in range(count):
        d = json.loads(json.dumps(doc))
        d["name"] = f"{prefix}-{i + 1:04d}"
        d["rounds"] = {"max": rounds, "min_improvement": 0}
        d.pop("schedule", None)
        d.pop("budget", None)
        d.pop("completion", None)
        d.pop("warm_start", None)
        out.append((f"{d['name']}.json", json.dumps(d).encode()))
    return out
