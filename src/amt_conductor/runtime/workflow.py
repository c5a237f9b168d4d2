"""The workflow's steps around the wait: start a run, launch a round and wait on its task token,
resume the execution when the job ends (from the event, the launch itself or the reconciler), and
stop an aborted run's job.

Every step is idempotent: duplicate events and retried invocations converge on one execution,
one tuning job and one SendTaskSuccess. Preparing a round is in `amt_conductor.runtime.rounds`, the Report step in
`amt_conductor.runtime.reports`, failures in `amt_conductor.runtime.notify`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from amt_conductor.contract import SPEC_SUFFIXES, Settings
from amt_conductor.runtime import admission, sagemaker_ops
from amt_conductor.runtime.capacity import Capacity
from amt_conductor.runtime.observability import bind, count, gauge, logger
from amt_conductor.runtime.registry import Registry, RoundStatus, RunStatus, TokenStatus
from amt_conductor.runtime.sagemaker_ops import TERMINAL, error_code, transient_errors

BOTO_CONFIG = Config(retries={"mode": "standard"})
# Step Functions' answers for a token nobody waits on any more (run ended, task retried, timed out).
STALE_TOKEN_CODES = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})
CAUSE_MAX = 32_768
QUIET_SINCE_EVER = datetime(2000, 1, 1, tzinfo=UTC)


class Runtime:
    """Settings and AWS clients of one Lambda container: created on first use, then reused."""

    def __init__(self, settings: Settings, session: boto3.session.Session | None = None) -> None:
        self.settings = settings
        self._session = session

    @classmethod
    def from_env(cls) -> Runtime:
        return cls(Settings.from_env())

    @cached_property
    def session(self) -> boto3.session.Session:
        return self._session or boto3.session.Session()

    def client(self, service: str) -> Any:
        return self.session.client(service, config=BOTO_CONFIG)

    @cached_property
    def region(self) -> str:
        return self.session.region_name or "us-east-1"

    @cached_property
    def s3(self) -> Any:
        return self.client("s3")

    @cached_property
    def sagemaker(self) -> Any:
        return self.client("sagemaker")

    @cached_property
    def sfn(self) -> Any:
        return self.client("stepfunctions")

    @cached_property
    def sns(self) -> Any:
        return self.client("sns")

    def sagemaker_as(self, role_arn: str | None, session_name: str) -> Any:
        """A SageMaker client acting as `role_arn` (a guarded study's launcher role), or our own."""
        if not role_arn:
            return self.sagemaker
        with transient_errors(f"AssumeRole {role_arn}"):
            creds = self.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=session_name[:64],
                                                   DurationSeconds=900)["Credentials"]
        return boto3.session.Session(
            aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"], region_name=self.region,
        ).client("sagemaker", config=BOTO_CONFIG)

    @cached_property
    def registry(self) -> Registry:
        return Registry(self.client("dynamodb"), self.settings.registry_table)


# -- start ---------------------------------------------------------------------------------------


def start_run(rt: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    """Start one execution per spec upload or schedule tick; the name comes from the object's
    version (or the schedule time), so a duplicate event starts nothing."""
    from amt_conductor.spec.naming import execution_name

    event = _mapping(event)
    detail = _mapping(event.get("detail"))
    if event.get("trigger") in ("new-data-object", "new-data-check"):  # amt_conductor.runtime.data_trigger names them
        from amt_conductor.runtime.data_trigger import on_data

        return on_data(rt, event)
    if "study" in event and not detail:
        study = str(event["study"])
        # Scheduler/EventBridge pass the tick's time; the minute is the fallback so that
        # duplicates of one tick still collide.
        tick = str(event.get("time") or datetime.now(UTC).strftime("%Y-%m-%dT%H:%MZ"))
        name = execution_name(study, f"schedule:{tick}")
        payload: dict[str, Any] = {"study": study, "trigger": "schedule"}
        trigger = "schedule"
        bind(study=study, run_id=name)
    else:
        bucket = str(_mapping(detail.get("bucket")).get("name", ""))
        obj = _mapping(detail.get("object"))
        key = str(obj.get("key", ""))
        prefix = rt.settings.configs_prefix
        # The rule pattern already filters; a misrouted or hand-made event must not start a run either.
        if rt.settings.configs_bucket and bucket != rt.settings.configs_bucket:
            logger.warning("ignoring an object outside the configs bucket", extra={"bucket": bucket, "key": key})
            return {"execution_arn": None, "started": False, "ignored": f"s3://{bucket}/{key}"}
        if not key.startswith(prefix) or not key.lower().endswith(SPEC_SUFFIXES):
            logger.info("ignoring object outside the configs prefix or not a spec", extra={"key": key})
            return {"execution_arn": None, "started": False, "ignored": key}
        version = obj.get("version-id") or obj.get("sequencer") or event.get("id") or obj.get("etag", "")
        # The spec is not read here (Prepare validates it): the file name keys the execution name only.
        file_stem = key.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        name = execution_name(file_stem, f"{bucket}/{key}@{version}")
        # No run id in the input: the workflow takes it from the execution's name ($$.Execution.Name).
        payload = {"source": {"bucket": bucket, "key": key, "version_id": obj.get("version-id")},
                   "trigger": "s3"}
        trigger = "s3"
        bind(spec_key=key, run_id=name)
    try:
        with transient_errors("StartExecution"):
            resp = rt.sfn.start_execution(stateMachineArn=rt.settings.state_machine_arn, name=name,
                                          input=json.dumps(payload, sort_keys=True))
    except ClientError as err:
        if error_code(err) != "ExecutionAlreadyExists":
            raise
        logger.info("execution already exists: duplicate event", extra={"execution_name": name})
        return {"execution_arn": execution_arn(rt.settings.state_machine_arn, name), "started": False}
    count("RunsStarted")  # per trigger in the log line; per study once Prepare has read the spec
    logger.info("started run", extra={"execution_arn": resp["executionArn"], "trigger": trigger})
    return {"execution_arn": resp["executionArn"], "started": True}


def _mapping(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else {}: a malformed event is ignored, never a traceback."""
    return value if isinstance(value, dict) else {}


def execution_arn(state_machine_arn: str, name: str) -> str:
    """arn:...:stateMachine:SM -> arn:...:execution:SM:name."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"


# -- prepare -------------------------------------------------------------------------------------


def launch(rt: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    """Store the task token under the job name, then create the job (adopting it on ResourceInUse);
    an adopted job that already ended is left to the reconciler's next tick."""
    token, p = event["token"], event["prepared"]
    job, study, round_no, run_id = p["job_name"], p["study"], int(p["round"]), p["run_id"]
    bind(study=study, job_name=job, round=round_no, run_id=run_id)
    # Token first: if the job ended between create and put, its event would find nothing to resume.
    if not rt.registry.put_token(job, token, study=study, round_no=round_no, run_id=run_id):
        logger.info("this task token was already resumed; nothing to do")
        return {"job_name": job, "status": "Resumed", "adopted": True}
    rt.registry.set_run_job(run_id, job_name=job, round_no=round_no)
    # A guarded study's job is created as its launcher role, whose Denies hold the request to the
    # reviewed spec's KMS key and network (amt_conductor.spec.access).
    sagemaker = rt.sagemaker_as(p.get("launcher_role_arn"), f"amt-launch-{job}")
    launched = sagemaker_ops.create_tuning_job(sagemaker, p["request"])
    rt.registry.set_round(study, round_no, RoundStatus.IN_PROGRESS, only_if=RoundStatus.LAUNCHING)
    if launched.adopted:
        logger.info("adopted the existing tuning job", extra={"status": launched.status})
        if launched.status in TERMINAL:
            # Its end event came before this token was stored. Launch runs inside the workflow, whose
            # functions may not send task tokens (their roles cannot name the state machine: a cycle), so
            # the token is marked long quiet and the reconciler's next tick resumes the run.
            rt.registry.touch_token(job, at=QUIET_SINCE_EVER)
    else:
        count("TuningJobsLaunched", study=study)
        logger.info("created the tuning job")
    return {"job_name": job, "status": launched.status, "adopted": launched.adopted}


def resume_job(rt: Runtime, job_name: str, status: str, failure_reason: str) -> str:
    """Resume the execution waiting on `job_name` once: SendTaskSuccess {"job_name","status"} for
    Completed, SendTaskFailure TuningJobFailed/TuningJobStopped otherwise. Returns what happened:
    resumed | duplicate | unknown (not our job) | stale (nobody waits any more) | not-terminal."""
    if status not in TERMINAL:
        return "not-terminal"
    # The job's capacity is free again: give it back and admit whoever waits for it.
    admission.release(rt, job_name, wake=True)
    claimed = rt.registry.claim_token(job_name)
    if claimed is None:
        outcome = "duplicate" if rt.registry.token(job_name) else "unknown"
        logger.info(f"not resuming: {outcome}", extra={"job_name": job_name, "status": status})
        return outcome
    token = claimed["token"]
    with _rearm_unless_sent(rt, job_name, token) as sent:
        if status == "Completed":
            rt.sfn.send_task_success(taskToken=token, output=json.dumps({"job_name": job_name, "status": status}))
        else:
            error = "TuningJobFailed" if status == "Failed" else "TuningJobStopped"
            cause = failure_reason or f"tuning job {job_name} ended {status}"
            rt.sfn.send_task_failure(taskToken=token, error=error, cause=cause[:CAUSE_MAX])
    if sent.stale:
        return "stale"
    count("JobsResumed", study=claimed.get("study"))
    logger.info("resumed the execution", extra={"job_name": job_name, "status": status})
    return "resumed"


def on_job_event(rt: Runtime, event: dict[str, Any]) -> str:
    """EventBridge "SageMaker HyperParameter Tuning Job State Change" -> resume_job, with the status
    SageMaker reports when asked: the event only says which job to look at."""
    detail = _mapping(_mapping(event).get("detail"))
    job = str(detail.get("HyperParameterTuningJobName", ""))
    status = str(detail.get("HyperParameterTuningJobStatus", ""))
    bind(job_name=job)
    if status not in TERMINAL:
        return "not-terminal"
    waiting = rt.registry.token(job) if job else None
    if waiting is None:
        # Not a job a run of ours waits on: the rule matches every tuning job of the account (a pattern listing
        # our studies would outgrow EventBridge's limit), and our roles may not describe someone else's job.
        logger.info("not resuming: unknown", extra={"job_name": job, "status": status})
        return "unknown"
    if waiting.get("status") != TokenStatus.WAITING:
        return "duplicate"
    # Anyone who may put events on a bus could claim a job ended; SageMaker's own answer decides.
    found = sagemaker_ops.status_of(rt.sagemaker, job)
    if found is None:
        logger.warning("event for a job SageMaker does not know; ignored", extra={"job_name": job})
        return "unknown"
    described, reason = found
    if described != status:
        logger.warning("the event's status differs from SageMaker's; using SageMaker's",
                       extra={"event_status": status, "described_status": described})
    return resume_job(rt, job, described, reason)


def reconcile(rt: Runtime, now: datetime | None = None) -> dict[str, int]:
    """Backstop for lost events: describe jobs quiet for `quiet_minutes`; resume the ended ones,
    touch the running ones."""
    now = now or rt.registry.clock()
    quiet = rt.registry.quiet_tokens(now - timedelta(minutes=rt.settings.quiet_minutes))
    counts = {"checked": 0, "resumed": 0, "running": 0, "missing": 0}
    errors: list[Exception] = []
    for item in quiet:
        counts["checked"] += 1
        try:
            _reconcile_one(rt, item["job_name"], counts)
        except Exception as err:
            # One job's failure (its token is re-armed) must not keep the others waiting.
            logger.exception("could not reconcile the job", extra={"job_name": item["job_name"]})
            errors.append(err)
    counts["released"] = _release_orphaned_holds(rt)
    cap = Capacity(rt.registry)
    counts["admitted"] = admission.pump(rt, cap)  # backstop: a wake-up lost with an event or a crash
    gauge("TuningJobsInFlight", rt.registry.inflight_count())
    gauge("QueueDepth", admission.depth(cap))
    count("JobsReconciled", counts["resumed"])
    logger.info("reconciled", extra={**counts, "errors": len(errors)})
    if errors:
        raise errors[0]  # the invocation fails visibly (Errors metric); the next tick retries
    return counts


def _release_orphaned_holds(rt: Runtime) -> int:
    """Capacity held for runs that ended without giving it back (a crash between steps); reads grow
    with the holds, which never outnumber the tuning-job quota."""
    released = 0
    for hold in Capacity(rt.registry).holds():
        run = rt.registry.run(str(hold.get("run_id"))) if hold.get("run_id") else None
        if run is not None and run.get("status") != RunStatus.RUNNING:
            released += admission.release(rt, str(hold["job_name"]), wake=False)
    return released


def _reconcile_one(rt: Runtime, job: str, counts: dict[str, int]) -> None:
    found = sagemaker_ops.status_of(rt.sagemaker, job)
    if found is None:
        # Launch stored the token but the job never came to be (the create failed for good).
        counts["missing"] += 1
        claimed = rt.registry.claim_token(job)
        if claimed:
            _fail_token(rt, job, claimed["token"], "TuningJobMissing", f"SageMaker has no tuning job {job}")
        return
    status, reason = found
    if status in TERMINAL:
        counts["resumed"] += resume_job(rt, job, status, reason) == "resumed"
    else:
        counts["running"] += 1
        rt.registry.touch_token(job)


def _fail_token(rt: Runtime, job_name: str, token: str, error: str, cause: str) -> None:
    with _rearm_unless_sent(rt, job_name, token):
        rt.sfn.send_task_failure(taskToken=token, error=error, cause=cause)


class _Sent:
    stale = False


@contextmanager
def _rearm_unless_sent(rt: Runtime, job_name: str, token: str) -> Iterator[_Sent]:
    """Around a SendTask* call on a claimed token: a stale token (nobody waits any more) is done
    (`.stale`); any other failure, transient or permanent (AccessDenied...), re-arms the token
    before it propagates, so the next event or the reconciler retries instead of the run hanging
    until its timeout with a token marked RESUMED."""
    sent = _Sent()
    try:
        with transient_errors("SendTask"):
            yield sent
    except ClientError as err:
        if error_code(err) in STALE_TOKEN_CODES:
            logger.info("task token no longer waited on", extra={"code": error_code(err), "job_name": job_name})
            sent.stale = True
            return
        _release(rt, job_name, token)
        raise
    except Exception:
        _release(rt, job_name, token)
        raise


def _release(rt: Runtime, job_name: str, token: str) -> None:
    try:
        rt.registry.release_token(job_name, token)
    except Exception:
        # The SendTask error is the one to surface; the token stays RESUMED, which the log says.
        logger.exception("could not re-arm the task token", extra={"job_name": job_name})


# -- stop ----------------------------------------------------------------------------


def stop_run(rt: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    """Execution ABORTED/TIMED_OUT -> stop the run's in-flight tuning job (idempotent)."""
    detail = _mapping(_mapping(event).get("detail"))
    status, run_id = str(detail.get("status", "")), str(detail.get("name", ""))
    bind(run_id=run_id)
    if status not in (RunStatus.ABORTED, RunStatus.TIMED_OUT):
        return {"stopped": False, "reason": f"execution status {status}"}
    run = rt.registry.run(run_id)
    job = (run or {}).get("current_job")
    if not run or not job:
        return {"stopped": False, "reason": "no tuning job recorded for this run"}
    bind(study=run.get("study"), job_name=job)
    rt.registry.abandon_token(job)
    admission.leave_queue(rt, run.get("queue_key"))  # it may have been waiting for capacity
    stopped = sagemaker_ops.stop_tuning_job(rt.sagemaker, job)
    admission.release(rt, job, wake=True)
    rt.registry.finish_run(run_id, status, reason=f"execution {status}")
    if run.get("current_round") is not None:
        rt.registry.set_round(run["study"], int(run["current_round"]), RoundStatus.STOPPED,
                              only_if=RoundStatus.IN_PROGRESS, failure_reason=f"execution {status}")
    logger.info("stopped the run's tuning job" if stopped else "the run's tuning job had already ended")
    return {"stopped": stopped, "job_name": job}
