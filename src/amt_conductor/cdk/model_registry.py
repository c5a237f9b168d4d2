"""SageMaker Model Registry: the model package groups the specs' `promote:` sections name.

A group listed in the `amt:existingModelPackageGroups` context exists already and is only referenced
(by name, in the Promote function's policy); every other group is created here and retained on stack
deletion, because its versions are models someone reviewed.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import RemovalPolicy
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct


class ModelRegistry(Construct):
    """`self.created[group]` for the groups this stack creates; `self.groups` lists all the specs name."""

    def __init__(self, scope: Construct, id: str, *, groups: Sequence[str], existing: Sequence[str]) -> None:
        super().__init__(scope, id)
        self.groups = tuple(groups)
        self.created: dict[str, sagemaker.CfnModelPackageGroup] = {}
        for group in groups:
            if group in existing:
                continue
            cfn = sagemaker.CfnModelPackageGroup(
                self, f"Group-{group}",
                model_package_group_name=group,
                model_package_group_description=f"amt-conductor: best models of the studies promoting to {group}",
            )
            cfn.apply_removal_policy(RemovalPolicy.RETAIN)
            self.created[group] = cfn
