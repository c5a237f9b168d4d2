"""The Lambda functions: one per handler module in lambda/handlers/, each with its own role and log group."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from amt_conductor.cdk import ids
from amt_conductor.cdk.config import (
    POWERTOOLS_ACCOUNT,
    POWERTOOLS_LAYER,
    POWERTOOLS_LAYER_VERSION,
    EnvSettings,
    SynthError,
)
from amt_conductor.cdk.nag import acknowledge, allow_wildcards, checkov_skip
from amt_conductor.cdk.roles import write_logs_statement

RUNTIME = lambda_.Runtime.PYTHON_3_12


@dataclass(frozen=True)
class Sizing:
    memory_mb: int
    timeout_s: int


# Report lists every training job and draws charts: it gets the most memory and time.
SIZING: dict[str, Sizing] = {
    "start": Sizing(256, 30),
    "prepare": Sizing(512, 60),
    "admit": Sizing(256, 60),
    "launch": Sizing(256, 60),
    "resume": Sizing(256, 30),
    "report": Sizing(1024, 300),
    "promote": Sizing(256, 120),
    "record_failure": Sizing(256, 30),
    "reconcile": Sizing(512, 300),
    "stop": Sizing(256, 60),
}


# checkov findings that do not apply to these functions, each with its reason (in the template, per function).
CHECKOV_SKIPS = [
    ("CKV_AWS_116", "No dead-letter queue on the function itself: EventBridge targets have a DLQ and the "
                    "event-driven functions an on-failure destination (the same queue); the workflow's functions "
                    "are invoked synchronously by Step Functions, whose catch records and notifies."),
    ("CKV_AWS_117", "Not in a VPC: the handlers call AWS APIs only (SageMaker, Step Functions, DynamoDB, S3, SNS) "
                    "and are invoked only by EventBridge and Step Functions; a VPC would add NAT or endpoints "
                    "and no isolation."),
    ("CKV_AWS_115", "No reserved concurrency: EventBridge and Step Functions retry throttled invocations with "
                    "backoff, and a reservation would take capacity from the account's other functions."),
]


class Functions(Construct):
    """`self.fn[handler]`, `self.roles[handler]`, `self.log_groups[handler]` for every handler in `ids.HANDLERS`."""

    def __init__(self, scope: Construct, id: str, *, code_dir: Path, layer_dir: Path, key: kms.IKey,
                 env: EnvSettings, environment: dict[str, str]) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        if not (layer_dir / "python" / "yaml").is_dir():
            raise SynthError(f"{layer_dir}: the Lambda layer is not built (no python/yaml in it); "
                             "run `make install` first (it runs scripts/build_layer.sh)")
        code = lambda_.Code.from_asset(str(code_dir), exclude=["**/__pycache__", "*.pyc", "tests", "**/tests"])
        deps = lambda_.LayerVersion(
            self, "DepsLayer",
            code=lambda_.Code.from_asset(str(layer_dir)),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[lambda_.Architecture.X86_64],
            description="PyYAML for the amt-conductor handlers (pydantic comes from Powertools)",
        )
        powertools = lambda_.LayerVersion.from_layer_version_arn(
            self, "PowertoolsLayer",
            f"arn:{stack.partition}:lambda:{stack.region}:{POWERTOOLS_ACCOUNT}:layer:{POWERTOOLS_LAYER}:"
            f"{POWERTOOLS_LAYER_VERSION}",
        )
        self.fn: dict[str, lambda_.Function] = {}
        self.roles: dict[str, iam.Role] = {}
        self.log_groups: dict[str, logs.LogGroup] = {}
        for handler in ids.HANDLERS:
            fid = ids.function_id(handler)
            log_group = logs.LogGroup(
                self, f"{fid}Logs",
                retention=env.log_retention,
                encryption_key=key,
                removal_policy=env.ephemeral_removal,
            )
            role = iam.Role(
                self, f"{fid}Role",
                assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                description=f"amt-conductor {handler} function",
            )
            role.add_to_policy(write_logs_statement(log_group.log_group_arn))
            size = SIZING[handler]
            fn = lambda_.Function(
                self, fid,
                runtime=RUNTIME,
                architecture=lambda_.Architecture.X86_64,
                handler=ids.handler_string(handler),
                code=code,
                layers=[powertools, deps],
                memory_size=size.memory_mb,
                timeout=Duration.seconds(size.timeout_s),
                role=role,
                log_group=log_group,
                tracing=lambda_.Tracing.ACTIVE,
                environment=dict(environment),
                environment_encryption=key,
                description=f"amt-conductor: amt_conductor.handlers.{handler}",
            )
            acknowledge(fn, "AwsSolutions-L1",
                        "Pinned to python3.12: the Powertools v3 layer and the project layer are built for "
                        "cp312; the runtime moves with both, deliberately.")
            for check, reason in CHECKOV_SKIPS:
                checkov_skip(fn, check, reason)
            allow_wildcards(role, [
                (r"Resource::\*", "X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) support no "
                                   "resource-level permissions."),
                (r"Resource::<Functions\w+FunctionLogs\w+\.Arn>:log-stream:\*",
                 "Log streams of the function's own log group are created per execution environment."),
            ])
            self.fn[handler] = fn
            self.roles[handler] = role
            self.log_groups[handler] = log_group
