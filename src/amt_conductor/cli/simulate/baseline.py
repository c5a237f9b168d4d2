"""The common alternative to waiting on events, for comparison: a poll loop (Wait, describe, Choice).

One tuning round with the project's own prepare and report functions, but instead of a task
token the workflow polls the job every `interval_s` seconds. Run it through the same engine:

    run_simulation(spec, template=t, state_machine_definition=poll_loop_definition(),
                   extra_functions=poll_loop_functions(), event_targets=EVENT_TARGETS, job_duration_s=86400)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import boto3

RUNNING = ["InProgress", "Stopping"]
# A polling workflow has no rule resuming it: only the spec upload still triggers the start function.
EVENT_TARGETS = ("start",)


def poll_loop_definition(interval_s: int = 60) -> dict[str, Any]:
    """ASL (JSONPath) of a polling round: about 3 transitions and 1 invocation per interval."""

    def invoke(fn: str, payload: Any, result_path: str, nxt: str) -> dict[str, Any]:
        params = {"FunctionName": "${fn:" + fn + "}",
                  **({"Payload.$": payload} if isinstance(payload, str) else {"Payload": payload})}
        return {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": params,
                "ResultSelector": {"Payload.$": "$.Payload"}, "ResultPath": result_path, "Next": nxt}

    return {
        "Comment": f"Baseline: poll the tuning job every {interval_s} s",
        "StartAt": "Prepare",
        "States": {
            "Prepare": invoke("prepare", {"input.$": "$", "run_id.$": "$$.Execution.Name"}, "$.prepared",
                              "UsePrepared"),
            "UsePrepared": {"Type": "Pass", "InputPath": "$.prepared.Payload", "ResultPath": "$.prepared",
                            "Next": "CreateJob"},
            "CreateJob": invoke("create_job", {"prepared.$": "$.prepared"}, "$.launch", "Wait"),
            "Wait": {"Type": "Wait", "Seconds": interval_s, "Next": "Describe"},
            "Describe": invoke("describe_job", {"job_name.$": "$.prepared.job_name"}, "$.launch", "Poll"),
            "Poll": {"Type": "Choice", "Default": "Failed", "Choices": [
                {"Or": [{"Variable": "$.launch.Payload.status", "StringEquals": s} for s in RUNNING],
                 "Next": "Wait"},
                {"Variable": "$.launch.Payload.status", "StringEquals": "Completed", "Next": "UseLaunch"}]},
            "UseLaunch": {"Type": "Pass", "InputPath": "$.launch.Payload", "ResultPath": "$.launch",
                          "Next": "Report"},
            "Report": invoke("report", {"prepared.$": "$.prepared", "launch.$": "$.launch"}, "$.report",
                             "Done"),
            "Done": {"Type": "Succeed"},
            "Failed": {"Type": "Fail", "Error": "Baseline.JobFailed"},
        },
    }


@functools.cache
def _sagemaker() -> Any:
    # Once per process, as a warm Lambda container would: a SageMaker client takes ~40 ms to build.
    return boto3.client("sagemaker")


def create_job(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = event["prepared"]["request"]
    _sagemaker().create_hyper_parameter_tuning_job(**request)
    return {"job_name": request["HyperParameterTuningJobName"], "status": "InProgress"}


def describe_job(event: dict[str, Any], context: Any) -> dict[str, Any]:
    name = event["job_name"]
    desc = _sagemaker().describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    return {"job_name": name, "status": desc["HyperParameterTuningJobStatus"]}


def poll_loop_functions() -> dict[str, Callable[[Any, Any], Any]]:
    """The baseline's own functions (in-process); prepare and report are the project's."""
    return {"create_job": create_job, "describe_job": describe_job}
