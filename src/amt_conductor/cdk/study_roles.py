"""Per-study resources: each study's execution role (and a guarded study's launcher role) and its
schedule, in nested stacks of `CHUNK` studies each, so no template nears CloudFormation's limits
however many studies a deployment has (the parent stack holds one nested-stack resource per chunk).

Role names and paths come from `amt_conductor.spec.access`: the launch function computes a study's role ARN at run
time, so nothing in the functions' policies or environments grows with the number of studies.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from aws_cdk import CfnMapping, CfnParameter, NestedStack, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from constructs import Construct

from amt_conductor.cdk import roles as policy
from amt_conductor.cdk.nag import allow_wildcards
from amt_conductor.cdk.study_scope import StudyAccess
from amt_conductor.spec.access import GUARDED, LAUNCH, OPEN, role_name, role_path
from amt_conductor.spec.images import registry_accounts

# Studies per nested stack: at the worst case measured (a guarded, scheduled study with several
# channels) a chunk stays far under 1 MB and 500 resources (tests/infra/test_scale.py).
CHUNK = 50
SCHEDULE_RULE_PREFIX = "amt-"


def schedule_rule_prefix(stack_key: str) -> str:
    """Every rule of the stack is named `amt-<key>-...`: one Lambda permission and one queue statement
    (an ArnLike on this prefix) cover all schedules."""
    return f"{SCHEDULE_RULE_PREFIX}{stack_key}-"


class StudyRoles(Construct):
    """Nested stacks `Studies<n>` holding the roles and schedules of `CHUNK` studies each."""

    def __init__(self, scope: Construct, id: str, *, studies: Sequence[StudyAccess], stack_name: str,
                 stack_key: str, artifacts_bucket_arn: str, key_arn: str, launch_role_arn: str,
                 start_function_arn: str, dead_letter_arn: str) -> None:
        super().__init__(scope, id)
        self.chunks: list[NestedStack] = []
        # What a chunk needs from the parent comes in as named parameters (not CDK's generated
        # `referenceto...` ones), so its policies read `<ArtifactsBucketArn>/training/<study>/*`.
        inputs = {"ArtifactsBucketArn": artifacts_bucket_arn, "StackKeyArn": key_arn,
                  "LaunchRoleArn": launch_role_arn, "StartFunctionArn": start_function_arn,
                  "DeadLetterQueueArn": dead_letter_arn}
        for n, start in enumerate(range(0, len(studies), CHUNK)):
            chunk = NestedStack(self, f"Studies{n}", parameters=inputs,
                                description=f"amt-conductor: roles and schedules of studies "
                                            f"{start + 1}-{min(start + CHUNK, len(studies))}")
            p = {name: CfnParameter(chunk, name, type="String").value_as_string for name in inputs}
            mappings: dict[int, CfnMapping] = {}

            def registry_account(index: int, chunk: NestedStack = chunk,
                                 mappings: dict[int, CfnMapping] = mappings) -> str:
                if index not in mappings:
                    mappings[index] = CfnMapping(chunk, f"ImageRegistry{index}", lazy=True, mapping={
                        region: {"account": account} for region, account in registry_accounts(index).items()})
                return mappings[index].find_in_map(Stack.of(chunk).region, "account")

            for study in studies[start:start + CHUNK]:
                StudyRole(chunk, study, stack_name=stack_name, stack_key=stack_key,
                          artifacts_bucket_arn=p["ArtifactsBucketArn"], key_arn=p["StackKeyArn"],
                          launch_role_arn=p["LaunchRoleArn"], registry_account=registry_account)
                if study.schedule:
                    schedule_rule(chunk, study, stack_key=stack_key, start_function_arn=p["StartFunctionArn"],
                                  dead_letter_arn=p["DeadLetterQueueArn"])
                if study.new_data:
                    from amt_conductor.cdk.data_triggers import data_rules

                    data_rules(chunk, study, rule_prefix=schedule_rule_prefix(stack_key),
                               start_function_arn=p["StartFunctionArn"], dead_letter_arn=p["DeadLetterQueueArn"])
            self.chunks.append(chunk)


class StudyRole(Construct):
    """One study's execution role (and launcher role when guarded), named as `amt_conductor.spec.access` computes."""

    def __init__(self, scope: Construct, study: StudyAccess, *, stack_name: str, stack_key: str,
                 artifacts_bucket_arn: str, key_arn: str, launch_role_arn: str,
                 registry_account: policy.RegistryAccount) -> None:
        super().__init__(scope, f"{'Prefix' if study.from_prefix else 'Study'}-{study.name}")
        stack = Stack.of(self)
        name = role_name(study.name, stack_key, stack.region)
        statements = policy.execution_statements(stack, study, artifacts_bucket_arn=artifacts_bucket_arn,
                                                 stack_key_arn=key_arn, registry_account=registry_account)
        self.execution_role = iam.Role(
            self, "ExecutionRole",
            role_name=name,
            path=role_path(stack_name, GUARDED if study.guarded else OPEN),
            # Confused-deputy guard: only SageMaker acting for this account may assume it. The condition
            # must sit on the one trust statement: a second, unconditional allow would void it.
            assumed_by=iam.ServicePrincipal(SAGEMAKER, conditions={
                "StringEquals": {"aws:SourceAccount": stack.account}}),
            inline_policies={"StudyAccess": iam.PolicyDocument(statements=statements)},
            description=f"amt-conductor: training jobs of {'uploaded studies under ' if study.from_prefix else ''}"
                        f"{study.name}",
        )
        allow_wildcards(self.execution_role, EXECUTION_WILDCARDS)
        self.launcher_role: iam.Role | None = None
        if study.guarded:
            self.launcher_role = iam.Role(
                self, "LauncherRole",
                role_name=name,
                path=role_path(stack_name, LAUNCH),
                assumed_by=iam.ArnPrincipal(launch_role_arn),
                inline_policies={"LaunchThisStudy": iam.PolicyDocument(statements=policy.launcher_statements(
                    stack, study, stack_key=stack_key, execution_role_arn=self.execution_role.role_arn))},
                description=f"amt-conductor: creates {study.name}'s tuning jobs with its spec's controls",
            )
            allow_wildcards(self.launcher_role, [
                (r"Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:"
                 r"hyper-parameter-tuning-job/[a-z0-9][a-z0-9-]*-r\*",
                 "This study's tuning jobs: names are <study>-r<round>-<hash>, chosen per round at run time."),
                (r"Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:"
                 r"hyper-parameter-tuning-job/\*",
                 "Describe only, of tuning jobs tagged with this stack's key (aws:ResourceTag condition): a warm "
                 "start's parents may be any of the stack's jobs."),
            ])


SAGEMAKER = policy.SAGEMAKER
EXECUTION_WILDCARDS = [
    (r"Resource::arn:<AWS::Partition>:s3:::[a-z0-9.-]+/[^*]*\*",
     "Objects under the data and output prefixes this study's spec (or amt:dataPrefixes) declares."),
    (r"Resource::<ArtifactsBucketArn>/training/[a-z0-9-]+/?\*",
     "Training outputs: SageMaker writes this study's training/<study>/... objects in the artifacts bucket."),
    (r"Resource::\*", "ecr:GetAuthorizationToken, cloudwatch:PutMetricData (limited to the /aws/sagemaker/ "
                      "namespaces) and EC2 Describe* have no resource-level permissions."),
    (r"Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/sagemaker/"
     r"TrainingJobs:log-stream:[a-z0-9-]+\*", "Training log streams are named after this study's jobs at run time."),
    (r"Action::kms:(GenerateDataKey|ReEncrypt)\*", "Data-key variants on this study's own KMS key."),
    (r"Resource::arn:<AWS::Partition>:kms:[a-z0-9<>:-]+:key/\*",
     "A key named by its alias: limited by kms:ResourceAliases to the alias the spec names."),
    (r"Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface/\*",
     "Training ENIs are created at run time in the study's subnets (ManageTrainingInterfaces is "
     "conditioned on those subnets)."),
]


def schedule_rule(scope: Construct, study: StudyAccess, *, stack_key: str, start_function_arn: str,
                  dead_letter_arn: str) -> events.CfnRule:
    """The study's `schedule` -> the start function, with the tick's time (one run per tick)."""
    template = json.dumps({"study": study.name, "trigger": "schedule", "time": "TIME"}).replace('"TIME"', "<time>")
    return events.CfnRule(
        scope, f"Schedule-{study.name}",
        name=f"{schedule_rule_prefix(stack_key)}schedule-{study.name}",
        schedule_expression=study.schedule,
        state="ENABLED",
        description=f"Scheduled round of study {study.name} ({study.schedule}).",
        targets=[events.CfnRule.TargetProperty(
            id="start", arn=start_function_arn,
            input_transformer=events.CfnRule.InputTransformerProperty(
                input_paths_map={"time": "$.time"}, input_template=template),
            dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=dead_letter_arn),
            retry_policy=events.CfnRule.RetryPolicyProperty(maximum_retry_attempts=8,
                                                            maximum_event_age_in_seconds=6 * 3600),
        )],
    )
