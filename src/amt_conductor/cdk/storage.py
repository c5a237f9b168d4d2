"""The customer-managed key and the buckets: configs (specs), artifacts (outputs, reports), access logs."""

from __future__ import annotations

import tempfile
from pathlib import Path

from aws_cdk import CustomResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from amt_conductor.cdk.config import EnvSettings
from amt_conductor.cdk.nag import acknowledge, allow_wildcards, checkov_skip
from amt_conductor.contract import DEFAULT_CONFIGS_PREFIX, DEPLOYED_SPECS_KEY, SPEC_SUFFIXES


class Storage(Construct):
    """One CMK for everything we encrypt; versioned, TLS-only, private, access-logged buckets."""

    def __init__(self, scope: Construct, id: str, *, env: EnvSettings, configs_dir: Path, stack_key: str) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.configs_prefix = DEFAULT_CONFIGS_PREFIX

        self.key = kms.Key(
            self, "Key",
            description="amt-conductor: buckets, registry, topic, queues and log groups",
            enable_key_rotation=True,
            # Retained: deleting it would make every retained bucket and the registry unreadable.
            removal_policy=RemovalPolicy.RETAIN,
        )
        # CloudWatch Logs encrypts our log groups with this key (only log groups of this account and region).
        self.key.add_to_resource_policy(iam.PolicyStatement(
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            resources=["*"],
            conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
                                    f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:*"}},
        ))
        # Alarms publish to the encrypted topic (CloudWatch documents no source ARN for this grant: this
        # account's alarms).
        self.key.add_to_resource_policy(iam.PolicyStatement(
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],
            conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
        ))
        # EventBridge writes to the encrypted dead-letter queue: only for this stack's rules (all named
        # amt-<stack key>-..., see Triggers), by source ARN.
        self.key.add_to_resource_policy(iam.PolicyStatement(
            principals=[iam.ServicePrincipal("events.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],
            conditions={"StringEquals": {"aws:SourceAccount": stack.account},
                        "ArnLike": {"aws:SourceArn": f"arn:{stack.partition}:events:{stack.region}:{stack.account}:"
                                                     f"rule/amt-{stack_key}-*"}},
        ))

        # Server access logs cannot be delivered to an SSE-KMS bucket: this one uses SSE-S3.
        self.access_logs = s3.Bucket(
            self, "AccessLogsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(
                id="expire-access-logs",
                expiration=Duration.days(env.access_log_days),
                noncurrent_version_expiration=Duration.days(env.noncurrent_version_days),
                abort_incomplete_multipart_upload_after=Duration.days(7),
            )],
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(self.access_logs, "AwsSolutions-S1",
                    "This is the access-log destination of the other buckets; logging it to itself would loop.")
        checkov_skip(self.access_logs, "CKV_AWS_18",
                     "This is the access-log destination of the other buckets; logging it to itself would loop.")

        self.configs = self._data_bucket("ConfigsBucket", env, event_bridge=True)
        self.artifacts = self._data_bucket("ArtifactsBucket", env, event_bridge=False)

        self.deployment: s3deploy.BucketDeployment | None = None
        self.code_deployment: s3deploy.BucketDeployment | None = None
        if _spec_files(configs_dir):
            self.deployment = self._deploy_configs(configs_dir, env)

    def _data_bucket(self, id: str, env: EnvSettings, *, event_bridge: bool) -> s3.Bucket:
        bucket = s3.Bucket(
            self, id,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=f"{id}/",
            lifecycle_rules=[s3.LifecycleRule(
                id="expire-old-versions",
                noncurrent_version_expiration=Duration.days(env.noncurrent_version_days),
                abort_incomplete_multipart_upload_after=Duration.days(7),
            )],
            # Data (specs, training outputs, reports) outlives the stack.
            removal_policy=RemovalPolicy.RETAIN,
        )
        if event_bridge:
            # Set on the bucket itself: `event_bridge_enabled=True` would add CDK's notifications custom
            # resource, a Lambda function with an AWS-managed policy.
            cfn = bucket.node.default_child
            assert isinstance(cfn, s3.CfnBucket)
            cfn.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
                event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=True))
        return bucket

    def _deploy_configs(self, configs_dir: Path, env: EnvSettings) -> s3deploy.BucketDeployment:
        """Upload configs/*.yaml|yml|json under the configs prefix (each new object version starts a run)."""
        log_group = logs.LogGroup(
            self, "ConfigsDeploymentLogs",
            retention=env.log_retention,
            encryption_key=self.key,
            removal_policy=env.ephemeral_removal,
        )
        stack = Stack.of(self)
        # Our own role, so no AWS-managed policy: logs to its log group only (grants below add S3 and KMS).
        role = iam.Role(self, "ConfigsDeploymentRole",
                        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                        description="Copies configs/ specs into the configs bucket at deploy time")
        role.add_to_policy(iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group.log_group_arn, f"{log_group.log_group_arn}:*"],
        ))
        # A spec with source_dir deploys as its resolved form (archive digest written in), its code as an
        # archive in the artifacts bucket: the runtime has neither the folder nor a way to package it.
        shipped = _code_specs(configs_dir)
        deployment = s3deploy.BucketDeployment(
            self, "ConfigsDeployment",
            sources=[s3deploy.Source.asset(
                str(configs_dir),
                exclude=["*", *[f"!*{suffix}" for suffix in SPEC_SUFFIXES], "!**/",
                         *[rel for rel, _ in shipped]],
            ), *[s3deploy.Source.data(rel, body) for rel, body in shipped]],
            destination_bucket=self.configs,
            destination_key_prefix=self.configs_prefix,
            # Specs uploaded with `amt submit` live beside ours: never delete them.
            prune=False,
            retain_on_delete=True,
            role=role,
            log_group=log_group,
            memory_limit=256,
        )
        # The deployed specs for the handlers (runtime.deployed): outside the configs prefix, so writing them
        # starts no run; written first, so a run the configs' new versions start compares with them.
        manifest = s3deploy.BucketDeployment(
            self, "DeployedSpecs",
            sources=[s3deploy.Source.json_data(DEPLOYED_SPECS_KEY.rsplit("/", 1)[1],
                                               deployed_manifest(configs_dir, self.configs_prefix))],
            destination_bucket=self.configs,
            destination_key_prefix=DEPLOYED_SPECS_KEY.rsplit("/", 1)[0] + "/",
            prune=True,
            retain_on_delete=True,
            role=role,
            log_group=log_group,
            memory_limit=256,
        )
        # Only the two copy operations are ordered (their constructs share CDK's singleton handler and layer:
        # a dependency between the constructs themselves would be a cycle).
        _copy_of(deployment).node.add_dependency(_copy_of(manifest))
        allow_wildcards(role, [
            (r"Action::s3:(GetObject|GetBucket|List|DeleteObject|Abort)\*",
             "CDK's BucketDeployment grant groups (read the staged asset, write the configs bucket); limited to "
             "those two buckets."),
            (r"Action::kms:(GenerateDataKey|ReEncrypt)\*", "Data-key variants on our one CMK (configs bucket)."),
            (r"Resource::arn:<AWS::Partition>:s3:::cdk-[a-z0-9]+-assets-<AWS::AccountId>-<AWS::Region>/\*",
             "The CDK bootstrap asset bucket's objects: the deployment reads the staged configs/ zip from it."),
            (r"Resource::<StorageConfigsBucket\w+\.Arn>/\*",
             "Objects of the configs bucket: the deployment writes the specs under the configs prefix."),
            (r"Resource::<StorageArtifactsBucket\w+\.Arn>/\*",
             "Objects of the artifacts bucket (CDK's BucketDeployment grant): with source_dir studies, the code "
             "deployment writes their archives under code/."),
            (r"Resource::<ConfigsDeploymentLogs\w+\.Arn>:\*|Resource::<StorageConfigsDeploymentLogs\w+\.Arn>:\*",
             "Log streams of the deployment function's own log group are created per execution environment."),
        ])
        # The handler is CDK's own singleton function; its runtime is chosen by aws-cdk-lib.
        singleton = stack.node.try_find_child(_singleton_id(stack))
        if singleton is not None:
            acknowledge(singleton, "AwsSolutions-L1",
                        "CDK's BucketDeployment handler: its runtime is pinned by aws-cdk-lib and upgraded with it.")
            for check, reason in (
                ("CKV_AWS_116", "CDK's BucketDeployment handler is invoked synchronously by CloudFormation, which "
                                "fails the deployment on an error: there is no event to dead-letter."),
                ("CKV_AWS_117", "CDK's BucketDeployment handler copies between two S3 buckets at deploy time; "
                                "it has no network resources to reach in a VPC."),
                ("CKV_AWS_115", "CDK's BucketDeployment handler runs once per deployment; reserved concurrency "
                                "would only take capacity from the account."),
                ("CKV_AWS_173", "CDK's BucketDeployment handler's environment holds no secret (aws-cdk-lib sets "
                                "it); Lambda encrypts it at rest."),
            ):
                checkov_skip(singleton, check, reason)
        if shipped:
            self.code_deployment = self._deploy_code(configs_dir, role, log_group)
        return deployment

    def _deploy_code(self, configs_dir: Path, role: iam.IRole, log_group: logs.ILogGroup) -> s3deploy.BucketDeployment:
        """Each source_dir's deterministic archive at code/<study>/<sha256>/sourcedir.tar.gz in the artifacts bucket."""
        from amt_conductor.spec.loader import load_spec
        from amt_conductor.spec.sourcedir import CODE_PREFIX, build_archive, code_key, folder_of

        staging = Path(tempfile.mkdtemp(prefix="amt-code-"))
        for path in _spec_files(configs_dir):
            spec = load_spec(path)
            algo = spec.algorithm  # source_dir is a single-algorithm field (amt_conductor.spec.sourcedir)
            if algo is None or algo.source_dir is None or algo.source_sha256 is None:
                continue
            target = staging / code_key(spec.name, algo.source_sha256)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(build_archive(folder_of(path.parent, algo.source_dir)))
        return s3deploy.BucketDeployment(
            self, "CodeDeployment",
            sources=[s3deploy.Source.asset(str(staging / CODE_PREFIX))],
            destination_bucket=self.artifacts,
            destination_key_prefix=CODE_PREFIX,
            # Running rounds may still use an older archive; old versions stay until the bucket's lifecycle.
            prune=False,
            retain_on_delete=True,
            role=role,
            log_group=log_group,
            memory_limit=256,
        )


def _code_specs(folder: Path) -> list[tuple[str, str]]:
    """(path relative to `folder`, deployed text) of the specs that name a source_dir."""
    from amt_conductor.spec.sourcedir import deployable_spec

    out = []
    for path in _spec_files(folder):
        body = deployable_spec(path)
        if body != path.read_bytes():
            out.append((path.relative_to(folder).as_posix(), body.decode()))
    return out


def deployed_manifest(configs_dir: Path, configs_prefix: str) -> dict[str, dict[str, str]]:
    """{study: {"key": its configs/ key, "body": the file as written}} for the specs of configs/."""
    from amt_conductor.spec.errors import SpecError
    from amt_conductor.spec.loader import load_spec

    out: dict[str, dict[str, str]] = {}
    for path in _spec_files(configs_dir):
        try:
            spec = load_spec(path)
        except SpecError:
            continue  # the app refuses to synthesize an invalid spec before this matters
        out[spec.name] = {"key": f"{configs_prefix}{path.relative_to(configs_dir).as_posix()}",
                          "body": path.read_text(encoding="utf-8")}
    return out


def _copy_of(deployment: s3deploy.BucketDeployment) -> CustomResource:
    (copy,) = [c for c in deployment.node.children if isinstance(c, CustomResource)]
    return copy


def _spec_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(f for f in folder.rglob("*") if f.is_file() and f.suffix.lower() in SPEC_SUFFIXES)


def _singleton_id(stack: Stack) -> str:
    # The id under which BucketDeployment creates its shared handler function at the stack's root.
    for child in stack.node.children:
        if child.node.id.startswith("Custom::CDKBucketDeployment"):
            return child.node.id
    return "Custom::CDKBucketDeployment"

