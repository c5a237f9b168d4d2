"""What a simulation reports, and how it is read back from moto before the mock ends."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

# Events that start a task attempt: a second one within one state entry is a retry.
_ATTEMPT_EVENTS = {"TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled"}


@dataclass
class RoundResult:
    round: int
    job_name: str
    parents: list[str]
    status: str
    best_objective: float | None
    training_jobs: int
    best_hyperparameters: dict[str, str] = field(default_factory=dict)
    target_reached: bool = False


@dataclass
class SimulationResult:
    """One simulated study run. Counts are what AWS would bill or throttle on."""

    status: str  # the execution's: SUCCEEDED | FAILED | TIMED_OUT | ABORTED | NOT_STARTED
    rounds: list[RoundResult]
    report_uri: str | None
    state_transitions: int
    lambda_invocations: int
    sagemaker_calls: int  # API calls reaching SageMaker, from handlers and states alike
    notifications: list[dict[str, str]]  # SNS messages: subject, message, topic
    history: list[dict[str, Any]]
    lambda_invocations_by_function: dict[str, int] = field(default_factory=dict)  # prepare, launch, ...
    sagemaker_calls_by_operation: dict[str, int] = field(default_factory=dict)
    execution_arn: str | None = None
    executions: list[dict[str, str]] = field(default_factory=list)  # every execution started
    triggers: list[dict[str, Any]] = field(default_factory=list)  # trigger deliveries and their outputs
    task_callbacks: dict[str, int] = field(default_factory=dict)  # SendTaskSuccess / SendTaskFailure
    registry: list[dict[str, Any]] = field(default_factory=list)  # every registry item at the end
    # Every model package version in the simulated model registry: group, arn, version, status, metadata.
    model_packages: list[dict[str, Any]] = field(default_factory=list)
    artifacts: list[str] = field(default_factory=list)  # s3:// URIs in the artifacts bucket
    output: Any = None
    error: str | None = None
    cause: str | None = None
    handler_errors: list[str] = field(default_factory=list)
    simulated_seconds: float = 0.0
    wall_seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def __repr__(self) -> str:
        # What a failed assertion on a result should show first: how the run ended and why, not its history.
        failed = [e for e in self.history if e.get("type", "").endswith(("Failed", "TimedOut", "Aborted"))]
        return (f"SimulationResult(status={self.status!r}, error={self.error!r}, cause={self.cause!r}, "
                f"handler_errors={self.handler_errors!r}, executions={self.executions!r}, "
                f"rounds={[(r.round, r.status) for r in self.rounds]!r}, failed_events={failed[-3:]!r})")


def count_transitions(history: list[dict[str, Any]]) -> int:
    """State transitions as Step Functions bills them: one per state entered, plus one per retry."""
    transitions = 0
    attempts = 0
    for event in history:
        kind = event["type"]
        if kind.endswith("StateEntered"):
            transitions += 1
            attempts = 0
        elif kind in _ATTEMPT_EVENTS:
            attempts += 1
            if attempts > 1:
                transitions += 1
    return transitions


def read_history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    return [_plain(e) for e in events]


def _plain(value: Any) -> Any:
    """JSON-safe copy (datetimes to ISO strings, Decimals to numbers)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def find_key(history: list[dict[str, Any]], key: str) -> Any:
    """The last value of `key` in any state's output (outputs are JSON strings in the history)."""
    found = None
    for event in history:
        for details in event.values():
            if isinstance(details, dict) and isinstance(details.get("output"), str):
                try:
                    value = _search(json.loads(details["output"]), key)
                except ValueError:
                    continue
                if value:
                    found = value
    return found


def _search(doc: Any, key: str) -> Any:
    if isinstance(doc, dict):
        if doc.get(key):
            return doc[key]
        for v in doc.values():
            hit = _search(v, key)
            if hit:
                return hit
    elif isinstance(doc, list):
        for v in doc:
            hit = _search(v, key)
            if hit:
                return hit
    return None


def read_registry(ddb: Any, table: str) -> list[dict[str, Any]]:
    if not table:
        return []
    des = TypeDeserializer()
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        page = ddb.scan(**kwargs)
        items.extend(_plain({k: des.deserialize(v) for k, v in item.items()}) for item in page["Items"])
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return sorted(items, key=lambda i: (str(i.get("pk")), str(i.get("sk"))))


def read_model_packages(sm: Any) -> list[dict[str, Any]]:
    """Every versioned model package, oldest first, with what a reviewer sees of it."""
    out: list[dict[str, Any]] = []
    for group in sm.list_model_package_groups().get("ModelPackageGroupSummaryList", []):
        name = group["ModelPackageGroupName"]
        summaries = sm.list_model_packages(ModelPackageGroupName=name, SortBy="CreationTime",
                                           SortOrder="Ascending").get("ModelPackageSummaryList", [])
        for s in summaries:
            d = sm.describe_model_package(ModelPackageName=s["ModelPackageArn"])
            out.append(_plain({"group": name, "arn": d["ModelPackageArn"], "version": d.get("ModelPackageVersion"),
                               "status": d.get("ModelApprovalStatus"),
                               "metadata": d.get("CustomerMetadataProperties") or {},
                               "inference": d.get("InferenceSpecification") or {}}))
    return out


def read_notifications(sqs: Any, queue_url: str) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    while True:
        msgs = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not msgs:
            return out
        for m in msgs:
            body = json.loads(m["Body"])
            out.append({"subject": body.get("Subject") or "", "message": body.get("Message", ""),
                        "topic": body.get("TopicArn", "")})
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])


def list_artifacts(s3: Any, bucket: str) -> list[str]:
    if not bucket:
        return []
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys.extend(f"s3://{bucket}/{o['Key']}" for o in page.get("Contents", []))
    return keys


def save_artifacts(s3: Any, bucket: str, dest: Path) -> list[Path]:
    """Copy every object of the artifacts bucket to `dest/<key>`; returns the files written."""
    written: list[Path] = []
    for uri in list_artifacts(s3, bucket):
        key = uri.removeprefix(f"s3://{bucket}/")
        target = dest / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        written.append(target)
    return written
