"""Checks over every resource of a type in a template (dict); each returns the violations it finds.

Tests run them on the real template (expect none) and on throwaway stacks built to break one control
(expect that control's violation), so a check that cannot fail does not pass silently.
"""

from __future__ import annotations

import re
from typing import Any

from amt.access import TAG_STACK
from stacks.nag import flatten

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
        if not str(p.get("Handler", "")).startswith("handlers."):
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
