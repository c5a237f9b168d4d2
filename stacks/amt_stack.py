"""The stack: composes the constructs and holds the grants between them (nothing is built here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Aws, CfnOutput, CfnRule, CfnRuleAssertion, Fn, Stack, Token
from constructs import Construct

from amt_conductor.cdk import ids
from amt_conductor.cdk import roles as policy
from amt_conductor.cdk.asset import lambda_code_dir
from amt_conductor.cdk.config import AppSettings
from amt_conductor.cdk.dashboard import Dashboard
from amt_conductor.cdk.data_triggers import list_prefixes_statements
from amt_conductor.cdk.functions import Functions
from amt_conductor.cdk.model_registry import ModelRegistry
from amt_conductor.cdk.nag import allow_wildcards
from amt_conductor.cdk.notifications import Notifications
from amt_conductor.cdk.registry import Registry
from amt_conductor.cdk.storage import Storage
from amt_conductor.cdk.study_roles import StudyRoles
from amt_conductor.cdk.study_scope import promote_scope, studies_access
from amt_conductor.cdk.triggers import Triggers
from amt_conductor.cdk.workflow import Workflow
from amt_conductor.contract import (
    DEFAULT_QUIET_MINUTES,
    DEFAULT_REPORTS_PREFIX,
    DEPLOYED_SPECS_KEY,
    METRICS_NAMESPACE,
    EnvKeys,
)
from amt_conductor.spec.access import ROLE_PATH_ROOT, stack_key
from amt_conductor.spec.model import Spec

SERVICE_NAME = "amt-conductor"

# Wildcards the grants between constructs produce; anything else is a cdk-nag finding that fails the synth.
GRANT_WILDCARDS = [
    (r"Action::kms:(GenerateDataKey|ReEncrypt)\*",
     "Data-key variants (GenerateDataKey*, ReEncrypt*) granted by CDK, on our one CMK only."),
    (r"Resource::<RegistryTable\w+\.Arn>/index/\*",
     "The registry's own indexes (the sparse `inflight` index) for queries."),
    (r"Resource::<StorageConfigsBucket\w+\.Arn>/configs/\*", "Spec objects under the configs prefix."),
    (r"Resource::<StorageArtifactsBucket\w+\.Arn>/reports/\*", "Report objects under the reports prefix."),
    (r"Action::s3:(GetObject|GetBucket|List|Abort)\*",
     "CDK's read and put grant groups (Abort* = abort its own multipart uploads), on the configs or reports "
     "prefix only."),
    (r"Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:hyper-parameter-tuning-job/\*",
     "Tuning jobs tagged with this stack's key only (aws:RequestTag/aws:ResourceTag amt:stack conditions): "
     "job names are chosen per study and round at run time, and a list of study prefixes would grow with "
     "the studies past IAM's policy size limits."),
    (r"Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/amt/[A-Za-z0-9-]+/open/\*",
     "PassRole (only to SageMaker) on the open studies' execution roles, one IAM path: each study's role "
     "is named from its study at run time (amt_conductor.spec.access); guarded studies' roles are under another path."),
    (r"Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/amt/[A-Za-z0-9-]+/launch/\*",
     "AssumeRole on the guarded studies' launcher roles, one IAM path (each trusts the launch role only)."),
]


# What the Promote function's statements (roles.promote_statements) draw, acknowledged on its role only.
PROMOTE_WILDCARDS = [
    (r"Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:training-job/\*",
     "Training jobs tagged with this stack's key only (aws:ResourceTag amt:stack; training jobs carry their "
     "tuning job's tags): the best job's model artifact and image."),
    (r"Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:"
     r"model-package/[a-zA-Z0-9-]+/\*",
     "Versions of a model package group a reviewed spec names; SageMaker numbers them at registration."),
    (r"Resource::\*", "sagemaker:ListModelPackages has no resource-level permission (Service Authorization "
                      "Reference); the Promote function lists only the groups its specs name."),
    (r"Resource::<StorageArtifactsBucket\w+\.Arn>/training/\*",
     "Model artifacts of the studies' training jobs (`training/<study>/<job>/output/model.tar.gz`)."),
]

# Registry operations each handler makes (DeleteItem: the queue entries of admitted or stopped rounds;
# ConditionCheck is not used: capacity transactions are Put, Update and Delete of single items).
_READ = ("dynamodb:GetItem", "dynamodb:Query")
_CAPACITY = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
REGISTRY_ACTIONS: dict[str, tuple[str, ...]] = {
    "start": ("dynamodb:GetItem", "dynamodb:UpdateItem"),  # triggers.new_data: note uploads, claim a run
    "prepare": (*_READ, "dynamodb:PutItem", "dynamodb:UpdateItem"),
    "admit": (*_READ, *_CAPACITY),
    "launch": ("dynamodb:UpdateItem",),
    "resume": (*_READ, *_CAPACITY),
    "report": (*_READ, "dynamodb:UpdateItem"),
    "promote": ("dynamodb:GetItem", "dynamodb:UpdateItem"),
    "record_failure": ("dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"),
    "reconcile": (*_READ, *_CAPACITY),
    "stop": (*_READ, *_CAPACITY),
}


class AmtStack(Stack):
    """Everything one deployment of amt-conductor needs; `specs` are the validated specs of configs/."""

    def __init__(self, scope: Construct, id: str, *, settings: AppSettings, specs: Sequence[Spec],
                 **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        env = settings.env
        key_of_stack = stack_key(self.stack_name)
        promoting = promote_scope(specs)

        storage = Storage(self, ids.STORAGE, env=env, configs_dir=settings.configs_dir, stack_key=key_of_stack)
        key = storage.key
        registry = Registry(self, ids.REGISTRY, key=key)
        notifications = Notifications(self, ids.NOTIFICATIONS, key=key, emails=settings.notify_emails,
                                      chat_webhook_secret=settings.chat_webhook_secret)

        environment = {
            EnvKeys.REGISTRY_TABLE: registry.table.table_name,
            EnvKeys.ARTIFACTS_BUCKET: storage.artifacts.bucket_name,
            EnvKeys.CONFIGS_BUCKET: storage.configs.bucket_name,
            EnvKeys.CONFIGS_PREFIX: storage.configs_prefix,
            EnvKeys.TOPIC_ARN: notifications.topic.topic_arn,
            EnvKeys.ROLE_ARN_BASE: policy.role_arn_base(self, self.stack_name),
            EnvKeys.STACK_KEY: key_of_stack,
            EnvKeys.KMS_KEY_ARN: key.key_arn,
            EnvKeys.REPORTS_PREFIX: DEFAULT_REPORTS_PREFIX,
            EnvKeys.QUIET_MINUTES: str(DEFAULT_QUIET_MINUTES),
            EnvKeys.STUDY_PREFIXES: ",".join(settings.study_prefixes),
            EnvKeys.MODEL_PACKAGE_GROUPS: ",".join(promoting.groups),
            EnvKeys.QUOTAS: settings.quotas.to_env(),
            EnvKeys.SERVICE_NAME: SERVICE_NAME,
            EnvKeys.METRICS_NAMESPACE: METRICS_NAMESPACE,
        }
        functions = Functions(self, ids.FUNCTIONS, code_dir=lambda_code_dir(), layer_dir=settings.layer_dir,
                              key=key, env=env, environment=environment)
        fn, role = functions.fn, functions.roles

        workflow = Workflow(self, ids.WORKFLOW, functions={h: fn[h] for h in ids.WORKFLOW_HANDLERS},
                            topic=notifications.topic, key=key, env=env,
                            queue_timeout_hours=settings.queue_timeout_hours)
        sm_arn = workflow.state_machine.state_machine_arn
        # Only functions outside the workflow may know its ARN (the workflow references the others: a cycle).
        for handler in ids.HANDLERS:
            if handler not in ids.WORKFLOW_HANDLERS:
                fn[handler].add_environment(EnvKeys.STATE_MACHINE_ARN, sm_arn)

        triggers = Triggers(self, ids.TRIGGERS, functions=dict(fn), configs=storage.configs,
                            configs_prefix=storage.configs_prefix, state_machine_arn=sm_arn,
                            stack_key=key_of_stack, key=key, env=env, reconcile_minutes=settings.reconcile_minutes)
        # triggers.new_data: the check lists the prefixes of a bucket that sends no events, if the context allows.
        for statement in list_prefixes_statements(self, settings.data_prefixes):
            role["start"].add_to_policy(statement)
        # Each study's execution role (and a guarded study's launcher) and schedule, in nested stacks.
        studies = StudyRoles(
            self, ids.ROLES,
            studies=studies_access(specs, study_prefixes=settings.study_prefixes,
                                   data_prefixes=settings.data_prefixes),
            stack_name=self.stack_name, stack_key=key_of_stack, artifacts_bucket_arn=storage.artifacts.bucket_arn,
            key_arn=key.key_arn, launch_role_arn=role["launch"].role_arn,
            start_function_arn=fn["start"].function_arn, dead_letter_arn=triggers.dead_letters.queue_arn)

        # --- grants between constructs: each function gets what its handler does, nothing more ---
        # (tests/unit/test_role_actions.py checks each role against the calls its handler makes.)
        for handler in ids.HANDLERS:
            if REGISTRY_ACTIONS[handler]:
                role[handler].add_to_policy(policy.registry_statement(registry.table.table_arn,
                                                                      REGISTRY_ACTIONS[handler]))
                key.grant_encrypt_decrypt(role[handler])  # registry items (and topic, buckets) use our CMK
        role["prepare"].add_to_policy(policy.read_specs_statement(storage.configs, storage.configs_prefix))
        role["report"].add_to_policy(policy.read_specs_statement(storage.configs, storage.configs_prefix))
        for handler in ("prepare", "report"):
            role[handler].add_to_policy(policy.read_deployed_statement(storage.configs, DEPLOYED_SPECS_KEY,
                                                                       latest=handler == "prepare"))
        role["report"].add_to_policy(policy.write_reports_statement(storage.artifacts, DEFAULT_REPORTS_PREFIX))
        role["start"].add_to_policy(policy.start_execution_statement(sm_arn))
        # Outside the workflow, so their roles may name it: they send task tokens (resume, and wake queued rounds).
        for handler in ("resume", "reconcile", "stop"):
            role[handler].add_to_policy(policy.task_response_statement(
                sm_arn, failure=handler != "stop"))
        # Promote loads the spec version, reads and rewrites the last round's report, and registers the model.
        role["promote"].add_to_policy(policy.read_specs_statement(storage.configs, storage.configs_prefix))
        role["promote"].add_to_policy(policy.read_reports_statement(storage.artifacts, DEFAULT_REPORTS_PREFIX))
        role["promote"].add_to_policy(policy.write_reports_statement(storage.artifacts, DEFAULT_REPORTS_PREFIX))
        model_registry = ModelRegistry(self, ids.MODEL_REGISTRY, groups=promoting.groups,
                                       existing=settings.existing_model_package_groups)
        if promoting.groups:
            for statement in policy.promote_statements(self, promoting, storage.artifacts.bucket_arn, key_of_stack):
                role["promote"].add_to_policy(statement)
            allow_wildcards(role["promote"], PROMOTE_WILDCARDS)
        notifications.topic.grant_publish(role["record_failure"])
        notifications.topic.grant_publish(workflow.state_machine)  # Notify (and the CMK behind the topic)
        # Jobs are scoped by the stack's tag and study roles by their IAM path: these statements are the
        # same for 1 study or 1,000 (issue 10).
        role["launch"].add_to_policy(policy.create_tuning_jobs_statement(self, key_of_stack))
        role["launch"].add_to_policy(policy.pass_open_roles_statement(self, self.stack_name))
        role["launch"].add_to_policy(policy.assume_launchers_statement(self, self.stack_name))
        # launch adopts an existing job; resume/reconcile confirm status; report reads results and lists the
        # training jobs.
        for handler in ("launch", "resume", "reconcile"):
            role[handler].add_to_policy(policy.describe_jobs_statement(self, key_of_stack))
        role["report"].add_to_policy(policy.describe_jobs_statement(self, key_of_stack, list_training_jobs=True))
        # record_failure stops a job whose wait timed out (the execution goes on to fail, not to abort).
        for handler in ("stop", "record_failure"):
            role[handler].add_to_policy(policy.stop_tuning_job_statement(self, key_of_stack))
        for handler in ids.HANDLERS:
            allow_wildcards(role[handler], GRANT_WILDCARDS)
        allow_wildcards(workflow.state_machine, [
            (r"Resource::<Functions\w+Function[0-9A-F]{8}\.Arn>:\*",
             "CDK grants lambda:InvokeFunction on `<function arn>:*` (the versions of our four workflow functions)."),
            (r"Resource::\*", "X-Ray and CloudWatch Logs vended log delivery have no resource-level permissions."),
            (r"Action::kms:GenerateDataKey\*", "Publishing to the encrypted topic needs data keys of our one CMK."),
        ])
        dashboard = Dashboard(self, ids.DASHBOARD, state_machine=workflow.state_machine, functions=dict(fn),
                              dead_letters=triggers.dead_letters, topic=notifications.topic, env=env,
                              service_name=SERVICE_NAME)

        self.functions = functions
        self.workflow = workflow
        self.storage = storage
        self.registry = registry
        self.notifications = notifications
        self.studies = studies
        self.model_registry = model_registry
        self._require_key_accounts(specs, settings.kms_key_accounts)

        for out_id, value in (
            (ids.Outputs.CONFIGS_BUCKET, storage.configs.bucket_name),
            (ids.Outputs.CONFIGS_PREFIX, storage.configs_prefix),
            (ids.Outputs.ARTIFACTS_BUCKET, storage.artifacts.bucket_name),
            (ids.Outputs.REGISTRY_TABLE, registry.table.table_name),
            (ids.Outputs.STATE_MACHINE_ARN, sm_arn),
            (ids.Outputs.TOPIC_ARN, notifications.topic.topic_arn),
            (ids.Outputs.EXECUTION_ROLES_PATH, f"/{ROLE_PATH_ROOT}/{self.stack_name}/"),
            (ids.Outputs.DASHBOARD_NAME, dashboard.dashboard.dashboard_name),
        ):
            CfnOutput(self, out_id, value=value)

    def _require_key_accounts(self, specs: Sequence[Spec], allowed: Sequence[str]) -> None:
        """A spec's KMS key in another account needs the amt:kmsKeyAccounts allow-list. With an explicit
        account app.py refuses it at synth; an environment-agnostic template asserts it at deploy time."""
        if not Token.is_unresolved(self.account):
            return
        accounts = sorted({(s.kms_key_id or "").split(":")[4] for s in specs
                           if (s.kms_key_id or "").startswith("arn:")} - set(allowed))
        if accounts:
            CfnRule(self, "SpecKeysInThisAccount", assertions=[CfnRuleAssertion(
                assert_=Fn.condition_equals(Aws.ACCOUNT_ID, account),
                assert_description=f"A spec's KMS key is in account {account}: deploy there, or allow it with "
                                   "the amt:kmsKeyAccounts context.") for account in accounts])


__all__ = ["AmtStack"]
