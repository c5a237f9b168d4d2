"""The Promote step: when a run ends, register the study's best training job as a model package
version in the spec's `promote.model_package_group`, only when it beats the group's current model.

The current model is the group's latest Approved package, else its latest package; the comparison
uses the objective value this step writes into every package's CustomerMetadataProperties, in the
spec's goal direction. Retry-safe three ways: the outcome is stored on the run (first write wins),
a package whose metadata names this run is found before anything is created, and CreateModelPackage
carries a ClientToken derived from the run id.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import TYPE_CHECKING, Any

from amt_conductor.runtime.observability import bind, count, logger
from amt_conductor.runtime.sagemaker_ops import transient_errors

if TYPE_CHECKING:
    from amt_conductor.runtime.workflow import Runtime
    from amt_conductor.spec.model import Spec

APPROVAL = {"pending": "PendingManualApproval", "approved": "Approved"}
# CustomerMetadataProperties: at most 50 entries; keys 1-128 and values 1-256 characters of
# letters, digits, spaces and _ . : / = + - @ (botocore's CustomerMetadataMap).
MAX_METADATA = 50
MAX_KEY, MAX_VALUE = 128, 256
_UNSAFE = re.compile(r"[^\w .:/=+\-@]")
# How many of the group's newest packages are checked for one this run already registered.
LOOKBACK = 10


class Meta:
    """CustomerMetadataProperties keys amt writes (and reads back to compare)."""

    STUDY = "amt:study"
    RUN = "amt:run"
    ROUND = "amt:round"
    TUNING_JOB = "amt:tuning-job"
    TRAINING_JOB = "amt:training-job"
    METRIC = "amt:objective-metric"
    VALUE = "amt:objective-value"
    GOAL = "amt:goal"
    SPEC_VERSION = "amt:spec-version"
    SPEC = "amt:spec"
    SPEC_OBJECT_VERSION = "amt:spec-object-version"
    REPORT = "amt:report"
    HP = "amt:hp:"


class PromotionFailed(Exception):  # the class name is the Step Functions error type
    """The best training job cannot be registered (no model artifact, no image)."""


def metadata_value(value: Any) -> str:
    """A value CustomerMetadataProperties accepts: disallowed characters become '_', at most 256."""
    text = _UNSAFE.sub("_", str(value))[:MAX_VALUE]
    return text or "-"


def client_token(group: str, run_id: str) -> str:
    """CreateModelPackage's ClientToken (1-36 of [a-zA-Z0-9-]): one per run and group."""
    return hashlib.sha256(f"{group}\0{run_id}".encode()).hexdigest()[:32]


def inference_image(spec: Spec, *, region: str, training_image: str) -> str:
    """inference.image; else a first-party built-in's catalog image (it serves too); else the training image."""
    from amt_conductor.spec.images import is_framework, resolve_image

    assert spec.promote is not None
    inference = spec.promote.inference
    if inference.image:
        return inference.image
    algo = spec.algorithm  # None for a multi-algorithm study: the best job's own training image
    if algo is not None and algo.builtin and not is_framework(algo.builtin):
        configs = spec.resources.instance_configs
        instance = (inference.instance_types[0] if inference.instance_types else spec.resources.instance_type
                    or (configs[0].instance_type if configs else "ml.m5.xlarge"))
        return resolve_image(algo.builtin, algo.version, region, instance, algo.py_version, algo.base_framework)
    if not training_image:
        raise PromotionFailed("no inference image: set promote.inference.image")
    return training_image


def package_request(spec: Spec, *, run_id: str, round_no: int, tuning_job: str, training_job: str,
                    objective: float, hyperparameters: dict[str, str], model_data_url: str, image: str,
                    report_uri: str, spec_location: dict[str, Any]) -> dict[str, Any]:
    """The CreateModelPackage request for a study's best training job."""
    assert spec.promote is not None
    promote = spec.promote
    meta = {
        Meta.STUDY: spec.name, Meta.RUN: run_id, Meta.ROUND: round_no, Meta.TUNING_JOB: tuning_job,
        Meta.TRAINING_JOB: training_job, Meta.METRIC: spec.objective.metric, Meta.VALUE: repr(float(objective)),
        Meta.GOAL: spec.objective.goal, Meta.SPEC_VERSION: spec.spec_version,
        Meta.SPEC: f"s3://{spec_location.get('bucket')}/{spec_location.get('key')}",
        Meta.SPEC_OBJECT_VERSION: spec_location.get("version_id") or "",
        Meta.REPORT: report_uri,
    }
    properties = {k: metadata_value(v) for k, v in meta.items() if v not in ("", None)}
    for name, value in sorted(hyperparameters.items()):
        if len(properties) >= MAX_METADATA:
            break  # the rest are in the report (linked above)
        properties[metadata_value(f"{Meta.HP}{name}")[:MAX_KEY]] = metadata_value(value)
    container: dict[str, Any] = {"Image": image, "ModelDataUrl": model_data_url}
    inference: dict[str, Any] = {"Containers": [container]}
    if promote.inference.instance_types:
        inference["SupportedRealtimeInferenceInstanceTypes"] = list(promote.inference.instance_types)
        inference["SupportedTransformInstanceTypes"] = list(promote.inference.instance_types)
    if promote.inference.content_types:
        inference["SupportedContentTypes"] = list(promote.inference.content_types)
    if promote.inference.response_types:
        inference["SupportedResponseMIMETypes"] = list(promote.inference.response_types)
    description = promote.description or (f"amt study {spec.name}, run {run_id}: best {spec.objective.metric} "
                                          f"{objective:g} from training job {training_job}")
    return {
        "ModelPackageGroupName": promote.model_package_group,
        "ModelPackageDescription": description[:1024],
        "InferenceSpecification": inference,
        "ModelApprovalStatus": APPROVAL[promote.approval],
        "CustomerMetadataProperties": properties,
        "ClientToken": client_token(promote.model_package_group, run_id),
    }


def _package(d: dict[str, Any]) -> dict[str, Any]:
    props = d.get("CustomerMetadataProperties") or {}
    try:
        value: float | None = float(props[Meta.VALUE])
    except (KeyError, ValueError):
        value = None
    return {"arn": d.get("ModelPackageArn", ""), "version": d.get("ModelPackageVersion"),
            "status": d.get("ModelApprovalStatus", ""), "metric": props.get(Meta.METRIC),
            "objective": value, "training_job": props.get(Meta.TRAINING_JOB), "run": props.get(Meta.RUN)}


def _describe(sm: Any, arn: str) -> dict[str, Any]:
    with transient_errors(f"DescribeModelPackage {arn}"):
        return dict(sm.describe_model_package(ModelPackageName=arn))


def _newest(sm: Any, group: str, *, limit: int, status: str | None = None) -> list[str]:
    kwargs: dict[str, Any] = {"ModelPackageGroupName": group, "SortBy": "CreationTime", "SortOrder": "Descending",
                              "MaxResults": limit}
    if status:
        kwargs["ModelApprovalStatus"] = status
    with transient_errors(f"ListModelPackages {group}"):
        page = sm.list_model_packages(**kwargs)
    return [s["ModelPackageArn"] for s in page.get("ModelPackageSummaryList", [])]


def current_model(sm: Any, group: str) -> dict[str, Any] | None:
    """The group's latest Approved package, else its latest package, else None."""
    for status in ("Approved", None):
        arns = _newest(sm, group, limit=1, status=status)
        if arns:
            return _package(_describe(sm, arns[0]))
    return None


def registered_by(sm: Any, group: str, run_id: str) -> dict[str, Any] | None:
    """A package among the group's newest that this run registered (a retry after the create)."""
    for arn in _newest(sm, group, limit=LOOKBACK):
        found = _package(_describe(sm, arn))
        if found["run"] == run_id:
            return found
    return None


def compare(goal: str, metric: str, value: float, current: dict[str, Any] | None) -> tuple[bool, str]:
    """(register?, why): the candidate must beat the current model's objective in the goal's direction."""
    from amt_conductor.runtime.registry import better

    if current is None:
        return True, "the group has no model package yet"
    label = f"{current['status'] or 'current'} version {current['version']}"
    if current["metric"] != metric or current["objective"] is None:
        return True, f"the {label} records no {metric} to compare with"
    if better(goal, value, current["objective"]):
        return True, f"{metric} {value:g} beats the {label} ({current['objective']:g})"
    return False, f"{metric} {value:g} does not beat the {label} ({current['objective']:g}); nothing registered"


def _training_job(sm: Any, name: str) -> tuple[str, str]:
    """(model artifact URI, training image) of a training job."""
    with transient_errors(f"DescribeTrainingJob {name}"):
        d = sm.describe_training_job(TrainingJobName=name)
    artifact = (d.get("ModelArtifacts") or {}).get("S3ModelArtifacts") or ""
    if not artifact:
        raise PromotionFailed(f"training job {name} has no model artifact to register")
    return artifact, str((d.get("AlgorithmSpecification") or {}).get("TrainingImage") or "")


def decide_and_register(rt: Runtime, spec: Spec, *, run_id: str, report_uri: str,
                        spec_location: dict[str, Any]) -> dict[str, Any]:
    """Register the study's best if it beats the group's current model; returns the outcome
    {registered, package_arn, reason, candidate, current}. Finds this run's package instead of
    creating a second one."""
    assert spec.promote is not None
    group, sm, study = spec.promote.model_package_group, rt.sagemaker, spec.name
    meta = rt.registry.study(study) or {}
    job, value = meta.get("best_training_job"), meta.get("best_objective")
    base: dict[str, Any] = {"group": group, "registered": False, "package_arn": None, "current": None}
    if not job or value is None:
        return {**base, "reason": f"no training job of {study} reported {spec.objective.metric}; nothing registered"}
    round_no = int(meta.get("best_round") or 0)
    candidate = {"training_job": job, "objective": float(value), "round": round_no,
                 "hyperparameters": meta.get("best_hyperparameters") or {}}
    mine = registered_by(sm, group, run_id)
    if mine is not None:
        logger.info("this run already registered a package", extra={"package_arn": mine["arn"]})
        return {**base, "registered": True, "package_arn": mine["arn"], "candidate": candidate,
                "reason": f"registered as version {mine['version']} (found on retry)"}
    current = current_model(sm, group)
    register, reason = compare(spec.objective.goal, spec.objective.metric, float(value), current)
    out = {**base, "candidate": candidate, "current": current, "reason": reason}
    if not register:
        return out
    artifact, training_image = _training_job(sm, job)
    tuning_job = (rt.registry.round(study, round_no) or {}).get("job_name") or ""
    request = package_request(spec, run_id=run_id, round_no=round_no, tuning_job=tuning_job, training_job=job,
                              objective=float(value), hyperparameters=candidate["hyperparameters"],
                              model_data_url=artifact,
                              image=inference_image(spec, region=rt.region, training_image=training_image),
                              report_uri=report_uri, spec_location=spec_location)
    with transient_errors(f"CreateModelPackage {group}"):
        arn = sm.create_model_package(**request)["ModelPackageArn"]
    count("ModelPackagesRegistered", study=study)
    logger.info("registered a model package", extra={"package_arn": arn, "reason": reason})
    return {**out, "registered": True, "package_arn": arn, "model_artifact": artifact}


def promote_step(rt: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    """The Promote state: `{prepared, report}` in; `{subject, message, report_uri, promotion}` out (what
    Notify sends). The outcome is stored on the run first-write-wins, so a retry reports the same."""
    from amt_conductor.runtime.notify import promotion_lines, subject_line
    from amt_conductor.runtime.registry import RunStatus
    from amt_conductor.runtime.rounds import load_spec

    p, report = event["prepared"], event["report"]
    study, run_id = p["study"], p["run_id"]
    # The state machine passes the execution's own name: `prepared` must be this run's (as in record_failure).
    if event.get("run_id") and event["run_id"] != run_id:
        raise ValueError(f"prepared belongs to run {run_id}, not to this execution ({event['run_id']})")
    bind(study=study, run_id=run_id)
    spec = load_spec(rt, p["spec_location"])
    outcome: dict[str, Any] | None = None
    if spec.promote is not None:
        outcome = (rt.registry.run(run_id) or {}).get("promotion")
        if outcome is None:
            outcome = decide_and_register(rt, spec, run_id=run_id, report_uri=report["report_uri"],
                                          spec_location=p["spec_location"])
            outcome = rt.registry.record_promotion(run_id, study, outcome)
        _annotate_report(rt, report["report_uri"], outcome)
    rt.registry.finish_run(run_id, RunStatus.SUCCEEDED, reason=report.get("reason"))
    subject, message = report["subject"], report["message"]
    if outcome is not None:
        verdict = "model registered" if outcome["registered"] else "no model registered"
        subject = subject_line(f"{subject}; {verdict}")
        message = message + "\n\n" + "\n".join(promotion_lines(outcome))
    return {"subject": subject, "message": message, "report_uri": report["report_uri"], "promotion": outcome}


def _annotate_report(rt: Runtime, report_uri: str, outcome: dict[str, Any]) -> None:
    """Add the promotion outcome to the round's report.json and report.md (same prefix)."""
    from amt_conductor.runtime.report_html import render_html
    from amt_conductor.runtime.reports import render_promotion, report_svg

    bucket, _, key = report_uri.removeprefix("s3://").partition("/")
    prefix = key.rsplit("/", 1)[0] + "/"
    with transient_errors(f"GetObject {report_uri}"):
        md = rt.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        doc = json.loads(rt.s3.get_object(Bucket=bucket, Key=prefix + "report.json")["Body"].read())
    if "promotion" in doc:
        return  # a retried step: already written
    doc["promotion"] = outcome
    with transient_errors(f"PutObject {report_uri}"):
        # report.json last: its `promotion` key is what a retry checks.
        rt.s3.put_object(Bucket=bucket, Key=key, ContentType="text/markdown; charset=utf-8",
                         Body=(md.rstrip("\n") + "\n\n" + render_promotion(outcome) + "\n").encode())
        html = render_html(doc, report_svg(doc), study_best=doc.get("study_best"))
        rt.s3.put_object(Bucket=bucket, Key=prefix + "report.html", ContentType="text/html; charset=utf-8",
                         Body=html.encode())
        rt.s3.put_object(Bucket=bucket, Key=prefix + "report.json", ContentType="application/json",
                         Body=json.dumps(doc, indent=2, sort_keys=True).encode())
