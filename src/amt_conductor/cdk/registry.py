"""The registry: one DynamoDB table of studies, rounds, runs and in-flight task tokens."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from amt_conductor.contract import RegistrySchema


class Registry(Construct):
    """Keys and the sparse `inflight` index come from `contract.RegistrySchema` (shared with the handlers)."""

    def __init__(self, scope: Construct, id: str, *, key: kms.IKey) -> None:
        super().__init__(scope, id)
        self.table = dynamodb.Table(
            self, "Table",
            partition_key=dynamodb.Attribute(name=RegistrySchema.PK, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=RegistrySchema.SK, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            deletion_protection=True,
            # The lineage of every study lives here: it outlives the stack.
            removal_policy=RemovalPolicy.RETAIN,
        )
        # Sparse: only items with `inflight` set (jobs a workflow is waiting on) appear in it.
        self.table.add_global_secondary_index(
            index_name=RegistrySchema.INFLIGHT_INDEX,
            partition_key=dynamodb.Attribute(name=RegistrySchema.INFLIGHT_PK, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=RegistrySchema.INFLIGHT_SK, type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )
