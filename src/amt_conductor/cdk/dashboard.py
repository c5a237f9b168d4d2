"""What operators look at: one CloudWatch dashboard, and alarms that publish to the topic."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from amt_conductor.cdk import ids
from amt_conductor.cdk.config import EnvSettings
from amt_conductor.contract import METRICS_NAMESPACE

# Powertools adds the `service` dimension to every EMF metric; `study` is added where the handler knows it.
SERVICE_DIMENSION = "service"


def _search(metric: str, stat: str, *, by_study: bool, period: Duration) -> cw.MathExpression:
    dims = f"{{{METRICS_NAMESPACE},{SERVICE_DIMENSION},study}}" if by_study else \
        f"{{{METRICS_NAMESPACE},{SERVICE_DIMENSION}}}"
    return cw.MathExpression(
        expression=f"SEARCH('{dims} MetricName=\"{metric}\"', '{stat}', {int(period.to_seconds())})",
        period=period,
        using_metrics={},
    )


class Dashboard(Construct):
    """`self.alarms` by name; each alarm notifies the topic when it fires and when it recovers."""

    def __init__(self, scope: Construct, id: str, *, state_machine: sfn.StateMachine,
                 functions: dict[str, lambda_.Function], dead_letters: sqs.IQueue, topic: sns.ITopic,
                 env: EnvSettings, service_name: str) -> None:
        super().__init__(scope, id)
        period = Duration.minutes(env.alarm_period_minutes)
        action = cw_actions.SnsAction(topic)
        self.alarms: dict[str, cw.Alarm] = {}

        def alarm(name: str, metric: cw.IMetric, threshold: float, description: str) -> cw.Alarm:
            a = cw.Alarm(
                self, name,
                metric=metric,
                threshold=threshold,
                evaluation_periods=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
                alarm_description=description,
            )
            a.add_alarm_action(action)
            a.add_ok_action(action)
            self.alarms[name] = a
            return a

        alarm("ExecutionsFailed", state_machine.metric_failed(period=period, statistic="Sum"),
              env.failed_executions_threshold,
              "Runs failed. Each failure was also sent to the topic with its reason (RecordFailure); "
              "see docs/operations.md#alarms.")
        alarm("ExecutionsTimedOut", state_machine.metric_timed_out(period=period, statistic="Sum"), 1,
              "A run timed out (the state machine sets no limit of its own, so this is Step Functions' one-year "
              "maximum); the stop function stopped its tuning job.")
        for handler, fn in functions.items():
            name = ids.function_id(handler).removesuffix("Function")
            alarm(f"{name}Errors", fn.metric_errors(period=period, statistic="Sum"),
                  env.handler_errors_threshold,
                  f"The {handler} function raised errors; its log group has the stack trace with study and "
                  "job name on each line.")
        throttles = cw.MathExpression(
            expression="+".join(f"t{i}" for i in range(len(functions))),
            using_metrics={f"t{i}": fn.metric_throttles(period=period, statistic="Sum")
                           for i, fn in enumerate(functions.values())},
            label="Throttles (all functions)",
            period=period,
        )
        alarm("HandlerThrottles", throttles, env.throttles_threshold,
              "Lambda throttled the handlers (account concurrency); events are retried, then dead-lettered.")
        alarm("EventsDeadLettered",
              dead_letters.metric_approximate_number_of_messages_visible(period=period, statistic="Maximum"), 1,
              "EventBridge could not deliver an event to a function after its retries; it waits in the "
              "dead-letter queue.")

        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=f"{Stack.of(self).stack_name}-amt",
                                      default_interval=Duration.days(7))
        five = Duration.minutes(5)
        self.dashboard.add_widgets(
            cw.TextWidget(markdown=f"# amt-conductor ({env.name})\nRuns, tuning jobs, best objective per study, "
                          "handler health. Alarms notify the topic; see docs/operations.md.", width=24, height=2),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Runs (executions)", width=12, left=[
                state_machine.metric_started(period=five, statistic="Sum", label="started"),
                state_machine.metric_succeeded(period=five, statistic="Sum", label="succeeded"),
                state_machine.metric_failed(period=five, statistic="Sum", label="failed"),
                state_machine.metric_timed_out(period=five, statistic="Sum", label="timed out"),
                state_machine.metric_aborted(period=five, statistic="Sum", label="aborted"),
            ]),
            cw.GraphWidget(title="Tuning jobs in flight", width=12, left=[
                cw.Metric(namespace=METRICS_NAMESPACE, metric_name="TuningJobsInFlight",
                          dimensions_map={SERVICE_DIMENSION: service_name}, statistic="Maximum", period=five,
                          label="in flight (reconciler)"),
            ], right=[_search("TuningJobsLaunched", "Sum", by_study=True, period=five)]),
        )
        def ours(metric: str, stat: str, label: str) -> cw.Metric:
            return cw.Metric(namespace=METRICS_NAMESPACE, metric_name=metric,
                             dimensions_map={SERVICE_DIMENSION: service_name}, statistic=stat, period=five,
                             label=label)

        self.dashboard.add_widgets(
            cw.GraphWidget(title="Admission queue (rounds waiting for account capacity)", width=12,
                           left=[ours("QueueDepth", "Maximum", "rounds queued (reconciler)")],
                           right=[ours("QueueWaitSeconds", "Average", "wait s (average)"),
                                  ours("QueueWaitSeconds", "Maximum", "wait s (max)")]),
            cw.GraphWidget(title="Rounds queued per study", width=12,
                           left=[_search("RoundsQueued", "Sum", by_study=True, period=five)]),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Best objective per study", width=12,
                           left=[_search("BestObjective", "Maximum", by_study=True, period=Duration.hours(1))]),
            cw.GraphWidget(title="Rounds completed and runs failed per study", width=12,
                           left=[_search("RoundsCompleted", "Sum", by_study=True, period=Duration.hours(1))],
                           right=[_search("RunsFailed", "Sum", by_study=True, period=Duration.hours(1))]),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Handler errors", width=8,
                           left=[fn.metric_errors(period=five, statistic="Sum", label=h)
                                 for h, fn in functions.items()]),
            cw.GraphWidget(title="Handler duration (p90)", width=8,
                           left=[fn.metric_duration(period=five, statistic="p90", label=h)
                                 for h, fn in functions.items()]),
            cw.GraphWidget(title="Throttles and dead letters", width=8, left=[throttles], right=[
                dead_letters.metric_approximate_number_of_messages_visible(period=five, statistic="Maximum",
                                                                           label="dead-lettered events")]),
        )
        self.dashboard.add_widgets(cw.AlarmStatusWidget(alarms=list(self.alarms.values()), width=24,
                                                        title="Alarms"))

