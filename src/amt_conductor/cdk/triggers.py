"""What starts, resumes and stops runs: EventBridge rules and schedules, each target with a DLQ and retries."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from amt_conductor.cdk.config import EnvSettings
from amt_conductor.cdk.nag import acknowledge
from amt_conductor.cdk.study_roles import schedule_rule_prefix
from amt_conductor.contract import SPEC_SUFFIXES

TUNING_STATE_CHANGE = "SageMaker HyperParameter Tuning Job State Change"
TERMINAL_STATUSES = ["Completed", "Failed", "Stopped"]
EXECUTION_STATUS_CHANGE = "Step Functions Execution Status Change"
STOP_STATUSES = ["ABORTED", "TIMED_OUT"]


class Triggers(Construct):
    """Rules: spec uploaded -> start; tuning job ended -> resume; every N minutes -> reconcile;
    run aborted or timed out -> stop. Every rule is named `amt-<stack key>-...`; the studies' schedules
    live beside their roles (`StudyRoles`), and one permission and one queue statement cover them all."""

    def __init__(self, scope: Construct, id: str, *, functions: dict[str, lambda_.IFunction],
                 configs: s3.IBucket, configs_prefix: str, state_machine_arn: str, stack_key: str,
                 key: kms.IKey, env: EnvSettings, reconcile_minutes: int) -> None:
        super().__init__(scope, id)
        self.rule_prefix = schedule_rule_prefix(stack_key)
        self.dead_letters = sqs.Queue(
            self, "DeadLetterQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=env.ephemeral_removal,
        )
        acknowledge(self.dead_letters, "AwsSolutions-SQS3",
                    "This is the dead-letter queue of the EventBridge targets; it has no DLQ of its own.")
        self.rules: dict[str, events.Rule] = {}
        self._async_configured: set[str] = set()

        self._rule("SpecUploaded", functions["start"], events.EventPattern(
            source=["aws.s3"],
            detail_type=["Object Created"],
            detail={
                "bucket": {"name": [configs.bucket_name]},
                "object": {"key": [{"wildcard": f"{configs_prefix}*{suffix}"} for suffix in SPEC_SUFFIXES]},
            },
        ), description="A spec uploaded under the configs prefix starts a run (named from its version id).")

        # Every tuning job of the account, not a list of our studies (which would outgrow EventBridge's
        # 2,048-character pattern): resume ignores a job with no token in our registry.
        self._rule("TuningJobEnded", functions["resume"], events.EventPattern(
            source=["aws.sagemaker"], detail_type=[TUNING_STATE_CHANGE],
            detail={"HyperParameterTuningJobStatus": TERMINAL_STATUSES},
        ), description="A tuning job reached a terminal status: resume the run waiting on it (if any).")

        self._rule("RunStopped", functions["stop"], events.EventPattern(
            source=["aws.states"], detail_type=[EXECUTION_STATUS_CHANGE],
            detail={"status": STOP_STATUSES, "stateMachineArn": [state_machine_arn]},
        ), description="A run was aborted or timed out: stop its tuning job.")

        self._rule("Reconcile", functions["reconcile"], schedule=events.Schedule.rate(
            Duration.minutes(reconcile_minutes)),
            description="Backstop for lost SageMaker events: resume runs whose jobs ended quietly.")

        stack = Stack.of(self)
        # The studies' schedule rules (in nested stacks) may start runs and dead-letter their events.
        self.schedule_rules_arn = (f"arn:{stack.partition}:events:{stack.region}:{stack.account}:rule/"
                                   f"{self.rule_prefix}schedule-*")
        functions["start"].add_permission(
            "ScheduledStarts", principal=iam.ServicePrincipal("events.amazonaws.com"),
            source_arn=self.schedule_rules_arn, source_account=stack.account)
        self.dead_letters.add_to_resource_policy(iam.PolicyStatement(
            sid="ScheduleRulesDeadLetters", principals=[iam.ServicePrincipal("events.amazonaws.com")],
            actions=["sqs:SendMessage"], resources=[self.dead_letters.queue_arn],
            conditions={"ArnLike": {"aws:SourceArn": self.schedule_rules_arn}},
        ))

    def _rule(self, id: str, fn: lambda_.IFunction, pattern: events.EventPattern | None = None, *,
              schedule: events.Schedule | None = None, event: events.RuleTargetInput | None = None,
              description: str) -> events.Rule:
        rule = events.Rule(self, id, event_pattern=pattern, schedule=schedule, description=description[:512],
                           rule_name=f"{self.rule_prefix}{id}")
        rule.add_target(targets.LambdaFunction(
            fn, event=event, dead_letter_queue=self.dead_letters,
            retry_attempts=8, max_event_age=Duration.hours(6),
        ))
        self.rules[id] = rule
        if fn.node.path not in self._async_configured:
            # EventBridge's DLQ covers delivery; a function that fails on an event ends up here too.
            fn.configure_async_invoke(on_failure=destinations.SqsDestination(self.dead_letters), retry_attempts=2,
                                      max_event_age=Duration.hours(6))
            self._async_configured.add(fn.node.path)
        return rule
