#!/usr/bin/env python3
"""A platform team's existing CDK app: its own stack, KMS key, buckets, topic and naming. amt-conductor joins
it as one construct, `TuningStudies`, which uses the team's key, artifacts bucket and topic instead of creating
its own; cdk-nag (AwsSolutions) checks the whole app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Acknowledgment, App, RemovalPolicy, Stack, Tags, Validations
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from amt_conductor.cdk import TuningStudies
from amt_conductor.contract import Quotas

HERE = Path(__file__).resolve().parent


class MlPlatformStack(Stack):
    """The team's shared ML resources, and the tuning studies of configs/."""

    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        key = kms.Key(self, "PlatformKey", alias="alias/ml-platform", enable_key_rotation=True,
                      removal_policy=RemovalPolicy.RETAIN)
        access_logs = s3.Bucket(
            self, "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.RETAIN,
        )
        Validations.of(access_logs).acknowledge(Acknowledgment(
            id="AwsSolutions-S1", reason="The team's access-log destination; logging it to itself would loop."))
        artifacts = s3.Bucket(
            self, "MlArtifacts",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="ml-artifacts/",
            removal_policy=RemovalPolicy.RETAIN,
        )
        alerts = sns.Topic(self, "MlAlerts", display_name="ML platform alerts", master_key=key, enforce_ssl=True)

        # The tuning studies of configs/, with the team's key, bucket and topic: nothing of those is created,
        # and the key's policy gets the statements CloudWatch Logs, alarms and EventBridge need.
        self.tuning = TuningStudies(
            self, "Tuning",
            specs=HERE / "configs",
            name="mlp-tuning",
            environment="prod",
            encryption_key=key,
            artifacts_bucket=artifacts,
            topic=alerts,
            quotas=Quotas(tuning_jobs=20, instances={"ml.m5.xlarge": 8}),
            notify_emails=["ml-platform@example.com"],
        )


def build(app: App) -> App:
    MlPlatformStack(app, "MlPlatform", description="ML platform: shared keys, buckets and tuning studies")
    Tags.of(app).add("team", "ml-platform")
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


if __name__ == "__main__":
    build(App()).synth()
