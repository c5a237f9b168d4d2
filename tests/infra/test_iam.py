"""Least privilege (issue 4, item 1): each role may do what its handler does, scoped to our resources."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import aws_iam as iam

from amt_conductor.cdk import ids
from amt_conductor.cdk.ids import STACK_ID
from amt_conductor.cdk.nag import flatten
from amt_conductor.spec.access import stack_key
from infra.conftest import ROOT, throwaway_stack
from infra.invariants import required_spec_denies, role_violations, spec_control_violations

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
    for template in synth.all_templates():
        assert role_violations(template) == []


def test_each_sensitive_action_belongs_to_one_handler(synth: Any) -> None:
    assert _holders(synth, "states:StartExecution") == {"start"}
    # stop wakes the next queued round when a stopped run gives its capacity back.
    assert _holders(synth, "states:SendTaskSuccess") == {"resume", "reconcile", "stop"}
    assert _holders(synth, "states:SendTaskFailure") == {"resume", "reconcile"}
    # record_failure stops the job of a wait that timed out (the execution fails rather than aborts).
    assert _holders(synth, "sagemaker:StopHyperParameterTuningJob") == {"stop", "record_failure"}
    assert _holders(synth, "sagemaker:CreateHyperParameterTuningJob") == {"launch"}
    assert _holders(synth, "iam:PassRole") == {"launch"}
    assert _holders(synth, "sns:Publish") == {"record_failure"}
    # promote adds its verdict to the last round's report.
    assert _holders(synth, "s3:PutObject") == {"report", "promote"}
    assert _holders(synth, "sagemaker:CreateModelPackage") == {"promote"}
    assert _holders(synth, "dynamodb:Scan") == set()
    # The queue's entries and the capacity holds are deleted once admitted or given back.
    assert _holders(synth, "dynamodb:DeleteItem") == {"admit", "resume", "record_failure", "reconcile", "stop"}
    # start too: triggers.new_data notes uploads and claims a run on the study's item.
    assert _holders(synth, "dynamodb:UpdateItem") == set(ids.HANDLERS)


def test_states_actions_are_scoped_to_our_state_machine(synth: Any) -> None:
    for handler in ("start", "resume", "reconcile"):
        for st in _fn_statements(synth, handler):
            if any(a.startswith("states:") for a in st["Action"]):
                assert st["Resource"]["Ref"].startswith(f"{ids.WORKFLOW}{ids.STATE_MACHINE}")


STACK_KEY = stack_key(STACK_ID)
TUNING_JOBS = "arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:hyper-parameter-tuning-job/"
FRAUD_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"  # fraud-random-spot


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_functions_touch_only_jobs_tagged_with_the_stack_key(synth: Any) -> None:
    # Issue 10: one statement whatever the number of studies, scoped by the tag SageMaker supports as a
    # condition key (aws:RequestTag on create and AddTags, aws:ResourceTag on the tuning-job resource).
    for handler in ids.HANDLERS:
        for st in _fn_statements(synth, handler):
            actions = _as_list(st["Action"])
            if not any(a.startswith("sagemaker:") for a in actions):
                continue
            if handler == "promote":
                continue  # model packages and training jobs, not tuning jobs: tests/infra/test_promote.py
            assert [flatten(r) for r in _as_list(st["Resource"])] == [f"{TUNING_JOBS}*"], (handler, st)
            tag = "aws:RequestTag" if "sagemaker:CreateHyperParameterTuningJob" in actions else "aws:ResourceTag"
            assert st["Condition"] == {"StringEquals": {f"{tag}/amt:stack": STACK_KEY}}, (handler, st)


def test_launch_passes_only_open_study_roles_and_only_to_sagemaker(synth: Any) -> None:
    (st,) = [s for s in _fn_statements(synth, "launch") if s["Action"] == "iam:PassRole"]
    assert flatten(st["Resource"]) == "arn:<AWS::Partition>:iam::<AWS::AccountId>:role/amt/AmtConductor/open/*"
    assert st["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    (assume,) = [s for s in _fn_statements(synth, "launch") if s["Action"] == "sts:AssumeRole"]
    assert flatten(assume["Resource"]) == "arn:<AWS::Partition>:iam::<AWS::AccountId>:role/amt/AmtConductor/launch/*"


def _study_roles(synth: Any) -> dict[str, dict[str, Any]]:
    """Execution and launcher roles of the studies by `<path kind>/<name with the region as a placeholder>`."""
    out = {}
    for role in synth.all_resources("AWS::IAM::Role").values():
        props = role["Properties"]
        if str(props.get("Path", "")).startswith("/amt/"):
            out[f"{props['Path'].split('/')[3]}/{flatten(props['RoleName'])}"] = props
    return out


def _statements(props: dict[str, Any]) -> list[dict[str, Any]]:
    return [st for p in props.get("Policies", []) for st in p["PolicyDocument"]["Statement"]]


def _resources(statements: list[dict[str, Any]], action: str) -> list[str]:
    return [flatten(r) for st in statements if action in _as_list(st["Action"]) and st["Effect"] == "Allow"
            for r in _as_list(st["Resource"])]


def test_study_roles_are_where_the_runtime_computes_them(synth: Any) -> None:
    # The stack creates each role under the name and path amt_conductor.spec.access computes at run time from the spec.
    import app as cdk_app
    from amt_conductor.spec.access import roles_for

    roles = _study_roles(synth)
    for spec in cdk_app.load_configs(ROOT / "configs"):
        computed = roles_for(spec, role_arn_base="arn:aws:iam::1:role/amt/AmtConductor/", key=STACK_KEY,
                             region="<AWS::Region>")
        assert computed.execution_role_arn.split("AmtConductor/")[1] in roles, spec.name
        if computed.launcher_role_arn:
            assert computed.launcher_role_arn.split("AmtConductor/")[1] in roles, spec.name
    # ... and no others: one execution role per study, a launcher for the one guarded study (fraud-random).
    assert {name.split(".")[0] for name in roles} == {
        "open/churn-xgb", "open/churn-xgb-q4", "open/digits-pytorch", "open/text-grid", "open/vision-hyperband",
        "guarded/fraud-random", "launch/fraud-random"}


def test_each_study_role_reads_writes_and_pulls_only_what_its_spec_declares(synth: Any) -> None:
    # Issue 9 items 3 and 9: a job of one study cannot read another study's data or outputs.
    roles = _study_roles(synth)
    churn = _statements(roles[f"open/churn-xgb.{STACK_KEY}.<AWS::Region>"])
    assert _resources(churn, "s3:GetObject") == ["arn:<AWS::Partition>:s3:::example-ml-data/churn/train/*",
                                                 "arn:<AWS::Partition>:s3:::example-ml-data/churn/validation/*"]
    assert _resources(churn, "s3:PutObject") == ["<ArtifactsBucketArn>/training/churn-xgb/*"]
    fraud = _statements(roles[f"guarded/fraud-random.{STACK_KEY}.<AWS::Region>"])
    assert all("/fraud/" in r for r in _resources(fraud, "s3:GetObject"))
    assert sorted(_resources(fraud, "s3:PutObject")) == [  # its output_uri and checkpoint.uri
        "arn:<AWS::Partition>:s3:::example-ml-data/fraud/checkpoints/*",
        "arn:<AWS::Partition>:s3:::example-ml-data/fraud/tuning-output/*"]
    # Issue 9 item 1: a custom image only from the exact account and repository the reviewed spec names ...
    vision = _statements(roles[f"open/vision-hyperband.{STACK_KEY}.<AWS::Region>"])
    assert _resources(vision, "ecr:BatchGetImage") == [
        "arn:<AWS::Partition>:ecr:us-east-1:123456789012:repository/vision-train"]
    # ... and a built-in algorithm's repository only in AWS's registry account for the deploying region.
    (pull,) = [st for st in churn if "ecr:BatchGetImage" in st["Action"]]
    (arn,) = _as_list(pull["Resource"])
    parts = arn["Fn::Join"][1]
    assert {"Fn::FindInMap": ["ImageRegistry4", {"Ref": "AWS::Region"}, "account"]} in parts, parts
    assert parts[-1].endswith(":repository/sagemaker-xgboost")


def test_no_image_repository_is_granted_in_any_account(synth: Any) -> None:
    for props in _study_roles(synth).values():
        for r in _resources(_statements(props), "ecr:BatchGetImage"):
            assert ":*:" not in r and not r.endswith("/*"), r


def test_registry_mappings_are_aws_accounts_from_the_image_catalog(synth: Any) -> None:
    from amt_conductor.spec.images import registry_accounts

    for body in synth.nested.values():
        for name, mapping in body.get("Mappings", {}).items():
            index = int(name.removeprefix("ImageRegistry"))
            assert {r: v["account"] for r, v in mapping.items()} == registry_accounts(index)


def test_a_guarded_studys_launcher_enforces_its_spec_controls(synth: Any) -> None:
    roles = _study_roles(synth)
    launcher = roles[f"launch/fraud-random.{STACK_KEY}.<AWS::Region>"]
    statements = _statements(launcher)
    conditions = [s["Condition"] for s in statements if s["Effect"] == "Deny"]
    assert all(flatten(s["Resource"]).endswith("/fraud-random-r*") for s in statements
               if s["Effect"] == "Deny" or "sagemaker:CreateHyperParameterTuningJob" in s["Action"])
    assert {"StringNotEquals": {"sagemaker:VolumeKmsKey": FRAUD_KEY}} in conditions
    assert {"StringNotEquals": {"sagemaker:OutputKmsKey": FRAUD_KEY}} in conditions
    assert {"Null": {"sagemaker:VpcSubnets": "true"}} in conditions
    assert {"ForAnyValue:StringNotEquals": {"sagemaker:VpcSubnets": ["subnet-0a1b2c3d4e5f60718",
                                                                      "subnet-0f1e2d3c4b5a69788"]}} in conditions
    assert {"Bool": {"sagemaker:NetworkIsolation": "false"}} in conditions
    # ... and a request that leaves a required flag out is refused too (a Bool test on an absent key never matches).
    assert {"Null": {"sagemaker:NetworkIsolation": "true"}} in conditions
    assert {"Null": {"sagemaker:InterContainerTrafficEncryption": "true"}} in conditions
    # It passes only its own study's role, and only the launch function may assume it.
    (pass_role,) = [s for s in statements if s["Action"] == "iam:PassRole"]
    assert pass_role["Resource"]["Fn::GetAtt"][1] == "Arn"
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    (trust,) = launcher["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"AWS": {"Ref": "LaunchRoleArn"}}


def test_study_roles_trust_sagemaker_for_this_account_only(synth: Any) -> None:
    for name, props in _study_roles(synth).items():
        if name.startswith("launch/"):
            continue
        trust = props["AssumeRolePolicyDocument"]["Statement"]
        assert {p["Principal"]["Service"] for p in trust} == {"sagemaker.amazonaws.com"}
        # Every trust statement carries the confused-deputy guard: one unconditional allow would void it.
        assert all(p["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
                   for p in trust), trust


def test_uploaded_studies_under_a_context_prefix_share_a_role_limited_to_the_context_data(synth_factory: Any) -> None:
    synth = synth_factory({"amt:configsDir": "/none", "amt:studyPrefixes": "team-a-",
                           "amt:dataPrefixes": '["s3://uploads-bucket/amt/"]'}, nag=False)
    roles = _study_roles(synth)
    assert list(roles) == [f"open/team-a-.{STACK_KEY}.<AWS::Region>"]
    statements = _statements(roles[f"open/team-a-.{STACK_KEY}.<AWS::Region>"])
    assert _resources(statements, "s3:GetObject") == ["arn:<AWS::Partition>:s3:::uploads-bucket/amt/*"]
    assert _resources(statements, "s3:PutObject") == ["<ArtifactsBucketArn>/training/team-a-*"]


def test_without_specs_or_prefixes_there_are_no_study_roles(synth_factory: Any) -> None:
    synth = synth_factory({"amt:configsDir": "/none"}, nag=False)
    assert role_violations(synth.json) == []
    assert _study_roles(synth) == {} and synth.nested == {}


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


# --- the specs' controls are enforced by Deny statements (issue 14, item 7) ------------------------------------

def _configs_scope() -> Any:
    from amt_conductor.cdk.study_scope import studies_access
    from amt_conductor.spec.loader import load_specs
    from infra.invariants import controls_scope

    good, bad = load_specs([ROOT / "configs"])
    assert not bad
    return controls_scope(studies_access([spec for _, spec in good]))


def test_every_spec_control_is_enforced_by_a_deny(synth: Any) -> None:
    scope = _configs_scope()
    required = {k for _, c in required_spec_denies(scope) for keys in c.values() for k in keys}
    # configs/ exercises every control the check knows; otherwise this test would prove less than it says.
    assert required == {"sagemaker:VolumeKmsKey", "sagemaker:OutputKmsKey", "sagemaker:VpcSubnets",
                        "sagemaker:VpcSecurityGroupIds", "sagemaker:NetworkIsolation",
                        "sagemaker:InterContainerTrafficEncryption"}
    assert spec_control_violations(synth.all_templates(), scope) == []


@pytest.mark.parametrize("key", ["sagemaker:VpcSecurityGroupIds", "sagemaker:VpcSubnets", "sagemaker:VolumeKmsKey",
                                 "sagemaker:NetworkIsolation"])
def test_the_deny_check_catches_a_dropped_deny(synth: Any, key: str) -> None:
    import copy

    templates = copy.deepcopy(synth.all_templates())
    dropped = 0
    for template in templates:
        for res in template["Resources"].values():
            for policy in res.get("Properties", {}).get("Policies", []) if res["Type"] == "AWS::IAM::Role" else []:
                doc = policy["PolicyDocument"]
                keep = [st for st in doc["Statement"]
                        if not (st["Effect"] == "Deny" and key in repr(st.get("Condition")))]
                dropped += len(doc["Statement"]) - len(keep)
                doc["Statement"] = keep
    assert dropped
    found = spec_control_violations(templates, _configs_scope())
    assert found and all(key in v for v in found), found


def test_the_deny_check_catches_a_launcher_that_may_pass_guarded_roles(synth: Any) -> None:
    import copy

    templates = copy.deepcopy(synth.all_templates())
    for res in templates[0]["Resources"].values():
        if res["Type"] == "AWS::IAM::Policy":
            for st in res["Properties"]["PolicyDocument"]["Statement"]:
                if st["Action"] == "iam:PassRole":
                    st["Resource"] = "arn:aws:iam::1:role/amt/AmtConductor/*"
    found = spec_control_violations(templates, _configs_scope())
    assert any("may pass arn:aws:iam::1:role/amt/AmtConductor/*" in v for v in found), found


# --- attacks by someone who may only upload specs (issue 9, findings 1 and 3) ----------------------------

def _uploaded(name: str, **changes: Any) -> Any:
    import yaml

    from amt_conductor.spec.loader import parse_spec

    doc = yaml.safe_load((ROOT / "configs" / name).read_text())
    for key, value in changes.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return parse_spec(yaml.safe_dump(doc), f"configs/{name}")


def test_attack_a_guarded_studys_name_without_its_controls_names_a_role_that_does_not_exist(synth: Any) -> None:
    from amt_conductor.spec.access import roles_for

    attack = _uploaded("fraud-random-spot.yaml", kms_key_id=None, network=None)
    roles = roles_for(attack, role_arn_base="arn:aws:iam::1:role/amt/AmtConductor/", key=STACK_KEY,
                      region="<AWS::Region>")
    assert roles.launcher_role_arn is None  # launched directly, by the launch function's own role ...
    assert roles.execution_role_arn.split("AmtConductor/")[1] not in _study_roles(synth)  # ... as no role at all


def test_attack_another_studys_data_or_an_image_in_any_account_is_not_in_the_studys_role(synth: Any) -> None:
    attack = _uploaded("churn-xgb.yaml", data={"train": {"uri": "s3://example-ml-data/fraud/train/"}},
                       algorithm={"image": "999999999999.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1",
                                  "metrics": [{"name": "validation:auc", "regex": "auc=([0-9.]+)"}]})
    churn = _statements(_study_roles(synth)[f"open/churn-xgb.{STACK_KEY}.<AWS::Region>"])
    import fnmatch

    target = f"arn:<AWS::Partition>:s3:::{attack.data['train'].uri.removeprefix('s3://')}part-0.csv"
    assert not [r for r in _resources(churn, "s3:GetObject") if fnmatch.fnmatchcase(target, r)]
    pulls = _resources(churn, "ecr:BatchGetImage")
    assert not any("999999999999" in r or ":*:" in r for r in pulls), pulls
