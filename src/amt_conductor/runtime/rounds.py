"""Preparing a round: load and validate the spec, fix the round number, check the budget, choose the
warm-start parents from the study's lineage, and render the request under its deterministic name.

Idempotent: a retried Prepare of the same run sees the round it claimed and returns the same state.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from amt_conductor.runtime import deployed
from amt_conductor.runtime.data_trigger import NEW_DATA
from amt_conductor.runtime.observability import bind, logger
from amt_conductor.runtime.registry import MAX_LINEAGE_PARENTS, rank_rounds
from amt_conductor.runtime.sagemaker_ops import error_code, transient_errors
from amt_conductor.spec.errors import SpecError

if TYPE_CHECKING:
    from amt_conductor.runtime.workflow import Runtime
    from amt_conductor.spec.model import Spec

# SageMaker warm-starts Bayesian and Random search only (spec rules hold grid/hyperband to one round).
NO_WARM_START = ("grid", "hyperband")


class SpecInvalid(Exception):  # the class name is the Step Functions error type
    """The spec is missing or invalid; the message is the `FILE: field: message` lines."""


class BudgetExhausted(Exception):  # the class name is the Step Functions error type
    """The run's first round alone would exceed budget.max_instance_hours (by worst case)."""


def spec_uri(location: dict[str, Any]) -> str:
    return f"s3://{location.get('bucket')}/{location.get('key')}"


def load_spec(rt: Runtime, location: dict[str, Any]) -> Spec:
    """The spec at {bucket, key, version_id}; SpecInvalid (naming the file and field) when it is
    missing, too large or invalid."""
    from amt_conductor.spec.loader import MAX_SPEC_BYTES, parse_spec

    if location.get("study"):  # a study of the deployed manifest
        found = deployed.entry(rt, location)
        if found is None:
            raise SpecInvalid(f"study {location['study']}: not in the deployed specs ({spec_uri(location)})")
        try:
            return parse_spec(found[0], found[1])
        except SpecError as err:
            raise SpecInvalid("\n".join(err.lines())) from None
    kwargs = {"Bucket": location["bucket"], "Key": location["key"]}
    if location.get("version_id"):
        kwargs["VersionId"] = location["version_id"]
    try:
        with transient_errors(f"GetObject {spec_uri(location)}"):
            obj = rt.s3.get_object(**kwargs)
            if int(obj.get("ContentLength") or 0) > MAX_SPEC_BYTES:
                raise SpecInvalid(f"{location['key']}: file is larger than {MAX_SPEC_BYTES:,} bytes")
            body = obj["Body"].read()
    except ClientError as err:
        version = f" (version {location['version_id']})" if location.get("version_id") else ""
        raise SpecInvalid(f"{location['key']}: cannot read the spec at {spec_uri(location)}{version}: "
                          f"{error_code(err)}") from None
    try:
        return parse_spec(body, location["key"])
    except SpecError as err:
        raise SpecInvalid("\n".join(err.lines())) from None


def study_roles(rt: Runtime, spec: Spec) -> tuple[str, str | None]:
    """The execution role the round passes and the launcher role to assume first (or None): the
    study's own roles in a deployed stack (amt_conductor.spec.access), else the one configured role (tests, CLI)."""
    from amt_conductor.spec.access import roles_for

    s = rt.settings
    if not s.role_arn_base:
        return s.execution_role_arn, None
    roles = roles_for(spec, role_arn_base=s.role_arn_base, key=s.stack_key, region=rt.region,
                      prefixes=s.study_prefixes)
    return roles.execution_role_arn, roles.launcher_role_arn


def _check_promote_scope(rt: Runtime, spec: Spec, source: dict[str, Any]) -> None:
    """The Promote function may register only in the groups reviewed specs name: refuse before tuning."""
    group = spec.promote.model_package_group if spec.promote else None
    if group and group not in rt.settings.model_package_groups:
        allowed = ", ".join(rt.settings.model_package_groups) or "none"
        raise SpecInvalid(f"{source.get('key', spec.name)}: promote.model_package_group: {group!r} is not a group "
                          f"this stack may register in ({allowed}); add the spec to configs/ and cdk deploy")


def _refuse_code_changes(rt: Runtime, spec: Spec, source: dict[str, Any]) -> None:
    """An uploaded spec of a deployed study keeps the deployed code (issue 9, finding 2): the image, entry
    point and code source were reviewed with `cdk deploy`, and the study's roles were built for them."""
    loc = deployed.location(rt, spec.name)
    if loc is None:
        return  # not deployed from configs/: a study under an amt:studyPrefixes prefix (built-in images only)
    ours = load_spec(rt, loc)
    changed = deployed.code_changes(spec, ours)
    if changed:
        raise SpecInvalid("\n".join(
            f"{source.get('key', spec.name)}: {path}: differs from the deployed spec of study {spec.name} "
            f"({getattr(ours.algorithm, path.split('.')[1])!r}); code changes ship with `cdk deploy` (change "
            f"configs/ and deploy), not with an upload" for path in changed))


def run_identity(event: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(run id, the state's input). The state machine sends `{"input": <state>, "run_id": <execution
    name>}`: the run id is the execution's own, so an input naming another run's id claims nothing.
    A flat event (tests, direct invocation) carries its own `run_id`."""
    if isinstance(event.get("input"), dict):
        run_id, body = str(event.get("run_id") or ""), event["input"]
    else:
        run_id, body = str(event.get("run_id") or ""), event
    if not run_id:
        raise ValueError("prepare needs run_id (the execution name)")
    return run_id, body


def prepare(rt: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    """Load and validate the spec, fix the round (a run's first Prepare claims study's latest + 1),
    check the budget, pick compatible warm-start parents, render the request; records the round
    as LAUNCHING and returns the `prepared` state."""
    from amt_conductor.runtime.admission import queue_fields
    from amt_conductor.spec.budget import wait_timeout_seconds, worst_case_instance_hours
    from amt_conductor.spec.naming import job_name
    from amt_conductor.spec.render import render_request

    reg = rt.registry
    run_id, event = run_identity(event)
    trigger = str(event.get("trigger") or ("s3" if event.get("source") else "schedule"))
    source = event.get("source")
    if not source:
        # A scheduled run runs the deployed spec, never one uploaded since (issue 9, finding 6).
        source = deployed.location(rt, str(event.get("study")))
        if source is None:
            raise SpecInvalid(f"study {event.get('study')}: no deployed spec; a schedule runs the spec deployed "
                              "from configs/ (cdk deploy)")
    spec = load_spec(rt, source)
    study = spec.name
    _check_promote_scope(rt, spec, source)
    bind(study=study, run_id=run_id)
    first_prepare = "round" not in event
    uploaded = not source.get("study")
    if first_prepare and uploaded:
        _refuse_code_changes(rt, spec, source)
    if first_prepare:
        # An upload runs its own version only: it never re-points the study's spec on record.
        reg.put_study_spec(study, spec_location=None if uploaded else source, goal=spec.objective.goal,
                           schedule=spec.schedule)
    run = reg.claim_run(run_id, study=study, trigger=trigger, spec_location=source)
    base_round = int(run["base_round"])
    # New data under a channel: every round of the run warm-starts with transfer learning (SageMaker refuses
    # an identical-data warm start once the data changed). The run remembers its trigger for later rounds.
    warm_type = "transfer_learning" if run.get("trigger") == NEW_DATA else None
    round_no = int(event.get("round") or base_round)
    bind(round=round_no)
    rounds = reg.rounds(study)
    worst = worst_case_instance_hours(spec)
    spent = sum(float(r.get("worst_case_hours") or 0) for r in rounds
                if r.get("run_id") == run_id and int(r["round"]) < round_no)
    if spec.budget is not None and spent + worst > spec.budget.max_instance_hours:
        # Report already stops before a later round that does not fit; reaching this for a later
        # round means the spec changed under the run, which is just as final.
        raise BudgetExhausted(f"{source['key']}: budget.max_instance_hours: round {round_no} may use {worst:g} "
                              f"instance-hours in the worst case; {spent:g} of {spec.budget.max_instance_hours:g} "
                              f"already committed in this run")
    existing = next((r for r in rounds if int(r["round"]) == round_no and r.get("run_id") == run_id), None)
    if existing is not None:
        parents = list(existing.get("parents") or [])  # a retried Prepare keeps its first choice
    else:
        explicit = round_no == base_round and trigger == "s3" and spec.warm_start is not None
        parents = choose_parents(rt, spec, rounds, explicit=explicit, exclude_round=round_no,
                                 source_key=str(source.get("key", spec.name)), warm_type=warm_type)
    name = job_name(spec, round_no)
    bind(job_name=name)
    role_arn, launcher_arn = study_roles(rt, spec)
    request = render_request(spec, region=rt.region, role_arn=role_arn,
                             output_bucket=rt.settings.artifacts_bucket, round_no=round_no, parents=parents,
                             stack_key=rt.settings.stack_key, default_kms_key=rt.settings.kms_key_arn,
                             warm_start_type=warm_type)
    reg.claim_round(study, round_no, run_id=run_id, job_name=name, parents=parents, spec_location=source,
                    worst_case_hours=worst)
    logger.info("prepared round", extra={"parents": parents, "worst_case_hours": worst, "spent_hours": spent})
    return {"study": study, "round": round_no, "base_round": base_round, "run_id": run_id, "job_name": name,
            "request": request, "launcher_role_arn": launcher_arn, "parents": parents,
            "timeout_seconds": wait_timeout_seconds(spec),
            "worst_case_hours": worst, "spent_hours": spent, "spec_location": source, "trigger": trigger,
            "queue": queue_fields(spec, str(run["created_at"]))}


def choose_parents(rt: Runtime, spec: Spec, rounds: list[dict[str, Any]], *, explicit: bool,
                   exclude_round: int, source_key: str = "", warm_type: str | None = None) -> list[str]:
    """Warm-start parents: the spec's explicit ones (a run's first round, unless scheduled) or the
    study's up to 5 best completed rounds. An incompatible lineage parent is dropped with a warning;
    an incompatible explicit parent is the user's error (SpecInvalid naming warm_start.parents).
    Grid and Hyperband studies have none: SageMaker warm-starts only Bayesian and Random search."""
    from amt_conductor.spec.warmstart import compatibility_problems

    if spec.strategy in NO_WARM_START:
        return []
    by_job = {r.get("job_name"): r for r in rounds}
    if explicit and spec.warm_start is not None:
        candidates = list(spec.warm_start.parents)
    else:
        best = rank_rounds(rounds, spec.objective.goal, exclude=exclude_round)
        candidates = [r["job_name"] for r in best]
    specs: dict[str, Spec | None] = {}
    keep: list[str] = []
    for parent in candidates:
        known = by_job.get(parent)
        if known is None and (tok := rt.registry.token(parent)):  # ours, from another study
            known = rt.registry.round(str(tok["study"]), int(tok["round"]))
        if known is None:
            if explicit:
                keep.append(parent)  # not ours: SageMaker checks it at create time
            continue
        loc = known["spec_location"]
        key = json.dumps(loc, sort_keys=True)
        if key not in specs:
            try:
                specs[key] = load_spec(rt, loc)
            except SpecInvalid as err:
                logger.warning("dropping parent: its spec cannot be read", extra={"parent": parent,
                                                                                   "error": str(err)})
                specs[key] = None
        parent_spec = specs[key]
        if parent_spec is None:
            continue
        problems = compatibility_problems(spec, [parent_spec], warm_type)
        if problems and explicit:
            raise SpecInvalid("\n".join(f"{source_key or spec.name}: warm_start.parents: {parent}: {p.field}: "
                                        f"{p.message}" for p in problems))
        if problems:
            logger.warning("dropping incompatible warm-start parent",
                           extra={"parent": parent, "problems": [str(p) for p in problems]})
            continue
        keep.append(parent)
    return keep[:MAX_LINEAGE_PARENTS]


# -- launch and resume ---------------------------------------------------------------------------


