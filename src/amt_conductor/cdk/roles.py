"""IAM statements, one small function each: the functions' statements (a constant size, whatever the
number of studies: SageMaker jobs are scoped by the stack's tag, study roles by their IAM path) and
each study's execution and launcher role statements (built from that study's `StudyAccess` only).

Every statement is scoped to ARNs built with the stack's partition, region and account; the few
actions AWS cannot scope to a resource are isolated in their own statements and acknowledged.
SageMaker's service authorization reference lists `aws:RequestTag/${TagKey}` for
CreateHyperParameterTuningJob and AddTags, and `aws:ResourceTag/${TagKey}` for the
hyper-parameter-tuning-job resource (Describe, ListTrainingJobsFor, Stop).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from amt_conductor.cdk.study_scope import PromoteScope, S3Location, StudyAccess
from amt_conductor.spec.access import LAUNCH, OPEN, ROLE_PATH_ROOT, TAG_STACK

SAGEMAKER = "sagemaker.amazonaws.com"
TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
TUNING_JOB = "hyper-parameter-tuning-job"
# Resolves a built-in image's registry (catalog index) to AWS's account in the deploying region.
RegistryAccount = Callable[[int], str]


# --- ARNs ------------------------------------------------------------------------------------

def tuning_job_arns(stack: Stack, prefixes: Iterable[str]) -> list[str]:
    return [f"arn:{stack.partition}:sagemaker:{stack.region}:{stack.account}:{TUNING_JOB}/{p}*" for p in prefixes]


def role_arn_base(stack: Stack, stack_name: str) -> str:
    """`arn:<partition>:iam::<account>:role/amt/<stack>/`: the study roles' ARNs start with it (spec.access)."""
    return f"arn:{stack.partition}:iam::{stack.account}:role/{ROLE_PATH_ROOT}/{stack_name}/"


def _bucket_arn(stack: Stack, bucket: str) -> str:
    return f"arn:{stack.partition}:s3:::{bucket}"


def _ours(stack_key: str, tag: str = "aws:ResourceTag") -> dict[str, dict[str, str]]:
    return {"StringEquals": {f"{tag}/{TAG_STACK}": stack_key}}


# --- statements for the functions' roles (constant size) ----------------------------------------

def create_tuning_jobs_statement(stack: Stack, stack_key: str) -> iam.PolicyStatement:
    """Create (and tag, which a create with Tags needs) tuning jobs tagged as this stack's; the job runs
    as a role only `pass_open_roles_statement` lets through."""
    return iam.PolicyStatement(
        sid="CreateTuningJobsTaggedOurs",
        actions=["sagemaker:CreateHyperParameterTuningJob", "sagemaker:AddTags"],
        resources=[f"arn:{stack.partition}:sagemaker:{stack.region}:{stack.account}:{TUNING_JOB}/*"],
        conditions=_ours(stack_key, "aws:RequestTag"),
    )


def describe_jobs_statement(stack: Stack, stack_key: str, *, list_training_jobs: bool = False
                            ) -> iam.PolicyStatement:
    """Read this stack's tuning jobs (adoption, resume) and, for reports, list their training jobs."""
    actions = ["sagemaker:DescribeHyperParameterTuningJob"]
    if list_training_jobs:
        actions.append("sagemaker:ListTrainingJobsForHyperParameterTuningJob")
    return iam.PolicyStatement(
        sid="DescribeOurTuningJobs",
        actions=actions,
        resources=[f"arn:{stack.partition}:sagemaker:{stack.region}:{stack.account}:{TUNING_JOB}/*"],
        conditions=_ours(stack_key),
    )


def stop_tuning_job_statement(stack: Stack, stack_key: str) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid="StopOurTuningJobs",
        actions=["sagemaker:StopHyperParameterTuningJob"],
        resources=[f"arn:{stack.partition}:sagemaker:{stack.region}:{stack.account}:{TUNING_JOB}/*"],
        conditions=_ours(stack_key),
    )


def pass_open_roles_statement(stack: Stack, stack_name: str) -> iam.PolicyStatement:
    """PassRole on the open studies' execution roles (one IAM path), only to SageMaker. Guarded studies'
    roles are under another path: only each study's launcher role may pass its own."""
    return iam.PolicyStatement(
        sid="PassOpenStudyRolesToSageMaker",
        actions=["iam:PassRole"],
        resources=[f"{role_arn_base(stack, stack_name)}{OPEN}/*"],
        conditions={"StringEquals": {"iam:PassedToService": SAGEMAKER}},
    )


def assume_launchers_statement(stack: Stack, stack_name: str) -> iam.PolicyStatement:
    """Assume a guarded study's launcher role (each trusts the launch function's role only)."""
    return iam.PolicyStatement(
        sid="AssumeGuardedStudyLaunchers",
        actions=["sts:AssumeRole"],
        resources=[f"{role_arn_base(stack, stack_name)}{LAUNCH}/*"],
    )


def model_package_arns(stack: Stack, groups: Iterable[str]) -> list[str]:
    """Each group and its versions (`model-package/<group>/<n>`)."""
    base = f"arn:{stack.partition}:sagemaker:{stack.region}:{stack.account}"
    return [arn for g in sorted(set(groups))
            for arn in (f"{base}:model-package-group/{g}", f"{base}:model-package/{g}/*")]


def training_job_arns(stack: Stack, prefixes: Iterable[str]) -> list[str]:
    return [f"arn:{stack.partition}:sagemaker:{stack.region}:{stack.account}:training-job/{p}*" for p in prefixes]


def promote_statements(stack: Stack, scope: PromoteScope, artifacts_bucket_arn: str,
                       stack_key: str) -> list[iam.PolicyStatement]:
    """Register versions in the groups reviewed specs name; describe only this stack's training jobs (they carry
    their tuning job's tags) and read only model artifacts in the artifacts bucket. ListModelPackages has no
    resource-level permission. The size does not grow with the studies, only with the distinct groups."""
    return [
        iam.PolicyStatement(sid="RegisterModelPackagesInSpecGroups",
                            actions=["sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage"],
                            resources=model_package_arns(stack, scope.groups)),
        iam.PolicyStatement(sid="ListModelPackages", actions=["sagemaker:ListModelPackages"], resources=["*"]),
        iam.PolicyStatement(sid="DescribeOurTrainingJobs", actions=["sagemaker:DescribeTrainingJob"],
                            resources=training_job_arns(stack, [""]), conditions=_ours(stack_key)),
        iam.PolicyStatement(sid="ReadModelArtifacts", actions=["s3:GetObject"],
                            resources=[f"{artifacts_bucket_arn}/training/*"]),
    ]


def registry_statement(table_arn: str, actions: Sequence[str]) -> iam.PolicyStatement:
    """The item operations a handler makes on the registry, on the table and its indexes (never Scan)."""
    return iam.PolicyStatement(
        sid="UseRegistry",
        actions=sorted(actions),
        resources=[table_arn, f"{table_arn}/index/*"],
    )


def read_specs_statement(bucket: s3.IBucket, prefix: str) -> iam.PolicyStatement:
    """Read spec objects (the version a run started from) under the configs prefix."""
    # Runs always name the version (S3 events carry it; the registry keeps it), so GetObjectVersion only.
    return iam.PolicyStatement(sid="ReadSpecVersions", actions=["s3:GetObjectVersion"],
                               resources=[bucket.arn_for_objects(f"{prefix}*")])


def read_reports_statement(bucket: s3.IBucket, prefix: str) -> iam.PolicyStatement:
    """Read report objects under the reports prefix (Promote adds its verdict to the last round's)."""
    return iam.PolicyStatement(sid="ReadReports", actions=["s3:GetObject"],
                               resources=[bucket.arn_for_objects(f"{prefix}*")])


def read_deployed_statement(bucket: s3.IBucket, key: str, *, latest: bool) -> iam.PolicyStatement:
    """Read the deployed specs' manifest: a given version (what a run recorded) and, with `latest`, the
    current one (Prepare: a schedule's spec, an upload's deployed code)."""
    return iam.PolicyStatement(sid="ReadDeployedSpecs",
                               actions=["s3:GetObjectVersion", *(["s3:GetObject"] if latest else [])],
                               resources=[bucket.arn_for_objects(key)])


def write_reports_statement(bucket: s3.IBucket, prefix: str) -> iam.PolicyStatement:
    """Write report objects under the reports prefix (nothing else in the artifacts bucket)."""
    return iam.PolicyStatement(sid="WriteReports", actions=["s3:PutObject"],
                               resources=[bucket.arn_for_objects(f"{prefix}*")])


def task_response_statement(state_machine_arn: str, *, failure: bool = True) -> iam.PolicyStatement:
    """Resume a waiting task of our state machine (a Launch whose job ended, a round admitted from the
    queue), and with `failure`, fail it."""
    return iam.PolicyStatement(
        sid="ResumeWaitingTasks",
        actions=["states:SendTaskSuccess", *(["states:SendTaskFailure"] if failure else [])],
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


# --- a guarded study's launcher role ------------------------------------------------------------

def launcher_statements(stack: Stack, study: StudyAccess, *, stack_key: str,
                        execution_role_arn: str) -> list[iam.PolicyStatement]:
    """Create this study's jobs (tagged ours), passing this study's execution role only; Denies make the
    request carry the reviewed spec's controls."""
    jobs = tuning_job_arns(stack, [study.job_prefix])
    return [
        iam.PolicyStatement(sid="CreateThisStudysJobs",
                            actions=["sagemaker:CreateHyperParameterTuningJob", "sagemaker:AddTags"],
                            resources=jobs, conditions=_ours(stack_key, "aws:RequestTag")),
        # Adoption describes the study's job; a warm start's parents may be any of this stack's jobs.
        describe_jobs_statement(stack, stack_key),
        iam.PolicyStatement(sid="PassThisStudysRole", actions=["iam:PassRole"], resources=[execution_role_arn],
                            conditions={"StringEquals": {"iam:PassedToService": SAGEMAKER}}),
        *controls_deny_statements(stack, study),
    ]


def controls_deny_statements(stack: Stack, study: StudyAccess) -> list[iam.PolicyStatement]:
    """Deny creating the study's job without the KMS key, VPC, isolation or traffic encryption its spec sets.

    Denies, because an allow with a condition would be overridden by any broader allow."""
    out: list[iam.PolicyStatement] = []
    create = ["sagemaker:CreateHyperParameterTuningJob"]
    arns = tuning_job_arns(stack, [study.job_prefix])

    def deny(sid: str, condition: dict[str, dict[str, object]]) -> None:
        out.append(iam.PolicyStatement(sid=sid, effect=iam.Effect.DENY, actions=create, resources=arns,
                                       conditions=condition))

    if study.kms_key:
        for cond_key in ("sagemaker:VolumeKmsKey", "sagemaker:OutputKmsKey"):
            conditions: dict[str, dict[str, object]] = {"StringNotEquals": {cond_key: study.kms_key}}
            if cond_key == "sagemaker:VolumeKmsKey" and study.local_storage_types:
                # SageMaker refuses a volume key on instances with local NVMe storage (spec.instances), so these
                # jobs carry none: only requests on the spec's own instance types may leave it out.
                conditions["ForAnyValue:StringNotEquals"] = {"sagemaker:InstanceTypes":
                                                             list(study.local_storage_types)}
            deny(f"RequireSpecKmsKey{cond_key.split(':')[1]}", conditions)
    if study.subnets:
        deny("RequireSpecVpc", {"Null": {"sagemaker:VpcSubnets": "true"}})
        deny("RequireSpecSubnets", {"ForAnyValue:StringNotEquals": {"sagemaker:VpcSubnets": list(study.subnets)}})
        if study.security_groups:
            deny("RequireSpecSecurityGroups", {"ForAnyValue:StringNotEquals": {
                "sagemaker:VpcSecurityGroupIds": list(study.security_groups)}})
    # A Bool condition on an absent key does not match, so each flag also needs a Null deny: a request that
    # leaves the flag out is refused as well as one that sets it false.
    for sid, wanted, cond_key in (("RequireNetworkIsolation", study.isolation, "sagemaker:NetworkIsolation"),
                                  ("RequireTrafficEncryption", study.encrypted_traffic,
                                   "sagemaker:InterContainerTrafficEncryption")):
        if wanted:
            deny(sid, {"Bool": {cond_key: "false"}})
            deny(f"{sid}Set", {"Null": {cond_key: "true"}})
    return out


# --- a study's execution role ---------------------------------------------------------------

def execution_statements(stack: Stack, study: StudyAccess, *, artifacts_bucket_arn: str, stack_key_arn: str,
                         registry_account: RegistryAccount) -> list[iam.PolicyStatement]:
    """Everything one study's training jobs need, and only for that study."""
    return [
        *read_data_statements(stack, [*study.data, *study.checkpoints]),
        *write_output_statements(stack, study, artifacts_bucket_arn),
        *read_code_statements(study, artifacts_bucket_arn),
        *checkpoint_statements(stack, study),
        *mount_file_systems_statements(stack, study),
        *pull_images_statements(stack, study, registry_account),
        training_logs_statement(stack, study),
        iam.PolicyStatement(
            sid="PutTrainingMetrics", actions=["cloudwatch:PutMetricData"], resources=["*"],
            conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
        ),
        stack_key_statement(stack, stack_key_arn),
        *spec_key_statements(stack, study),
        *vpc_statements(stack, study),
    ]


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


def write_output_statements(stack: Stack, study: StudyAccess, artifacts_bucket_arn: str) -> list[iam.PolicyStatement]:
    """The study's own output: its spec's `output_uri`, else `training/<study>/` of the artifacts bucket."""
    if study.output is not None:
        objects = f"{_bucket_arn(stack, study.output.bucket)}/{study.output.prefix}*"
        return [iam.PolicyStatement(sid="WriteOwnOutput", actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                                    resources=[objects])]
    return [
        iam.PolicyStatement(sid="WriteOwnArtifacts", actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                            resources=[f"{artifacts_bucket_arn}/{study.artifacts_prefix}*"]),
        iam.PolicyStatement(sid="ListOwnArtifacts", actions=["s3:ListBucket"], resources=[artifacts_bucket_arn],
                            conditions={"StringLike": {"s3:prefix": [f"{study.artifacts_prefix}*"]}}),
    ]


def read_code_statements(study: StudyAccess, artifacts_bucket_arn: str) -> list[iam.PolicyStatement]:
    """A source_dir study reads its own code archive, the one object the stack deployed for this version."""
    if study.code_key is None:
        return []
    return [iam.PolicyStatement(sid="ReadOwnCode", actions=["s3:GetObject"],
                                resources=[f"{artifacts_bucket_arn}/{study.code_key}"])]


def checkpoint_statements(stack: Stack, study: StudyAccess) -> list[iam.PolicyStatement]:
    """A checkpoint location is written during training (and read back, by `read_data_statements`)."""
    if not study.checkpoints:
        return []
    objects = [f"{_bucket_arn(stack, c.bucket)}/{c.prefix}*" for c in study.checkpoints]
    return [iam.PolicyStatement(sid="WriteOwnCheckpoints", actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                                resources=objects)]


def mount_file_systems_statements(stack: Stack, study: StudyAccess) -> list[iam.PolicyStatement]:
    """Mount the EFS file systems the study reads (and writes, for `rw` channels) when their policy requires IAM
    authorization; FSx for Lustre has no IAM mount permission (the VPC's security groups govern it)."""
    arn = f"arn:{stack.partition}:elasticfilesystem:{stack.region}:{stack.account}:file-system/"
    efs = [(fs_id, mode) for kind, fs_id, mode in study.file_systems if kind == "efs"]
    out = []
    if efs:
        out.append(iam.PolicyStatement(sid="MountOwnFileSystems", actions=["elasticfilesystem:ClientMount"],
                                       resources=sorted({arn + fs_id for fs_id, _ in efs})))
    writable = sorted({arn + fs_id for fs_id, mode in efs if mode == "rw"})
    if writable:
        out.append(iam.PolicyStatement(sid="WriteOwnFileSystems", actions=["elasticfilesystem:ClientWrite"],
                                       resources=writable))
    return out


def pull_images_statements(stack: Stack, study: StudyAccess,
                           registry_account: RegistryAccount) -> list[iam.PolicyStatement]:
    """Pull the study's custom image (its exact account, region and repository) or its built-in algorithm's
    repository in AWS's registry account for the deploying region (never any account)."""
    repos = [f"arn:{stack.partition}:ecr:{i.region}:{i.account}:repository/{i.repository}"
             for i in study.custom_images]
    repos += [f"arn:{stack.partition}:ecr:{stack.region}:{registry_account(reg)}:repository/{repo}"
              for reg, repo in study.builtins]
    out = [iam.PolicyStatement(sid="EcrLogin", actions=["ecr:GetAuthorizationToken"], resources=["*"])]
    if repos:
        out.append(iam.PolicyStatement(
            sid="PullImages",
            actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
            resources=repos,
        ))
    return out


def training_logs_statement(stack: Stack, study: StudyAccess) -> iam.PolicyStatement:
    """Training log streams are named after the training job, which starts with the study's job prefix."""
    group = f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:{TRAINING_LOG_GROUP}"
    return iam.PolicyStatement(
        sid="WriteTrainingLogs",
        actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
        resources=[group, f"{group}:log-stream:{study.job_prefix}*"],
    )


def stack_key_statement(stack: Stack, key_arn: str) -> iam.PolicyStatement:
    """The stack's key encrypts the artifacts bucket (and outputs by default): usable through S3 and
    SageMaker only, never directly."""
    return iam.PolicyStatement(
        sid="UseStackKeyViaS3AndSageMaker",
        actions=["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
        resources=[key_arn],
        conditions={"StringEquals": {"kms:ViaService": [f"s3.{stack.region}.amazonaws.com",
                                                        f"sagemaker.{stack.region}.amazonaws.com"]}},
    )


def spec_key_arn(stack: Stack, key: str) -> tuple[str, str | None]:
    """(key ARN pattern, alias name or None) of a spec's `kms_key_id`. An ARN keeps its own account and
    region (an alias ARN of another account is never rescoped to ours)."""
    if key.startswith("arn:"):
        parts = key.split(":", 5)
        region, account, resource = parts[3], parts[4], parts[5]
        if resource.startswith("alias/"):
            return f"arn:{stack.partition}:kms:{region}:{account}:key/*", resource
        return key, None
    if key.startswith("alias/"):
        return f"arn:{stack.partition}:kms:{stack.region}:{stack.account}:key/*", key
    return f"arn:{stack.partition}:kms:{stack.region}:{stack.account}:key/{key}", None


def spec_key_statements(stack: Stack, study: StudyAccess) -> list[iam.PolicyStatement]:
    """Use the study's own KMS key for volumes and outputs; grants only for AWS resources (SageMaker's)."""
    if not study.kms_key:
        return []
    arn, alias = spec_key_arn(stack, study.kms_key)
    alias_cond: dict[str, dict[str, object]] = (
        {"ForAnyValue:StringEquals": {"kms:ResourceAliases": [alias]}} if alias else {})
    return [
        iam.PolicyStatement(sid="UseSpecKey", resources=[arn], conditions=alias_cond or None,
                            actions=["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                                     "kms:DescribeKey"]),
        iam.PolicyStatement(sid="GrantSpecKeyToAwsResources", actions=["kms:CreateGrant"], resources=[arn],
                            conditions={**alias_cond, "Bool": {"kms:GrantIsForAWSResource": "true"}}),
    ]


def vpc_statements(stack: Stack, study: StudyAccess) -> list[iam.PolicyStatement]:
    """Training in the study's subnets: ENIs in those subnets with those security groups."""
    if not study.subnets:
        return []
    base = f"arn:{stack.partition}:ec2:{stack.region}:{stack.account}"
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
            resources=[f"{base}:network-interface/*", *[f"{base}:subnet/{s}" for s in study.subnets],
                       *[f"{base}:security-group/{g}" for g in study.security_groups]],
        ),
        iam.PolicyStatement(
            sid="ManageTrainingInterfaces",
            actions=["ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface",
                     "ec2:DeleteNetworkInterfacePermission"],
            resources=[f"{base}:network-interface/*"],
            conditions={"ArnEquals": {"ec2:Subnet": [f"{base}:subnet/{s}" for s in study.subnets]}},
        ),
    ]

