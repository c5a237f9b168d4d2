"""IAM: the statements built from a `StudyScope` (one small function per statement), and the
SageMaker execution role.

Every statement is scoped to ARNs built with the stack's partition, region and account; the few
actions AWS cannot scope to a resource are isolated in their own statements and acknowledged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.nag import allow_wildcards
from stacks.study_scope import S3Location, StudyScope

SAGEMAKER = "sagemaker.amazonaws.com"
TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
_ECR_URI = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
                      r"(?P<repo>[^:@]+)")


# --- ARNs ------------------------------------------------------------------------------------

def tuning_job_arns(stack: Stack, prefixes: Iterable[str]) -> list[str]:
    return [f"arn:{stack.partition}:sagemaker:{stack.region}:{stack.account}:hyper-parameter-tuning-job/{p}*"
            for p in prefixes]


def _bucket_arn(stack: Stack, bucket: str) -> str:
    return f"arn:{stack.partition}:s3:::{bucket}"


# --- statements for the functions' roles --------------------------------------------------------

def create_tuning_job_statement(stack: Stack, scope: StudyScope) -> iam.PolicyStatement:
    """Create (and tag, which CreateHyperParameterTuningJob with Tags needs) tuning jobs of known studies."""
    return iam.PolicyStatement(
        sid="CreateTuningJobsOfKnownStudies",
        actions=["sagemaker:CreateHyperParameterTuningJob", "sagemaker:AddTags"],
        resources=tuning_job_arns(stack, scope.job_prefixes),
    )


def enforce_spec_controls_statements(stack: Stack, scope: StudyScope) -> list[iam.PolicyStatement]:
    """Deny creating a study's job without the KMS key, VPC, isolation or traffic encryption its spec sets.

    Denies, because an allow with a condition would be overridden by any broader allow."""
    out: list[iam.PolicyStatement] = []
    create = ["sagemaker:CreateHyperParameterTuningJob"]
    for i, (prefix, key) in enumerate(scope.kms_keys):
        for cond_key in ("sagemaker:VolumeKmsKey", "sagemaker:OutputKmsKey"):
            out.append(iam.PolicyStatement(
                sid=f"RequireSpecKmsKey{i}{cond_key.split(':')[1]}",
                effect=iam.Effect.DENY, actions=create, resources=tuning_job_arns(stack, [prefix]),
                conditions={"StringNotEquals": {cond_key: key}},
            ))
    for i, (prefix, subnets, groups) in enumerate(scope.networks):
        arns = tuning_job_arns(stack, [prefix])
        out.append(iam.PolicyStatement(
            sid=f"RequireSpecVpc{i}", effect=iam.Effect.DENY, actions=create, resources=arns,
            conditions={"Null": {"sagemaker:VpcSubnets": "true"}},
        ))
        out.append(iam.PolicyStatement(
            sid=f"RequireSpecSubnets{i}", effect=iam.Effect.DENY, actions=create, resources=arns,
            conditions={"ForAnyValue:StringNotEquals": {"sagemaker:VpcSubnets": list(subnets)}},
        ))
        if groups:
            out.append(iam.PolicyStatement(
                sid=f"RequireSpecSecurityGroups{i}", effect=iam.Effect.DENY, actions=create, resources=arns,
                conditions={"ForAnyValue:StringNotEquals": {"sagemaker:VpcSecurityGroupIds": list(groups)}},
            ))
    # A Bool condition on an absent key does not match, so each flag also needs a Null deny: a request that
    # leaves the flag out is refused as well as one that sets it false.
    for sid, prefixes, cond_key in (("RequireNetworkIsolation", scope.isolation, "sagemaker:NetworkIsolation"),
                                    ("RequireTrafficEncryption", scope.encrypted_traffic,
                                     "sagemaker:InterContainerTrafficEncryption")):
        for i, prefix in enumerate(prefixes):
            for suffix, condition in (("", {"Bool": {cond_key: "false"}}), ("Set", {"Null": {cond_key: "true"}})):
                out.append(iam.PolicyStatement(
                    sid=f"{sid}{suffix}{i}", effect=iam.Effect.DENY, actions=create,
                    resources=tuning_job_arns(stack, [prefix]), conditions=condition,
                ))
    return out


def describe_jobs_statement(stack: Stack, scope: StudyScope) -> iam.PolicyStatement:
    """Read tuning jobs of known studies and list their training jobs (adoption, resume, reports)."""
    return iam.PolicyStatement(
        sid="DescribeJobsOfKnownStudies",
        actions=["sagemaker:DescribeHyperParameterTuningJob",
                 "sagemaker:ListTrainingJobsForHyperParameterTuningJob"],
        resources=tuning_job_arns(stack, scope.job_prefixes),
    )


def stop_tuning_job_statement(stack: Stack, scope: StudyScope) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid="StopTuningJobsOfKnownStudies",
        actions=["sagemaker:StopHyperParameterTuningJob", "sagemaker:DescribeHyperParameterTuningJob"],
        resources=tuning_job_arns(stack, scope.job_prefixes),
    )


def model_package_arns(stack: Stack, groups: Iterable[str]) -> list[str]:
    """Each group and its versions (`model-package/<group>/<n>`)."""
    base = f"arn:{stack.partition}:sagemaker:{stack.region}:{stack.account}"
    return [arn for g in sorted(set(groups))
            for arn in (f"{base}:model-package-group/{g}", f"{base}:model-package/{g}/*")]


def training_job_arns(stack: Stack, prefixes: Iterable[str]) -> list[str]:
    return [f"arn:{stack.partition}:sagemaker:{stack.region}:{stack.account}:training-job/{p}*" for p in prefixes]


def promote_statements(stack: Stack, scope: StudyScope, artifacts: s3.IBucket) -> list[iam.PolicyStatement]:
    """Register versions in the groups reviewed specs name, read those studies' training jobs and model
    artifacts (nothing else); ListModelPackages has no resource-level permission."""
    from amt.naming import study_prefix

    prefixes = [study_prefix(study) for study, _ in scope.promoting]
    # Where render puts a study's outputs: its output_uri, else `training/<study>/` in the artifacts bucket.
    artifact_objects = sorted(
        {f"{_bucket_arn(stack, loc.bucket)}/{loc.prefix}*" for _, loc in scope.promoting if loc is not None}
        | {artifacts.arn_for_objects(f"training/{study}/*") for study, loc in scope.promoting if loc is None})
    return [
        iam.PolicyStatement(sid="RegisterModelPackagesInSpecGroups",
                            actions=["sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage"],
                            resources=model_package_arns(stack, scope.model_package_groups)),
        iam.PolicyStatement(sid="ListModelPackages", actions=["sagemaker:ListModelPackages"], resources=["*"]),
        iam.PolicyStatement(sid="DescribePromotedTrainingJobs", actions=["sagemaker:DescribeTrainingJob"],
                            resources=training_job_arns(stack, prefixes)),
        iam.PolicyStatement(sid="ReadPromotedModelArtifacts", actions=["s3:GetObject"], resources=artifact_objects),
    ]


def registry_statement(table_arn: str) -> iam.PolicyStatement:
    """The four item operations amt.registry uses, on the table and its indexes (no Scan, no Delete)."""
    return iam.PolicyStatement(
        sid="UseRegistry",
        actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"],
        resources=[table_arn, f"{table_arn}/index/*"],
    )


def pass_execution_role_statement(role: iam.IRole) -> iam.PolicyStatement:
    """PassRole on the SageMaker execution role only, and only to SageMaker (grant_pass_role has no condition)."""
    return iam.PolicyStatement(
        sid="PassExecutionRoleToSageMaker",
        actions=["iam:PassRole"],
        resources=[role.role_arn],
        conditions={"StringEquals": {"iam:PassedToService": SAGEMAKER}},
    )


def task_response_statement(state_machine_arn: str) -> iam.PolicyStatement:
    """Resume (or fail) a waiting Launch task of our state machine."""
    return iam.PolicyStatement(
        sid="ResumeWaitingLaunch",
        actions=["states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"],
        resources=[state_machine_arn],
    )


def start_execution_statement(state_machine_arn: str) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid="StartRuns",
        actions=["states:StartExecution"],
        resources=[state_machine_arn],
    )


def write_logs_statement(log_group_arn: str) -> iam.PolicyStatement:
    """What AWSLambdaBasicExecutionRole would give, for this function's own log group only."""
    return iam.PolicyStatement(
        sid="WriteOwnLogs",
        actions=["logs:CreateLogStream", "logs:PutLogEvents"],
        resources=[log_group_arn, f"{log_group_arn}:log-stream:*"],
    )


# --- the SageMaker execution role ------------------------------------------------------------

class SageMakerExecutionRole(Construct):
    """The role training jobs run as: reads the studies' data, writes the artifacts bucket, pulls the images,
    writes training logs. No AWS-managed policy."""

    def __init__(self, scope: Construct, id: str, *, study: StudyScope, artifacts: s3.IBucket,
                 key: kms.IKey, region_hint: str | None = None) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.role = iam.Role(
            self, "Role",
            # Confused-deputy guard: only SageMaker acting for this account may assume it. The condition
            # must sit on the one trust statement: a second, unconditional allow would void it.
            assumed_by=iam.ServicePrincipal(
                SAGEMAKER, conditions={"StringEquals": {"aws:SourceAccount": stack.account}}),
            description="amt-conductor: SageMaker training jobs of the tuning studies run as this role",
        )
        for statement in self._statements(stack, study, artifacts, region_hint):
            self.role.add_to_policy(statement)
        key.grant_encrypt_decrypt(self.role)
        allow_wildcards(self.role, [
            (r"Resource::arn:<AWS::Partition>:s3:::[a-z0-9.-]+/[^*]*\*",
             "Objects under the data and output prefixes the specs (and amt:dataPrefixes) declare."),
            (r"Resource::<StorageArtifactsBucket\w+\.Arn>/\*",
             "Training outputs: SageMaker writes `training/<study>/<job>/...` objects to the artifacts bucket."),
            (r"Resource::\*", "ecr:GetAuthorizationToken, cloudwatch:PutMetricData (limited to the /aws/sagemaker/ "
                              "namespaces) and EC2 Describe* have no resource-level permissions."),
            (r"Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/sagemaker/"
             r"TrainingJobs:log-stream:\*", "Training log streams are named per job at run time."),
            (r"Resource::arn:<AWS::Partition>:ecr:<AWS::Region>:\*:repository/[a-z0-9._/-]+",
             "Built-in algorithm images live in AWS-owned accounts that differ per region; the repository name "
             "is fixed."),
            (r"Action::kms:(GenerateDataKey|ReEncrypt)\*", "Data-key variants on our CMK and the specs' keys."),
            (r"Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface/\*",
             "Training ENIs are created at run time in the specs' subnets (ManageTrainingInterfaces is "
             "conditioned on those subnets)."),
        ])

    def _statements(self, stack: Stack, study: StudyScope, artifacts: s3.IBucket,
                    region_hint: str | None) -> list[iam.PolicyStatement]:
        out = [*read_data_statements(stack, study.data), *write_output_statements(stack, study.outputs)]
        out.append(iam.PolicyStatement(
            sid="WriteArtifacts",
            actions=["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
            resources=[artifacts.arn_for_objects("*")],
        ))
        out.append(iam.PolicyStatement(sid="ListArtifacts", actions=["s3:ListBucket", "s3:GetBucketLocation"],
                                       resources=[artifacts.bucket_arn]))
        out.extend(pull_images_statements(stack, study, region_hint))
        log_group = f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:{TRAINING_LOG_GROUP}"
        out.append(iam.PolicyStatement(
            sid="WriteTrainingLogs",
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            resources=[log_group, f"{log_group}:log-stream:*"],
        ))
        out.append(iam.PolicyStatement(
            sid="PutTrainingMetrics", actions=["cloudwatch:PutMetricData"], resources=["*"],
            conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
        ))
        out.extend(spec_keys_statements(stack, study))
        if study.uses_vpc:
            out.extend(vpc_statements(stack, study))
        return out


def read_data_statements(stack: Stack, locations: Iterable[S3Location]) -> list[iam.PolicyStatement]:
    """Read exactly the declared prefixes (ListBucket limited to them with s3:prefix)."""
    by_bucket: dict[str, list[str]] = {}
    for loc in locations:
        by_bucket.setdefault(loc.bucket, []).append(loc.prefix)
    out: list[iam.PolicyStatement] = []
    for i, (bucket, prefixes) in enumerate(sorted(by_bucket.items())):
        arn = _bucket_arn(stack, bucket)
        out.append(iam.PolicyStatement(
            sid=f"ReadData{i}", actions=["s3:GetObject"],
            resources=[f"{arn}/{p}*" for p in sorted(set(prefixes))],
        ))
        out.append(iam.PolicyStatement(
            sid=f"ListData{i}", actions=["s3:ListBucket"], resources=[arn],
            conditions={"StringLike": {"s3:prefix": [f"{p}*" for p in sorted(set(prefixes))]}},
        ))
    return out


def write_output_statements(stack: Stack, locations: Iterable[S3Location]) -> list[iam.PolicyStatement]:
    """Specs with their own `output_uri`: write there (and only there)."""
    resources = sorted({f"{_bucket_arn(stack, loc.bucket)}/{loc.prefix}*" for loc in locations})
    if not resources:
        return []
    return [iam.PolicyStatement(sid="WriteSpecOutputs", actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                                resources=resources)]


def pull_images_statements(stack: Stack, study: StudyScope, region_hint: str | None) -> list[iam.PolicyStatement]:
    """Pull the custom images the specs name, and the built-in algorithms' repositories."""
    repos: set[str] = set()
    for uri in study.images:
        m = _ECR_URI.match(uri)
        if m:
            repos.add(f"arn:{stack.partition}:ecr:{m['region']}:{m['account']}:repository/{m['repo']}")
    for builtin, version, instance_type in study.builtins:
        repos.add(_builtin_repository_arn(stack, builtin, version, instance_type, region_hint))
    out = [iam.PolicyStatement(sid="EcrLogin", actions=["ecr:GetAuthorizationToken"], resources=["*"])]
    if repos:
        out.append(iam.PolicyStatement(
            sid="PullImages",
            actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
            resources=sorted(repos),
        ))
    return out


def _builtin_repository_arn(stack: Stack, builtin: str, version: str | None, instance_type: str,
                            region_hint: str | None) -> str:
    """Built-in images live in an AWS account that differs per region; the repository name does not."""
    from amt.images import ImageError, resolve_image

    try:
        uri = resolve_image(builtin, version, region_hint or "us-east-1", instance_type)
    except ImageError:  # an unknown image is the spec validation's to report; IAM falls back to any repository
        uri = ""
    m = re.match(r"^[^/]+/(?P<repo>[^:@]+)", uri)
    repo = m["repo"] if m else "*"
    return f"arn:{stack.partition}:ecr:{stack.region}:*:repository/{repo}"


def spec_keys_statements(stack: Stack, study: StudyScope) -> list[iam.PolicyStatement]:
    """Use the KMS keys specs name for volumes and outputs."""
    keys: set[str] = set()
    aliases: set[str] = set()
    for _, key in study.kms_keys:
        if key.startswith("arn:") and ":alias/" not in key:
            keys.add(key)
        elif key.startswith("alias/") or ":alias/" in key:
            aliases.add(key.split(":")[-1] if key.startswith("arn:") else key)
        else:
            keys.add(f"arn:{stack.partition}:kms:{stack.region}:{stack.account}:key/{key}")
    actions = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey",
               "kms:CreateGrant"]
    out = []
    if keys:
        out.append(iam.PolicyStatement(sid="UseSpecKeys", actions=actions, resources=sorted(keys)))
    if aliases:
        out.append(iam.PolicyStatement(
            sid="UseSpecKeysByAlias", actions=actions,
            resources=[f"arn:{stack.partition}:kms:{stack.region}:{stack.account}:key/*"],
            conditions={"ForAnyValue:StringEquals": {"kms:ResourceAliases": sorted(aliases)}},
        ))
    return out


def vpc_statements(stack: Stack, study: StudyScope) -> list[iam.PolicyStatement]:
    """Training in the specs' subnets: ENIs in those subnets with those security groups."""
    base = f"arn:{stack.partition}:ec2:{stack.region}:{stack.account}"
    subnets = sorted({s for _, subs, _ in study.networks for s in subs})
    groups = sorted({g for _, _, gs in study.networks for g in gs})
    return [
        iam.PolicyStatement(
            sid="DescribeNetwork",
            actions=["ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions",
                     "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"],
            resources=["*"],
        ),
        iam.PolicyStatement(
            sid="CreateInterfacesInSpecSubnets",
            actions=["ec2:CreateNetworkInterface"],
            resources=[f"{base}:network-interface/*", *[f"{base}:subnet/{s}" for s in subnets],
                       *[f"{base}:security-group/{g}" for g in groups]],
        ),
        iam.PolicyStatement(
            sid="ManageTrainingInterfaces",
            actions=["ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface",
                     "ec2:DeleteNetworkInterfacePermission"],
            resources=[f"{base}:network-interface/*"],
            conditions={"ArnEquals": {"ec2:Subnet": [f"{base}:subnet/{s}" for s in subnets]}},
        ),
    ]
