"""EventBridge rules: what starts, resumes, reconciles and stops runs, and their delivery guarantees."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Capture, Match

from amt_conductor.cdk.ids import STACK_ID
from amt_conductor.cdk.nag import flatten
from amt_conductor.spec.access import stack_key

pytestmark = pytest.mark.infra


def _target_of(synth: Any, pattern_or_schedule: dict[str, Any]) -> dict[str, Any]:
    """The rule matching the given properties; returns its one target."""
    rules = synth.template.find_resources("AWS::Events::Rule", {"Properties": pattern_or_schedule})
    assert len(rules) == 1, f"expected one rule matching {pattern_or_schedule}, found {len(rules)}"
    (rule,) = rules.values()
    (target,) = rule["Properties"]["Targets"]
    return target


def _function_handler(synth: Any, target: dict[str, Any]) -> str:
    fn_id = target["Arn"]["Fn::GetAtt"][0]
    return str(synth.json["Resources"][fn_id]["Properties"]["Handler"])


def test_spec_upload_under_the_configs_prefix_starts_a_run_through_the_start_function(synth: Any) -> None:
    bucket = Capture()
    target = _target_of(synth, {"EventPattern": {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [{"Ref": bucket}]},
            "object": {"key": [{"wildcard": "configs/*.yaml"}, {"wildcard": "configs/*.yml"},
                               {"wildcard": "configs/*.json"}]},
        },
    }})
    assert bucket.as_string().startswith("StorageConfigsBucket")
    # Not straight to Step Functions: the start function names the execution from the object's version.
    assert _function_handler(synth, target) == "amt_conductor.handlers.start.handler"


def test_configs_bucket_sends_its_events_to_eventbridge_without_a_custom_resource(synth: Any) -> None:
    synth.template.has_resource_properties("AWS::S3::Bucket", {
        "NotificationConfiguration": {"EventBridgeConfiguration": {"EventBridgeEnabled": True}},
    })
    assert not synth.template.find_resources("Custom::S3BucketNotifications")


def test_tuning_job_terminal_states_resume_the_run(synth: Any) -> None:
    # Issue 10: the pattern does not list the studies (it would pass EventBridge's 2,048 characters at about
    # 70 studies); resume ignores jobs with no token in the registry (tests/unit).
    target = _target_of(synth, {"EventPattern": {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker HyperParameter Tuning Job State Change"],
        "detail": {"HyperParameterTuningJobStatus": ["Completed", "Failed", "Stopped"]},
    }})
    assert _function_handler(synth, target) == "amt_conductor.handlers.resume.handler"


def test_aborted_or_timed_out_runs_stop_their_job(synth: Any) -> None:
    sm = Capture()
    target = _target_of(synth, {"EventPattern": {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"status": ["ABORTED", "TIMED_OUT"], "stateMachineArn": [{"Ref": sm}]},
    }})
    assert sm.as_string().startswith("WorkflowStateMachine")
    assert _function_handler(synth, target) == "amt_conductor.handlers.stop.handler"


def test_reconciler_runs_every_15_minutes_by_default(synth: Any) -> None:
    target = _target_of(synth, {"ScheduleExpression": "rate(15 minutes)"})
    assert _function_handler(synth, target) == "amt_conductor.handlers.reconcile.handler"


def _schedules(synth: Any) -> dict[str, dict[str, Any]]:
    # Nested rules with a schedule expression; the new-data checks (test_promote.py) are left out.
    return {k: r for k, r in synth.all_resources("AWS::Events::Rule").items()
            if "/" in k and "-new-data-" not in str(r["Properties"].get("Name", ""))}


def test_a_spec_with_a_schedule_gets_its_own_rule_beside_its_role(synth: Any) -> None:
    (rule,) = _schedules(synth).values()  # configs/fraud-random-spot.yaml
    props = rule["Properties"]
    assert props["ScheduleExpression"] == "rate(7 days)"
    assert props["Name"] == f"amt-{stack_key(STACK_ID)}-schedule-fraud-random"
    (target,) = props["Targets"]
    assert target["Arn"] == {"Ref": "StartFunctionArn"}
    # The tick's time reaches the start function, which names the execution from it (one run per tick).
    transformer = target["InputTransformer"]
    assert transformer["InputPathsMap"] == {"time": "$.time"}
    assert json.loads(transformer["InputTemplate"].replace("<time>", '"T"')) == {
        "study": "fraud-random", "trigger": "schedule", "time": "T"}


def test_one_permission_and_one_queue_statement_cover_every_schedule(synth: Any) -> None:
    pattern = f"arn:<AWS::Partition>:events:<AWS::Region>:<AWS::AccountId>:rule/amt-{stack_key(STACK_ID)}-schedule-*"
    (permission,) = [p["Properties"] for p in synth.resources("AWS::Lambda::Permission").values()
                     if flatten(p["Properties"].get("SourceArn")) == pattern]
    assert permission["Principal"] == "events.amazonaws.com"
    assert permission["FunctionName"]["Fn::GetAtt"][0].startswith("FunctionsStartFunction")
    (policy,) = synth.resources("AWS::SQS::QueuePolicy").values()
    assert any(flatten(st.get("Condition", {}).get("ArnLike", {}).get("aws:SourceArn")) == pattern
               for st in policy["Properties"]["PolicyDocument"]["Statement"])


def test_every_target_has_a_dead_letter_queue_and_a_retry_policy(synth: Any) -> None:
    rules = synth.all_resources("AWS::Events::Rule")
    assert len(rules) >= 5
    for lid, rule in rules.items():
        assert rule["Properties"]["Name"].startswith(f"amt-{stack_key(STACK_ID)}-"), lid
        for target in rule["Properties"]["Targets"]:
            assert "DeadLetterConfig" in target, lid
            policy = target["RetryPolicy"]
            assert 1 <= policy["MaximumRetryAttempts"] <= 185 and policy["MaximumEventAgeInSeconds"] >= 60, lid


def test_dead_letter_queue_is_encrypted_and_tls_only(synth: Any) -> None:
    synth.template.has_resource_properties("AWS::SQS::Queue", {"KmsMasterKeyId": Match.any_value()})
    synth.template.has_resource_properties("AWS::SQS::QueuePolicy", {
        "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})])},
    })


def test_reconcile_interval_comes_from_context(synth_factory: Any) -> None:
    synth = synth_factory({"amt:reconcileMinutes": "5", "amt:configsDir": "/nonexistent"}, nag=False)
    synth.template.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "rate(5 minutes)"})


def test_event_driven_functions_send_failed_events_to_the_dead_letter_queue(synth: Any) -> None:
    configs = synth.resources("AWS::Lambda::EventInvokeConfig")
    assert len(configs) == 4  # start, resume, reconcile, stop
    for lid, cfg in configs.items():
        p = cfg["Properties"]
        assert p["MaximumRetryAttempts"] == 2, lid
        assert p["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0].startswith(
            "TriggersDeadLetterQueue"), lid
