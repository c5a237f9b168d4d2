"""cdk-nag acknowledgements: each call sits next to the resource it concerns, always with a reason.

cdk-nag 3.x matches acknowledgements by exact finding id, and IAM5 findings name each wildcard
(`AwsSolutions-IAM5[Resource::<LogGroup.Arn>:log-stream:*]`). `allow_wildcards` acknowledges the
wildcards of a construct's policies that match the patterns given next to it, each with its reason;
any other wildcard stays a finding, so a new one fails the synth until someone explains it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import jsii
from aws_cdk import Acknowledgment, Aspects, CfnResource, IAspect, Stack, Token, Validations
from aws_cdk import aws_iam as iam
from constructs import IConstruct

IAM5 = "AwsSolutions-IAM5"


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge cdk-nag finding `rule` (e.g. `AwsSolutions-S1`) on `scope` and everything under it."""
    if len(reason) < 30:
        raise ValueError(f"{rule}: give a reason a reviewer would accept")
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))


def checkov_skip(scope: IConstruct, check_id: str, reason: str) -> None:
    """Skip checkov's `check_id` on `scope`'s CloudFormation resource, with the reason in the template
    (`Metadata.checkov.skip`, which checkov reads) next to the resource, as the cdk-nag acknowledgements are."""
    if len(reason) < 30:
        raise ValueError(f"{check_id}: give a reason a reviewer would accept")
    cfn = scope if isinstance(scope, CfnResource) else scope.node.default_child
    if not isinstance(cfn, CfnResource):
        raise TypeError(f"{scope.node.path}: no CloudFormation resource to annotate")
    current = cfn.get_metadata("checkov") or {"skip": []}
    current["skip"] = [*current["skip"], {"id": check_id, "comment": reason}]
    cfn.add_metadata("checkov", current)


def allow_wildcards(scope: IConstruct, allowed: Sequence[tuple[str, str]]) -> None:
    """Acknowledge the IAM5 wildcard findings under `scope` that match one of `allowed` (regex, reason).

    The regex is matched (fullmatch) against the finding as cdk-nag writes it, e.g.
    `Resource::<Functions...Logs1234.Arn>:log-stream:*` or `Action::kms:GenerateDataKey*`."""
    for pattern, reason in allowed:
        re.compile(pattern)
        if len(reason) < 30:
            raise ValueError(f"{pattern}: give a reason a reviewer would accept")
    Aspects.of(scope).add(_WildcardAcknowledger(list(allowed)))


@jsii.implements(IAspect)
class _WildcardAcknowledger:
    def __init__(self, allowed: list[tuple[str, str]]) -> None:
        self.allowed = allowed

    def visit(self, node: IConstruct) -> None:
        # CfnManagedPolicy too: with many studies CDK moves statements past IAM's inline size limit into
        # customer-managed "OverflowPolicy" resources, which carry the same wildcards.
        if not isinstance(node, iam.CfnPolicy | iam.CfnRole | iam.CfnManagedPolicy):
            return
        stack = Stack.of(node)
        for finding in wildcard_findings(node):
            for pattern, reason in self.allowed:
                if re.fullmatch(pattern, _placeholders(stack, finding)):
                    Validations.of(node).acknowledge(Acknowledgment(id=f"{IAM5}[{finding}]", reason=reason))
                    break


def _placeholders(stack: Stack, finding: str) -> str:
    """The finding with this stack's literal account and region (`amt:account`/`amt:region`) written as the
    pseudo parameters they stand for, so one pattern fits an environment-agnostic and an explicit synth."""
    for value, placeholder in ((stack.account, "<AWS::AccountId>"), (stack.region, "<AWS::Region>")):
        if not Token.is_unresolved(value):
            finding = re.sub(rf"(?<![0-9a-z]){re.escape(value)}(?![0-9a-z])", placeholder, finding)
    return finding


def wildcard_findings(node: CfnResource) -> list[str]:
    """The IAM5 findings cdk-nag reports for a policy or role (same flattening as cdk-nag's)."""
    stack = Stack.of(node)
    documents: list[Any] = []
    if isinstance(node, iam.CfnPolicy | iam.CfnManagedPolicy):
        documents.append(stack.resolve(node.policy_document))
    elif isinstance(node, iam.CfnRole):
        for policy in stack.resolve(node.policies) or []:
            documents.append(stack.resolve(policy).get("policyDocument") or stack.resolve(policy).get(
                "PolicyDocument"))
    out: list[str] = []
    for doc in documents:
        for st in (doc or {}).get("Statement", []):
            if st.get("Effect") != "Allow":
                continue
            for action in _list(st.get("Action")):
                if "*" in action:
                    out.append(f"Action::{action}")
            for resource in _list(st.get("Resource")):
                flat = flatten(resource)
                if "*" in flat:
                    out.append(f"Resource::{flat}")
    return list(dict.fromkeys(out))


def flatten(ref: Any) -> str:
    """cdk-nag's flattenCfnReference: `{"Fn::GetAtt": [X, "Arn"]}` -> `<X.Arn>`, `{"Ref": R}` -> `<R>`."""
    if ref is None:
        return ""
    if isinstance(ref, str):
        return ref.replace("${", "<").replace("}", ">")
    if isinstance(ref, dict):
        if "Fn::Join" in ref:
            delimiter, items = ref["Fn::Join"]
            return delimiter.join(flatten(i) for i in items)
        if "Fn::Sub" in ref:
            return flatten(ref["Fn::Sub"])
        if "Fn::GetAtt" in ref:
            resource, attribute = ref["Fn::GetAtt"]
            return f"<{flatten(resource)}.{flatten(attribute)}>"
        if "Fn::ImportValue" in ref:
            return flatten(ref["Fn::ImportValue"])
        if "Ref" in ref:
            return f"<{flatten(ref['Ref'])}>"
    return json.dumps(ref, separators=(",", ":"))


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
