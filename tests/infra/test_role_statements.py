"""The IAM statements of amt_conductor.cdk.roles, one function at a time, judged by what they allow and deny.

No app synth: each test builds the statements in an empty stack (fixed account and region), resolves them to
policy JSON and asks a small evaluator of IAM's rules (below) whether a request would be allowed, refused by an
explicit Deny, or not allowed at all. So a test says "the launch function may create a job tagged ours, not an
untagged one", not "the template equals this text", and a dropped condition, a flipped Effect or a widened ARN
fails it. These are the fast tests `make mutate MODULE=roles` runs per mutant (seconds, not a synth); the
synthesized template's checks stay in test_iam.py (which role holds which statement, least privilege over every
role, the Deny check over the real configs/).
"""

from __future__ import annotations

import fnmatch
import re
from collections import Counter
from typing import Any

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from amt_conductor.cdk import roles
from amt_conductor.cdk.nag import flatten
from amt_conductor.cdk.study_scope import CustomImage, PromoteScope, S3Location, StudyAccess

ACCOUNT, REGION, STACK = "111122223333", "eu-west-1", "AmtConductor"
KEY = "k1"  # the stack key the jobs are tagged with (amt:stack)
SAGEMAKER = "sagemaker.amazonaws.com"
JOBS = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:hyper-parameter-tuning-job/"
ROLES = f"arn:aws:iam::{ACCOUNT}:role/amt/{STACK}/"
SPEC_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SUBNETS = ("subnet-0a1b2c3d4e5f60718", "subnet-0f1e2d3c4b5a69788")
GROUP = "sg-0123456789abcdef0"
ARTIFACTS = "arn:aws:s3:::amt-artifacts"
BUILTIN_REGISTRY = {4: "685385470294"}  # catalog index -> AWS's registry account (any value: it is passed through)


# --- a small evaluator of IAM's policy rules ------------------------------------------------------------------

def _values(value: Any) -> list[str]:
    return [str(v) for v in (value if isinstance(value, list) else [value])]


def _same(base: str, got: str, want: str) -> bool:
    if base in ("StringEquals", "ArnEquals"):
        return got == want
    if base in ("StringLike", "ArnLike"):
        return fnmatch.fnmatchcase(got, want)
    if base == "Bool":
        # The policy grammar's Bool values are `true` and `false`; the checks over the template compare them as text.
        assert want in ("true", "false"), f"a Bool condition's value is 'true' or 'false', not {want!r}"
        return got.lower() == want
    raise AssertionError(f"condition operator {base} is not modelled here")


def _holds(operator: str, key: str, expected: Any, context: dict[str, Any]) -> bool:
    """One condition key under one operator, as IAM evaluates it: a negated operator matches an absent key, a
    positive one does not; `ForAnyValue:` matches when any of the request's values does (never when none)."""
    qualifier, _, base = operator.rpartition(":")
    want, present = [_arn(v) for v in _values_raw(expected)], key in context
    got = _values(context[key]) if present else []
    if base == "Null":
        return (not present) == (want == ["true"])
    negated = "Not" in base
    positive = base.replace("Not", "")

    def one(value: str) -> bool:
        hit = any(_same(positive, value, w) for w in want)
        return not hit if negated else hit

    if qualifier == "ForAnyValue":
        return any(one(g) for g in got)
    if qualifier:
        raise AssertionError(f"qualifier {qualifier} is not modelled here")
    if not present:
        return negated
    assert len(got) == 1, f"{key} is multivalued: a policy must test it with ForAnyValue/ForAllValues"
    return one(got[0])


def _applies(st: dict[str, Any], action: str, resource: str, context: dict[str, Any]) -> bool:
    actions = [a.lower() for a in _values(st["Action"])]
    resources = [_arn(r) for r in _values_raw(st["Resource"])]
    return (any(fnmatch.fnmatchcase(action.lower(), a) for a in actions)
            and any(fnmatch.fnmatchcase(resource, r) for r in resources)
            and all(_holds(op, key, want, context)
                    for op, block in st.get("Condition", {}).items() for key, want in block.items()))


def _values_raw(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _arn(value: Any) -> str:
    """A resolved value as text (an ARN joined over the partition token reads `arn:aws:...`)."""
    return flatten(value).replace("<AWS::Partition>", "aws")


def decide(statements: list[dict[str, Any]], action: str, resource: str,
           context: dict[str, Any] | None = None) -> str:
    """'deny' (an explicit Deny applies), 'allow', or 'none' (nothing allows it: denied by default)."""
    hits = [st["Effect"] for st in statements if _applies(st, action, resource, context or {})]
    return "deny" if "Deny" in hits else "allow" if "Allow" in hits else "none"


def allowed(statements: list[dict[str, Any]], action: str, resource: str, **context: Any) -> bool:
    return decide(statements, action, resource, _context(context)) == "allow"


def _context(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments as condition keys: `s3__prefix` -> `s3:prefix`."""
    return {k.replace("__", ":"): v for k, v in kwargs.items()}


# --- building the statements ------------------------------------------------------------------------------------

def _stack() -> Stack:
    return Stack(App(builtin_cloud_formation_validation=False), STACK,
                 env=Environment(account=ACCOUNT, region=REGION))


def _json(stack: Stack, statements: list[iam.PolicyStatement] | iam.PolicyStatement) -> list[dict[str, Any]]:
    out = [stack.resolve(s.to_statement_json()) for s in _values_raw(statements)]
    assert all(st["Effect"] in ("Allow", "Deny") for st in out)
    return out


def _built(build: Any) -> list[dict[str, Any]]:
    stack = _stack()
    return _json(stack, build(stack))


def _study(**changes: Any) -> StudyAccess:
    base: dict[str, Any] = {"name": "fraud", "job_prefix": "fraud-r",
                            "data": (S3Location("ml-data", "fraud/train/"),), "output": None}
    return StudyAccess(**{**base, **changes})


GUARDED = _study(kms_key=SPEC_KEY, subnets=SUBNETS, security_groups=(GROUP,), isolation=True, encrypted_traffic=True,
                 guarded=True)
TAGGED = {"aws:RequestTag/amt:stack": KEY}
OURS = {"aws:ResourceTag/amt:stack": KEY}


def _sids_unique(statements: list[dict[str, Any]]) -> None:
    """IAM refuses a policy whose statements share a Sid (cfn-lint E3510): one role's statements go in one
    policy, so their Sids must differ."""
    repeated = [sid for sid, n in Counter(st.get("Sid") for st in statements if st.get("Sid")).items() if n > 1]
    assert repeated == []


# --- the functions' statements: SageMaker jobs scoped by the stack's tag -------------------------------------

def test_creating_a_tuning_job_needs_the_stacks_tag_on_the_request() -> None:
    sts = _built(lambda s: roles.create_tuning_jobs_statement(s, KEY))
    for action in ("sagemaker:CreateHyperParameterTuningJob", "sagemaker:AddTags"):  # a create with Tags needs both
        assert decide(sts, action, f"{JOBS}churn-r3-abc", TAGGED) == "allow"
        assert decide(sts, action, f"{JOBS}churn-r3-abc") == "none"  # untagged
        assert decide(sts, action, f"{JOBS}churn-r3-abc", {"aws:RequestTag/amt:stack": "k2"}) == "none"
        # The tag on the existing resource does not count: the request must carry it.
        assert decide(sts, action, f"{JOBS}churn-r3-abc", OURS) == "none"
    other_region = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:hyper-parameter-tuning-job/churn-r3"
    assert decide(sts, "sagemaker:CreateHyperParameterTuningJob", other_region, TAGGED) == "none"
    other_account = f"arn:aws:sagemaker:{REGION}:444455556666:hyper-parameter-tuning-job/churn-r3"
    assert decide(sts, "sagemaker:CreateHyperParameterTuningJob", other_account, TAGGED) == "none"
    assert decide(sts, "sagemaker:StopHyperParameterTuningJob", f"{JOBS}churn-r3", TAGGED) == "none"


@pytest.mark.parametrize("list_training_jobs", [False, True])
def test_describing_jobs_is_limited_to_jobs_tagged_ours(list_training_jobs: bool) -> None:
    sts = _built(lambda s: roles.describe_jobs_statement(s, KEY, list_training_jobs=list_training_jobs))
    describe = "sagemaker:DescribeHyperParameterTuningJob"
    listing = "sagemaker:ListTrainingJobsForHyperParameterTuningJob"
    assert decide(sts, describe, f"{JOBS}any-study-r1", OURS) == "allow"
    assert decide(sts, describe, f"{JOBS}any-study-r1") == "none"
    assert decide(sts, describe, f"{JOBS}any-study-r1", {"aws:ResourceTag/amt:stack": "k2"}) == "none"
    # A tag on the request is not the job's tag (the job exists; only its own tags say whose it is).
    assert decide(sts, describe, f"{JOBS}any-study-r1", TAGGED) == "none"
    assert decide(sts, listing, f"{JOBS}any-study-r1", OURS) == ("allow" if list_training_jobs else "none")
    assert decide(sts, "sagemaker:CreateHyperParameterTuningJob", f"{JOBS}x", {**OURS, **TAGGED}) == "none"


def test_describing_jobs_does_not_list_their_training_jobs_unless_asked() -> None:
    # Only Report lists a job's training jobs; every other handler's describe statement is built without it.
    sts = _built(lambda s: roles.describe_jobs_statement(s, KEY))
    listing = "sagemaker:ListTrainingJobsForHyperParameterTuningJob"
    assert decide(sts, listing, f"{JOBS}any-study-r1", OURS) == "none"
    assert decide(sts, "sagemaker:DescribeHyperParameterTuningJob", f"{JOBS}any-study-r1", OURS) == "allow"


def test_stopping_a_job_is_limited_to_jobs_tagged_ours() -> None:
    sts = _built(lambda s: roles.stop_tuning_job_statement(s, KEY))
    stop = "sagemaker:StopHyperParameterTuningJob"
    assert decide(sts, stop, f"{JOBS}churn-r2", OURS) == "allow"
    assert decide(sts, stop, f"{JOBS}churn-r2") == "none"
    assert decide(sts, stop, f"{JOBS}churn-r2", {"aws:ResourceTag/amt:stack": "k2"}) == "none"
    assert decide(sts, "sagemaker:DescribeHyperParameterTuningJob", f"{JOBS}churn-r2", OURS) == "none"


def test_the_launch_function_passes_only_open_study_roles_and_only_to_sagemaker() -> None:
    sts = _built(lambda s: roles.pass_open_roles_statement(s, STACK))
    open_role = f"{ROLES}open/churn.{KEY}.{REGION}"
    assert decide(sts, "iam:PassRole", open_role, {"iam:PassedToService": SAGEMAKER}) == "allow"
    assert decide(sts, "iam:PassRole", open_role) == "none"
    assert decide(sts, "iam:PassRole", open_role, {"iam:PassedToService": "ec2.amazonaws.com"}) == "none"
    for kind in ("guarded", "launch"):  # a guarded study's role is passed by its own launcher only
        assert decide(sts, "iam:PassRole", f"{ROLES}{kind}/fraud.{KEY}.{REGION}",
                      {"iam:PassedToService": SAGEMAKER}) == "none"
    other_stack = f"arn:aws:iam::{ACCOUNT}:role/amt/OtherStack/open/churn"
    assert decide(sts, "iam:PassRole", other_stack, {"iam:PassedToService": SAGEMAKER}) == "none"


def test_the_launch_function_assumes_only_launcher_roles() -> None:
    sts = _built(lambda s: roles.assume_launchers_statement(s, STACK))
    assert decide(sts, "sts:AssumeRole", f"{ROLES}launch/fraud.{KEY}.{REGION}") == "allow"
    for kind in ("open", "guarded"):
        assert decide(sts, "sts:AssumeRole", f"{ROLES}{kind}/fraud.{KEY}.{REGION}") == "none"
    assert decide(sts, "sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/amt/OtherStack/launch/x") == "none"
    assert decide(sts, "iam:PassRole", f"{ROLES}launch/fraud.{KEY}.{REGION}") == "none"


def test_role_arn_base_is_where_the_runtime_looks_for_study_roles() -> None:
    from amt_conductor.spec.access import role_path

    stack = _stack()
    base = _arn(stack.resolve(roles.role_arn_base(stack, STACK)))
    assert base == f"arn:aws:iam::{ACCOUNT}:role{role_path(STACK, 'open').removesuffix('open/')}"


def test_tuning_and_training_job_arns_cover_the_prefixes_only() -> None:
    stack = _stack()

    def arns(values: list[str]) -> list[str]:
        return [_arn(stack.resolve(a)) for a in values]

    tuning = arns(roles.tuning_job_arns(stack, ["churn-r", "fraud-r"]))
    assert tuning == [f"{JOBS}churn-r*", f"{JOBS}fraud-r*"]
    training = arns(roles.training_job_arns(stack, ["churn-r"]))
    assert training == [f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/churn-r*"]


def test_promote_registers_only_in_the_reviewed_groups_and_reads_only_its_jobs_and_artifacts() -> None:
    scope = PromoteScope(groups=("churn-models", "fraud-models", "churn-models"))
    sts = _built(lambda s: roles.promote_statements(s, scope, ARTIFACTS, KEY))
    _sids_unique(sts)
    base = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"
    for group in ("churn-models", "fraud-models"):
        for action in ("sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage"):
            assert allowed(sts, action, f"{base}:model-package-group/{group}")
            assert allowed(sts, action, f"{base}:model-package/{group}/3")
    assert not allowed(sts, "sagemaker:CreateModelPackage", f"{base}:model-package-group/other-models")
    assert not allowed(sts, "sagemaker:CreateModelPackage", f"{base}:model-package/other-models/1")
    assert not allowed(sts, "sagemaker:DeleteModelPackage", f"{base}:model-package/churn-models/1")
    assert allowed(sts, "sagemaker:ListModelPackages", "*")  # no resource-level permission exists
    assert decide(sts, "sagemaker:DescribeTrainingJob", f"{base}:training-job/churn-r1-001", OURS) == "allow"
    assert decide(sts, "sagemaker:DescribeTrainingJob", f"{base}:training-job/churn-r1-001") == "none"
    assert allowed(sts, "s3:GetObject", f"{ARTIFACTS}/training/churn/model.tar.gz")
    assert not allowed(sts, "s3:GetObject", f"{ARTIFACTS}/reports/churn/round-1.json")
    assert not allowed(sts, "s3:PutObject", f"{ARTIFACTS}/training/churn/model.tar.gz")


def test_model_package_arns_name_each_group_once_in_a_stable_order() -> None:
    # The template must not change when the specs list the same groups in another order (a needless update).
    stack = _stack()
    one = roles.model_package_arns(stack, ["b-models", "a-models", "b-models"])
    two = roles.model_package_arns(stack, ["a-models", "b-models"])
    assert stack.resolve(one) == stack.resolve(two)
    assert len(one) == 4


# --- the functions' statements: registry, buckets, state machine, logs -----------------------------------------

TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/amt-registry"


def test_the_registry_statement_allows_the_handlers_item_operations_on_our_table_only() -> None:
    sts = _built(lambda _: roles.registry_statement(TABLE, ["dynamodb:UpdateItem", "dynamodb:GetItem"]))
    for action in ("dynamodb:GetItem", "dynamodb:UpdateItem"):
        assert allowed(sts, action, TABLE) and allowed(sts, action, f"{TABLE}/index/by-status")
    assert not allowed(sts, "dynamodb:Scan", TABLE)
    assert not allowed(sts, "dynamodb:DeleteItem", TABLE)
    assert not allowed(sts, "dynamodb:GetItem", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/other")
    # Deterministic, whatever order the stack lists them in.
    assert _values(sts[0]["Action"]) == ["dynamodb:GetItem", "dynamodb:UpdateItem"]


def _bucket(stack: Stack, name: str) -> s3.IBucket:
    return s3.Bucket.from_bucket_name(stack, name, name)


def test_reading_specs_is_by_version_under_the_configs_prefix_only() -> None:
    sts = _built(lambda s: roles.read_specs_statement(_bucket(s, "amt-configs"), "configs/"))
    assert allowed(sts, "s3:GetObjectVersion", "arn:aws:s3:::amt-configs/configs/churn.yaml")
    assert not allowed(sts, "s3:GetObject", "arn:aws:s3:::amt-configs/configs/churn.yaml")
    assert not allowed(sts, "s3:GetObjectVersion", "arn:aws:s3:::amt-configs/deployed/specs.json")
    assert not allowed(sts, "s3:PutObject", "arn:aws:s3:::amt-configs/configs/churn.yaml")


def test_reports_are_read_and_written_under_the_reports_prefix_only() -> None:
    reads = _built(lambda s: roles.read_reports_statement(_bucket(s, "amt-artifacts"), "reports/"))
    writes = _built(lambda s: roles.write_reports_statement(_bucket(s, "amt-artifacts"), "reports/"))
    report = f"{ARTIFACTS}/reports/churn/round-1.json"
    assert allowed(reads, "s3:GetObject", report) and not allowed(reads, "s3:PutObject", report)
    assert allowed(writes, "s3:PutObject", report) and not allowed(writes, "s3:GetObject", report)
    for sts in (reads, writes):
        assert not any(allowed(sts, a, f"{ARTIFACTS}/training/churn/model.tar.gz") for a in ("s3:GetObject",
                                                                                             "s3:PutObject"))


@pytest.mark.parametrize("latest", [False, True])
def test_the_deployed_manifest_is_read_by_version_and_with_latest_also_as_it_is_now(latest: bool) -> None:
    sts = _built(lambda s: roles.read_deployed_statement(_bucket(s, "amt-configs"), "deployed/specs.json",
                                                          latest=latest))
    manifest = "arn:aws:s3:::amt-configs/deployed/specs.json"
    assert allowed(sts, "s3:GetObjectVersion", manifest)
    assert allowed(sts, "s3:GetObject", manifest) is latest
    assert not allowed(sts, "s3:GetObjectVersion", "arn:aws:s3:::amt-configs/deployed/other.json")


STATE_MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:AmtRuns"


@pytest.mark.parametrize("failure", [False, True])
def test_task_responses_go_to_our_state_machine_and_failure_only_when_asked(failure: bool) -> None:
    sts = _built(lambda _: roles.task_response_statement(STATE_MACHINE, failure=failure))
    assert allowed(sts, "states:SendTaskSuccess", STATE_MACHINE)
    assert allowed(sts, "states:SendTaskFailure", STATE_MACHINE) is failure
    assert not allowed(sts, "states:SendTaskSuccess", f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:Other")
    assert not allowed(sts, "states:StartExecution", STATE_MACHINE)


def test_task_responses_include_failure_by_default() -> None:
    sts = _built(lambda _: roles.task_response_statement(STATE_MACHINE))
    assert allowed(sts, "states:SendTaskFailure", STATE_MACHINE)


def test_start_execution_only_of_our_state_machine() -> None:
    sts = _built(lambda _: roles.start_execution_statement(STATE_MACHINE))
    assert allowed(sts, "states:StartExecution", STATE_MACHINE)
    assert not allowed(sts, "states:StartExecution", f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:Other")
    assert not allowed(sts, "states:StopExecution", STATE_MACHINE)


def test_a_function_writes_only_its_own_log_group() -> None:
    group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/amt-launch"
    sts = _built(lambda _: roles.write_logs_statement(group))
    assert allowed(sts, "logs:CreateLogStream", group)
    assert allowed(sts, "logs:PutLogEvents", f"{group}:log-stream:2026/12/02/[$LATEST]abc")
    assert not allowed(sts, "logs:PutLogEvents", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/other"
                                                 ":log-stream:x")
    assert not allowed(sts, "logs:CreateLogGroup", group)  # the stack creates it (with retention)


# --- a guarded study's launcher: the Deny statements that enforce its spec's controls -------------------------

def _compliant(**changes: Any) -> dict[str, Any]:
    """The condition keys of a CreateHyperParameterTuningJob that honours GUARDED's spec (None: key absent)."""
    ctx: dict[str, Any] = {**TAGGED, "sagemaker:VolumeKmsKey": SPEC_KEY, "sagemaker:OutputKmsKey": SPEC_KEY,
                           "sagemaker:VpcSubnets": list(SUBNETS), "sagemaker:VpcSecurityGroupIds": [GROUP],
                           "sagemaker:NetworkIsolation": "true", "sagemaker:InterContainerTrafficEncryption": "true",
                           "sagemaker:InstanceTypes": ["ml.m5.xlarge"]}
    ctx.update(changes)
    return {k: v for k, v in ctx.items() if v is not None}


EXECUTION_ROLE = f"{ROLES}guarded/fraud.{KEY}.{REGION}"
CREATE = "sagemaker:CreateHyperParameterTuningJob"


def _launcher(study: StudyAccess = GUARDED) -> list[dict[str, Any]]:
    return _built(lambda s: roles.launcher_statements(s, study, stack_key=KEY, execution_role_arn=EXECUTION_ROLE))


def test_a_launcher_creates_its_studys_jobs_that_honour_the_spec() -> None:
    sts = _launcher()
    _sids_unique(sts)
    assert decide(sts, CREATE, f"{JOBS}fraud-r4-1a2b3c", _compliant()) == "allow"
    assert decide(sts, "sagemaker:AddTags", f"{JOBS}fraud-r4-1a2b3c", TAGGED) == "allow"
    assert decide(sts, CREATE, f"{JOBS}fraud-r4-1a2b3c", _compliant(**{"aws:RequestTag/amt:stack": None})) == "none"
    assert decide(sts, CREATE, f"{JOBS}churn-r4-1a2b3c", _compliant()) == "none"  # another study's job
    # Adoption and warm starts describe this stack's jobs, whichever study they belong to.
    assert decide(sts, "sagemaker:DescribeHyperParameterTuningJob", f"{JOBS}churn-r2", OURS) == "allow"
    assert decide(sts, "sagemaker:DescribeHyperParameterTuningJob", f"{JOBS}churn-r2") == "none"


def test_a_launcher_passes_only_its_studys_role_and_only_to_sagemaker() -> None:
    sts = _launcher()
    assert decide(sts, "iam:PassRole", EXECUTION_ROLE, {"iam:PassedToService": SAGEMAKER}) == "allow"
    assert decide(sts, "iam:PassRole", EXECUTION_ROLE) == "none"
    assert decide(sts, "iam:PassRole", EXECUTION_ROLE, {"iam:PassedToService": "lambda.amazonaws.com"}) == "none"
    assert decide(sts, "iam:PassRole", f"{ROLES}open/churn.{KEY}.{REGION}", {"iam:PassedToService": SAGEMAKER}) \
        == "none"


@pytest.mark.parametrize(("key", "value"), [
    ("sagemaker:VolumeKmsKey", None), ("sagemaker:VolumeKmsKey", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/other"),
    ("sagemaker:OutputKmsKey", None), ("sagemaker:OutputKmsKey", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/other"),
    ("sagemaker:VpcSubnets", None), ("sagemaker:VpcSubnets", ["subnet-0aaaaaaaaaaaaaaaa"]),
    ("sagemaker:VpcSubnets", [SUBNETS[0], "subnet-0aaaaaaaaaaaaaaaa"]),
    ("sagemaker:VpcSecurityGroupIds", ["sg-0ffffffffffffffff"]), ("sagemaker:VpcSecurityGroupIds", [GROUP, "sg-1"]),
    ("sagemaker:NetworkIsolation", None), ("sagemaker:NetworkIsolation", "false"),
    ("sagemaker:InterContainerTrafficEncryption", None), ("sagemaker:InterContainerTrafficEncryption", "false"),
])
def test_a_request_without_one_of_the_specs_controls_is_denied(key: str, value: Any) -> None:
    # A Deny, not a missing Allow: no broader Allow anywhere (a mistaken managed policy) can let it through.
    assert decide(_launcher(), CREATE, f"{JOBS}fraud-r4-1a2b3c", _compliant(**{key: value})) == "deny"


def test_the_denies_allow_a_subset_of_the_specs_subnets() -> None:
    assert decide(_launcher(), CREATE, f"{JOBS}fraud-r4", _compliant(**{"sagemaker:VpcSubnets": [SUBNETS[1]]})) \
        == "allow"


def test_the_controls_apply_to_the_studys_jobs_not_to_other_studies() -> None:
    # The denies name the study's job prefix: they do not reach another study's jobs (which have their own).
    denies = _built(lambda s: roles.controls_deny_statements(s, GUARDED))
    assert {st["Effect"] for st in denies} == {"Deny"}
    assert decide(denies, CREATE, f"{JOBS}fraud-r4", {}) == "deny"
    assert decide(denies, CREATE, f"{JOBS}churn-r4", {}) == "none"
    assert decide(denies, "sagemaker:StopHyperParameterTuningJob", f"{JOBS}fraud-r4", {}) == "none"


def test_a_study_without_controls_has_no_denies() -> None:
    assert _built(lambda s: roles.controls_deny_statements(s, _study())) == []


@pytest.mark.parametrize(("isolation", "encrypted"), [(True, False), (False, True)])
def test_isolation_and_traffic_encryption_are_required_independently(isolation: bool, encrypted: bool) -> None:
    # Issue 14, item 1 in IAM: one flag must not stand in for the other.
    study = _study(isolation=isolation, encrypted_traffic=encrypted)
    denies = _built(lambda s: roles.controls_deny_statements(s, study))
    job = f"{JOBS}fraud-r1"
    both = {"sagemaker:NetworkIsolation": "true", "sagemaker:InterContainerTrafficEncryption": "true"}
    assert decide(denies, CREATE, job, both) == "none"
    without_isolation = {"sagemaker:InterContainerTrafficEncryption": "true"}
    without_encryption = {"sagemaker:NetworkIsolation": "true"}
    assert decide(denies, CREATE, job, without_isolation) == ("deny" if isolation else "none")
    assert decide(denies, CREATE, job, without_encryption) == ("deny" if encrypted else "none")
    assert decide(denies, CREATE, job, {**without_isolation, "sagemaker:NetworkIsolation": "false"}) == (
        "deny" if isolation else "none")
    assert decide(denies, CREATE, job, {**without_encryption, "sagemaker:InterContainerTrafficEncryption": "false"}) \
        == ("deny" if encrypted else "none")


def test_subnets_without_security_groups_do_not_constrain_the_groups() -> None:
    study = _study(subnets=SUBNETS)
    denies = _built(lambda s: roles.controls_deny_statements(s, study))
    ctx = {"sagemaker:VpcSubnets": [SUBNETS[0]], "sagemaker:VpcSecurityGroupIds": ["sg-0ffffffffffffffff"]}
    assert decide(denies, CREATE, f"{JOBS}fraud-r1", ctx) == "none"
    assert decide(denies, CREATE, f"{JOBS}fraud-r1", {"sagemaker:VpcSecurityGroupIds": [GROUP]}) == "deny"


def test_only_the_kms_key_is_required_when_only_a_key_is_set() -> None:
    denies = _built(lambda s: roles.controls_deny_statements(s, _study(kms_key=SPEC_KEY)))
    keys = {"sagemaker:VolumeKmsKey": SPEC_KEY, "sagemaker:OutputKmsKey": SPEC_KEY}
    assert decide(denies, CREATE, f"{JOBS}fraud-r1", keys) == "none"  # no network, no flags needed
    assert decide(denies, CREATE, f"{JOBS}fraud-r1", {"sagemaker:OutputKmsKey": SPEC_KEY}) == "deny"
    assert decide(denies, CREATE, f"{JOBS}fraud-r1", {"sagemaker:VolumeKmsKey": SPEC_KEY}) == "deny"


LOCAL = ("ml.g5.xlarge", "ml.p4d.24xlarge")  # instance types with local NVMe storage (no volume key allowed)


@pytest.mark.parametrize(("types", "volume_key", "verdict"), [
    (["ml.g5.xlarge"], None, "none"),                     # local storage: the job carries no volume key
    (["ml.g5.xlarge", "ml.p4d.24xlarge"], None, "none"),
    (["ml.m5.xlarge"], None, "deny"),                     # an EBS type must carry the key
    (["ml.g5.xlarge", "ml.m5.xlarge"], None, "deny"),     # one EBS type among them is enough to require it
    (["ml.m5.xlarge"], SPEC_KEY, "none"),
    (["ml.g5.xlarge"], f"arn:aws:kms:{REGION}:{ACCOUNT}:key/other", "none"),  # refused by SageMaker, not IAM
])
def test_the_volume_key_may_be_left_out_only_on_the_specs_local_storage_types(types: list[str], volume_key: Any,
                                                                              verdict: str) -> None:
    study = _study(kms_key=SPEC_KEY, local_storage_types=LOCAL)
    denies = _built(lambda s: roles.controls_deny_statements(s, study))
    ctx = {"sagemaker:InstanceTypes": types, "sagemaker:OutputKmsKey": SPEC_KEY}
    if volume_key:
        ctx["sagemaker:VolumeKmsKey"] = volume_key
    assert decide(denies, CREATE, f"{JOBS}fraud-r1", ctx) == verdict


def test_the_output_key_is_required_on_local_storage_types_too() -> None:
    study = _study(kms_key=SPEC_KEY, local_storage_types=LOCAL)
    denies = _built(lambda s: roles.controls_deny_statements(s, study))
    assert decide(denies, CREATE, f"{JOBS}fraud-r1", {"sagemaker:InstanceTypes": ["ml.g5.xlarge"]}) == "deny"


# --- a study's execution role: only what its spec declares -----------------------------------------------------

def _execution(study: StudyAccess) -> list[dict[str, Any]]:
    return _built(lambda s: roles.execution_statements(
        s, study, artifacts_bucket_arn=ARTIFACTS, stack_key_arn=f"arn:aws:kms:{REGION}:{ACCOUNT}:key/stack",
        registry_account=lambda i: BUILTIN_REGISTRY[i]))


FULL = _study(data=(S3Location("ml-data", "fraud/train/"), S3Location("ml-data", "fraud/validation/"),
                    S3Location("ml-data", "fraud/train/"), S3Location("other-data", "shared/")),
              output=S3Location("ml-data", "fraud/tuning-output/"),
              checkpoints=(S3Location("ml-data", "fraud/checkpoints/"),), code_key="code/fraud/abc.tar.gz",
              custom_images=(CustomImage("123456789012", "us-east-1", "fraud-train"),), builtins=((4, "xgboost"),),
              kms_key=SPEC_KEY, subnets=SUBNETS, security_groups=(GROUP,),
              file_systems=(("efs", "fs-0aaa", "ro"), ("efs", "fs-0bbb", "rw"), ("fsx_lustre", "fs-0ccc", "rw")))


def test_an_execution_roles_statements_have_distinct_sids() -> None:
    _sids_unique(_execution(FULL))
    many = (S3Location("a", "x/"), S3Location("b", "y/"), S3Location("c", "z/"))
    _sids_unique(_built(lambda s: roles.read_data_statements(s, many)))


def test_a_study_reads_exactly_its_declared_prefixes() -> None:
    sts = _execution(FULL)
    for obj in ("ml-data/fraud/train/part-0.csv", "ml-data/fraud/validation/v.csv", "other-data/shared/x",
                "ml-data/fraud/checkpoints/ckpt-1"):  # checkpoints are read back when a job resumes
        assert allowed(sts, "s3:GetObject", f"arn:aws:s3:::{obj}"), obj
    for obj in ("ml-data/churn/train/part-0.csv", "ml-data/fraud/trainer.csv", "other-data/private/x"):
        assert not allowed(sts, "s3:GetObject", f"arn:aws:s3:::{obj}"), obj


def test_a_study_lists_only_under_its_declared_prefixes() -> None:
    sts = _execution(FULL)
    for bucket, prefix in (("ml-data", "fraud/train/"), ("ml-data", "fraud/validation/sub/"),
                           ("other-data", "shared/")):
        assert allowed(sts, "s3:ListBucket", f"arn:aws:s3:::{bucket}", s3__prefix=prefix), (bucket, prefix)
    for bucket, prefix in (("ml-data", "churn/"), ("ml-data", ""), ("other-data", "fraud/train/")):
        assert not allowed(sts, "s3:ListBucket", f"arn:aws:s3:::{bucket}", s3__prefix=prefix), (bucket, prefix)
    assert not allowed(sts, "s3:ListBucket", "arn:aws:s3:::ml-data")  # no prefix: the whole bucket


def test_a_study_with_an_output_uri_writes_there_and_nowhere_else() -> None:
    sts = _execution(FULL)
    for action in ("s3:PutObject", "s3:AbortMultipartUpload"):
        assert allowed(sts, action, "arn:aws:s3:::ml-data/fraud/tuning-output/fraud-r1/model.tar.gz")
        assert allowed(sts, action, "arn:aws:s3:::ml-data/fraud/checkpoints/ckpt-2")
        assert not allowed(sts, action, f"{ARTIFACTS}/training/fraud/x")
        assert not allowed(sts, action, "arn:aws:s3:::ml-data/fraud/train/part-0.csv")  # data stays read-only
    assert not allowed(sts, "s3:ListBucket", ARTIFACTS, s3__prefix="training/fraud/")


def test_a_study_without_an_output_uri_writes_and_lists_its_own_artifacts_prefix() -> None:
    sts = _execution(_study())
    for action in ("s3:PutObject", "s3:AbortMultipartUpload"):
        assert allowed(sts, action, f"{ARTIFACTS}/training/fraud/fraud-r1/output/model.tar.gz")
        assert not allowed(sts, action, f"{ARTIFACTS}/training/churn/x")
        assert not allowed(sts, action, f"{ARTIFACTS}/reports/fraud/x")
    assert allowed(sts, "s3:ListBucket", ARTIFACTS, s3__prefix="training/fraud/fraud-r1/")
    assert not allowed(sts, "s3:ListBucket", ARTIFACTS, s3__prefix="training/churn/")
    assert not allowed(sts, "s3:ListBucket", ARTIFACTS)
    assert not allowed(sts, "s3:PutObject", "arn:aws:s3:::ml-data/fraud/checkpoints/x")  # none declared


def test_a_source_dir_study_reads_its_own_code_archive_only() -> None:
    sts = _execution(FULL)
    assert allowed(sts, "s3:GetObject", f"{ARTIFACTS}/code/fraud/abc.tar.gz")
    assert not allowed(sts, "s3:GetObject", f"{ARTIFACTS}/code/fraud/def.tar.gz")
    assert not allowed(sts, "s3:GetObject", f"{ARTIFACTS}/code/fraud/abc.tar.gz.bak")
    assert not any(allowed(_execution(_study()), "s3:GetObject", f"{ARTIFACTS}/{k}")
                   for k in ("code/fraud/abc.tar.gz", "None"))


def test_efs_is_mounted_as_declared_and_fsx_has_no_iam_grant() -> None:
    sts = _execution(FULL)
    fs = f"arn:aws:elasticfilesystem:{REGION}:{ACCOUNT}:file-system/"
    assert allowed(sts, "elasticfilesystem:ClientMount", f"{fs}fs-0aaa")
    assert allowed(sts, "elasticfilesystem:ClientMount", f"{fs}fs-0bbb")
    assert not allowed(sts, "elasticfilesystem:ClientWrite", f"{fs}fs-0aaa")  # read-only channel
    assert allowed(sts, "elasticfilesystem:ClientWrite", f"{fs}fs-0bbb")
    assert not allowed(sts, "elasticfilesystem:ClientMount", f"{fs}fs-0ccc")
    assert not allowed(sts, "elasticfilesystem:ClientMount", f"{fs}fs-0ddd")
    read_only = _execution(_study(file_systems=(("efs", "fs-0aaa", "ro"),)))
    assert allowed(read_only, "elasticfilesystem:ClientMount", f"{fs}fs-0aaa")
    assert not allowed(read_only, "elasticfilesystem:ClientWrite", f"{fs}fs-0aaa")
    assert not any("elasticfilesystem" in str(st["Action"]) for st in _execution(_study()))


def test_images_are_pulled_from_the_named_repositories_only() -> None:
    sts = _execution(FULL)
    pull = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability")
    custom = "arn:aws:ecr:us-east-1:123456789012:repository/fraud-train"
    builtin = f"arn:aws:ecr:{REGION}:{BUILTIN_REGISTRY[4]}:repository/xgboost"
    for action in pull:
        assert allowed(sts, action, custom) and allowed(sts, action, builtin), action
    for repo in ("arn:aws:ecr:us-east-1:123456789012:repository/other",
                 "arn:aws:ecr:us-east-1:999999999999:repository/fraud-train",
                 f"arn:aws:ecr:us-west-2:{BUILTIN_REGISTRY[4]}:repository/xgboost",
                 f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/xgboost"):
        assert not allowed(sts, "ecr:BatchGetImage", repo), repo
    assert allowed(sts, "ecr:GetAuthorizationToken", "*")  # no resource-level permission exists


def test_a_study_without_images_pulls_nothing_but_may_log_in() -> None:
    sts = _built(lambda s: roles.pull_images_statements(s, _study(), lambda i: BUILTIN_REGISTRY[i]))
    assert allowed(sts, "ecr:GetAuthorizationToken", "*")
    assert not any("ecr:BatchGetImage" in _values(st["Action"]) for st in sts)


def test_training_logs_go_to_the_studys_own_streams() -> None:
    sts = _execution(FULL)
    group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/sagemaker/TrainingJobs"
    for action in ("logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"):
        assert allowed(sts, action, f"{group}:log-stream:fraud-r3-001-abc/algo-1-1700000000"), action
        assert not allowed(sts, action, f"{group}:log-stream:churn-r3-001-abc/algo-1"), action
    assert allowed(sts, "logs:CreateLogGroup", group)
    assert not allowed(sts, "logs:CreateLogGroup", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/x")


def test_training_metrics_only_in_sagemakers_namespace() -> None:
    sts = _execution(_study())
    assert allowed(sts, "cloudwatch:PutMetricData", "*", cloudwatch__namespace="/aws/sagemaker/TrainingJobs")
    assert not allowed(sts, "cloudwatch:PutMetricData", "*", cloudwatch__namespace="AmtConductor")
    assert not allowed(sts, "cloudwatch:PutMetricData", "*")


def test_the_stack_key_is_usable_only_through_s3_and_sagemaker_in_our_region() -> None:
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/stack"
    sts = _execution(_study())
    for action in ("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"):
        for service in ("s3", "sagemaker"):
            assert allowed(sts, action, key, kms__ViaService=f"{service}.{REGION}.amazonaws.com"), (action, service)
        assert not allowed(sts, action, key), action  # directly
        assert not allowed(sts, action, key, kms__ViaService="s3.us-east-1.amazonaws.com"), action
        assert not allowed(sts, action, key, kms__ViaService=f"lambda.{REGION}.amazonaws.com"), action
    assert not allowed(sts, "kms:Decrypt", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/other",
                       kms__ViaService=f"s3.{REGION}.amazonaws.com")


@pytest.mark.parametrize(("key", "arn", "alias"), [
    ("1234abcd-12ab", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab", None),
    ("alias/team", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/*", "alias/team"),
    ("arn:aws:kms:us-west-2:444455556666:key/abcd", "arn:aws:kms:us-west-2:444455556666:key/abcd", None),
    ("arn:aws:kms:us-west-2:444455556666:alias/team", "arn:aws:kms:us-west-2:444455556666:key/*", "alias/team"),
])
def test_a_spec_key_is_scoped_to_its_own_account_region_and_alias(key: str, arn: str, alias: str | None) -> None:
    stack = _stack()
    got, got_alias = roles.spec_key_arn(stack, key)
    assert (_arn(stack.resolve(got)), got_alias) == (arn, alias)


def test_the_spec_key_is_used_for_the_studys_data_and_granted_to_aws_resources_only() -> None:
    sts = _execution(_study(kms_key=SPEC_KEY))
    for action in ("kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:GenerateDataKeyWithoutPlaintext",
                   "kms:DescribeKey"):
        assert allowed(sts, action, SPEC_KEY), action
    assert not allowed(sts, "kms:Decrypt", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/other")
    assert not allowed(sts, "kms:ScheduleKeyDeletion", SPEC_KEY)
    assert allowed(sts, "kms:CreateGrant", SPEC_KEY, kms__GrantIsForAWSResource="true")
    assert not allowed(sts, "kms:CreateGrant", SPEC_KEY, kms__GrantIsForAWSResource="false")
    assert not allowed(sts, "kms:CreateGrant", SPEC_KEY)


def test_an_alias_key_is_usable_only_on_the_key_behind_that_alias() -> None:
    sts = _execution(_study(kms_key="alias/team"))
    any_key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/5678"
    aliases = "kms:ResourceAliases"
    assert decide(sts, "kms:Decrypt", any_key, {aliases: ["alias/team"]}) == "allow"
    assert decide(sts, "kms:Decrypt", any_key, {aliases: ["alias/other", "alias/team"]}) == "allow"
    assert decide(sts, "kms:Decrypt", any_key, {aliases: ["alias/other"]}) == "none"
    assert decide(sts, "kms:Decrypt", any_key) == "none"
    grant = {aliases: ["alias/team"], "kms:GrantIsForAWSResource": "true"}
    assert decide(sts, "kms:CreateGrant", any_key, grant) == "allow"
    assert decide(sts, "kms:CreateGrant", any_key, {**grant, aliases: ["alias/other"]}) == "none"
    assert decide(sts, "kms:CreateGrant", any_key, {aliases: ["alias/team"]}) == "none"


def test_a_study_without_a_spec_key_gets_no_kms_beyond_the_stack_key() -> None:
    sts = _execution(_study())
    assert not allowed(sts, "kms:Decrypt", SPEC_KEY, kms__ViaService=f"s3.{REGION}.amazonaws.com")
    assert not any("kms:CreateGrant" in _values(st["Action"]) for st in sts)


def test_training_in_a_vpc_creates_interfaces_in_the_specs_subnets_and_groups_only() -> None:
    sts = _execution(FULL)
    ec2 = f"arn:aws:ec2:{REGION}:{ACCOUNT}"
    for resource in (f"{ec2}:network-interface/eni-1", f"{ec2}:subnet/{SUBNETS[0]}", f"{ec2}:subnet/{SUBNETS[1]}",
                     f"{ec2}:security-group/{GROUP}"):
        assert allowed(sts, "ec2:CreateNetworkInterface", resource), resource
    for resource in (f"{ec2}:subnet/subnet-0aaaaaaaaaaaaaaaa", f"{ec2}:security-group/sg-0ffffffffffffffff"):
        assert not allowed(sts, "ec2:CreateNetworkInterface", resource), resource
    for action in ("ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface",
                   "ec2:DeleteNetworkInterfacePermission"):
        assert allowed(sts, action, f"{ec2}:network-interface/eni-1", ec2__Subnet=f"{ec2}:subnet/{SUBNETS[1]}")
        assert not allowed(sts, action, f"{ec2}:network-interface/eni-1",
                           ec2__Subnet=f"{ec2}:subnet/subnet-0aaaaaaaaaaaaaaaa")
        assert not allowed(sts, action, f"{ec2}:network-interface/eni-1")
    for action in ("ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions",
                   "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"):
        assert allowed(sts, action, "*"), action  # Describe* has no resource-level permission


def test_a_study_outside_a_vpc_gets_no_ec2() -> None:
    assert not any(a.startswith("ec2:") for st in _execution(_study()) for a in _values(st["Action"]))


def test_an_execution_role_never_allows_what_a_function_does() -> None:
    sts = _execution(FULL)
    for action, resource in (("iam:PassRole", f"{ROLES}open/churn"), (CREATE, f"{JOBS}fraud-r1"),
                             ("sagemaker:StopHyperParameterTuningJob", f"{JOBS}fraud-r1"),
                             ("states:StartExecution", STATE_MACHINE), ("dynamodb:PutItem", TABLE)):
        assert decide(sts, action, resource, {**TAGGED, **OURS, "iam:PassedToService": SAGEMAKER}) == "none"


# --- what the checks over the template rely on --------------------------------------------------------------------

def _every_statement() -> list[dict[str, Any]]:
    stack = _stack()
    configs, artifacts = _bucket(stack, "amt-configs"), _bucket(stack, "amt-artifacts")
    built = [
        roles.create_tuning_jobs_statement(stack, KEY),
        roles.describe_jobs_statement(stack, KEY, list_training_jobs=True), roles.stop_tuning_job_statement(stack, KEY),
        roles.pass_open_roles_statement(stack, STACK),
        roles.assume_launchers_statement(stack, STACK),
        *roles.promote_statements(stack, PromoteScope(groups=("g",)), ARTIFACTS, KEY),
        roles.registry_statement(TABLE, ["dynamodb:GetItem"]), roles.read_specs_statement(configs, "configs/"),
        roles.read_reports_statement(artifacts, "reports/"), roles.write_reports_statement(artifacts, "reports/"),
        roles.read_deployed_statement(configs, "deployed/specs.json", latest=True),
        roles.task_response_statement(STATE_MACHINE), roles.start_execution_statement(STATE_MACHINE),
        roles.write_logs_statement(f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/amt-launch"),
        *roles.launcher_statements(stack, GUARDED, stack_key=KEY, execution_role_arn=EXECUTION_ROLE),
        *roles.handler_network_statements(stack, ["subnet-0123456789abcdef0"], ["sg-0aaaaaaaaaaaaaaaa"]),
    ]
    return _json(stack, built) + _execution(FULL) + _execution(_study())  # with and without an output_uri


def test_actions_are_spelled_as_aws_spells_them() -> None:
    # IAM reads `SAGEMAKER:ADDTAGS` as `sagemaker:AddTags`, but the checks over the template do not:
    # invariants.role_violations finds SageMaker's mutating actions by their `sagemaker:` prefix and the
    # Describe/List/Get names, test_iam.py's and test_role_actions.py's comparisons match names exactly. An
    # action written in another case would be a grant those checks cannot see.
    spelled = re.compile(r"^[a-z0-9-]+:[A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*\*?$")
    actions = {a for st in _every_statement() for a in _values(st["Action"])}
    assert len(actions) > 40
    assert sorted(a for a in actions if not spelled.match(a)) == []


def test_functions_in_a_vpc_manage_interfaces_in_the_chosen_subnets_and_groups_only() -> None:
    handler_subnets, handler_group = ("subnet-0123456789abcdef0",), "sg-0aaaaaaaaaaaaaaaa"
    sts = _built(lambda s: roles.handler_network_statements(s, handler_subnets, [handler_group]))
    _sids_unique(sts)
    ec2 = f"arn:aws:ec2:{REGION}:{ACCOUNT}"
    for action in ("ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"):
        assert allowed(sts, action, "*"), action  # no resource-level permission exists
    for resource in (f"{ec2}:network-interface/eni-1", f"{ec2}:subnet/{handler_subnets[0]}",
                     f"{ec2}:security-group/{handler_group}"):
        assert allowed(sts, "ec2:CreateNetworkInterface", resource), resource
    for resource in (f"{ec2}:subnet/{SUBNETS[0]}", f"{ec2}:security-group/{GROUP}"):
        assert not allowed(sts, "ec2:CreateNetworkInterface", resource), resource
    for action in ("ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"):
        eni = f"{ec2}:network-interface/eni-1"
        assert allowed(sts, action, eni, ec2__Subnet=f"{ec2}:subnet/{handler_subnets[0]}"), action
        assert not allowed(sts, action, eni, ec2__Subnet=f"{ec2}:subnet/{SUBNETS[0]}"), action
        assert not allowed(sts, action, eni), action
    assert not allowed(sts, "ec2:CreateNetworkInterfacePermission", f"{ec2}:network-interface/eni-1",
                       ec2__Subnet=f"{ec2}:subnet/{handler_subnets[0]}")
