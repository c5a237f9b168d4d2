"""Checks over every resource of a type in a template (dict); each returns the violations it finds.

Tests run them on the real template (expect none) and on throwaway stacks built to break one control
(expect that control's violation), so a check that cannot fail does not pass silently.
"""

from __future__ import annotations

import re
from typing import Any

from amt_conductor.cdk.nag import flatten
from amt_conductor.spec.access import TAG_STACK

# SageMaker actions that only read; everything else changes something (or costs money).
_SAGEMAKER_READ = re.compile(r"^sagemaker:(Describe|List|Get|Search)")
MANAGED_POLICY = re.compile(r"iam::aws:policy/")


def _of(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template.get("Resources", {}).items() if v["Type"] == type_}


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _refers_to(value: Any, logical_id: str) -> bool:
    return logical_id in repr(value)


def bucket_violations(template: dict[str, Any]) -> list[str]:
    """Every bucket: encrypted, all public access blocked, TLS enforced by its policy, versioned, owner-enforced."""
    out: list[str] = []
    policies = _of(template, "AWS::S3::BucketPolicy")
    for lid, bucket in _of(template, "AWS::S3::Bucket").items():
        props = bucket.get("Properties", {})
        rules = props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
        if not any(r.get("ServerSideEncryptionByDefault", {}).get("SSEAlgorithm") in {"aws:kms", "AES256"}
                   for r in rules):
            out.append(f"{lid}: not encrypted")
        block = props.get("PublicAccessBlockConfiguration", {})
        for flag in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"):
            if block.get(flag) is not True:
                out.append(f"{lid}: public access not blocked ({flag})")
        tls = False
        for policy in policies.values():
            p = policy["Properties"]
            if not _refers_to(p.get("Bucket"), lid):
                continue
            for st in p["PolicyDocument"]["Statement"]:
                cond = st.get("Condition", {}).get("Bool", {})
                if st.get("Effect") == "Deny" and str(cond.get("aws:SecureTransport")).lower() == "false":
                    tls = True
        if not tls:
            out.append(f"{lid}: TLS not enforced")
        if props.get("VersioningConfiguration", {}).get("Status") != "Enabled":
            out.append(f"{lid}: not versioned")
        owner = [r.get("ObjectOwnership") for r in props.get("OwnershipControls", {}).get("Rules", [])]
        if owner != ["BucketOwnerEnforced"]:
            out.append(f"{lid}: object ownership is not BucketOwnerEnforced")
    return out


def _policy_documents(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    docs: list[tuple[str, dict[str, Any]]] = []
    for lid, res in _of(template, "AWS::IAM::Policy").items():
        docs.append((lid, res["Properties"]["PolicyDocument"]))
    for lid, res in _of(template, "AWS::IAM::ManagedPolicy").items():
        docs.append((lid, res["Properties"]["PolicyDocument"]))
    for lid, res in _of(template, "AWS::IAM::Role").items():
        for p in res.get("Properties", {}).get("Policies", []) or []:
            docs.append((lid, p["PolicyDocument"]))
    return docs


def role_violations(template: dict[str, Any]) -> list[str]:
    """Every role and policy: no `*` (or `<type>/*`) resource on a SageMaker mutating action, no `sagemaker:*`,
    PassRole only with an iam:PassedToService condition, no AWS-managed policy."""
    out: list[str] = []
    for lid, doc in _policy_documents(template):
        for st in doc.get("Statement", []):
            if st.get("Effect") != "Allow":
                continue
            actions = _list(st.get("Action"))
            resources = [flatten(r) for r in _list(st.get("Resource"))]
            mutating = [a for a in actions if a.startswith("sagemaker:") and not _SAGEMAKER_READ.match(a)]
            if any(a in {"*", "sagemaker:*"} for a in actions):
                out.append(f"{lid}: wildcard action {actions}")
            if mutating:
                # A whole resource type (`hyper-parameter-tuning-job/*`) is scoped only by the stack's tag.
                tagged = any(k.endswith(f"Tag/{TAG_STACK}") for k in st.get("Condition", {}).get("StringEquals", {}))
                for r in resources:
                    # `model-package/<group>/*` is one group's versions, not the whole type.
                    whole_type = r.endswith("/*") and r.rsplit(":", 1)[-1].count("/") == 1
                    if r == "*" or ":sagemaker:*" in r or (":sagemaker:" in r and whole_type and not tagged):
                        out.append(f"{lid}: {mutating} on unscoped resource {r}")
            if "iam:PassRole" in actions or "iam:*" in actions:
                cond = st.get("Condition", {}).get("StringEquals", {})
                if not cond.get("iam:PassedToService"):
                    out.append(f"{lid}: iam:PassRole without an iam:PassedToService condition")
                if "*" in resources:
                    out.append(f"{lid}: iam:PassRole on any role")
    for lid, role in _of(template, "AWS::IAM::Role").items():
        for arn in _list(role.get("Properties", {}).get("ManagedPolicyArns")):
            if MANAGED_POLICY.search(flatten(arn)):
                out.append(f"{lid}: AWS-managed policy {flatten(arn)}")
    return out


def function_violations(template: dict[str, Any], *, runtime: str = "python3.12") -> list[str]:
    """Every handler function (handler `handlers.*`): runtime, tracing, memory, timeout, own log group with
    retention."""
    out: list[str] = []
    log_groups = _of(template, "AWS::Logs::LogGroup")
    for lid, fn in _of(template, "AWS::Lambda::Function").items():
        p = fn["Properties"]
        if not str(p.get("Handler", "")).startswith("amt_conductor.handlers."):
            continue
        if p.get("Runtime") != runtime:
            out.append(f"{lid}: runtime {p.get('Runtime')}")
        if p.get("TracingConfig", {}).get("Mode") != "Active":
            out.append(f"{lid}: X-Ray tracing not active")
        if not 128 <= int(p.get("MemorySize", 128)) <= 3008 or "MemorySize" not in p:
            out.append(f"{lid}: memory not set within 128-3008 MB")
        if not 1 <= int(p.get("Timeout", 3)) <= 900 or "Timeout" not in p:
            out.append(f"{lid}: timeout not set within 1-900 s")
        group_ref = p.get("LoggingConfig", {}).get("LogGroup")
        group_id = group_ref.get("Ref") if isinstance(group_ref, dict) else None
        group = log_groups.get(group_id or "")
        if group is None:
            out.append(f"{lid}: no log group of its own")
        elif "RetentionInDays" not in group.get("Properties", {}):
            out.append(f"{lid}: log group {group_id} keeps logs forever")
    return out


_CREATE = "sagemaker:CreateHyperParameterTuningJob"


def _statements_by_role(template: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Every statement of the policies attached to each role (a role's Allow and Deny may sit in different
    policies; what counts is what the role ends up with)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for res in _of(template, "AWS::IAM::Policy").values():
        for role in _list(res["Properties"].get("Roles")):
            out.setdefault(flatten(role), []).extend(res["Properties"]["PolicyDocument"].get("Statement", []))
    for lid, res in _of(template, "AWS::IAM::Role").items():
        for p in res.get("Properties", {}).get("Policies", []) or []:
            out.setdefault(f"<{lid}>", []).extend(p["PolicyDocument"].get("Statement", []))
    return out


def _normal(condition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A condition block with every value as a sorted list, so ordering and one-element lists compare equal."""
    return {op: {k: sorted(str(v) for v in _list(val)) for k, val in keys.items()} for op, keys in condition.items()}


def required_spec_denies(scope: Any) -> list[tuple[str, dict[str, Any]]]:
    """(job prefix, condition) of each Deny on CreateHyperParameterTuningJob that the specs' controls need:
    a KMS key for volumes and outputs, the subnets, the security groups, isolation, traffic encryption. A Deny,
    because an Allow with a condition is overridden by any broader Allow. Derived from the IAM condition keys
    SageMaker documents (Service Authorization Reference), not from roles.py: a Bool test on an absent key
    never matches, so each required flag also needs a Null test."""
    out: list[tuple[str, dict[str, Any]]] = []
    for prefix, key in scope.kms_keys:
        out += [(prefix, {"StringNotEquals": {f"sagemaker:{k}KmsKey": key}}) for k in ("Volume", "Output")]
    for prefix, subnets, groups in scope.networks:
        out.append((prefix, {"Null": {"sagemaker:VpcSubnets": "true"}}))
        out.append((prefix, {"ForAnyValue:StringNotEquals": {"sagemaker:VpcSubnets": list(subnets)}}))
        if groups:
            out.append((prefix, {"ForAnyValue:StringNotEquals": {"sagemaker:VpcSecurityGroupIds": list(groups)}}))
    for prefixes, flag in ((scope.isolation, "NetworkIsolation"),
                           (scope.encrypted_traffic, "InterContainerTrafficEncryption")):
        for prefix in prefixes:
            out.append((prefix, {"Bool": {f"sagemaker:{flag}": "false"}}))
            out.append((prefix, {"Null": {f"sagemaker:{flag}": "true"}}))
    return out


def spec_control_violations(templates: list[dict[str, Any]], scope: Any) -> list[str]:
    """For each study, the roles that may create its jobs by name (its launcher) carry the Deny statements its
    spec's controls need (see `required_spec_denies`), and at least one such role exists. A role that may create
    any job tagged ours (`.../hyper-parameter-tuning-job/*`) may pass only open studies' roles (`/open/*`),
    never a guarded study's, so it cannot run a guarded study's access without the controls."""
    out: list[str] = []
    roles: dict[str, list[dict[str, Any]]] = {}
    for n, template in enumerate(templates):
        roles.update({f"{n}:{k}": v for k, v in _statements_by_role(template).items()})
    creators: dict[str, list[str]] = {}
    for role, statements in roles.items():
        allows = [st for st in statements if st.get("Effect") == "Allow"]
        created = [flatten(r) for st in allows if _CREATE in _list(st.get("Action")) for r in _list(st.get("Resource"))]
        if not created:
            continue
        creators[role] = created
        if any(r.endswith(":hyper-parameter-tuning-job/*") for r in created):
            passed = [flatten(r) for st in allows if "iam:PassRole" in _list(st.get("Action"))
                      for r in _list(st.get("Resource"))]
            out += [f"{role}: creates any job and may pass {r}" for r in passed if not r.endswith("/open/*")]
    for prefix, condition in required_spec_denies(scope):
        mine = [role for role, created in creators.items()
                if any(r.endswith(f":hyper-parameter-tuning-job/{prefix}*") for r in created)]
        if not mine:
            out.append(f"no role creates {prefix}* jobs under its spec's controls")
        for role in mine:
            denies = [(flatten(r), _normal(st.get("Condition", {}))) for st in roles[role]
                      if st.get("Effect") == "Deny" and _CREATE in _list(st.get("Action"))
                      for r in _list(st.get("Resource"))]
            # The volume-key deny of a local-storage study carries one more condition (its instance types).
            if not any(res.endswith(f":hyper-parameter-tuning-job/{prefix}*")
                       and all(cond.get(op) == keys for op, keys in _normal(condition).items())
                       for res, cond in denies):
                out.append(f"{role}: no Deny of {_CREATE} on {prefix}* when {condition}")
    return out


def controls_scope(accesses: list[Any]) -> Any:
    """The per-control view `required_spec_denies` reads, from the stack's `StudyAccess` list."""
    from types import SimpleNamespace

    return SimpleNamespace(
        kms_keys=[(a.job_prefix, a.kms_key) for a in accesses if a.kms_key],
        networks=[(a.job_prefix, a.subnets, a.security_groups) for a in accesses if a.subnets],
        isolation=[a.job_prefix for a in accesses if a.isolation],
        encrypted_traffic=[a.job_prefix for a in accesses if a.encrypted_traffic],
    )
