"""The Lambda functions: one per handler module in lambda/handlers/, each with its own role and log group."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from amt_conductor.cdk import ids
from amt_conductor.cdk.asset import LAYER_EXCLUDE, yaml_layer_dir
from amt_conductor.cdk.config import POWERTOOLS_ACCOUNT, POWERTOOLS_LAYER, POWERTOOLS_LAYER_VERSION, EnvSettings
from amt_conductor.cdk.nag import acknowledge, allow_wildcards, checkov_skip, pattern_of
from amt_conductor.cdk.roles import handler_network_statements, write_logs_statement

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


@dataclass(frozen=True)
class Network:
    """A VPC for the handler functions (`TuningStudies(vpc=...)`): its subnets and security groups."""

    vpc: ec2.IVpc
    subnets: ec2.SubnetSelection | None = None
    security_groups: Sequence[ec2.ISecurityGroup] = ()


# Skipped only for functions outside a VPC (`TuningStudies(vpc=...)` puts them in one).
NOT_IN_VPC = "CKV_AWS_117"
# checkov findings that do not apply to these functions, each with its reason (in the template, per function).
CHECKOV_SKIPS = [
    ("CKV_AWS_116", "No dead-letter queue on the function itself: EventBridge targets have a DLQ and the "
                    "event-driven functions an on-failure destination (the same queue); the workflow's functions "
                    "are invoked synchronously by Step Functions, whose catch records and notifies."),
    (NOT_IN_VPC, "Not in a VPC: the handlers call AWS APIs only (SageMaker, Step Functions, DynamoDB, S3, SNS) "
                 "and are invoked only by EventBridge and Step Functions; a VPC would add NAT or endpoints "
                 "and no isolation."),
    ("CKV_AWS_115", "No reserved concurrency: EventBridge and Step Functions retry throttled invocations with "
                    "backoff, and a reservation would take capacity from the account's other functions."),
]


class Functions(Construct):
    """`self.fn[handler]`, `self.roles[handler]`, `self.log_groups[handler]` for every handler in `ids.HANDLERS`.

    `layer` provides PyYAML; without it the layer is staged from the installed PyYAML (`asset.yaml_layer_dir`).
    With `network` the functions run in that VPC (a security group allowing HTTPS out is created when none
    is given)."""

    def __init__(self, scope: Construct, id: str, *, code_dir: Path, key: kms.IKey, env: EnvSettings,
                 environment: dict[str, str], layer: lambda_.ILayerVersion | None = None,
                 network: Network | None = None) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        code = lambda_.Code.from_asset(str(code_dir), exclude=["**/__pycache__", "*.pyc", "tests", "**/tests"])
        deps = layer or lambda_.LayerVersion(
            self, "DepsLayer",
            code=lambda_.Code.from_asset(str(yaml_layer_dir()), exclude=LAYER_EXCLUDE),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[lambda_.Architecture.X86_64],
            description="PyYAML for the amt-conductor handlers (pydantic comes from Powertools)",
        )
        self.security_groups: list[ec2.ISecurityGroup] = []
        subnet_ids: list[str] = []
        if network is not None:
            self.security_groups = list(network.security_groups) or [self._https_out(network.vpc)]
            subnet_ids = _select(network.vpc, network.subnets).subnet_ids
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
            if network is not None:
                for statement in handler_network_statements(
                        stack, subnet_ids, [g.security_group_id for g in self.security_groups]):
                    role.add_to_policy(statement)
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
                vpc=network.vpc if network else None,
                vpc_subnets=network.subnets if network else None,
                security_groups=self.security_groups or None,
            )
            acknowledge(fn, "AwsSolutions-L1",
                        "Pinned to python3.12: the Powertools v3 layer and the project layer are built for "
                        "cp312; the runtime moves with both, deliberately.")
            for check, reason in CHECKOV_SKIPS:
                if network is None or check != NOT_IN_VPC:
                    checkov_skip(fn, check, reason)
            allow_wildcards(role, [
                (r"Resource::\*", "X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) support no "
                                   "resource-level permissions"
                                   + (", nor do EC2 DescribeNetworkInterfaces/DescribeSubnets (the VPC)."
                                      if network else ".")),
                ("Resource::" + pattern_of(self, log_group.log_group_arn) + r":log-stream:\*",
                 "Log streams of the function's own log group are created per execution environment."),
                *([(r"Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface/\*",
                    "Lambda's interfaces in the VPC get their ids when Lambda creates them; managing them is "
                    "limited to the chosen subnets (ec2:Subnet).")] if network else []),
            ])
            self.fn[handler] = fn
            self.roles[handler] = role
            self.log_groups[handler] = log_group

    def _https_out(self, vpc: ec2.IVpc) -> ec2.SecurityGroup:
        """The handlers' security group: no inbound, HTTPS out (AWS APIs, through NAT or VPC endpoints)."""
        group = ec2.SecurityGroup(self, "SecurityGroup", vpc=vpc, allow_all_outbound=False,
                                  description="amt-conductor handlers: HTTPS to AWS APIs only")
        group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "AWS APIs (through NAT or VPC endpoints)")
        return group


def _select(vpc: ec2.IVpc, selection: ec2.SubnetSelection | None) -> ec2.SelectedSubnets:
    """The subnets Lambda places the functions in (the same default: the VPC's private subnets)."""
    if selection is None:
        return vpc.select_subnets()
    return vpc.select_subnets(availability_zones=selection.availability_zones, one_per_az=selection.one_per_az,
                              subnet_filters=selection.subnet_filters, subnet_group_name=selection.subnet_group_name,
                              subnets=selection.subnets, subnet_type=selection.subnet_type)
