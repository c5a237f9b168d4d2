"""`amt submit`, `amt status`, `amt best` and `amt report`: the commands that talk to a deployed stack
(`amt report --local` reads a simulator's output instead)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from amt_conductor.cli.args import positive_int
from amt_conductor.cli.tables import format_table
from amt_conductor.contract import StackOutputs
from amt_conductor.spec.errors import FieldError, SpecError
from amt_conductor.spec.loader import load_spec

SUBMIT_WAIT_SECONDS = 60


def _study_query(sub: argparse._SubParsersAction, name: str, func: Callable[[argparse.Namespace], int],
                 help: str) -> None:
    """A command that reads one study of a deployed stack: STUDY --stack NAME [--region R] [--json]."""
    p = sub.add_parser(name, help=help)
    p.add_argument("study", metavar="STUDY")
    p.add_argument("--stack", required=True, help="the deployed stack's name")
    p.add_argument("--region")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=func)


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("submit", help="validate a spec, upload it to the stack's configs bucket, start a run")
    p.add_argument("path", metavar="PATH")
    p.add_argument("--stack", required=True, help="the deployed stack's name")
    p.add_argument("--region")
    p.add_argument("--no-wait", action="store_true", help="do not wait for the execution to appear")
    p.set_defaults(func=cmd_submit)

    _study_query(sub, "status", cmd_status, "rounds, jobs, statuses, best objective and reports of a study")
    _study_query(sub, "best", cmd_best, "the study's best hyperparameters, training job, objective, model "
                                        "artifact and model package (e.g. to deploy from CI)")

    p = sub.add_parser("report", help="a link to the study's latest HTML report (presigned), or its path in a "
                                      "simulator's output (--local)")
    p.add_argument("study", metavar="STUDY")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack", help="the deployed stack's name")
    where.add_argument("--local", metavar="DIR", help="a simulator's output folder (`amt simulate --out DIR`)")
    p.add_argument("--region")
    p.add_argument("--expires", type=positive_int, default=3600, help="seconds the link stays valid (default 3600)")
    p.set_defaults(func=cmd_report)


def stack_outputs(stack: str, region: str | None) -> dict[str, str]:
    """The stack's outputs by key; a missing stack is a one-line error."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        cfn = boto3.client("cloudformation", region_name=region)
        stacks = cfn.describe_stacks(StackName=stack)["Stacks"]
    except (ClientError, BotoCoreError) as exc:
        raise SpecError(f"stack {stack}", [FieldError("", f"cannot read the stack: {exc}")]) from None
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def _output(outputs: dict[str, str], key: str, stack: str) -> str:
    if key not in outputs:
        raise SpecError(f"stack {stack}", [FieldError("", f"has no output {key}: is it an amt-conductor stack?")])
    return outputs[key]


def cmd_submit(args: argparse.Namespace) -> int:
    import boto3

    from amt_conductor.spec.naming import execution_name

    spec = load_spec(args.path)
    if spec.algorithm is not None and spec.algorithm.source_dir is not None:
        # Uploaded specs may not change code (issue 9): code from the repository ships with the stack.
        raise SpecError(args.path, [FieldError("algorithm.source_dir", "code from a folder ships with `cdk deploy`: "
                                                                       "put the spec in configs/ and deploy; an "
                                                                       "uploaded spec names no folder")])
    print(f"validated {args.path} ({spec.name})", file=sys.stderr)
    outputs = stack_outputs(args.stack, args.region)
    bucket = _output(outputs, StackOutputs.CONFIGS_BUCKET, args.stack)
    prefix = outputs.get(StackOutputs.CONFIGS_PREFIX, "configs/")
    machine = _output(outputs, StackOutputs.STATE_MACHINE_ARN, args.stack)
    suffix = ".json" if str(args.path).lower().endswith(".json") else ".yaml"
    key = f"{prefix}{spec.name}{suffix}"
    with open(args.path, "rb") as fh:
        put = boto3.client("s3", region_name=args.region).put_object(Bucket=bucket, Key=key, Body=fh.read())
    version = put.get("VersionId", "null")
    print(f"uploaded s3://{bucket}/{key} (version {version})", file=sys.stderr)
    # The start function names the execution from the object's version, so we know its ARN already.
    arn = machine.replace(":stateMachine:", ":execution:") + ":" + execution_name(spec.name, version)
    if args.no_wait:
        print(arn)
        return 0
    sfn = boto3.client("stepfunctions", region_name=args.region)
    deadline = time.monotonic() + SUBMIT_WAIT_SECONDS
    while time.monotonic() < deadline:
        try:
            status = sfn.describe_execution(executionArn=arn)["status"]
        except sfn.exceptions.ExecutionDoesNotExist:
            print("waiting for the run to start ...", file=sys.stderr)
            time.sleep(3)
            continue
        print(f"run {status.lower()}: {arn}", file=sys.stderr)
        print(arn)
        return 0
    print(f"the run has not started after {SUBMIT_WAIT_SECONDS}s; check the start function's logs", file=sys.stderr)
    print(arn)
    return 1


def cmd_status(args: argparse.Namespace) -> int:
    import json

    import boto3

    from amt_conductor.runtime.registry import Registry

    outputs = stack_outputs(args.stack, args.region)
    table = _output(outputs, StackOutputs.REGISTRY_TABLE, args.stack)
    registry = Registry(boto3.client("dynamodb", region_name=args.region), table)
    rows = study_rows(registry, args.study)
    if not rows:
        print(f"no rounds recorded for study {args.study!r}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    print(format_table(list(rows[0]), [list(r.values()) for r in rows]))
    return 0


def queue_positions(registry: Any) -> tuple[dict[str, int], int]:
    """({job name: 1-based position}, rounds waiting) for rounds queued for account capacity."""
    from amt_conductor.runtime.capacity import Capacity, QueueStatus

    waiting = [e["job_name"] for e in Capacity(registry).queue(page_size=100)
               if e.get("status") == QueueStatus.QUEUED]
    return {job: i + 1 for i, job in enumerate(waiting)}, len(waiting)


def study_rows(registry: Any, study: str) -> list[dict[str, Any]]:
    """One row per round of `study`, oldest first; a round waiting for capacity shows its place in the queue,
    and a run's last round the model package it registered."""
    out = []
    positions, waiting = queue_positions(registry)
    rounds = registry.rounds(study)
    last_of_run = {r.get("run_id"): r.get("round") for r in rounds}
    packages = {run_id: (registry.run(run_id) or {}).get("package_arn") for run_id in last_of_run if run_id}
    for r in rounds:
        place = positions.get(str(r.get("job_name")))
        package = packages.get(r.get("run_id")) if last_of_run.get(r.get("run_id")) == r.get("round") else None
        out.append({
            "round": r.get("round"),
            "job_name": r.get("job_name"),
            "status": f"QUEUED ({place} of {waiting})" if place else r.get("status"),
            "best_objective": r.get("best_objective"),
            "parents": ",".join(r.get("parents") or []) or "-",
            "report_uri": r.get("report_uri") or "-",
            "model_package": package or "-",
        })
    return out


def cmd_best(args: argparse.Namespace) -> int:
    import json

    import boto3

    from amt_conductor.runtime.registry import Registry

    outputs = stack_outputs(args.stack, args.region)
    table = _output(outputs, StackOutputs.REGISTRY_TABLE, args.stack)
    registry = Registry(boto3.client("dynamodb", region_name=args.region), table)
    best = best_record(registry, boto3.client("sagemaker", region_name=args.region), args.study)
    if best is None:
        print(f"no best training job recorded for study {args.study!r}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(best, indent=2, sort_keys=True))
        return 0
    rows = [[k, best[k]] for k in ("study", "objective_metric", "objective", "round", "tuning_job", "training_job",
                                   "model_artifact", "model_package")]
    rows += [[f"hyperparameter {k}", v] for k, v in best["hyperparameters"].items()]
    print(format_table(["field", "value"], rows))
    return 0


def best_record(registry: Any, sm: Any, study: str) -> dict[str, Any] | None:
    """The study's best: from the registry, plus the training job's model artifact and objective metric
    (DescribeTrainingJob); the model package is the registered one when it holds this training job."""
    from botocore.exceptions import BotoCoreError, ClientError

    meta = registry.study(study) or {}
    job = meta.get("best_training_job")
    if not job:
        return None
    artifact, metric = meta.get("package_model_artifact") if meta.get("package_training_job") == job else None, None
    try:
        d = sm.describe_training_job(TrainingJobName=job)
        artifact = (d.get("ModelArtifacts") or {}).get("S3ModelArtifacts") or artifact
        metric = (d.get("HyperParameters") or {}).get("_tuning_objective_metric")
    except (ClientError, BotoCoreError) as exc:
        print(f"note: cannot describe training job {job}: {exc}", file=sys.stderr)
    round_no = meta.get("best_round")
    tuning_job = (registry.round(study, int(round_no)) or {}).get("job_name") if round_no else None
    return {
        "study": study, "objective": meta.get("best_objective"), "objective_metric": metric,
        "goal": meta.get("goal"), "round": round_no, "tuning_job": tuning_job, "training_job": job,
        "hyperparameters": dict(meta.get("best_hyperparameters") or {}), "model_artifact": artifact,
        "model_package": meta.get("package_arn") if meta.get("package_training_job") == job else None,
    }


def cmd_report(args: argparse.Namespace) -> int:
    if args.local:
        found = latest_local_report(Path(args.local), args.study)
        if found is None:
            print(f"no HTML report of study {args.study!r} under {args.local}", file=sys.stderr)
            return 1
        print(found.resolve().as_uri())
        return 0
    import boto3

    from amt_conductor.runtime.registry import Registry

    outputs = stack_outputs(args.stack, args.region)
    registry = Registry(boto3.client("dynamodb", region_name=args.region),
                        _output(outputs, StackOutputs.REGISTRY_TABLE, args.stack))
    url = presigned_report_url(registry, boto3.client("s3", region_name=args.region), args.study,
                               expires=args.expires)
    if url is None:
        print(f"no report recorded for study {args.study!r}", file=sys.stderr)
        return 1
    print(url)
    return 0


def presigned_report_url(registry: Any, s3: Any, study: str, *, expires: int) -> str | None:
    """A GET link to the latest round's report.html (beside the report.md the study records)."""
    uri = (registry.study(study) or {}).get("last_report_uri")
    if not uri:
        return None
    bucket, _, key = str(uri).removeprefix("s3://").partition("/")
    folder = key.rpartition("/")[0]
    key = f"{folder}/report.html" if folder else "report.html"
    url: str = s3.generate_presigned_url("get_object", ExpiresIn=expires, Params={
        "Bucket": bucket, "Key": key, "ResponseContentType": "text/html; charset=utf-8"})
    return url


def latest_local_report(out_dir: Path, study: str) -> Path | None:
    """The report.html of the study's highest round in a simulator's output folder."""
    import json

    best: tuple[int, Path] | None = None
    for doc in (out_dir / "reports" / study).glob("*/report.json"):
        page = doc.with_name("report.html")
        if page.exists():
            round_no = int(json.loads(doc.read_text()).get("round") or 0)
            if best is None or round_no > best[0]:
                best = (round_no, page)
    return best[1] if best else None
