"""`TuningStudies`: amt-conductor as one construct (L3). This project's stack holds one; any CDK app can hold one
beside its own resources. It composes the constructs of this package and holds the grants between them."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from aws_cdk import Aws, CfnOutput, CfnRule, CfnRuleAssertion, Fn, RemovalPolicy, Stack, Token
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from amt_conductor.cdk import ids
from amt_conductor.cdk import roles as policy
from amt_conductor.cdk.asset import lambda_code_dir
from amt_conductor.cdk.config import FEATURE_FLAGS, EnvSettings, SynthError
from amt_conductor.cdk.dashboard import Dashboard
from amt_conductor.cdk.data_triggers import list_prefixes_statements
from amt_conductor.cdk.functions import Functions, Network
from amt_conductor.cdk.model_registry import ModelRegistry
from amt_conductor.cdk.nag import allow_wildcards, pattern_of
from amt_conductor.cdk.notifications import Notifications
from amt_conductor.cdk.props import check_artifacts_key, check_props, environment_settings
from amt_conductor.cdk.registry import Registry
from amt_conductor.cdk.specs import check_access, load_configs
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
    Quotas,
)
from amt_conductor.spec.access import ROLE_PATH_ROOT, stack_key
from amt_conductor.spec.model import Spec

SERVICE_NAME = "amt-conductor"

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


class TuningStudies(Construct):
    """Declarative SageMaker Automatic Model Tuning studies: the specs in a folder, validated at synth time, run
    as event-driven, warm-started rounds (docs/architecture.md). Every prop is keyword-only and optional but
    `specs`; a resource you pass is used as it is (never created, never changed), the rest is created here.

    What it creates: a KMS key, a configs bucket (specs; an upload starts a run), an artifacts bucket (training
    output, reports), an access-log bucket, a DynamoDB registry, an SNS topic, ten Lambda functions (each with
    its own role and log group), a Step Functions state machine, EventBridge rules, a dead-letter queue, one
    SageMaker execution role per study (nested stacks), a CloudWatch dashboard and alarms. Buckets, registry,
    key and model package groups are always retained when the stack is deleted.

    Args:
        specs: folder of spec files (`.yaml`, `.yml`, `.json`, searched recursively), loaded and validated at
            synth time (a bad spec raises SynthError naming file and field) and deployed to the configs bucket;
            None deploys no specs (studies are then only uploaded under `study_prefixes`).
        name: names this deployment, unique per account and region: the IAM path of its study roles
            (`/amt/<name>/`), the key of the `amt:stack` tag on its jobs and of its rule names, the dashboard's
            name. Default: the stack's name. Two TuningStudies in one stack need different names.
        environment: "dev" or "prod" (`amt_conductor.cdk.config.ENVIRONMENTS`) or your own `EnvSettings`: log
            retention, removal of what holds no data, object lifecycle days, alarm thresholds.
        encryption_key: your KMS key, instead of a new one, for the buckets, registry, topic, queue, log groups
            and function environments. Its policy must let IAM policies of the account grant its use (the
            default key policy does) and let CloudWatch Logs, CloudWatch alarms and EventBridge use it
            (`key_policy_statements`): added for you to a `kms.Key` this app defines; for an imported key,
            add them to its policy yourself (the synth warns with the statements).
        artifacts_bucket: your bucket for training output (`training/`), reports (`reports/`) and script-mode
            code (`code/`), instead of a new one. We grant our roles through their own policies only (no bucket
            policy is changed): if the bucket's policy denies by default, allow the roles under
            `/amt/<name>/` and this construct's function roles. Its default encryption must be SSE-S3 or
            `encryption_key` (a bucket with another known key is refused).
        topic: your SNS topic for run summaries, failures and alarms, instead of a new one (`notify_emails` and
            `chat_webhook_secret` are subscribed to it). Publishing is granted to the state machine and the
            record_failure function, and its key when CDK knows it (an `sns.Topic` of this app); an encrypted
            topic's key policy must allow `cloudwatch.amazonaws.com` (alarms), and for one imported by ARN
            grant those two roles `kms:GenerateDataKey*` and `kms:Decrypt` on its key.
        vpc: runs the ten handler functions in this VPC (they call AWS APIs only: give the subnets a NAT route
            or interface endpoints for SageMaker, Step Functions, SNS, STS, KMS and X-Ray, and gateway
            endpoints for S3 and DynamoDB). Training jobs do not use it: each study's network is its spec's
            `network:` section, enforced by its own roles. CDK's deploy-time copy of the specs stays outside.
        vpc_subnets: which subnets of `vpc` (default: its private subnets).
        security_groups: the functions' security groups (default: one allowing HTTPS out and nothing in).
        log_retention: retention of every log group, instead of the environment's.
        removal_policy: what happens to log groups and the dead-letter queue when the stack is deleted, instead
            of the environment's (data is always retained).
        study_prefixes: study-name prefixes under which specs may be uploaded with `amt submit` without a deploy;
            they run as that prefix's shared role, which reads only `data_prefixes`.
        data_prefixes: `s3://bucket/prefix/` locations the prefixes' studies may read (and the new-data check
            may list).
        quotas: the account's SageMaker limits admission keeps rounds within (`amt_conductor.contract.Quotas`).
        notify_emails: email addresses subscribed to the topic.
        chat_webhook_secret: `SECRET_NAME[:JSON_FIELD]` of a Secrets Manager secret holding a chat webhook URL,
            subscribed to the topic (resolved at deploy time, never in the template).
        reconcile_minutes: how often the reconciler looks for runs whose job ended without an event (1-1440).
        queue_timeout_hours: how long a round may wait for account capacity before its run fails.
        kms_key_accounts: accounts other than the stack's whose KMS keys specs may name (`kms_key_id`).
        existing_model_package_groups: `promote:` groups that exist already (referenced, not created).
        dependencies_layer: a Lambda layer providing PyYAML for python3.12, instead of the one staged at synth
            time from the installed PyYAML's pure-Python modules.
        outputs: add the stack outputs `amt submit`/`amt status --stack` read (ConfigsBucketName,
            StateMachineArn, ...; their keys are fixed, so one TuningStudies per stack may have them). Without
            them, the same values are this construct's attributes.
    """

    def __init__(self, scope: Construct, id: str, *, specs: str | os.PathLike[str] | None,
                 name: str | None = None, environment: str | EnvSettings = "dev",
                 encryption_key: kms.IKey | None = None, artifacts_bucket: s3.IBucket | None = None,
                 topic: sns.ITopic | None = None, vpc: ec2.IVpc | None = None,
                 vpc_subnets: ec2.SubnetSelection | None = None, security_groups: Sequence[ec2.ISecurityGroup] = (),
                 log_retention: logs.RetentionDays | None = None, removal_policy: RemovalPolicy | None = None,
                 study_prefixes: Sequence[str] = (), data_prefixes: Sequence[str] = (),
                 quotas: Quotas | None = None, notify_emails: Sequence[str] = (),
                 chat_webhook_secret: str | None = None, reconcile_minutes: int = 15,
                 queue_timeout_hours: int = 30 * 24, kms_key_accounts: Sequence[str] = (),
                 existing_model_package_groups: Sequence[str] = (),
                 dependencies_layer: lambda_.ILayerVersion | None = None, outputs: bool = True) -> None:
        super().__init__(scope, id)
        # The constructs below rely on these, whatever the app's cdk.json says (context is inherited).
        for flag, value in FEATURE_FLAGS.items():
            self.node.set_context(flag, value)
        stack = Stack.of(self)
        self.deployment_name = name or stack.stack_name
        self.has_outputs = outputs
        where = f"TuningStudies {self.node.path}"
        env = environment_settings(where, environment, log_retention, removal_policy)
        quotas = quotas or Quotas()
        check_props(where, name=self.deployment_name, vpc=vpc, vpc_subnets=vpc_subnets,
                    security_groups=security_groups, study_prefixes=study_prefixes, data_prefixes=data_prefixes,
                    notify_emails=notify_emails, chat_webhook_secret=chat_webhook_secret,
                    kms_key_accounts=kms_key_accounts, quotas=quotas, reconcile_minutes=reconcile_minutes,
                    queue_timeout_hours=queue_timeout_hours)
        self._check_unique(where)
        configs_dir = Path(specs) if specs is not None else None
        if configs_dir is not None and not configs_dir.is_dir():
            raise SynthError(f"{configs_dir}: specs: not a folder ({where})")
        spec_list = load_configs(configs_dir) if configs_dir is not None else []
        check_access(spec_list, study_prefixes=study_prefixes, kms_key_accounts=kms_key_accounts,
                     account=None if Token.is_unresolved(stack.account) else stack.account)

        self.stack_key = stack_key(self.deployment_name)
        self.specs: tuple[Spec, ...] = tuple(spec_list)
        key_of_stack = self.stack_key
        promoting = promote_scope(spec_list)
        self.service_name = f"{SERVICE_NAME}-{self.deployment_name}"

        storage = Storage(self, ids.STORAGE, env=env, configs_dir=configs_dir,
                          stack_key=key_of_stack, key=encryption_key, artifacts=artifacts_bucket)
        key = storage.key
        check_artifacts_key(where, stack, artifacts_bucket, key)
        registry = Registry(self, ids.REGISTRY, key=key)
        notifications = Notifications(self, ids.NOTIFICATIONS, key=key, emails=notify_emails,
                                      chat_webhook_secret=chat_webhook_secret, topic=topic)

        environment_vars = {
            EnvKeys.REGISTRY_TABLE: registry.table.table_name,
            EnvKeys.ARTIFACTS_BUCKET: storage.artifacts.bucket_name,
            EnvKeys.CONFIGS_BUCKET: storage.configs.bucket_name,
            EnvKeys.CONFIGS_PREFIX: storage.configs_prefix,
            EnvKeys.TOPIC_ARN: notifications.topic.topic_arn,
            EnvKeys.ROLE_ARN_BASE: policy.role_arn_base(stack, self.deployment_name),
            EnvKeys.STACK_KEY: key_of_stack,
            EnvKeys.KMS_KEY_ARN: key.key_arn,
            EnvKeys.REPORTS_PREFIX: DEFAULT_REPORTS_PREFIX,
            EnvKeys.QUIET_MINUTES: str(DEFAULT_QUIET_MINUTES),
            EnvKeys.STUDY_PREFIXES: ",".join(study_prefixes),
            EnvKeys.MODEL_PACKAGE_GROUPS: ",".join(promoting.groups),
            EnvKeys.QUOTAS: quotas.to_env(),
            EnvKeys.SERVICE_NAME: self.service_name,
            EnvKeys.METRICS_NAMESPACE: METRICS_NAMESPACE,
        }
        functions = Functions(self, ids.FUNCTIONS, code_dir=lambda_code_dir(), layer=dependencies_layer, key=key,
                              env=env, environment=environment_vars,
                              network=Network(vpc, vpc_subnets, tuple(security_groups)) if vpc else None)
        fn, role = functions.fn, functions.roles

        workflow = Workflow(self, ids.WORKFLOW, functions={h: fn[h] for h in ids.WORKFLOW_HANDLERS},
                            topic=notifications.topic, key=key, env=env, queue_timeout_hours=queue_timeout_hours)
        sm_arn = workflow.state_machine.state_machine_arn
        # Only functions outside the workflow may know its ARN (the workflow references the others: a cycle).
        for handler in ids.HANDLERS:
            if handler not in ids.WORKFLOW_HANDLERS:
                fn[handler].add_environment(EnvKeys.STATE_MACHINE_ARN, sm_arn)

        triggers = Triggers(self, ids.TRIGGERS, functions=dict(fn), configs=storage.configs,
                            configs_prefix=storage.configs_prefix, state_machine_arn=sm_arn,
                            stack_key=key_of_stack, key=key, env=env, reconcile_minutes=reconcile_minutes)
        # triggers.new_data: the check lists the prefixes of a bucket that sends no events, if the props allow.
        for statement in list_prefixes_statements(stack, data_prefixes):
            role["start"].add_to_policy(statement)
        # Each study's execution role (and a guarded study's launcher) and schedule, in nested stacks.
        studies = StudyRoles(
            self, ids.ROLES,
            studies=studies_access(spec_list, study_prefixes=study_prefixes, data_prefixes=data_prefixes),
            deployment=self.deployment_name, stack_key=key_of_stack,
            artifacts_bucket_arn=storage.artifacts.bucket_arn, key_arn=key.key_arn,
            launch_role_arn=role["launch"].role_arn, start_function_arn=fn["start"].function_arn,
            dead_letter_arn=triggers.dead_letters.queue_arn)

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
            role[handler].add_to_policy(policy.task_response_statement(sm_arn, failure=handler != "stop"))
        # Promote loads the spec version, reads and rewrites the last round's report, and registers the model.
        role["promote"].add_to_policy(policy.read_specs_statement(storage.configs, storage.configs_prefix))
        role["promote"].add_to_policy(policy.read_reports_statement(storage.artifacts, DEFAULT_REPORTS_PREFIX))
        role["promote"].add_to_policy(policy.write_reports_statement(storage.artifacts, DEFAULT_REPORTS_PREFIX))
        model_registry = ModelRegistry(self, ids.MODEL_REGISTRY, groups=promoting.groups,
                                       existing=existing_model_package_groups)
        if promoting.groups:
            for statement in policy.promote_statements(stack, promoting, storage.artifacts.bucket_arn,
                                                       key_of_stack):
                role["promote"].add_to_policy(statement)
            allow_wildcards(role["promote"], self._promote_wildcards(storage.artifacts))
        notifications.topic.grant_publish(role["record_failure"])
        notifications.topic.grant_publish(workflow.state_machine)  # Notify (and the CMK behind the topic)
        # Jobs are scoped by the deployment's tag and study roles by their IAM path: these statements are the
        # same for 1 study or 1,000 (issue 10).
        role["launch"].add_to_policy(policy.create_tuning_jobs_statement(stack, key_of_stack))
        role["launch"].add_to_policy(policy.pass_open_roles_statement(stack, self.deployment_name))
        role["launch"].add_to_policy(policy.assume_launchers_statement(stack, self.deployment_name))
        # launch adopts an existing job; resume/reconcile confirm status; report reads results and lists the
        # training jobs.
        for handler in ("launch", "resume", "reconcile"):
            role[handler].add_to_policy(policy.describe_jobs_statement(stack, key_of_stack))
        role["report"].add_to_policy(policy.describe_jobs_statement(stack, key_of_stack, list_training_jobs=True))
        # record_failure stops a job whose wait timed out (the execution goes on to fail, not to abort).
        for handler in ("stop", "record_failure"):
            role[handler].add_to_policy(policy.stop_tuning_job_statement(stack, key_of_stack))
        grant_wildcards = self._grant_wildcards(registry.table, storage)
        for handler in ids.HANDLERS:
            allow_wildcards(role[handler], grant_wildcards)
        allow_wildcards(workflow.state_machine, [
            ("Resource::(" + "|".join(pattern_of(self, fn[h].function_arn) for h in ids.WORKFLOW_HANDLERS)
             + r"):\*",
             "CDK grants lambda:InvokeFunction on `<function arn>:*` (the versions of our workflow functions)."),
            (r"Resource::\*", "X-Ray and CloudWatch Logs vended log delivery have no resource-level permissions."),
            (r"Action::kms:GenerateDataKey\*", "Publishing to the encrypted topic needs data keys of our one CMK."),
        ])
        dashboard = Dashboard(self, ids.DASHBOARD, state_machine=workflow.state_machine, functions=dict(fn),
                              dead_letters=triggers.dead_letters, topic=notifications.topic, env=env,
                              service_name=self.service_name, dashboard_name=f"{self.deployment_name}-amt")
        self._require_key_accounts(spec_list, kms_key_accounts)

        # What an app may reference (the same values as the outputs).
        self.key: kms.IKey = key
        self.key_policy_statements: list[iam.PolicyStatement] = storage.key_policy_statements
        self.configs_bucket: s3.IBucket = storage.configs
        self.configs_prefix: str = storage.configs_prefix
        self.artifacts_bucket: s3.IBucket = storage.artifacts
        self.registry_table: dynamodb.ITable = registry.table
        self.topic: sns.ITopic = notifications.topic
        self.state_machine: sfn.StateMachine = workflow.state_machine
        self.functions: dict[str, lambda_.Function] = dict(fn)
        self.dead_letter_queue = triggers.dead_letters
        self.dashboard: cw.Dashboard = dashboard.dashboard
        self.alarms: dict[str, cw.Alarm] = dashboard.alarms
        self.execution_roles_path = f"/{ROLE_PATH_ROOT}/{self.deployment_name}/"
        self.study_roles = studies
        self.model_registry = model_registry

        if outputs:
            for out_id, value in (
                (ids.Outputs.CONFIGS_BUCKET, storage.configs.bucket_name),
                (ids.Outputs.CONFIGS_PREFIX, storage.configs_prefix),
                (ids.Outputs.ARTIFACTS_BUCKET, storage.artifacts.bucket_name),
                (ids.Outputs.REGISTRY_TABLE, registry.table.table_name),
                (ids.Outputs.STATE_MACHINE_ARN, sm_arn),
                (ids.Outputs.TOPIC_ARN, notifications.topic.topic_arn),
                (ids.Outputs.EXECUTION_ROLES_PATH, self.execution_roles_path),
                (ids.Outputs.DASHBOARD_NAME, dashboard.dashboard.dashboard_name),
            ):
                # The CLI reads these keys (`amt submit --stack`), wherever the construct sits in the tree.
                CfnOutput(self, out_id, value=value).override_logical_id(out_id)

    def _check_unique(self, where: str) -> None:
        """Two deployments in one stack need their own names, and only one may hold the fixed output keys."""
        for other in Stack.of(self).node.find_all():
            if isinstance(other, TuningStudies) and other is not self:
                if other.deployment_name == self.deployment_name:
                    raise SynthError(f"{where}: name: {other.node.path} is named {self.deployment_name!r} too; "
                                     "give each TuningStudies of a stack its own name (IAM paths, tags, rule names)")
                if self.has_outputs and other.has_outputs:
                    raise SynthError(f"{where}: outputs: {other.node.path} has the stack's outputs already "
                                     "(their keys are fixed); set outputs=False on one of them")

    # --- cdk-nag acknowledgements: exactly our resources' ARNs (pattern_of), wherever the construct sits ---

    def _grant_wildcards(self, table: dynamodb.ITable, storage: Storage) -> list[tuple[str, str]]:
        """Wildcards the grants between constructs produce; any other is a cdk-nag finding that fails the synth."""
        name = re.escape(self.deployment_name)
        return [
            (r"Action::kms:(GenerateDataKey|ReEncrypt)\*",
             "Data-key variants (GenerateDataKey*, ReEncrypt*) granted by CDK, on our one CMK only."),
            ("Resource::" + pattern_of(self, table.table_arn) + r"/index/\*",
             "The registry's own indexes (the sparse `inflight` index) for queries."),
            ("Resource::" + pattern_of(self, storage.configs.bucket_arn) + "/" + re.escape(storage.configs_prefix)
             + r"\*", "Spec objects under the configs prefix."),
            ("Resource::" + pattern_of(self, storage.artifacts.bucket_arn) + "/" + re.escape(DEFAULT_REPORTS_PREFIX)
             + r"\*", "Report objects under the reports prefix."),
            (r"Action::s3:(GetObject|GetBucket|List|Abort)\*",
             "CDK's read and put grant groups (Abort* = abort its own multipart uploads), on the configs or "
             "reports prefix only."),
            (r"Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:hyper-parameter-tuning-job/\*",
             "Tuning jobs tagged with this deployment's key only (aws:RequestTag/aws:ResourceTag amt:stack "
             "conditions): job names are chosen per study and round at run time, and a list of study prefixes "
             "would grow with the studies past IAM's policy size limits."),
            (rf"Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/{ROLE_PATH_ROOT}/{name}/open/\*",
             "PassRole (only to SageMaker) on the open studies' execution roles, one IAM path: each study's role "
             "is named from its study at run time (amt_conductor.spec.access); guarded studies' roles are under "
             "another path."),
            (rf"Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/{ROLE_PATH_ROOT}/{name}/launch/\*",
             "AssumeRole on the guarded studies' launcher roles, one IAM path (each trusts the launch role only)."),
        ]

    def _promote_wildcards(self, artifacts: s3.IBucket) -> list[tuple[str, str]]:
        """What the Promote function's statements (roles.promote_statements) draw, acknowledged on its role only."""
        return [
            (r"Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:training-job/\*",
             "Training jobs tagged with this deployment's key only (aws:ResourceTag amt:stack; training jobs carry "
             "their tuning job's tags): the best job's model artifact and image."),
            (r"Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:"
             r"model-package/[a-zA-Z0-9-]+/\*",
             "Versions of a model package group a reviewed spec names; SageMaker numbers them at registration."),
            (r"Resource::\*", "sagemaker:ListModelPackages has no resource-level permission (Service Authorization "
                              "Reference); the Promote function lists only the groups its specs name."),
            ("Resource::" + pattern_of(self, artifacts.bucket_arn) + r"/training/\*",
             "Model artifacts of the studies' training jobs (`training/<study>/<job>/output/model.tar.gz`)."),
        ]

    def _require_key_accounts(self, specs: Sequence[Spec], allowed: Sequence[str]) -> None:
        """A spec's KMS key in another account needs `kms_key_accounts`. With an explicit account
        `check_access` refuses it at synth; an environment-agnostic template asserts it at deploy time."""
        if not Token.is_unresolved(Stack.of(self).account):
            return
        accounts = sorted({(s.kms_key_id or "").split(":")[4] for s in specs
                           if (s.kms_key_id or "").startswith("arn:")} - set(allowed))
        if accounts:
            CfnRule(self, "SpecKeysInThisAccount", assertions=[CfnRuleAssertion(
                assert_=Fn.condition_equals(Aws.ACCOUNT_ID, account),
                assert_description=f"A spec's KMS key is in account {account}: deploy there, or allow it with "
                                   "kms_key_accounts (the amt:kmsKeyAccounts context).") for account in accounts])
