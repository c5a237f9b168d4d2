"""Promote (issue 12): the registering role's scope, the model package groups, and the Promote state."""

from __future__ import annotations

import json
from typing import Any

import pytest

from amt_conductor.cdk.ids import STACK_ID
from amt_conductor.cdk.ids import States as S
from amt_conductor.cdk.nag import flatten
from amt_conductor.cdk.workflow import AMT_TRANSIENT
from amt_conductor.spec.access import stack_key
from infra.test_iam import _fn_statements

pytestmark = pytest.mark.infra

GROUP = "churn-xgb"  # configs/churn-xgb.yaml: promote.model_package_group


def _resources(statements: list[dict[str, Any]], action: str) -> set[str]:
    out: set[str] = set()
    for st in statements:
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        if st["Effect"] == "Allow" and action in actions:
            res = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
            out.update(flatten(r) for r in res)
    return out


def test_packages_only_in_the_groups_reviewed_specs_name(synth: Any) -> None:
    base = "arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>"
    assert _resources(_fn_statements(synth, "promote"), "sagemaker:CreateModelPackage") == {
        f"{base}:model-package-group/{GROUP}", f"{base}:model-package/{GROUP}/*"}


def test_reads_only_this_stacks_training_jobs_and_model_artifacts(synth: Any) -> None:
    statements = _fn_statements(synth, "promote")
    (describe,) = [st for st in statements if st["Action"] == "sagemaker:DescribeTrainingJob"]
    assert flatten(describe["Resource"]) == \
        "arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:training-job/*"
    assert describe["Condition"] == {"StringEquals": {"aws:ResourceTag/amt:stack": stack_key(STACK_ID)}}
    reads = _resources(statements, "s3:GetObject")
    artifacts = {r for r in reads if "/training/" in r}
    assert len(artifacts) == 1 and next(iter(artifacts)).endswith("/training/*")
    assert all(r.endswith(("/training/*", "/reports/*")) for r in reads), reads
    # Nothing that would let it approve, delete or change other packages.
    actions = {a for st in statements for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])}
    assert not {"sagemaker:UpdateModelPackage", "sagemaker:DeleteModelPackage", "sagemaker:*"} & actions


def test_the_stack_creates_the_group_and_keeps_it(synth: Any) -> None:
    (group,) = synth.resources("AWS::SageMaker::ModelPackageGroup").values()
    assert group["Properties"]["ModelPackageGroupName"] == GROUP
    assert group["DeletionPolicy"] == "Retain"


def test_an_existing_group_is_referenced_not_created(synth_factory: Any) -> None:
    other = synth_factory({"amt:existingModelPackageGroups": GROUP})
    assert other.nag_error is None
    assert other.resources("AWS::SageMaker::ModelPackageGroup") == {}
    assert f"model-package/{GROUP}/*" in " ".join(_resources(_fn_statements(other, "promote"),
                                                             "sagemaker:CreateModelPackage"))


def test_promote_runs_after_the_last_report_with_retries_catch_and_timeout(asl: dict[str, Any]) -> None:
    states = asl["States"]
    choice = states[S.PROMOTE_CHOICE]
    assert states[S.NEXT_ROUND_CHOICE]["Default"] == S.PROMOTE_CHOICE
    assert choice["Choices"] == [{"Variable": "$.report.promote", "BooleanEquals": True, "Next": S.PROMOTE}]
    assert choice["Default"] == S.NOTIFY
    task = states[S.PROMOTE]
    assert task["Next"] == S.NOTIFY and task["ResultPath"] == "$.report"
    assert task["TimeoutSeconds"] > 0
    assert any(AMT_TRANSIENT in r["ErrorEquals"] for r in task["Retry"])
    assert task["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": S.RECORD_FAILURE}]
    # Notify reads the same two fields whether Promote ran or not.
    assert set(task["ResultSelector"]) >= {"subject.$", "message.$"}


def test_new_data_rule_and_check_of_the_study_with_triggers(synth: Any) -> None:
    # Beside the study's role in its nested stack, named like the schedules (one permission covers them).
    rules = {k: r for t in synth.nested.values() for k, r in t["Resources"].items() if r["Type"] == "AWS::Events::Rule"}
    (objects,) = [r["Properties"] for r in rules.values()
                  if "new-data-churn-xgb" in str(r["Properties"].get("Name", ""))]
    assert objects["EventPattern"]["detail"] == {"bucket": {"name": ["example-ml-data"]},
                                                 "object": {"key": [{"prefix": "churn/train/"}]}}
    (check,) = [r["Properties"] for r in rules.values()
                if "new-data-check-churn-xgb" in str(r["Properties"].get("Name", ""))]
    assert check["ScheduleExpression"] == "rate(6 minutes)"  # a tenth of the hour's quiet period
    payload = json.loads(check["Targets"][0]["Input"])
    assert payload == {"study": "churn-xgb", "trigger": "new-data-check", "quiet_seconds": 3600,
                       "prefixes": ["s3://example-ml-data/churn/train/"]}
    # The check's scan of a bucket without events: only prefixes the amt:dataPrefixes context names.
    assert not [st for st in _fn_statements(synth, "start") if st["Action"] == "s3:ListBucket"]


def test_the_check_may_list_the_context_data_prefixes(synth_factory: Any) -> None:
    other = synth_factory({"amt:dataPrefixes": "s3://example-ml-data/churn/train/"}, nag=False)
    (listing,) = [st for st in _fn_statements(other, "start") if st["Action"] == "s3:ListBucket"]
    assert flatten(listing["Resource"]) == "arn:<AWS::Partition>:s3:::example-ml-data"
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["churn/train/*"]}}
