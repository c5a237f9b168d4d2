"""Least privilege (issue 4, item 1): each role may do what its handler does, scoped to our resources."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import aws_iam as iam

from infra.conftest import throwaway_stack
from infra.invariants import role_violations
from stacks import ids
from stacks.nag import flatten

pytestmark = pytest.mark.infra


def _statements_of_role(synth: Any, role_prefix: str) -> list[dict[str, Any]]:
    """Allow and deny statements of the policies attached to the role whose logical id starts with the prefix."""
    out: list[dict[str, Any]] = []
    for policy in synth.resources("AWS::IAM::Policy").values():
        roles = [r["Ref"] for r in policy["Properties"].get("Roles", [])]
        if any(r.startswith(role_prefix) for r in roles):
            out.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return out


def _fn_statements(synth: Any, handler: str) -> list[dict[str, Any]]:
    return _statements_of_role(synth, f"{ids.FUNCTIONS}{ids.function_id(handler)}Role")


def _actions(statements: list[dict[str, Any]], effect: str = "Allow") -> set[str]:
    out: set[str] = set()
    for st in statements:
        if st["Effect"] == effect:
            out.update(st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
    return out


def _holders(synth: Any, action: str) -> set[str]:
    return {h for h in ids.HANDLERS if action in _actions(_fn_statements(synth, h))}


def test_role_invariants_hold_for_every_role_and_policy(synth: Any) -> None:
    assert role_violations(synth.json) == []


def test_each_sensitive_action_belongs_to_one_handler(synth: Any) -> None:
    assert _holders(synth, "states:StartExecution") == {"start"}
    assert _holders(synth, "states:SendTaskSuccess") == {"resume", "reconcile"}
    # record_failure stops the job of a wait that timed out (the execution fails rather than aborts).
    assert _holders(synth, "sagemaker:StopHyperParameterTuningJob") == {"stop", "record_failure"}
    assert _holders(synth, "sagemaker:CreateHyperParameterTuningJob") == {"launch"}
    assert _holders(synth, "iam:PassRole") == {"launch"}
    assert _holders(synth, "sns:Publish") == {"record_failure"}
    # promote adds its verdict to the last round's report.
    assert _holders(synth, "s3:PutObject") == {"report", "promote"}
    assert _holders(synth, "sagemaker:CreateModelPackage") == {"promote"}
    assert _holders(synth, "dynamodb:Scan") == _holders(synth, "dynamodb:DeleteItem") == set()
    assert _holders(synth, "dynamodb:UpdateItem") == set(ids.HANDLERS)


def test_states_actions_are_scoped_to_our_state_machine(synth: Any) -> None:
    for handler in ("start", "resume", "reconcile"):
        for st in _fn_statements(synth, handler):
            if any(a.startswith("states:") for a in st["Action"]):
                assert st["Resource"]["Ref"].startswith(f"{ids.WORKFLOW}{ids.STATE_MACHINE}")


def test_sagemaker_actions_are_scoped_to_study_prefixes_built_with_the_partition(synth: Any) -> None:
    for handler in ids.HANDLERS:
        for st in _fn_statements(synth, handler):
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            if not any(a.startswith("sagemaker:") for a in actions):
                continue
            if actions == ["sagemaker:ListModelPackages"]:
                continue  # no resource-level permission exists (promote; tests/infra/test_promote.py)
            for r in st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]:
                flat = flatten(r)
                assert flat.startswith("arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:"), flat
                kind, _, name = flat.split(":")[-1].partition("/")
                if kind.startswith("model-package"):  # the groups specs name (tests/infra/test_promote.py)
                    assert handler == "promote" and "*" not in name.rstrip("*").rstrip("/"), flat
                else:
                    assert name.endswith("-r*"), flat


def test_pass_role_is_only_for_the_execution_role_and_only_to_sagemaker(synth: Any) -> None:
    (st,) = [s for s in _fn_statements(synth, "launch") if s["Action"] == "iam:PassRole"]
    assert st["Resource"]["Fn::GetAtt"][0].startswith(f"{ids.ROLES}Role")
    assert st["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


def test_launcher_enforces_the_spec_kms_key_and_vpc(synth: Any) -> None:
    denies = [s for s in _fn_statements(synth, "launch") if s["Effect"] == "Deny"]
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"  # fraud-random-spot
    conditions = [s["Condition"] for s in denies if flatten(s["Resource"]).endswith("fraud-random-r*")]
    assert {"StringNotEquals": {"sagemaker:VolumeKmsKey": key}} in conditions
    assert {"StringNotEquals": {"sagemaker:OutputKmsKey": key}} in conditions
    assert {"Null": {"sagemaker:VpcSubnets": "true"}} in conditions
    assert {"ForAnyValue:StringNotEquals": {"sagemaker:VpcSubnets": ["subnet-0a1b2c3d4e5f60718",
                                                                      "subnet-0f1e2d3c4b5a69788"]}} in conditions
    assert {"Bool": {"sagemaker:NetworkIsolation": "false"}} in conditions
    # ... and a request that leaves a required flag out is refused too (a Bool test on an absent key never matches).
    assert {"Null": {"sagemaker:NetworkIsolation": "true"}} in conditions
    assert {"Null": {"sagemaker:InterContainerTrafficEncryption": "true"}} in conditions
    # A study without a key or VPC is not constrained by another study's controls.
    assert not [s for s in denies if flatten(s["Resource"]).endswith("/churn-xgb-r*")]


def test_execution_role_is_for_sagemaker_and_reads_only_declared_data(synth: Any) -> None:
    roles = {lid: r for lid, r in synth.resources("AWS::IAM::Role").items() if lid.startswith(f"{ids.ROLES}Role")}
    (role,) = roles.values()
    trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert {p["Principal"]["Service"] for p in trust} == {"sagemaker.amazonaws.com"}
    # Every trust statement carries the confused-deputy guard: one unconditional allow would void it.
    guard = {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    assert all(p["Condition"] == guard for p in trust), trust
    statements = _statements_of_role(synth, f"{ids.ROLES}Role")
    reads = [flatten(r) for s in statements if s["Action"] == "s3:GetObject"
             for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])]
    assert "arn:<AWS::Partition>:s3:::example-ml-data/churn/train/*" in reads
    assert all(r.startswith("arn:<AWS::Partition>:s3:::example-ml-data/") for r in reads)
    writes = [flatten(r) for s in statements if "s3:PutObject" in s["Action"]
              for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])]
    assert writes and all(w.startswith("<StorageArtifactsBucket") or "example-ml-" in w for w in writes), writes
    pulls = [s for s in statements if "ecr:BatchGetImage" in s["Action"]]
    (pull,) = pulls
    repos = {flatten(r) for r in pull["Resource"]}
    assert "arn:<AWS::Partition>:ecr:us-east-1:123456789012:repository/vision-train" in repos
    assert "arn:<AWS::Partition>:ecr:<AWS::Region>:*:repository/sagemaker-xgboost" in repos


def test_data_prefixes_and_study_prefixes_come_from_context(synth_factory: Any) -> None:
    synth = synth_factory({"amt:configsDir": "/none", "amt:studyPrefixes": "team-a-",
                           "amt:dataPrefixes": '["s3://uploads-bucket/amt/"]'}, nag=False)
    launch = _fn_statements(synth, "launch")
    (create,) = [s for s in launch if "sagemaker:CreateHyperParameterTuningJob" in s["Action"]]
    assert flatten(create["Resource"]).endswith(":hyper-parameter-tuning-job/team-a-*")
    reads = _statements_of_role(synth, f"{ids.ROLES}Role")
    assert any(flatten(s["Resource"]) == "arn:<AWS::Partition>:s3:::uploads-bucket/amt/*" for s in reads
               if s["Action"] == "s3:GetObject")


def test_without_specs_or_prefixes_no_role_may_touch_sagemaker_jobs(synth_factory: Any) -> None:
    synth = synth_factory({"amt:configsDir": "/none"}, nag=False)
    assert role_violations(synth.json) == []
    for handler in ids.HANDLERS:
        assert not [a for a in _actions(_fn_statements(synth, handler)) if a.startswith("sagemaker:")], handler


# --- the checks themselves catch what they are for -------------------------------------------------------

def _role_template(*statements: iam.PolicyStatement, managed: str | None = None) -> dict[str, Any]:
    from aws_cdk.assertions import Template

    stack = throwaway_stack()
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    for st in statements:
        role.add_to_policy(st)
    if managed:
        role.add_managed_policy(iam.ManagedPolicy.from_aws_managed_policy_name(managed))
    return Template.from_stack(stack).to_json()


def test_role_check_passes_scoped_statements() -> None:
    template = _role_template(
        iam.PolicyStatement(actions=["sagemaker:CreateHyperParameterTuningJob"],
                            resources=["arn:aws:sagemaker:eu-west-1:111122223333:hyper-parameter-tuning-job/x-r*"]),
        iam.PolicyStatement(actions=["iam:PassRole"], resources=["arn:aws:iam::111122223333:role/r"],
                            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}),
    )
    assert role_violations(template) == []


@pytest.mark.parametrize(("statement", "violation"), [
    (iam.PolicyStatement(actions=["sagemaker:CreateHyperParameterTuningJob"], resources=["*"]), "unscoped"),
    (iam.PolicyStatement(actions=["sagemaker:StopHyperParameterTuningJob"],
                         resources=["arn:aws:sagemaker:eu-west-1:111122223333:hyper-parameter-tuning-job/*"]),
     "unscoped"),
    (iam.PolicyStatement(actions=["sagemaker:*"], resources=["arn:aws:sagemaker:eu-west-1:1:training-job/a*"]),
     "wildcard action"),
    (iam.PolicyStatement(actions=["iam:PassRole"], resources=["arn:aws:iam::111122223333:role/r"]),
     "PassedToService"),
])
def test_role_check_catches_each_broken_control(statement: iam.PolicyStatement, violation: str) -> None:
    found = role_violations(_role_template(statement))
    assert any(violation in v for v in found), found


def test_role_check_catches_an_aws_managed_policy() -> None:
    found = role_violations(_role_template(managed="service-role/AWSLambdaBasicExecutionRole"))
    assert any("AWS-managed policy" in v for v in found), found


def test_state_machine_may_publish_to_the_encrypted_topic(synth: Any) -> None:
    statements = _statements_of_role(synth, f"{ids.WORKFLOW}{ids.STATE_MACHINE}Role")
    assert "sns:Publish" in _actions(statements)
    kms = [s for s in statements if "kms:Decrypt" in s["Action"]]
    assert kms and all(s["Resource"]["Fn::GetAtt"][0].startswith(f"{ids.STORAGE}Key") for s in kms)
