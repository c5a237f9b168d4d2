"""The state machine: one Standard execution per study run, in plain JSONPath ASL (the simulator runs it).

Prepare -> UsePrepared -> Admit -> Admitted? -yes-> Launch (waitForTaskToken) -> Report -> UseReport -> NextRound?
                                             `-no-> WaitInQueue (waitForTaskToken) -^
   ^------------------------------- NextRoundInput <---- yes ----------------------------------------'   no -> Promote?
   Promote? -yes (spec has promote:)-> Promote -> Notify -> Done;   Promote? -no-> Notify -> Done
Any task fails -> RecordFailure -> Failed.   Nine transitions per round (ten if it queued), however long the job runs;
two more at the end of a run that promotes.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from amt_conductor.cdk import ids
from amt_conductor.cdk.config import EnvSettings
from amt_conductor.cdk.functions import SIZING
from amt_conductor.runtime.admission import AlreadyAdmitted
from amt_conductor.runtime.sagemaker_ops import Transient

S = ids.States

LAMBDA_TRANSIENT = ["Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
                    "Lambda.TooManyRequestsException"]
# Raised by handlers for throttling and ResourceLimitExceeded: worth waiting for, but not forever.
# Step Functions sees a Python exception's class name as the error type, so the name comes from the class.
AMT_TRANSIENT = Transient.__name__
ALREADY_ADMITTED = AlreadyAdmitted.__name__
SNS_TRANSIENT = ["SNS.ThrottledException", "SNS.InternalErrorException", "SNS.KMSThrottlingException"]
# A Lambda task waits for its function's timeout plus this margin before Step Functions gives up.
TASK_MARGIN_S = 30
# The run id: the execution's own name (start names executions after the spec version or schedule tick).
EXECUTION_NAME = "$$.Execution.Name"


class Workflow(Construct):
    """`self.state_machine`; the functions come in by handler name (`prepare`, `admit`, `launch`, `report`,
    `record_failure`). A round may wait `queue_timeout_hours` for capacity before its run fails."""

    def __init__(self, scope: Construct, id: str, *, functions: dict[str, lambda_.IFunction], topic: sns.ITopic,
                 key: kms.IKey, env: EnvSettings, queue_timeout_hours: int = 30 * 24) -> None:
        super().__init__(scope, id)

        record_failure = self._invoke(
            S.RECORD_FAILURE, functions["record_failure"], "record_failure",
            payload={"input.$": "$", "error.$": "$.error", "run_id.$": EXECUTION_NAME}, result_path="$.recorded",
        )
        failed = sfn.Fail(self, S.FAILED, error="Amt.RunFailed",
                          cause="A step failed; the reason is recorded on the run and was sent to the topic.")
        record_failure.add_catch(failed, errors=["States.ALL"], result_path="$.record_error")
        record_failure.next(failed)

        # Prepare gets the execution input (round 1) or NextRoundInput's output as `input`; the run's identity
        # comes from the execution itself, never from the input (which whoever starts an execution chooses).
        prepare = self._invoke(S.PREPARE, functions["prepare"], "prepare",
                               payload={"input.$": "$", "run_id.$": EXECUTION_NAME}, result_path="$.prepared")
        use_prepared = sfn.Pass(self, S.USE_PREPARED, input_path="$.prepared.Payload", result_path="$.prepared",
                                comment="Unwrap the function's payload: $.prepared is what prepare returned.")
        # Admission: take the account capacity the round needs, or wait in the queue for it (no polling:
        # WaitInQueue parks a task token that the resume path or the reconciler sends once the round fits).
        admit = self._invoke(S.ADMIT, functions["admit"], "admit", payload={"prepared.$": "$.prepared"},
                             result_path="$.admission")
        wait_in_queue = tasks.LambdaInvoke(
            self, S.WAIT_IN_QUEUE,
            lambda_function=functions["admit"],
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            payload=sfn.TaskInput.from_object({"token": sfn.JsonPath.task_token, "prepared.$": "$.prepared"}),
            task_timeout=sfn.Timeout.duration(Duration.hours(queue_timeout_hours)),
            result_path="$.admission",
            retry_on_service_exceptions=False,
            comment="Wait for account capacity (FIFO by submission, then priority); a freed job wakes it.",
        )
        self._retries(wait_in_queue)
        launch = tasks.LambdaInvoke(
            self, S.LAUNCH,
            lambda_function=functions["launch"],
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            payload=sfn.TaskInput.from_object({"token": sfn.JsonPath.task_token, "prepared.$": "$.prepared"}),
            # The wait ends with the job (resume) or after the worst case the spec allows (prepare computes it).
            task_timeout=sfn.Timeout.at("$.prepared.timeout_seconds"),
            result_path="$.launch",
            retry_on_service_exceptions=False,
            comment="Create the tuning job and wait for its terminal state (resume sends the token back).",
        )
        self._retries(launch)
        report = self._invoke(S.REPORT, functions["report"], "report",
                              payload={"prepared.$": "$.prepared", "launch.$": "$.launch"}, result_path="$.report")
        use_report = sfn.Pass(self, S.USE_REPORT, input_path="$.report.Payload", result_path="$.report",
                              comment="Unwrap the function's payload: $.report is what report returned.")
        next_input = sfn.Pass(
            self, S.NEXT_ROUND_INPUT,
            parameters={
                "study.$": "$.prepared.study",
                "round.$": "States.MathAdd($.prepared.round, 1)",
                "source.$": "$.prepared.spec_location",
            },
            comment="Only what the next round needs: the state stays small however many rounds run.",
        )
        notify = tasks.SnsPublish(
            self, S.NOTIFY,
            topic=topic,
            subject=sfn.JsonPath.string_at("$.report.subject"),
            message=sfn.TaskInput.from_json_path_at("$.report.message"),
            result_selector={"MessageId.$": "$.MessageId"},
            result_path="$.notified",
            task_timeout=sfn.Timeout.duration(Duration.seconds(60)),
        )
        notify.add_retry(errors=SNS_TRANSIENT, interval=Duration.seconds(2), backoff_rate=2, max_attempts=5,
                         max_delay=Duration.seconds(60), jitter_strategy=sfn.JitterType.FULL)
        done = sfn.Succeed(self, S.DONE)
        # Promote's answer replaces $.report with what Notify sends (subject and message say what it did).
        promote = self._invoke(S.PROMOTE, functions["promote"], "promote",
                               payload={"prepared.$": "$.prepared", "report.$": "$.report",
                                        "run_id.$": EXECUTION_NAME}, result_path="$.report",
                               result_selector={"subject.$": "$.Payload.subject", "message.$": "$.Payload.message",
                                                "report_uri.$": "$.Payload.report_uri",
                                                "promotion.$": "$.Payload.promotion"})
        promote.next(notify)

        # Admitted between Admit and WaitInQueue (a pump took the capacity before the token was parked).
        wait_in_queue.add_catch(launch, errors=[ALREADY_ADMITTED], result_path="$.admission")
        for task in (prepare, admit, wait_in_queue, launch, report, promote, notify):
            task.add_catch(record_failure, errors=["States.ALL"], result_path="$.error")
        admitted = sfn.Choice(self, S.ADMITTED_CHOICE, comment="Capacity taken at once, or wait in the queue.")
        admitted.when(sfn.Condition.boolean_equals("$.admission.Payload.admitted", True), launch)
        admitted.otherwise(wait_in_queue.next(launch))

        choice = sfn.Choice(self, S.NEXT_ROUND_CHOICE, comment="Report decides: rounds left, target, budget, "
                            "improvement.")
        choice.when(sfn.Condition.boolean_equals("$.report.continue", True), next_input.next(prepare))
        notify.next(done)
        promote_choice = sfn.Choice(self, S.PROMOTE_CHOICE, comment="The spec has promote: register the best "
                                    "model if it beats the group's current one.")
        promote_choice.when(sfn.Condition.boolean_equals("$.report.promote", True), promote)
        promote_choice.otherwise(notify)
        choice.otherwise(promote_choice)
        launch.next(report).next(use_report).next(choice)
        definition = prepare.next(use_prepared).next(admit).next(admitted)

        self.log_group = logs.LogGroup(
            self, "Logs",
            retention=env.log_retention,
            encryption_key=key,
            removal_policy=env.ephemeral_removal,
        )
        self.state_machine = sfn.StateMachine(
            self, ids.STATE_MACHINE,
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            state_machine_type=sfn.StateMachineType.STANDARD,
            query_language=sfn.QueryLanguage.JSON_PATH,
            tracing_enabled=True,
            # Every event, but no execution data: the Launch task's parameters carry its live task token,
            # and whoever reads the logs could end a waiting run with it (SendTaskSuccess).
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
            comment="amt-conductor: one execution per study run (prepare, launch and wait, report, next round)",
        )

    def _invoke(self, state: str, fn: lambda_.IFunction, handler: str, *, payload: dict[str, str] | None,
                result_path: str, result_selector: dict[str, str] | None = None) -> tasks.LambdaInvoke:
        task = tasks.LambdaInvoke(
            self, state,
            lambda_function=fn,
            payload=sfn.TaskInput.from_json_path_at("$") if payload is None else sfn.TaskInput.from_object(payload),
            result_selector=result_selector or {"Payload.$": "$.Payload"},
            result_path=result_path,
            task_timeout=sfn.Timeout.duration(Duration.seconds(SIZING[handler].timeout_s + TASK_MARGIN_S)),
            retry_on_service_exceptions=False,
        )
        self._retries(task)
        return task

    @staticmethod
    def _retries(task: tasks.LambdaInvoke) -> None:
        task.add_retry(errors=LAMBDA_TRANSIENT, interval=Duration.seconds(2), backoff_rate=2, max_attempts=6,
                       max_delay=Duration.seconds(60), jitter_strategy=sfn.JitterType.FULL)
        task.add_retry(errors=[AMT_TRANSIENT], interval=Duration.seconds(30), backoff_rate=2, max_attempts=8,
                       max_delay=Duration.seconds(600), jitter_strategy=sfn.JitterType.FULL)
