"""`run_simulation`: one study run of the synthesized workflow, offline, in moto, on simulated time.

A test harness, not AWS: the state machine definition and the handlers are the real ones; the
cloud around them is moto, and SageMaker is `SimSageMaker`. The handlers only use boto3 and
cannot tell.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import sys
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from unittest import mock

from amt_conductor.cli.simulate import results as R
from amt_conductor.cli.simulate.clock import SimClock
from amt_conductor.cli.simulate.reconciler import reconcile_schedule, start_reconciler
from amt_conductor.cli.simulate.results import RoundResult, SimulationResult
from amt_conductor.cli.simulate.runtime import Runtime
from amt_conductor.cli.simulate.sagemaker import SimJob, SimSageMaker
from amt_conductor.cli.simulate.template import ACCOUNT, REGION, Resolver, synthesize
from amt_conductor.cli.simulate.world import World, functions_from_template
from amt_conductor.contract import DEFAULT_CONFIGS_PREFIX, EnvKeys
from amt_conductor.spec.loader import load_spec

Progress = Callable[[str], None]
Step = Callable[["Simulation", World], None]  # a later event in the same simulated world
MOTO_CONFIG: Any = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
BANNER = "simulator (test harness, not AWS)"
_ONE_AT_A_TIME = threading.Lock()
_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_DEV": "false"}


class Simulation:
    """Shared state of one run: the clock, simulated SageMaker, the Lambda runtime and the counters."""

    def __init__(self, runtime: Runtime, *, job_duration_s: float, fail_round: int | None,
                 duplicate_events: bool, progress: Progress, lose_events: bool = False) -> None:
        self.clock = SimClock()
        self.finished = False  # set once the execution ends: scheduled reconciler ticks stop
        self.runtime = runtime
        self.progress = progress
        self.sagemaker_calls: dict[str, int] = {}
        self.task_callbacks: Counter[str] = Counter()
        self.world: World | None = None
        self.sagemaker = SimSageMaker(self.clock, account=ACCOUNT, region=REGION, job_duration_s=job_duration_s,
                                      fail_round=fail_round, emit=self._emit, duplicate_events=duplicate_events,
                                      lose_events=lose_events)
        self.sagemaker.on_launch = self._launched
        self.sagemaker.on_finish = self._finished

    def _emit(self, event: dict[str, Any]) -> None:
        if self.world is not None:
            self.world.put_event(event)

    def _launched(self, job: SimJob) -> None:
        parents = f" warm-started from {', '.join(job.plan.parents)}" if job.plan.parents else ""
        self.progress(f"round {job.round}: launched {job.plan.name}{parents} "
                      f"(t+{_hours(self.clock.now)})")

    def _finished(self, job: SimJob) -> None:
        status = self.sagemaker.status(job)
        best = job.plan.best(job.plan.training_jobs)
        visible = len(self.sagemaker._visible(job))
        line = f"round {job.round}: {status}"
        if best is not None and status == "Completed":
            line += f", best {job.plan.metric}={best.objective:g} ({visible} training jobs)"
        if job.plan.failure_reason:
            line += f": {job.plan.failure_reason}"
        self.progress(f"{line} (t+{_hours(self.clock.now)})")


def run_simulation(spec_path: str | Path, *, rounds: int | None = None, duplicate_events: bool = False,
                   duplicate_s3_event: bool = False, fail_round: int | None = None,
                   job_duration_s: float = 3600, state_machine_definition: str | dict[str, Any] | None = None,
                   template: dict[str, Any] | None = None,
                   extra_functions: Mapping[str, Callable[[Any, Any], Any]] | None = None,
                   execution_input: dict[str, Any] | None = None, event_targets: Collection[str] | None = None,
                   wall_timeout_s: float = 300, artifacts_dir: str | Path | None = None,
                   lose_events: bool = False, then: Sequence[Step] = (),
                   progress: Progress | None = None) -> SimulationResult:
    """Run one study from `spec_path` through the workflow and return what happened.

    The spec is validated first (raises `amt_conductor.spec.errors.SpecError`). `rounds` overrides `rounds.max`.
    The run starts as in AWS: the spec lands in the configs bucket and the S3 "Object Created"
    event goes through the template's rules (twice with `duplicate_s3_event`); without such a
    rule the execution is started directly with `execution_input` (default: the spec's source).
    `state_machine_definition` replaces the template's (see `World._custom_definition` for its
    placeholders), and `extra_functions` are in-process Lambda functions it may call, e.g. a
    poll-loop baseline. `event_targets` limits which functions (by label: start, resume, ...)
    EventBridge rules may invoke. Each tuning job lasts `job_duration_s` simulated seconds.
    `then` are later events in the same world, each run once every execution so far has ended
    (e.g. `upload_spec(path)`: a second run of the study); the result describes the last execution.
    """
    say = progress or (lambda _line: None)
    spec = load_spec(spec_path)
    started = time.monotonic()
    if template is None:
        say(f"{BANNER}: synthesizing the CDK app for {spec.name}...")
        template = synthesize(spec=Path(spec_path))
    resolver = Resolver(template)
    functions = functions_from_template(resolver, extra_functions or {})
    runtime = Runtime(functions, base_env=_ENV)
    sim = Simulation(runtime, job_duration_s=job_duration_s, fail_round=fail_round,
                     duplicate_events=duplicate_events, lose_events=lose_events, progress=say)
    say(f"{BANNER}: {len(functions)} functions, state machine from the template, "
        f"simulated SageMaker ({_hours(job_duration_s)} per tuning job)")

    from moto import mock_aws  # late: importing moto costs a second the CLI's other commands skip

    from amt_conductor.cli.simulate.moto_patches import patched

    # moto's backends and the patches are process-wide: simulations in one process take turns.
    with _ONE_AT_A_TIME, _quiet_stdout(), warnings.catch_warnings(), mock.patch.dict(os.environ, _ENV), \
            mock_aws(config=MOTO_CONFIG), patched(sim):
        # Powertools warns when a handler emits no metrics; in a simulation that is noise.
        warnings.filterwarnings("ignore", module="aws_lambda_powertools")
        world = sim.world = World(resolver, runtime, definition=state_machine_definition,
                                  event_targets=frozenset(event_targets) if event_targets is not None else None)
        world.build()
        if lose_events:
            lid, period_s = reconcile_schedule(template)
            start_reconciler(sim, resolver.arn(lid), period_s, running=lambda: not sim.finished)
            say(f"{BANNER}: SageMaker's events are lost; the reconciler runs every {_hours(period_s)}")
        bucket, key, body = _spec_object(world, Path(spec_path), spec.name, rounds)
        s3 = world.client("s3")
        # What `cdk deploy` writes for the study the stack was synthesized for: the deployed spec that
        # scheduled and new-data runs load (amt_conductor.runtime.deployed).
        from amt_conductor.contract import DEPLOYED_SPECS_KEY

        s3.put_object(Bucket=bucket, Key=DEPLOYED_SPECS_KEY,
                      Body=json.dumps({spec.name: {"key": key, "body": body.decode()}}).encode())
        version = s3.put_object(Bucket=bucket, Key=key, Body=body).get("VersionId", "null")
        say(f"{BANNER}: uploaded s3://{bucket}/{key} (version {version})")
        triggers = _trigger(sim, world, bucket, key, version, len(body), duplicate_s3_event, execution_input)
        result = _wait_and_collect(sim, world, triggers, wall_timeout_s, then)
        if artifacts_dir is not None:
            # The mocked bucket vanishes with the mock: copy the reports out while it exists.
            R.save_artifacts(world.client("s3"), world.env_value(EnvKeys.ARTIFACTS_BUCKET), Path(artifacts_dir))
    result.wall_seconds = round(time.monotonic() - started, 3)
    return result


def _spec_object(world: World, path: Path, study: str, rounds: int | None) -> tuple[str, str, bytes]:
    bucket = world.env_value(EnvKeys.CONFIGS_BUCKET)
    if not bucket:
        buckets = world.resolver.of_type("AWS::S3::Bucket")
        bucket = world.resolver.names[buckets[0].logical_id] if buckets else "amt-sim-configs"
        if not buckets:
            world.client("s3").create_bucket(Bucket=bucket)
    prefix = world.env_value(EnvKeys.CONFIGS_PREFIX) or DEFAULT_CONFIGS_PREFIX
    from amt_conductor.spec.sourcedir import deployable_spec

    body = deployable_spec(path)  # as the stack deploys it: a source_dir's archive digest written in
    if rounds is not None:
        from amt_conductor.spec.sourcetext import apply_source_text
        from amt_conductor.spec.yamlsafe import load_yaml

        # Rewritten as JSON: text fields keep the text written (`version: 1.10` stays "1.10").
        doc = apply_source_text(*load_yaml(body.decode("utf-8-sig")))
        doc.setdefault("rounds", {})["max"] = rounds
        body = json.dumps(doc, indent=2).encode()  # JSON is YAML: any key suffix reads it
    return bucket, f"{prefix}{path.name}", body


def s3_object_created_event(bucket: str, key: str, version: str, size: int, *, account: str = ACCOUNT,
                            region: str = REGION, at: str = "2026-01-01T00:00:00Z") -> dict[str, Any]:
    """The EventBridge "Object Created" event S3 sends for a PutObject."""
    digest = hashlib.sha256(f"{bucket}/{key}/{version}".encode()).hexdigest()
    return {
        "version": "0", "id": f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}",
        "detail-type": "Object Created", "source": "aws.s3", "account": account, "time": at,
        "region": region, "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {"version": "0", "bucket": {"name": bucket},
                   "object": {"key": key, "size": size, "etag": digest[:32], "version-id": version,
                              "sequencer": digest[:18].upper()},
                   "request-id": digest[32:48].upper(), "requester": account, "source-ip-address": "203.0.113.10",
                   "reason": "PutObject"},
    }


def _trigger(sim: Simulation, world: World, bucket: str, key: str, version: str, size: int,
             duplicate: bool, execution_input: dict[str, Any] | None) -> list[dict[str, Any]]:
    event = s3_object_created_event(bucket, key, version, size)
    out: list[dict[str, Any]] = []
    sim.runtime.gate.clear()
    try:
        for _ in range(2 if duplicate else 1):
            for d in world.put_event(event):
                fn = sim.runtime.find(d.target)
                label = fn.label if fn else d.target.split(":")[-1]
                out.append({"rule": d.rule, "target": label, "output": d.output, "error": d.error})
                said = d.output if not isinstance(d.output, dict) else (
                    f"execution {str(d.output.get('execution_arn')).split(':')[-1]}"
                    f" (started: {d.output.get('started')})")
                sim.progress(f"{BANNER}: S3 Object Created event -> {label}: {d.error or said}")
        if not out:  # no S3 rule in this template: start the execution as the start handler would
            sfn = world.client("stepfunctions")
            payload = execution_input or {"source": {"bucket": bucket, "key": key, "version_id": version}}
            arn = sfn.start_execution(stateMachineArn=world.state_machine_arn, name=f"sim-{version}"[:80],
                                      input=json.dumps(payload))["executionArn"]
            out.append({"rule": None, "target": "StartExecution", "output": {"execution_arn": arn}, "error": None})
    finally:
        sim.runtime.gate.set()
    return out


def _wait_all(world: World, wall_timeout_s: float) -> tuple[str | None, dict[str, Any]]:
    """Wait for every execution to end; (the last started one's ARN, its description)."""
    sfn = world.client("stepfunctions")
    executions = sorted(sfn.list_executions(stateMachineArn=world.state_machine_arn)["executions"],
                        key=lambda e: e["startDate"])
    desc: dict[str, Any] = {"status": "NOT_STARTED"}
    deadline = time.monotonic() + wall_timeout_s
    for e in executions:
        arn = e["executionArn"]
        desc = sfn.describe_execution(executionArn=arn)
        while desc["status"] == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.005)  # real time: the execution runs in moto's worker thread
            desc = sfn.describe_execution(executionArn=arn)
        if desc["status"] == "RUNNING":
            sfn.stop_execution(executionArn=arn, error="Simulator.WallTimeout",
                               cause=f"still running after {wall_timeout_s:g} s of wall time")
            desc = {**desc, "status": "ABORTED", "error": "Simulator.WallTimeout"}
    return (executions[-1]["executionArn"] if executions else None), desc


def upload_spec(path: str | Path, *, rounds: int | None = None) -> Step:
    """A `then` step: upload the spec again (a new object version: a new run of the study)."""
    def step(sim: Simulation, world: World) -> None:
        bucket, key, body = _spec_object(world, Path(path), load_spec(path).name, rounds)
        version = world.client("s3").put_object(Bucket=bucket, Key=key, Body=body).get("VersionId", "null")
        sim.progress(f"{BANNER}: uploaded s3://{bucket}/{key} again (version {version})")
        _trigger(sim, world, bucket, key, version, len(body), False, None)
    return step


def data_uploads(channel_uri: str, count: int, *, quiet_s: float = 3600) -> Step:
    """A `then` step: `count` objects land under `channel_uri` (one "Object Created" event each, through the
    template's rules); the study's scheduled new-data check runs during the burst and again once the
    uploads have been quiet for `quiet_s` simulated seconds."""
    def step(sim: Simulation, world: World) -> None:
        bucket, _, prefix = channel_uri.removeprefix("s3://").partition("/")
        s3 = world.client("s3")
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
            s3.create_bucket(Bucket=bucket)
        for i in range(count):
            key = f"{prefix}part-{sim.clock.now:.0f}-{i:04d}.csv"
            version = s3.put_object(Bucket=bucket, Key=key, Body=b"0,1\n").get("VersionId", "null")
            at = sim.clock.datetime().strftime("%Y-%m-%dT%H:%M:%SZ")
            world.put_event(s3_object_created_event(bucket, key, version, 4, at=at))
            sim.clock.advance(1)
        sim.progress(f"{BANNER}: {count} objects uploaded under {channel_uri}")
        _run_data_checks(sim, world)  # during the burst's quiet period: nothing starts
        sim.clock.advance(quiet_s)
        _run_data_checks(sim, world)
    return step


def _run_data_checks(sim: Simulation, world: World) -> None:
    """Invoke the template's scheduled new-data checks once (the simulator runs no schedules by itself)."""
    from amt_conductor.runtime.data_trigger import CHECK

    for res in world.resolver.of_type("AWS::Events::Rule"):
        for target in world.resolver.resolve(res.props).get("Targets") or []:
            payload = json.loads(target["Input"]) if "Input" in target else {}
            if payload.get("trigger") == CHECK:
                sim.runtime.gate.clear()
                try:
                    out = sim.runtime.invoke(str(target["Arn"]), payload)
                finally:
                    sim.runtime.gate.set()
                sim.progress(f"{BANNER}: new-data check for {payload.get('study')}: "
                             f"{'started a run' if out.get('started') else out.get('reason')}")


def _wait_and_collect(sim: Simulation, world: World, triggers: list[dict[str, Any]],
                      wall_timeout_s: float, then: Sequence[Step] = ()) -> SimulationResult:
    sfn = world.client("stepfunctions")
    arn, desc = _wait_all(world, wall_timeout_s)
    for step in then:
        step(sim, world)
        arn, desc = _wait_all(world, wall_timeout_s)
    sim.finished = True
    sim.clock.drain()  # late duplicate events still reach their handlers
    history = R.read_history(sfn, arn) if arn else []
    executions = sfn.list_executions(stateMachineArn=world.state_machine_arn)["executions"]
    output = json.loads(desc["output"]) if desc.get("output") else None
    notifications = R.read_notifications(world.client("sqs"), world.capture_queue_url)
    for n in notifications:
        sim.progress(f"notification: {n['subject'] or n['message'][:80]}")
    rounds = [_round(sim, job) for job in sim.sagemaker.jobs.values()]
    return SimulationResult(
        status=desc["status"], rounds=rounds, report_uri=R.find_key(history, "report_uri"),
        state_transitions=R.count_transitions(history),
        lambda_invocations=sum(sim.runtime.invocations.values()), sagemaker_calls=sum(sim.sagemaker_calls.values()),
        lambda_invocations_by_function=dict(sim.runtime.invocations),
        sagemaker_calls_by_operation=dict(sim.sagemaker_calls), notifications=notifications, history=history,
        execution_arn=arn, executions=[{"name": e["name"], "status": e["status"]} for e in executions],
        triggers=triggers, task_callbacks=dict(sim.task_callbacks),
        registry=R.read_registry(world.client("dynamodb"), world.env_value(EnvKeys.REGISTRY_TABLE)),
        model_packages=R.read_model_packages(world.client("sagemaker")),
        artifacts=R.list_artifacts(world.client("s3"), world.env_value(EnvKeys.ARTIFACTS_BUCKET)),
        output=output, error=desc.get("error"), cause=desc.get("cause"),
        handler_errors=list(sim.runtime.errors), simulated_seconds=sim.clock.now)


def _round(sim: Simulation, job: SimJob) -> RoundResult:
    visible = sim.sagemaker._visible(job)
    best = job.plan.best([tj for tj, st in visible if st == "Completed"])
    return RoundResult(round=job.round, job_name=job.plan.name, parents=list(job.plan.parents),
                       status=sim.sagemaker.status(job), best_objective=best.objective if best else None,
                       training_jobs=len(visible), best_hyperparameters=dict(best.hyperparameters) if best else {},
                       target_reached=job.plan.target_reached)


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Handlers log (and emit metrics) to stdout; keep it for `--json`. Progress goes to saved streams.
    moto logs each failed state as an error: the run's result already says how it ended."""
    saved, moto_log = sys.stdout, logging.getLogger("moto")
    level = moto_log.level
    sys.stdout = io.StringIO()
    moto_log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        sys.stdout = saved
        moto_log.setLevel(level)


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"
