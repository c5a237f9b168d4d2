"""`triggers.new_data`: per study, a rule for "Object Created" events under its channel prefixes and a schedule
that runs the quiet-period check (amt.data_trigger), both targeting the start function.

Data buckets belong to the user, so the stack cannot switch their notifications on. Where a bucket sends
EventBridge events (one bucket setting), uploads are noticed as they land; where it does not, the same
scheduled check lists the prefixes itself, which is why the start function may list exactly those prefixes.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_

from amt.data_trigger import CHECK, OBJECT_EVENT
from amt.model import Spec
from stacks.constructs.triggers import Triggers
from stacks.study_scope import S3Location


def check_minutes(quiet_seconds: int) -> int:
    """How often the check runs: about a tenth of the quiet period, between 1 and 60 minutes."""
    return max(1, min(60, quiet_seconds // 600))


def channel_prefixes(spec: Spec) -> list[S3Location]:
    assert spec.triggers is not None and spec.triggers.new_data is not None
    return [S3Location.parse(str(spec.data[c].uri)) for c in spec.triggers.new_data.channels]


def add_data_triggers(triggers: Triggers, *, start: lambda_.IFunction, start_role: iam.IRole,
                      specs: Sequence[Spec]) -> list[str]:
    """The rules of every spec with triggers.new_data; returns the studies covered."""
    stack = Stack.of(triggers)
    studies = []
    for spec in specs:
        new_data = spec.triggers.new_data if spec.triggers else None
        if new_data is None:
            continue
        locations = channel_prefixes(spec)
        for i, bucket in enumerate(sorted({loc.bucket for loc in locations})):
            triggers.add_rule(f"NewData-{spec.name}-{i}", start, events.EventPattern(
                source=["aws.s3"], detail_type=["Object Created"],
                detail={"bucket": {"name": [bucket]},
                        "object": {"key": [{"prefix": loc.prefix} for loc in locations if loc.bucket == bucket]}},
            ), event=events.RuleTargetInput.from_object({
                "study": spec.name, "trigger": OBJECT_EVENT, "time": events.EventField.time,
                "key": events.EventField.from_path("$.detail.object.key")}),
                description=f"New data for study {spec.name} in s3://{bucket}/: noted for its quiet-period check.")
        triggers.add_rule(f"NewDataCheck-{spec.name}", start,
                          schedule=events.Schedule.expression(f"rate({check_minutes(new_data.quiet_period)} minutes)"),
                          event=events.RuleTargetInput.from_object({
                              "study": spec.name, "trigger": CHECK, "quiet_seconds": new_data.quiet_period,
                              "prefixes": [f"s3://{loc.bucket}/{loc.prefix}" for loc in locations]}),
                          description=f"Study {spec.name}: start a run once new data has been quiet for "
                                      f"{new_data.quiet_period} s (lists the prefixes if the bucket sends no events).")
        for bucket in sorted({loc.bucket for loc in locations}):
            start_role.add_to_principal_policy(iam.PolicyStatement(
                actions=["s3:ListBucket"], resources=[f"arn:{stack.partition}:s3:::{bucket}"],
                conditions={"StringLike": {"s3:prefix": [f"{loc.prefix}*" for loc in locations
                                                         if loc.bucket == bucket]}}))
        studies.append(spec.name)
    return studies
