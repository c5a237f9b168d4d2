"""`triggers.new_data`: per study, a rule for "Object Created" events under its channel prefixes and a schedule
that runs the quiet-period check (runtime.data_trigger), both targeting the start function. They live beside the
study's role and schedule in its nested stack (`StudyRoles`), named `amt-<stack key>-...`, so the one Lambda
permission and queue statement that cover the schedules cover them too.

Data buckets belong to the user, so the stack cannot switch their notifications on. Where a bucket sends
EventBridge events (one bucket setting), uploads are noticed as they land; where it does not, the same
scheduled check lists the prefixes itself: the start function may list the prefixes the `amt:dataPrefixes`
context names (a bucket outside them must send EventBridge events).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from constructs import Construct

from amt_conductor.cdk.study_scope import S3Location, StudyAccess
from amt_conductor.runtime.data_trigger import CHECK, OBJECT_EVENT


def check_minutes(quiet_seconds: int) -> int:
    """How often the check runs: about a tenth of the quiet period, between 1 and 60 minutes."""
    return max(1, min(60, quiet_seconds // 600))


def _target(start_function_arn: str, dead_letter_arn: str, **kwargs: object) -> events.CfnRule.TargetProperty:
    return events.CfnRule.TargetProperty(
        id="start", arn=start_function_arn,
        dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=dead_letter_arn),
        retry_policy=events.CfnRule.RetryPolicyProperty(maximum_retry_attempts=8,
                                                        maximum_event_age_in_seconds=6 * 3600),
        **kwargs)  # type: ignore[arg-type]


def data_rules(scope: Construct, study: StudyAccess, *, rule_prefix: str, start_function_arn: str,
               dead_letter_arn: str) -> list[events.CfnRule]:
    """The study's new-data rules: one per bucket for its uploads, one schedule for the check."""
    assert study.new_data is not None
    uris, quiet = study.new_data
    locations = [S3Location.parse(u) for u in uris]
    out = []
    for i, bucket in enumerate(sorted({loc.bucket for loc in locations})):
        template = json.dumps({"study": study.name, "trigger": OBJECT_EVENT, "time": "TIME", "key": "KEY"}) \
            .replace('"TIME"', "<time>").replace('"KEY"', "<key>")
        out.append(events.CfnRule(
            scope, f"NewData-{study.name}-{i}", name=f"{rule_prefix}new-data-{study.name}-{i}"[:64],
            state="ENABLED", description=f"New data for study {study.name} in s3://{bucket}/ (noted for its check).",
            event_pattern={"source": ["aws.s3"], "detail-type": ["Object Created"],
                           "detail": {"bucket": {"name": [bucket]},
                                      "object": {"key": [{"prefix": loc.prefix} for loc in locations
                                                         if loc.bucket == bucket]}}},
            targets=[_target(start_function_arn, dead_letter_arn, input_transformer=events.CfnRule.
                             InputTransformerProperty(input_paths_map={"time": "$.time", "key": "$.detail.object.key"},
                                                      input_template=template))]))
    out.append(events.CfnRule(
        scope, f"NewDataCheck-{study.name}", name=f"{rule_prefix}new-data-check-{study.name}"[:64], state="ENABLED",
        schedule_expression=f"rate({check_minutes(quiet)} minutes)",
        description=f"Study {study.name}: start a run once new data has been quiet for {quiet} s "
                    "(lists the prefixes if the bucket sends no events).",
        targets=[_target(start_function_arn, dead_letter_arn, input=json.dumps(
            {"study": study.name, "trigger": CHECK, "quiet_seconds": quiet, "prefixes": list(uris)}))]))
    return out


def list_prefixes_statements(stack: Stack, data_prefixes: Sequence[str]) -> list[iam.PolicyStatement]:
    """The start function may list the `amt:dataPrefixes` prefixes (one statement per bucket) for the check's scan
    of a bucket that sends no events; the context, not the specs, so the policy does not grow with the studies."""
    by_bucket: dict[str, set[str]] = {}
    for uri in data_prefixes:
        loc = S3Location.parse(uri)
        by_bucket.setdefault(loc.bucket, set()).add(f"{loc.prefix}*")
    return [iam.PolicyStatement(actions=["s3:ListBucket"], resources=[f"arn:{stack.partition}:s3:::{bucket}"],
                                conditions={"StringLike": {"s3:prefix": sorted(prefixes)}})
            for bucket, prefixes in sorted(by_bucket.items())]
