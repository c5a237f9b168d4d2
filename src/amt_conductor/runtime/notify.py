"""SNS messages a person can act on (what happened, where, the numbers, what to do next), and
the failure catch that records a failed run and sends its message once."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from amt_conductor.runtime.observability import bind, count, logger

if TYPE_CHECKING:
    from amt_conductor.runtime.workflow import Runtime

SUBJECT_MAX = 100  # SNS: at most 100 printable ASCII characters, no line breaks

# What to do next, by the error type Step Functions reports.
NEXT_STEPS = {
    "SpecInvalid": "Fix the field(s) named above and upload the spec again (`amt validate` checks it locally).",
    "BudgetExhausted": "Raise budget.max_instance_hours or lower resources.max_jobs / max_runtime_per_job, "
                       "then upload the spec again.",
    "RoundTaken": "Another run of this study is in progress; wait for it to finish, then start again.",
    "TuningJobFailed": "Open the tuning job in the SageMaker console (or describe it) and read the failed "
                       "training jobs' logs in CloudWatch; fix the spec or the training code and upload again.",
    "TuningJobStopped": "The tuning job was stopped before it finished; upload the spec again to rerun the round.",
    "TuningJobMissing": "SageMaker has no record of the job; upload the spec again to rerun the round.",
    "States.Timeout": "The job did not finish within the wait timeout; the workflow stopped it. Check "
                      "resources.max_runtime_per_job and max_tuning_runtime, then upload again.",
    "PromotionFailed": "Check the best training job's model artifact and promote.inference.image; the tuning "
                       "results are recorded, so upload the spec again only to tune further.",
    "CapacityNeverFits": "Lower resources.max_parallel_jobs (or instance_count), or raise the account's quota and "
                         "the amt:quotaInstances context key (cdk deploy), then upload the spec again.",
    "Transient": "AWS kept throttling or refusing capacity (e.g. ResourceLimitExceeded) after retries; "
                 "request a quota increase or lower resources.max_parallel_jobs, then upload again.",
}
DEFAULT_NEXT_STEP = "Read the cause above and the function's CloudWatch logs; then upload the spec again."


def subject_line(text: str) -> str:
    """A valid SNS subject: printable ASCII, one line, at most 100 characters."""
    clean = "".join(c if 32 <= ord(c) < 127 else "?" for c in " ".join(text.split()))
    return clean if len(clean) <= SUBJECT_MAX else clean[: SUBJECT_MAX - 3] + "..."


def _num(v: Any) -> str:
    return "-" if v is None else f"{v:.6g}" if isinstance(v, float | int) else str(v)


def success_message(*, study: str, metric: str, goal: str, rounds: Sequence[dict[str, Any]],
                    best_objective: float | None, best_training_job: str | None,
                    best_hyperparameters: dict[str, str] | None, report_uri: str,
                    reason: str) -> tuple[str, str]:
    """(subject, message) for a finished run; `rounds` are this run's rounds (round, job_name, best_objective)."""
    subject = subject_line(f"amt {study}: {len(rounds)} round(s) done, best {metric} {_num(best_objective)}")
    lines = [
        f"Study {study} finished {len(rounds)} round(s): {reason}.",
        "",
        f"Best {metric} ({goal}): {_num(best_objective)}"
        + (f" from training job {best_training_job}" if best_training_job else ""),
        "",
        "Rounds:",
    ]
    lines += [f"  round {r.get('round')}: {r.get('job_name')}  best {_num(r.get('best_objective'))}" for r in rounds]
    lines += ["", "Best hyperparameters:"]
    lines += [f"  {k} = {v}" for k, v in (best_hyperparameters or {}).items()] or ["  (none reported)"]
    lines += ["", f"Report: {report_uri}", "",
              "Next step: train a final model with the best hyperparameters, or upload the spec again "
              "to continue tuning warm-started from these rounds."]
    return subject, "\n".join(lines)


def promotion_lines(outcome: dict[str, Any]) -> list[str]:
    """What the Promote step did, for the notification: the package registered, or why none was."""
    current = outcome.get("current") or {}
    lines = [f"Model registry ({outcome.get('group')}):"]
    if outcome.get("registered"):
        lines.append(f"  registered {outcome.get('package_arn')}")
    lines.append(f"  {outcome.get('reason')}")
    if current.get("arn"):
        lines.append(f"  compared with {current.get('arn')} ({current.get('status')}, "
                     f"objective {_num(current.get('objective'))})")
    if outcome.get("registered"):
        lines.append("  Next step: review the package in SageMaker Model Registry and approve it to deploy.")
    return lines


def cause_text(cause: str | None) -> tuple[str, str]:
    """(error type, message) from a Step Functions Cause: a Lambda error's JSON or plain text."""
    if not cause:
        return "", ""
    try:
        doc = json.loads(cause)
    except ValueError:
        return "", cause
    if isinstance(doc, dict):
        return str(doc.get("errorType", "")), str(doc.get("errorMessage", cause))
    return "", cause


def failure_message(*, error: str, message: str, stage: str, study: str | None, round_no: int | None,
                    job_name: str | None, run_id: str | None, spec_uri: str | None) -> tuple[str, str]:
    """(subject, message) for a failed run: what failed, where, the cause, and the next step."""
    what = {"SpecInvalid": "the spec is invalid", "BudgetExhausted": "the budget does not allow a round",
            "TuningJobFailed": "the tuning job failed", "TuningJobStopped": "the tuning job was stopped",
            "States.Timeout": "the tuning job did not finish in time",
            "PromotionFailed": "the best model could not be registered"}.get(error, f"{stage} failed ({error})")
    label = study or (spec_uri or "unknown study")
    subject = subject_line(f"amt {label}: FAILED - {what}")
    where = [f"state {stage} (handlers.{stage.lower().replace(' ', '_')})"]
    if study:
        where.append(f"study {study}")
    if round_no is not None:
        where.append(f"round {round_no}")
    if job_name:
        where.append(f"tuning job {job_name}")
    lines = [f"What failed: {what}.", f"Where: {', '.join(where)}."]
    if spec_uri:
        lines.append(f"Spec: {spec_uri}")
    if run_id:
        lines.append(f"Run: {run_id}")
    lines += ["", "Cause:"]
    lines += [f"  {line}" for line in (message or error).splitlines()] or ["  (no details)"]
    lines += ["", f"Next step: {NEXT_STEPS.get(error, DEFAULT_NEXT_STEP)}"]
    return subject, "\n".join(lines)


def publish(sns: Any, topic_arn: str, subject: str, message: str) -> None:
    """Publish to the study topic (nothing when no topic is configured)."""
    if topic_arn:
        sns.publish(TopicArn=topic_arn, Subject=subject_line(subject), Message=message)


def record_failure(rt: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    """Catch target `{input, error: {Error, Cause}[, state]}`: mark the run and round FAILED with the
    reason, stop a job the wait gave up on, and publish the failure message once per run."""
    from amt_conductor.runtime import sagemaker_ops
    from amt_conductor.runtime.registry import RoundStatus, RunStatus

    state = event.get("input") or {}
    err = event.get("error") or {}
    error = str(err.get("Error") or "Unknown")
    cause_type, message = cause_text(err.get("Cause"))
    # The state machine passes the execution's own name; `prepared` counts only if Prepare made it for
    # this run (an execution's input could carry another run's `prepared`, to fail its round).
    run_id = event.get("run_id") or (state.get("prepared") or {}).get("run_id") or state.get("run_id")
    p = state.get("prepared") or {}
    if not isinstance(p, dict) or p.get("run_id") != run_id:
        p = {}
    study = p.get("study") or state.get("study")
    round_no = p.get("round")
    job = p.get("job_name")
    source = p.get("spec_location") or state.get("source") or {}
    spec_uri = f"s3://{source['bucket']}/{source['key']}" if source.get("bucket") else None
    report = state.get("report") if isinstance(state.get("report"), dict) else None
    stage = event.get("state") or (("Promote" if report.get("promote") and "promotion" not in report else "Notify")
                                   if report else "Report" if "launch" in state else "Launch" if p else "Prepare")
    bind(study=study, job_name=job, run_id=run_id, round=round_no)
    reason = f"{error}: {message}" if message else error
    first = rt.registry.finish_run(run_id, RunStatus.FAILED, reason=reason[:4000], error=error) if run_id \
        else True
    if study and round_no is not None and stage not in ("Promote", "Notify"):  # those run after the round ended
        rt.registry.set_round(study, int(round_no), RoundStatus.FAILED, failure_reason=reason[:4000])
    if job:
        # Whatever failed, the round holds no capacity any more (and waits in no queue). The workflow's own
        # functions wake nobody: the next job end or the reconciler admits who fits.
        from amt_conductor.runtime import admission

        admission.leave_queue(rt, (rt.registry.run(run_id) or {}).get("queue_key") if run_id else None)
        admission.release(rt, job, wake=False)
    if job and error in ("States.Timeout", "States.HeartbeatTimeout"):
        # The wait gave up but SageMaker is still running (and billing) the job.
        rt.registry.abandon_token(job)
        sagemaker_ops.stop_tuning_job(rt.sagemaker, job)
    subject, text = failure_message(error=error, message=message, stage=stage, study=study,
                                           round_no=round_no, job_name=job, run_id=run_id, spec_uri=spec_uri)
    if first:
        publish(rt.sns, rt.settings.topic_arn, subject, text)
        count("RunsFailed", study=study)
    logger.error("run failed", extra={"error": error, "error_type": cause_type, "cause": message[:2000]})
    return {"recorded": True, "notified": first, "subject": subject}
