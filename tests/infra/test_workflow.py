"""The state machine: its states, retries, catches, timeouts and the token wait (as the simulator runs it)."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest
from aws_cdk.assertions import Match

from amt_conductor.cdk.ids import States as S
from amt_conductor.cdk.workflow import AMT_TRANSIENT, LAMBDA_TRANSIENT

pytestmark = pytest.mark.infra

LAMBDA_TASKS = (S.PREPARE, S.ADMIT, S.WAIT_IN_QUEUE, S.LAUNCH, S.REPORT, S.PROMOTE, S.RECORD_FAILURE)


def test_state_machine_is_standard_logged_and_traced(synth: Any) -> None:
    synth.template.has_resource_properties("AWS::StepFunctions::StateMachine", {
        "StateMachineType": "STANDARD",
        "TracingConfiguration": {"Enabled": True},
        "LoggingConfiguration": Match.object_like({"Level": "ALL"}),
    })
    # Its log group is encrypted with our key and has a retention.
    synth.template.has_resource_properties("AWS::Logs::LogGroup", {
        "KmsKeyId": Match.any_value(), "RetentionInDays": Match.any_value(),
    })


def test_no_task_token_or_execution_data_reaches_the_logs(synth: Any, asl: dict[str, Any]) -> None:
    """Issue 9, finding 4: the Launch task's parameters carry a live task token; with execution data in the
    logs anyone reading them could end a waiting run. No state machine logs execution data, and the token
    goes only to the Launch function (never into a state's output)."""
    for sm in synth.resources("AWS::StepFunctions::StateMachine").values():
        assert sm["Properties"]["LoggingConfiguration"]["IncludeExecutionData"] is False
    holders = [name for name, st in asl["States"].items() if "$$.Task.Token" in repr(st)]
    assert holders and all(asl["States"][n]["Resource"].endswith(".waitForTaskToken") for n in holders)
    for name in holders:  # the token is in the invocation's payload, and the result keeps only the callback
        assert "ResultSelector" not in asl["States"][name] or "Token" not in repr(asl["States"][name]["ResultSelector"])
    for fn in synth.resources("AWS::Lambda::Function").values():
        env = (fn["Properties"].get("Environment") or {}).get("Variables") or {}
        assert str(env.get("POWERTOOLS_LOGGER_LOG_EVENT", "false")).lower() == "false"


def test_the_run_id_comes_from_the_execution_not_its_input(asl: dict[str, Any]) -> None:
    """Issue 9, finding 5: Prepare and RecordFailure get the execution's name; nothing reads a run id
    from the execution input."""
    states = asl["States"]
    assert states[S.PREPARE]["Parameters"]["Payload"] == {"input.$": "$", "run_id.$": "$$.Execution.Name"}
    assert states[S.RECORD_FAILURE]["Parameters"]["Payload"]["run_id.$"] == "$$.Execution.Name"
    assert "run_id.$" not in states[S.NEXT_ROUND_INPUT]["Parameters"]


def test_states_and_their_order(asl: dict[str, Any]) -> None:
    states = asl["States"]
    assert asl["StartAt"] == S.PREPARE
    assert "QueryLanguage" not in asl or asl["QueryLanguage"] == "JSONPath"
    assert set(states) == {S.PREPARE, S.USE_PREPARED, S.ADMIT, S.ADMITTED_CHOICE, S.WAIT_IN_QUEUE, S.LAUNCH,
                           S.REPORT, S.USE_REPORT, S.NEXT_ROUND_CHOICE, S.NEXT_ROUND_INPUT, S.NOTIFY, S.DONE,
                           S.RECORD_FAILURE, S.FAILED, S.PROMOTE_CHOICE, S.PROMOTE}
    chain = [S.PREPARE, S.USE_PREPARED, S.ADMIT, S.ADMITTED_CHOICE]
    for a, b in pairwise(chain):
        assert states[a]["Next"] == b, a
    for a, b in pairwise([S.LAUNCH, S.REPORT, S.USE_REPORT, S.NEXT_ROUND_CHOICE]):
        assert states[a]["Next"] == b, a
    assert states[S.NEXT_ROUND_INPUT]["Next"] == S.PREPARE
    assert states[S.NOTIFY]["Next"] == S.DONE
    assert states[S.DONE]["Type"] == "Succeed"
    assert states[S.RECORD_FAILURE]["Next"] == S.FAILED
    assert states[S.FAILED]["Type"] == "Fail"


def test_lambda_tasks_use_the_invoke_integration_and_keep_only_the_payload(asl: dict[str, Any]) -> None:
    states = asl["States"]
    for name in (S.PREPARE, S.REPORT, S.RECORD_FAILURE):
        st = states[name]
        assert st["Resource"].endswith(":states:::lambda:invoke"), name
        assert st["ResultSelector"] == {"Payload.$": "$.Payload"}, name
        assert ".sync" not in st["Resource"]
    assert states[S.PREPARE]["ResultPath"] == "$.prepared"
    assert states[S.REPORT]["ResultPath"] == "$.report"
    assert states[S.REPORT]["Parameters"]["Payload"] == {"prepared.$": "$.prepared", "launch.$": "$.launch"}
    # The unwrap states make $.prepared / $.report exactly what the handlers returned.
    assert states[S.USE_PREPARED]["Type"] == "Pass"
    assert states[S.USE_PREPARED]["InputPath"] == "$.prepared.Payload"
    assert states[S.USE_PREPARED]["ResultPath"] == "$.prepared"
    assert states[S.USE_REPORT]["InputPath"] == "$.report.Payload"
    assert states[S.USE_REPORT]["ResultPath"] == "$.report"


def test_launch_waits_for_the_task_token_with_a_timeout_from_the_spec(asl: dict[str, Any]) -> None:
    launch = asl["States"][S.LAUNCH]
    assert launch["Resource"].endswith(":states:::lambda:invoke.waitForTaskToken")
    assert launch["Parameters"]["Payload"] == {"token.$": "$$.Task.Token", "prepared.$": "$.prepared"}
    assert launch["TimeoutSecondsPath"] == "$.prepared.timeout_seconds"
    assert launch["ResultPath"] == "$.launch"
    assert "ResultSelector" not in launch  # SendTaskSuccess's output is already the result


def test_every_task_retries_transient_errors_with_backoff_and_a_cap(asl: dict[str, Any]) -> None:
    for name in LAMBDA_TASKS:
        retries = asl["States"][name]["Retry"]
        by_error = {tuple(r["ErrorEquals"]): r for r in retries}
        assert tuple(LAMBDA_TRANSIENT) in by_error, name
        assert (AMT_TRANSIENT,) in by_error, name
        for r in retries:
            assert r["BackoffRate"] > 1 and 1 <= r["MaxAttempts"] <= 10 and r["MaxDelaySeconds"] <= 900, (name, r)
        assert all("States.ALL" not in r["ErrorEquals"] for r in retries), "never retry everything"
    notify = asl["States"][S.NOTIFY]
    assert notify["Retry"] and all(e.startswith("SNS.") for r in notify["Retry"] for e in r["ErrorEquals"])


def test_every_task_has_a_timeout_and_catches_into_record_failure(asl: dict[str, Any]) -> None:
    for name, st in asl["States"].items():
        if st["Type"] != "Task":
            continue
        assert "TimeoutSeconds" in st or "TimeoutSecondsPath" in st, name
        *special, catch = st["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"], name
        if name == S.WAIT_IN_QUEUE:  # admitted before its token was parked: on to Launch, not a failure
            assert special == [{"ErrorEquals": ["AlreadyAdmitted"], "ResultPath": "$.admission", "Next": S.LAUNCH}]
        else:
            assert special == [], name
        if name == S.RECORD_FAILURE:
            assert catch["Next"] == S.FAILED  # its own failure must not loop
            assert catch["ResultPath"] != "$.error"
        else:
            assert catch == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": S.RECORD_FAILURE}
    record = asl["States"][S.RECORD_FAILURE]
    assert record["Parameters"]["Payload"] == {"input.$": "$", "error.$": "$.error", "run_id.$": "$$.Execution.Name"}


def test_next_round_choice_and_input(asl: dict[str, Any]) -> None:
    choice = asl["States"][S.NEXT_ROUND_CHOICE]
    assert choice["Choices"] == [{"Variable": "$.report.continue", "BooleanEquals": True,
                                  "Next": S.NEXT_ROUND_INPUT}]
    assert choice["Default"] == S.PROMOTE_CHOICE  # then Notify (tests/infra/test_promote.py)
    params = asl["States"][S.NEXT_ROUND_INPUT]["Parameters"]
    assert params == {"study.$": "$.prepared.study", "round.$": "States.MathAdd($.prepared.round, 1)",
                      "source.$": "$.prepared.spec_location"}
    notify = asl["States"][S.NOTIFY]
    assert notify["Resource"].endswith(":states:::sns:publish")
    assert notify["Parameters"] | {"TopicArn": "REF"} == {"TopicArn": "REF", "Subject.$": "$.report.subject",
                                                          "Message.$": "$.report.message"}


def test_transitions_per_round_are_few_whatever_the_job_takes(asl: dict[str, Any]) -> None:
    """Walk one continuing round: Prepare ... NextRoundInput -> Prepare. No poll loop, no Wait state."""
    states = asl["States"]
    assert all(st["Type"] != "Wait" for st in states.values())
    seen, name = [], S.PREPARE
    while True:
        seen.append(name)
        st = states[name]
        name = st["Choices"][0]["Next"] if st["Type"] == "Choice" else st["Next"]
        if name == S.PREPARE:
            break
    assert len(seen) <= 15
    # Seven for the round itself, two for admission (Admit, Admitted?); a round that queues adds WaitInQueue.
    assert len(seen) == 9


def test_admission_waits_in_the_queue_without_polling(asl: dict[str, Any]) -> None:
    states = asl["States"]
    choice = states[S.ADMITTED_CHOICE]
    assert choice["Choices"] == [{"Variable": "$.admission.Payload.admitted", "BooleanEquals": True,
                                  "Next": S.LAUNCH}]
    assert choice["Default"] == S.WAIT_IN_QUEUE
    wait = states[S.WAIT_IN_QUEUE]
    assert wait["Resource"].endswith(":states:::lambda:invoke.waitForTaskToken")
    assert wait["Parameters"]["Payload"] == {"token.$": "$$.Task.Token", "prepared.$": "$.prepared"}
    assert wait["Next"] == S.LAUNCH
    assert 86400 <= wait["TimeoutSeconds"] <= 365 * 86400  # long: a queue must not fail runs


def test_no_jsonata_and_no_sync_integrations(asl: dict[str, Any]) -> None:
    text = repr(asl)
    assert "JSONata" not in text and "{%" not in text
    assert ".sync" not in text


def test_outputs_name_what_the_cli_needs(synth: Any) -> None:
    from amt_conductor.cdk.ids import Outputs

    expected = {v for k, v in vars(Outputs).items() if k.isupper()}
    assert expected <= set(synth.json["Outputs"])
