"""A hand-written stack and stub handlers that prove the simulator harness on its own.

Same shape as the real workflow (prepare, launch with a task token, report, next round, notify;
failures recorded), with just enough logic to exercise each part of the harness: Lambda routing,
retries on simulated time, the token wait, simulated SageMaker, EventBridge rules and SNS.
"""

from __future__ import annotations

import json
from typing import Any

import boto3

from amt_conductor.spec.loader import parse_spec

ACCOUNT, REGION = "123456789012", "us-east-1"
SM_NAME = "Workflow"
SM_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{SM_NAME}"
CONFIGS, ARTIFACTS, TABLE = "sim-configsbucket", "sim-artifactsbucket", "Registry"


def _fn_arn(key: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:amt-sim-{key}"


def template() -> dict[str, Any]:
    return {"Resources": {
        "ConfigsBucket": {"Type": "AWS::S3::Bucket",
                          "Properties": {"VersioningConfiguration": {"Status": "Enabled"}}},
        "ArtifactsBucket": {"Type": "AWS::S3::Bucket"},
        "Registry": {"Type": "AWS::DynamoDB::Table", "Properties": {
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                     {"AttributeName": "sk", "AttributeType": "S"}]}},
        "Topic": {"Type": "AWS::SNS::Topic"},
        SM_NAME: {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
            "DefinitionString": json.dumps(definition()), "RoleArn": "arn:aws:iam::123456789012:role/x"}},
        "SpecUploaded": {"Type": "AWS::Events::Rule", "Properties": {
            "EventPattern": {"source": ["aws.s3"], "detail-type": ["Object Created"],
                             "detail": {"bucket": {"name": [{"Ref": "ConfigsBucket"}]},
                                        "object": {"key": [{"wildcard": "configs/*.yaml"}]}}},
            "Targets": [{"Arn": _fn_arn("start"), "Id": "start"}]}},
        "TuningJobEnded": {"Type": "AWS::Events::Rule", "Properties": {
            "EventPattern": {"source": ["aws.sagemaker"],
                             "detail-type": ["SageMaker HyperParameter Tuning Job State Change"],
                             "detail": {"HyperParameterTuningJobStatus": ["Completed", "Failed", "Stopped"]}},
            "Targets": [{"Arn": _fn_arn("resume"), "Id": "resume"}]}},
    }}


def _task(fn: str, nxt: str, payload: Any = "$", result_path: str = "$.out", **extra: Any) -> dict[str, Any]:
    params = {"FunctionName": "${fn:" + fn + "}", **({"Payload.$": payload} if isinstance(payload, str)
                                                     else {"Payload": payload})}
    return {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": params,
            "ResultSelector": {"Payload.$": "$.Payload"}, "ResultPath": result_path, "Next": nxt,
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "RecordFailure"}], **extra}


def definition() -> dict[str, Any]:
    return {"StartAt": "Prepare", "States": {
        "Prepare": _task("prepare", "UsePrepared", result_path="$.prepared", Retry=[
            {"ErrorEquals": ["Transient"], "IntervalSeconds": 3600, "MaxAttempts": 2}]),
        "UsePrepared": {"Type": "Pass", "InputPath": "$.prepared.Payload", "ResultPath": "$.prepared",
                        "Next": "Launch"},
        "Launch": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                   "Parameters": {"FunctionName": "${fn:launch}",
                                  "Payload": {"token.$": "$$.Task.Token", "prepared.$": "$.prepared"}},
                   "TimeoutSecondsPath": "$.prepared.timeout_seconds", "ResultPath": "$.launch", "Next": "Report",
                   "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "RecordFailure"}]},
        "Report": _task("report", "UseReport", {"prepared.$": "$.prepared", "launch.$": "$.launch"}, "$.report"),
        "UseReport": {"Type": "Pass", "InputPath": "$.report.Payload", "ResultPath": "$.report",
                      "Next": "NextRound?"},
        "NextRound?": {"Type": "Choice", "Default": "Notify", "Choices": [
            {"Variable": "$.report.continue", "BooleanEquals": True, "Next": "NextRoundInput"}]},
        "NextRoundInput": {"Type": "Pass", "Next": "Prepare", "Parameters": {
            "round.$": "States.MathAdd($.prepared.round, 1)", "source.$": "$.prepared.source",
            "parent.$": "$.prepared.job_name"}},
        "Notify": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "Next": "Done", "ResultPath": None,
                   "Parameters": {"TopicArn": "${topic}", "Subject": "done", "Message.$": "$.report.message"}},
        "Done": {"Type": "Succeed"},
        "RecordFailure": _task("record_failure", "Failed", result_path="$.recorded"),
        "Failed": {"Type": "Fail", "Error": "Amt.RunFailed"},
    }}


class Transient(Exception):
    """Raised once by prepare: the retry's hour-long interval must cost no wall time."""


class Stubs:
    def __init__(self) -> None:
        self.prepare_calls = 0

    def functions(self) -> dict[str, Any]:
        return {"start": self.start, "prepare": self.prepare, "launch": self.launch, "resume": self.resume,
                "report": self.report, "record_failure": self.record_failure}

    def start(self, event: dict[str, Any], ctx: Any) -> dict[str, Any]:
        obj = event["detail"]["object"]
        source = {"bucket": event["detail"]["bucket"]["name"], "key": obj["key"], "version_id": obj["version-id"]}
        sfn = boto3.client("stepfunctions")
        name = f"v-{obj['version-id']}"[:80]
        if any(e["name"] == name for e in sfn.list_executions(stateMachineArn=SM_ARN)["executions"]):
            return {"execution_arn": None, "started": False}
        arn = sfn.start_execution(stateMachineArn=SM_ARN, name=name, input=json.dumps({"source": source}))
        return {"execution_arn": arn["executionArn"], "started": True}

    def prepare(self, event: dict[str, Any], ctx: Any) -> dict[str, Any]:
        self.prepare_calls += 1
        if self.prepare_calls == 1:
            raise Transient("throttled, try again")
        src = event["source"]
        body = boto3.client("s3").get_object(Bucket=src["bucket"], Key=src["key"], VersionId=src["version_id"])
        spec = parse_spec(body["Body"].read(), src["key"])
        rnd = event.get("round", 1)
        ranges: dict[str, list[dict[str, Any]]] = {"ContinuousParameterRanges": [], "IntegerParameterRanges": [],
                                                   "CategoricalParameterRanges": []}
        for name, r in spec.ranges.items():
            if r.type == "categorical":
                ranges["CategoricalParameterRanges"].append({"Name": name, "Values": list(r.values)})
            else:
                scaling = {"log": "Logarithmic", "linear": "Linear"}.get(r.scaling, "Auto")
                ranges[f"{r.type.capitalize()}ParameterRanges"].append(
                    {"Name": name, "MinValue": str(r.min), "MaxValue": str(r.max), "ScalingType": scaling})
        request: dict[str, Any] = {
            "HyperParameterTuningJobName": f"{spec.name}-r{rnd}",
            "HyperParameterTuningJobConfig": {
                "Strategy": "Bayesian", "ParameterRanges": ranges,
                "HyperParameterTuningJobObjective": {"Type": spec.objective.goal.capitalize(),
                                                     "MetricName": spec.objective.metric},
                "ResourceLimits": {"MaxNumberOfTrainingJobs": spec.resources.max_jobs,
                                   "MaxParallelTrainingJobs": spec.resources.max_parallel_jobs}},
            "TrainingJobDefinition": {
                "AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File"},
                "RoleArn": "arn:aws:iam::123456789012:role/sagemaker", "StaticHyperParameters": {},
                "OutputDataConfig": {"S3OutputPath": f"s3://{ARTIFACTS}/out/"},
                "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
                "StoppingCondition": {"MaxRuntimeInSeconds": 3600}}}
        if event.get("parent"):
            request["WarmStartConfig"] = {"WarmStartType": "IdenticalDataAndAlgorithm",
                                          "ParentHyperParameterTuningJobs": [
                                              {"HyperParameterTuningJobName": event["parent"]}]}
        return {"round": rnd, "job_name": request["HyperParameterTuningJobName"], "request": request,
                "source": src, "max_rounds": spec.rounds.max, "timeout_seconds": 7 * 86400}

    def launch(self, event: dict[str, Any], ctx: Any) -> dict[str, Any]:
        prepared = event["prepared"]
        boto3.client("dynamodb").put_item(TableName=TABLE, Item={
            "pk": {"S": f"JOB#{prepared['job_name']}"}, "sk": {"S": "TOKEN"}, "token": {"S": event["token"]},
            "state": {"S": "WAITING"}})
        boto3.client("sagemaker").create_hyper_parameter_tuning_job(**prepared["request"])
        return {"created": prepared["job_name"]}

    def resume(self, event: dict[str, Any], ctx: Any) -> dict[str, Any]:
        detail = event["detail"]
        ddb = boto3.client("dynamodb")
        key = {"pk": {"S": f"JOB#{detail['HyperParameterTuningJobName']}"}, "sk": {"S": "TOKEN"}}
        try:
            item = ddb.update_item(TableName=TABLE, Key=key, UpdateExpression="SET #s = :r",
                                   ConditionExpression="#s = :w", ExpressionAttributeNames={"#s": "state"},
                                   ExpressionAttributeValues={":r": {"S": "RESUMED"}, ":w": {"S": "WAITING"}},
                                   ReturnValues="ALL_NEW")["Attributes"]
        except ddb.exceptions.ConditionalCheckFailedException:
            return {"resumed": False}
        sfn, status = boto3.client("stepfunctions"), detail["HyperParameterTuningJobStatus"]
        if status == "Completed":
            sfn.send_task_success(taskToken=item["token"]["S"], output=json.dumps({"status": status}))
        else:
            reason = boto3.client("sagemaker").describe_hyper_parameter_tuning_job(
                HyperParameterTuningJobName=detail["HyperParameterTuningJobName"]).get("FailureReason", "")
            sfn.send_task_failure(taskToken=item["token"]["S"], error=f"Amt.Job{status}", cause=reason)
        return {"resumed": True}

    def report(self, event: dict[str, Any], ctx: Any) -> dict[str, Any]:
        prepared = event["prepared"]
        sm = boto3.client("sagemaker")
        name = prepared["job_name"]
        best = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)["BestTrainingJob"]
        jobs = [s for page in sm.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job").paginate(
            HyperParameterTuningJobName=name) for s in page["TrainingJobSummaries"]]
        key = f"reports/{name}.json"
        boto3.client("s3").put_object(Bucket=ARTIFACTS, Key=key, Body=json.dumps({"jobs": len(jobs)}).encode())
        value = best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        return {"continue": prepared["round"] < prepared["max_rounds"], "report_uri": f"s3://{ARTIFACTS}/{key}",
                "message": f"{name}: best {value} over {len(jobs)} training jobs"}

    def record_failure(self, event: dict[str, Any], ctx: Any) -> dict[str, Any]:
        cause = event["error"].get("Cause", "")
        job = (event.get("prepared") or {}).get("job_name", "?")
        boto3.client("dynamodb").put_item(TableName=TABLE, Item={
            "pk": {"S": "RUN#x"}, "sk": {"S": "META"}, "status": {"S": "FAILED"}, "reason": {"S": cause}})
        boto3.client("sns").publish(TopicArn=f"arn:aws:sns:{REGION}:{ACCOUNT}:Topic", Subject="failed",
                                    Message=f"tuning job {job} failed: {cause}")
        return {"recorded": True}
