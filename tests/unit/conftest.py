"""moto-backed AWS for the handler tests, plus the two SageMaker calls moto lacks.

moto's SageMaker completes a tuning job at once, overwrites a job created twice under one name,
and raises NotImplementedError for ListTrainingJobsForHyperParameterTuningJob and
StopHyperParameterTuningJob. `FakeSageMaker` wraps the moto client: it answers those two from
test data, raises ResourceInUse for a second create (as SageMaker does), and lets a test set a
job's status. `Recorder` wraps a client to keep the calls a test asserts on (moto's
SendTaskSuccess is a no-op with nothing to inspect).
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError

REGION = "us-east-1"
ACCOUNT = "123456789012"
TABLE = "amt-registry"
CONFIGS = "amt-configs"
ARTIFACTS = "amt-artifacts"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/amt-sagemaker"
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/churn:1.0"

ENV = {
    "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
    "AMT_REGISTRY_TABLE": TABLE, "AMT_ARTIFACTS_BUCKET": ARTIFACTS, "AMT_CONFIGS_BUCKET": CONFIGS,
    "AMT_CONFIGS_PREFIX": "configs/", "AMT_EXECUTION_ROLE_ARN": ROLE, "AMT_REPORTS_PREFIX": "reports/",
    "POWERTOOLS_SERVICE_NAME": "amt-test", "POWERTOOLS_METRICS_NAMESPACE": "AmtConductor",
}
os.environ.update(ENV)  # before any handler module is imported: they read settings at import

SPEC: dict[str, Any] = {
    "name": "churn",
    "objective": {"metric": "validation:auc", "goal": "maximize"},
    "strategy": "bayesian",
    "algorithm": {"image": IMAGE, "metrics": [{"name": "validation:auc", "regex": "auc=([0-9.]+)"}]},
    "hyperparameters": {"num_round": 100},
    "ranges": {
        "eta": {"type": "continuous", "min": 0.01, "max": 0.5, "scaling": "log"},
        "max_depth": {"type": "integer", "min": 2, "max": 10},
    },
    "data": {"train": {"uri": "s3://my-data-bucket/churn/train/"}},
    "resources": {"instance_type": "ml.m5.xlarge", "max_jobs": 4, "max_parallel_jobs": 2,
                  "max_runtime_per_job": "1h"},
    "rounds": {"max": 3, "min_improvement": 0.001},
    "budget": {"max_instance_hours": 20},
}


def spec_doc(**changes: Any) -> dict[str, Any]:
    """A valid spec (4 instance-hours a round by worst case) with top-level fields replaced."""
    doc = copy.deepcopy(SPEC)
    for key, value in changes.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


def client_error(code: str, message: str = "", status: int = 400, op: str = "Op") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, op)


class Recorder:
    """Delegates to a client; records calls to `methods`; `fail[method]` makes the next calls raise."""

    def __init__(self, client: Any, methods: tuple[str, ...]) -> None:
        self._client = client
        self.calls: dict[str, list[dict[str, Any]]] = {m: [] for m in methods}
        self.fail: dict[str, list[Exception]] = {}

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._client, name)
        if name not in self.calls:
            return target

        def call(**kwargs: Any) -> Any:
            if self.fail.get(name):
                raise self.fail[name].pop(0)
            self.calls[name].append(kwargs)
            return target(**kwargs)
        return call


def summary(tuning_job: str, i: int, objective: float | None, *, created: datetime | None = None,
            **tuned: str) -> dict[str, Any]:
    """A ListTrainingJobsForHyperParameterTuningJob summary."""
    created = created or datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=i)
    s: dict[str, Any] = {
        "TrainingJobName": f"{tuning_job}-{i:03d}-abcdef", "TrainingJobArn": f"arn:tj/{i}",
        "TuningJobName": tuning_job, "CreationTime": created, "TrainingStartTime": created,
        "TrainingEndTime": created + timedelta(minutes=30), "TrainingJobStatus": "Completed",
        "TunedHyperParameters": tuned or {"eta": f"{0.01 * (i + 1):.2f}", "max_depth": str(2 + i % 8)},
    }
    if objective is not None:
        s["FinalHyperParameterTuningJobObjectiveMetric"] = {"MetricName": "validation:auc", "Value": objective}
        s["ObjectiveStatus"] = "Succeeded"
    else:
        s["TrainingJobStatus"], s["ObjectiveStatus"] = "Failed", "Failed"
    return s


class FakeSageMaker:
    """moto's SageMaker plus what it lacks (see the module docstring)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.training_jobs: dict[str, list[dict[str, Any]]] = {}
        self.status: dict[str, tuple[str, str]] = {}
        self.created: list[str] = []
        self.stopped: list[str] = []
        self.list_calls: list[dict[str, Any]] = []
        self.fail_create: list[Exception] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def exists(self, name: str) -> bool:
        try:
            self._client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        except ClientError:
            return False
        return True

    def create_hyper_parameter_tuning_job(self, **kwargs: Any) -> dict[str, Any]:
        if self.fail_create:
            raise self.fail_create.pop(0)
        name = kwargs["HyperParameterTuningJobName"]
        if self.exists(name):
            raise client_error("ResourceInUse", f"Tuning job {name} already exists")
        self.created.append(name)
        return dict(self._client.create_hyper_parameter_tuning_job(**kwargs))

    def describe_hyper_parameter_tuning_job(self, **kwargs: Any) -> dict[str, Any]:
        d = dict(self._client.describe_hyper_parameter_tuning_job(**kwargs))
        name = kwargs["HyperParameterTuningJobName"]
        if name in self.status:
            d["HyperParameterTuningJobStatus"], d["FailureReason"] = self.status[name]
        if name in self.training_jobs:
            # moto's fixed "FakeTrainingJobName" best job would contradict the test's training jobs.
            d.pop("BestTrainingJob", None)
            d.pop("OverallBestTrainingJob", None)
        return d

    def list_training_jobs_for_hyper_parameter_tuning_job(self, **kwargs: Any) -> dict[str, Any]:
        self.list_calls.append(kwargs)
        name = kwargs["HyperParameterTuningJobName"]
        if name not in self.training_jobs and not self.exists(name):
            raise client_error("ResourceNotFound", f"{name} not found")
        jobs = self.training_jobs.get(name, [])
        size = kwargs.get("MaxResults", 10)
        start = int(kwargs.get("NextToken") or 0)
        page = {"TrainingJobSummaries": jobs[start:start + size]}
        if start + size < len(jobs):
            page["NextToken"] = str(start + size)
        return page

    def stop_hyper_parameter_tuning_job(self, **kwargs: Any) -> dict[str, Any]:
        name = kwargs["HyperParameterTuningJobName"]
        if not self.exists(name):
            raise client_error("ResourceNotFound", f"{name} not found")
        status = self.status.get(name, ("Completed", ""))[0]
        if status != "InProgress":
            raise client_error("ValidationException", f"job {name} is {status}")
        self.stopped.append(name)
        self.status[name] = ("Stopping", "")
        return {}


@dataclass
class FakeContext:
    function_name: str = "amt-test"
    function_version: str = "$LATEST"
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:amt-test"
    memory_limit_in_mb: int = 256
    aws_request_id: str = "req-1"
    log_group_name: str = "/aws/src/amt_conductor/-test"
    log_stream_name: str = "test"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@dataclass
class World:
    """What a test needs: the Runtime handlers use, the fakes and recorders, and helpers."""

    rt: Any
    sm: FakeSageMaker
    sfn: Recorder
    sns: Recorder
    s3: Any
    ddb: Any
    topic_arn: str
    state_machine_arn: str
    queue_url: str
    sqs: Any
    ctx: FakeContext = field(default_factory=FakeContext)

    def put_spec(self, doc: dict[str, Any] | str, key: str = "configs/churn.yaml") -> dict[str, Any]:
        body = doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False)
        resp = self.s3.put_object(Bucket=CONFIGS, Key=key, Body=body.encode())
        return {"bucket": CONFIGS, "key": key, "version_id": resp["VersionId"]}

    def put_deployed(self, *docs: dict[str, Any]) -> None:
        """What `cdk deploy` writes for these specs of configs/ (amt_conductor.runtime.deployed's manifest)."""
        from amt_conductor.contract import DEPLOYED_SPECS_KEY

        manifest = {d["name"]: {"key": f"configs/{d['name']}.yaml", "body": yaml.safe_dump(d, sort_keys=False)}
                    for d in docs}
        self.s3.put_object(Bucket=CONFIGS, Key=DEPLOYED_SPECS_KEY, Body=json.dumps(manifest).encode())

    def s3_event(self, location: dict[str, Any], event_id: str = "evt-1") -> dict[str, Any]:
        return {"version": "0", "id": event_id, "source": "aws.s3", "detail-type": "Object Created",
                "time": "2026-11-23T10:00:00Z",
                "detail": {"bucket": {"name": location["bucket"]},
                           "object": {"key": location["key"], "version-id": location["version_id"],
                                      "size": 100, "etag": "e"}}}

    def job_event(self, job: str, status: str) -> dict[str, Any]:
        return {"source": "aws.sagemaker", "detail-type": "SageMaker HyperParameter Tuning Job State Change",
                "detail": {"HyperParameterTuningJobName": job, "HyperParameterTuningJobStatus": status}}

    def published(self) -> list[dict[str, Any]]:
        return self.sns.calls["publish"]

    def task_results(self) -> list[tuple[str, dict[str, Any]]]:
        return [(m, c) for m in ("send_task_success", "send_task_failure") for c in self.sfn.calls[m]]

    def call(self, module: Any, event: dict[str, Any]) -> Any:
        module.RUNTIME = self.rt
        return module.handler(event, self.ctx)

    def launch_round(self, source: dict[str, Any], run_id: str = "run-1", **extra: Any) -> dict[str, Any]:
        """Prepare + Admit + Launch one round through the handlers; returns `prepared`."""
        from amt_conductor.handlers import admit, launch, prepare

        prepared = self.call(prepare, {"source": source, "run_id": run_id, "trigger": "s3", **extra})
        assert self.call(admit, {"prepared": prepared})["admitted"], "the test quota leaves room"
        self.call(launch, {"token": f"token-{prepared['job_name']}", "prepared": prepared})
        return prepared

    def complete_round(self, prepared: dict[str, Any], objectives: list[float | None]) -> dict[str, Any]:
        """Give the round's job these training-job objectives and run Report; returns its output."""
        from amt_conductor.handlers import report

        job = prepared["job_name"]
        self.sm.training_jobs[job] = [summary(job, i, v) for i, v in enumerate(objectives)]
        return self.call(report, {"prepared": prepared, "launch": {"job_name": job, "status": "Completed"}})


_SESSION: list[boto3.session.Session] = []


def _shared_session() -> boto3.session.Session:
    """One session for all tests: it caches the service models, which take most of the time
    of creating a client (moto intercepts every client, whenever its session was made)."""
    if not _SESSION:
        _SESSION.append(boto3.session.Session(region_name=REGION))
    return _SESSION[0]


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    from moto import mock_aws

    from amt_conductor.contract import Settings
    from amt_conductor.runtime.workflow import Runtime

    with mock_aws():
        session = _shared_session()
        s3 = session.client("s3")
        for bucket in (CONFIGS, ARTIFACTS):
            s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=CONFIGS, VersioningConfiguration={"Status": "Enabled"})
        ddb = session.client("dynamodb")
        ddb.create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"}
                                  for n in ("pk", "sk", "inflight", "updated_at")],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[{
                "IndexName": "inflight", "Projection": {"ProjectionType": "ALL"},
                "KeySchema": [{"AttributeName": "inflight", "KeyType": "HASH"},
                              {"AttributeName": "updated_at", "KeyType": "RANGE"}],
            }],
        )
        sns = session.client("sns")
        topic = sns.create_topic(Name="amt-notifications")["TopicArn"]
        sqs = session.client("sqs")
        queue_url = sqs.create_queue(QueueName="amt-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn,
                      Attributes={"RawMessageDelivery": "true"})
        sfn = session.client("stepfunctions")
        machine = sfn.create_state_machine(
            name="amt-workflow", roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn",
            definition=json.dumps({"StartAt": "Wait", "States": {"Wait": {"Type": "Pass", "End": True}}}),
        )["stateMachineArn"]
        env = {**ENV, "AMT_TOPIC_ARN": topic, "AMT_STATE_MACHINE_ARN": machine}
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        rt = Runtime(Settings.from_env(env), session=session)
        w = World(rt=rt, sm=FakeSageMaker(session.client("sagemaker")),
                  sfn=Recorder(sfn, ("send_task_success", "send_task_failure", "start_execution")),
                  sns=Recorder(sns, ("publish",)), s3=s3, ddb=ddb, topic_arn=topic,
                  state_machine_arn=machine, queue_url=queue_url, sqs=sqs)
        rt.sagemaker, rt.sfn, rt.sns, rt.s3 = w.sm, w.sfn, w.sns, s3
        yield w


@pytest.fixture
def clock() -> Callable[[], datetime]:
    """A settable clock for registry timestamps: `clock.now = ...`."""
    class Clock:
        now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

        def __call__(self) -> datetime:
            return self.now
    return Clock()


def emitted_metrics(capsys: pytest.CaptureFixture[str]) -> list[tuple[str, float, dict[str, str]]]:
    """(metric, value, dimensions) of every line of CloudWatch embedded metric format printed since the last
    read: the dashboard graphs the handlers' metrics by name and by the `study` dimension."""
    out: list[tuple[str, float, dict[str, str]]] = []
    for line in capsys.readouterr().out.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if not isinstance(doc, dict) or "_aws" not in doc:
            continue
        (directive,) = doc["_aws"]["CloudWatchMetrics"]
        dims = {d: str(doc[d]) for group in directive["Dimensions"] for d in group}
        for metric in directive["Metrics"]:
            value = doc[metric["Name"]]
            for v in value if isinstance(value, list) else [value]:
                out.append((metric["Name"], float(v), dims))
    return out
