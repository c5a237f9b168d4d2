"""SageMaker tuning-job calls as the workflow needs them: idempotent create, JSON-safe describe,
every training job of a tuning job, stop; and the split between transient and permanent errors.

Step Functions matches a Lambda failure by the exception's class name, so `Transient` surfaces
as the error type "Transient": the state machine retries it with backoff; anything else fails
the task and goes to the catch.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

TERMINAL = frozenset({"Completed", "Failed", "Stopped"})
PAGE_SIZE = 100  # ListTrainingJobsForHyperParameterTuningJob's maximum (the default is 10)

# Worth retrying later: the same request can succeed once capacity or quota frees up.
TRANSIENT_CODES = frozenset({
    "ThrottlingException", "Throttling", "ThrottledException", "RequestLimitExceeded",
    "TooManyRequestsException", "ProvisionedThroughputExceededException", "RequestThrottled",
    "SlowDown", "ResourceLimitExceeded", "LimitExceededException", "ServiceUnavailable",
    "ServiceUnavailableException", "InternalFailure", "InternalServerError", "InternalError",
    "RequestTimeout", "RequestTimeoutException", "TransactionInProgressException",
})


class Transient(Exception):  # the class name is the Step Functions error type
    """A throttling, quota or service-side error: retry the task later (error type "Transient")."""


def error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def is_transient(err: ClientError) -> bool:
    """Throttling, ResourceLimitExceeded and 5xx are transient; other client errors are not."""
    status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return error_code(err) in TRANSIENT_CODES or status >= 500


@contextmanager
def transient_errors(action: str) -> Iterator[None]:
    """Re-raise transient AWS errors from the block as `Transient("<action>: <code>: <message>")`."""
    try:
        yield
    except ClientError as err:
        if is_transient(err):
            msg = err.response.get("Error", {}).get("Message", "")
            raise Transient(f"{action}: {error_code(err)}: {msg}") from err
        raise
    except (ConnectionError, HTTPClientError) as err:
        raise Transient(f"{action}: {err}") from err


@dataclass(frozen=True)
class Launched:
    """Outcome of create_tuning_job: `adopted` when the job already existed under that name."""

    job_name: str
    adopted: bool
    status: str
    failure_reason: str


def create_tuning_job(sm: Any, request: dict[str, Any]) -> Launched:
    """Create the tuning job; on ResourceInUse adopt the existing one (same name = same spec and
    round) and report its status. Raises Transient for throttling/quota/5xx."""
    name = request["HyperParameterTuningJobName"]
    with transient_errors(f"CreateHyperParameterTuningJob {name}"):
        try:
            sm.create_hyper_parameter_tuning_job(**request)
            return Launched(name, adopted=False, status="InProgress", failure_reason="")
        except ClientError as err:
            if error_code(err) not in ("ResourceInUse", "ResourceInUseException"):
                raise
        desc = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    return Launched(name, adopted=True, status=desc["HyperParameterTuningJobStatus"],
                    failure_reason=desc.get("FailureReason") or "")


def _instance_count(definition: dict[str, Any]) -> int:
    # With instance choices (HyperParameterTuningResourceConfig) a job's count depends on the choice it got:
    # the largest keeps reported instance-hours an upper bound, as the budget's worst case is.
    flexible = (definition.get("HyperParameterTuningResourceConfig") or {}).get("InstanceConfigs") or []
    if flexible:
        return max(int(c.get("InstanceCount") or 1) for c in flexible)
    return int((definition.get("ResourceConfig") or {}).get("InstanceCount") or 1)


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else (str(value) if value else None)


def _training_summary(s: dict[str, Any]) -> dict[str, Any]:
    metric = s.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
    value = metric.get("Value")
    return {
        "name": s.get("TrainingJobName", ""),
        "tuning_job": s.get("TuningJobName", ""),
        # Multi-algorithm tuning names the definition each training job ran.
        "definition": s.get("TrainingJobDefinitionName") or "",
        "status": s.get("TrainingJobStatus", ""),
        "objective": float(value) if value is not None else None,
        "objective_status": s.get("ObjectiveStatus", ""),
        "created": _iso(s.get("CreationTime")),
        "started": _iso(s.get("TrainingStartTime")),
        "ended": _iso(s.get("TrainingEndTime")),
        "billable_seconds": _seconds_between(s.get("TrainingStartTime"), s.get("TrainingEndTime")),
        "hyperparameters": {str(k): str(v) for k, v in (s.get("TunedHyperParameters") or {}).items()},
        "failure_reason": s.get("FailureReason") or "",
    }


def _seconds_between(start: Any, end: Any) -> float:
    if isinstance(start, datetime) and isinstance(end, datetime):
        return max(0.0, (end - start).total_seconds())
    return 0.0


def describe(sm: Any, job_name: str) -> dict[str, Any]:
    """DescribeHyperParameterTuningJob trimmed to JSON-safe fields (snake_case, ISO times)."""
    with transient_errors(f"DescribeHyperParameterTuningJob {job_name}"):
        d = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=job_name)
    config = d.get("HyperParameterTuningJobConfig") or {}
    definitions = d.get("TrainingJobDefinitions") or []
    # Multi-algorithm jobs carry the objective in each definition (one type for all; the first's metric).
    objective = config.get("HyperParameterTuningJobObjective") or (definitions[0].get("TuningObjective")
                                                                   if definitions else None) or {}
    definition = d.get("TrainingJobDefinition") or {}
    warm = d.get("WarmStartConfig") or {}
    best = d.get("BestTrainingJob")
    overall = d.get("OverallBestTrainingJob")
    return {
        "name": d.get("HyperParameterTuningJobName", job_name),
        "arn": d.get("HyperParameterTuningJobArn", ""),
        "status": d.get("HyperParameterTuningJobStatus", ""),
        "failure_reason": d.get("FailureReason") or "",
        "strategy": config.get("Strategy", ""),
        "objective": {"metric": objective.get("MetricName", ""), "type": objective.get("Type", "")},
        "max_jobs": (config.get("ResourceLimits") or {}).get("MaxNumberOfTrainingJobs"),
        "created": _iso(d.get("CreationTime")),
        "ended": _iso(d.get("HyperParameterTuningEndTime")),
        "consumed_seconds": int((d.get("ConsumedResources") or {}).get("RuntimeInSeconds") or 0),
        "training_job_counters": dict(d.get("TrainingJobStatusCounters") or {}),
        "objective_counters": dict(d.get("ObjectiveStatusCounters") or {}),
        "static_hyperparameters": dict(definition.get("StaticHyperParameters") or {}),
        "definitions": {str(x.get("DefinitionName", "")): {
            "static_hyperparameters": dict(x.get("StaticHyperParameters") or {}),
            "objective": dict(x.get("TuningObjective") or {}), "instance_count": _instance_count(x),
        } for x in definitions},
        "instance_count": max((_instance_count(x) for x in definitions), default=_instance_count(definition)),
        "parents": [p["HyperParameterTuningJobName"] for p in warm.get("ParentHyperParameterTuningJobs", [])],
        "warm_start_type": warm.get("WarmStartType", ""),
        "best_training_job": _training_summary(best) if best else None,
        "overall_best_training_job": _training_summary(overall) if overall else None,
    }


def list_training_jobs(sm: Any, job_name: str) -> list[dict[str, Any]]:
    """Every training job of the tuning job (all pages, 100 a page), in creation order, trimmed."""
    out: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"HyperParameterTuningJobName": job_name, "MaxResults": PAGE_SIZE,
                              "SortBy": "CreationTime", "SortOrder": "Ascending"}
    with transient_errors(f"ListTrainingJobsForHyperParameterTuningJob {job_name}"):
        while True:
            page = sm.list_training_jobs_for_hyper_parameter_tuning_job(**kwargs)
            out.extend(_training_summary(s) for s in page.get("TrainingJobSummaries", []))
            token = page.get("NextToken")
            if not token:
                break
            kwargs["NextToken"] = token
    # Sort again: the order must not depend on the service honouring SortBy across pages.
    out.sort(key=lambda j: (j["created"] or "", j["name"]))
    return out


def stop_tuning_job(sm: Any, job_name: str) -> bool:
    """Stop the job and its training jobs; False when there was nothing to stop (gone or already ended)."""
    with transient_errors(f"StopHyperParameterTuningJob {job_name}"):
        try:
            sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=job_name)
        except ClientError as err:
            # Stopping a finished job is a ValidationException; a never-created one ResourceNotFound.
            if error_code(err) in ("ValidationException", "ResourceNotFound"):
                return False
            raise
    return True


def status_of(sm: Any, job_name: str) -> tuple[str, str] | None:
    """(status, failure reason) of a tuning job, or None if SageMaker does not know it."""
    with transient_errors(f"DescribeHyperParameterTuningJob {job_name}"):
        try:
            d = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=job_name)
        except ClientError as err:
            if error_code(err) == "ResourceNotFound":
                return None
            raise
    return d["HyperParameterTuningJobStatus"], d.get("FailureReason") or ""
