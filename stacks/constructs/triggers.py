"""What starts, resumes and stops runs: EventBridge rules and schedules, each target with a DLQ and retries."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from amt.model import Spec
from amt.settings import SPEC_SUFFIXES
from stacks.config import EnvSettings
from stacks.nag import acknowledge

TUNING_STATE_CHANGE = "SageMaker HyperParameter Tuning Job State Change"
TERMINAL_STATUSES = ["Completed", "Failed", "Stopped"]
EXECUTION_STATUS_CHANGE = "Step Functions Execution Status Change"
STOP_STATUSES = ["ABORTED", "TIMED_OUT"]


class Triggers(Construct):
    """Rules: spec uploaded -> start; tuning job ended -> resume; every N minutes -> reconcile;
    run aborted or timed out -> stop; per spec `schedule` -> start."""

    def __init__(self, scope: Construct, id: str, *, functions: dict[str, lambda_.IFunction],
                 configs: s3.IBucket, configs_prefix: str, state_machine_arn: str, job_prefixes: Sequence[str],
                 specs: Sequence[Spec], key: kms.IKey, env: EnvSettings, reconcile_minutes: int) -> None:
        super().__init__(scope, id)
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

        tuning_detail: dict[str, object] = {"HyperParameterTuningJobStatus": TERMINAL_STATUSES}
        if job_prefixes:
            # Only our studies' jobs: the account may run other tuning jobs.
            tuning_detail["HyperParameterTuningJobName"] = [{"prefix": p} for p in job_prefixes]
        self._rule("TuningJobEnded", functions["resume"], events.EventPattern(
            source=["aws.sagemaker"], detail_type=[TUNING_STATE_CHANGE], detail=tuning_detail,
        ), description="A tuning job of a study reached a terminal status: resume the waiting run.")

        self._rule("RunStopped", functions["stop"], events.EventPattern(
            source=["aws.states"], detail_type=[EXECUTION_STATUS_CHANGE],
            detail={"status": STOP_STATUSES, "stateMachineArn": [state_machine_arn]},
        ), description="A run was aborted or timed out: stop its tuning job.")

        self._rule("Reconcile", functions["reconcile"], schedule=events.Schedule.rate(
            Duration.minutes(reconcile_minutes)),
            description="Backstop for lost SageMaker events: resume runs whose jobs ended quietly.")

        for spec in specs:
            if spec.schedule:
                self._rule(f"Schedule-{spec.name}", functions["start"],
                           schedule=events.Schedule.expression(spec.schedule),
                           # The tick's time names the execution, so a tick delivered twice starts one run.
                           event=events.RuleTargetInput.from_object(
                               {"study": spec.name, "trigger": "schedule", "time": events.EventField.time}),
                           description=f"Scheduled round of study {spec.name} ({spec.schedule}).")

    def _rule(self, id: str, fn: lambda_.IFunction, pattern: events.EventPattern | None = None, *,
              schedule: events.Schedule | None = None, event: events.RuleTargetInput | None = None,
              description: str) -> events.Rule:
        rule = events.Rule(self, id, event_pattern=pattern, schedule=schedule, description=description[:512])
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
