"""Each function's role allows exactly the AWS actions its handler calls (issue 9, finding 13).

The calls are not copied from the policies: every handler runs its paths against moto while botocore
records each operation it sends, and the IAM action is derived from botocore's service model (the
signing name is the IAM prefix). The few actions a call needs beyond its own name are from the AWS
documentation (`IMPLIED` below). Then the synthesized template's Allow statements for each function's
role must match those actions one to one: no missing grant, nothing granted that no call uses.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.client import BaseClient
from conftest import World, spec_doc, summary

from amt_conductor.cdk import ids
from amt_conductor.contract import Quotas

pytestmark = pytest.mark.infra

# Infrastructure every function has (its own log group, X-Ray, the CMK behind encrypted resources): no
# call in the handler's code makes them, so they are outside this comparison (tests/infra checks them).
NOT_HANDLER_CALLS = ("logs:", "xray:", "kms:")


def implied(action: str, params: dict[str, Any]) -> set[str]:
    """IAM actions one API call needs, from the service authorization reference."""
    if action == "s3:GetObject" and params.get("VersionId"):
        return {"s3:GetObjectVersion"}  # GetObject of a given version is authorized as GetObjectVersion
    if action == "s3:ListObjectsV2":
        return {"s3:ListBucket"}  # listing a bucket's keys is authorized as ListBucket
    if action == "s3:HeadObject":
        return {"s3:GetObjectVersion" if params.get("VersionId") else "s3:GetObject"}
    if action == "dynamodb:TransactWriteItems":
        # No action of its own: each item is authorized as the operation it performs.
        kinds = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck":
                 "ConditionCheckItem"}
        return {f"dynamodb:{kinds[k]}" for item in params["TransactItems"] for k in item}
    out = {action}
    if action == "sagemaker:CreateHyperParameterTuningJob":
        out.add("iam:PassRole")  # the job's RoleArn
        if params.get("Tags"):
            out.add("sagemaker:AddTags")  # tagging on create needs AddTags
    return out


class Calls:
    """botocore operations sent while `handler` runs, as IAM actions."""

    def __init__(self) -> None:
        self.by_handler: dict[str, set[str]] = defaultdict(set)
        self.current: str | None = None

    def record(self, client: BaseClient, operation: str, params: dict[str, Any]) -> None:
        if self.current is not None:
            prefix = client.meta.service_model.signing_name
            self.by_handler[self.current] |= implied(f"{prefix}:{operation}", params)

    def run(self, w: World, handler: str, event: Any) -> Any:
        import importlib

        module = importlib.import_module(f"amt_conductor.handlers.{handler}")
        self.current = handler
        try:
            return w.call(module, event)
        except Exception:  # a path that fails still made its calls
            return None
        finally:
            self.current = None


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Calls]:
    rec = Calls()
    original = BaseClient._make_api_call

    def make_api_call(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        rec.record(self, operation, params)
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", make_api_call)
    # The SageMaker test double answers two operations moto lacks without a botocore call, and makes calls
    # of its own (a describe to see whether a job exists): record what the handler asked for, named by
    # botocore's method-to-operation mapping, and nothing the double does to answer it.
    from conftest import FakeSageMaker

    def recorded(method: str) -> Any:
        original = getattr(FakeSageMaker, method)

        def fake(self: FakeSageMaker, **kwargs: Any) -> Any:
            rec.record(self._client, self._client.meta.method_to_api_mapping[method], kwargs)
            handler, rec.current = rec.current, None
            try:
                return original(self, **kwargs)
            finally:
                rec.current = handler
        return fake

    for method in ("create_hyper_parameter_tuning_job", "describe_hyper_parameter_tuning_job",
                   "list_training_jobs_for_hyper_parameter_tuning_job", "stop_hyper_parameter_tuning_job"):
        monkeypatch.setattr(FakeSageMaker, method, recorded(method))
    yield rec


def exercise_every_handler(w: World, c: Calls) -> None:
    """Each handler's paths: the happy ones and the ones that fail, stop or adopt."""
    w.put_deployed(spec_doc())  # what cdk deploy wrote: schedules run it, uploads keep its code
    loc = w.put_spec(spec_doc())
    c.run(w, "start", w.s3_event(loc))
    c.run(w, "start", w.s3_event(loc))  # duplicate: ExecutionAlreadyExists
    c.run(w, "start", {"study": "churn", "trigger": "schedule", "time": "2026-11-23T10:00:00Z"})
    prepared = c.run(w, "prepare", {"input": {"source": loc, "trigger": "s3"}, "run_id": "run-1"})
    c.run(w, "admit", {"prepared": prepared})
    c.run(w, "launch", {"token": "t-1", "prepared": prepared})
    w.sm.status[prepared["job_name"]] = ("InProgress", "")
    c.run(w, "launch", {"token": "t-2", "prepared": prepared})  # retried: adopts the running job
    w.sm.status[prepared["job_name"]] = ("Completed", "")
    c.run(w, "launch", {"token": "t-3", "prepared": prepared})  # adopts a job that already ended: resumes
    c.run(w, "resume", w.job_event(prepared["job_name"], "Completed"))  # a duplicate
    w.sm.training_jobs[prepared["job_name"]] = [summary(prepared["job_name"], 0, 0.8)]
    report = c.run(w, "report", {"prepared": prepared, "launch": {"job_name": prepared["job_name"],
                                                                  "status": "Completed"}})
    assert report is not None
    # The run ends by registering its best model (nothing to compare with yet); a second run's Promote finds
    # the group's packages and compares (DescribeModelPackage).
    w.rt.settings = dataclasses.replace(w.rt.settings, model_package_groups=("churn-models",))
    w.sm.create_model_package_group(ModelPackageGroupName="churn-models")
    best = report["best_training_job"]
    w.sm.create_training_job(
        TrainingJobName=best, RoleArn="arn:aws:iam::123456789012:role/amt-sagemaker",
        AlgorithmSpecification={"TrainingImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:1.0",
                                "TrainingInputMode": "File"},
        OutputDataConfig={"S3OutputPath": "s3://amt-artifacts/training/churn/"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
        StoppingCondition={"MaxRuntimeInSeconds": 3600})
    promoting = w.put_spec(spec_doc(promote={"model_package_group": "churn-models"}))
    for run in ("run-p1", "run-p2"):
        p_run = {**prepared, "run_id": run, "spec_location": promoting}
        w.rt.registry.claim_run(run, study="churn", trigger="s3", spec_location=promoting)
        c.run(w, "promote", {"prepared": p_run, "report": {**report, "promote": True}, "run_id": run})
    # New data: an upload noted from its event, then the check (the bucket sends events: no listing; listing is
    # granted only for the amt:dataPrefixes context, tests/infra/test_promote.py).
    c.run(w, "start", {"study": "churn", "trigger": "new-data-object", "time": "2026-11-23T09:00:00Z",
                       "key": "churn/train/a.csv"})
    c.run(w, "start", {"study": "churn", "trigger": "new-data-check", "quiet_seconds": 60,
                       "prefixes": ["s3://my-data-bucket/churn/train/"]})
    # The next run warm-starts from round 1 (reads its spec version and token) and resumes by event;
    # its wait then times out and the job is stopped.
    second = c.run(w, "prepare", {"input": {"source": loc, "trigger": "s3"}, "run_id": "run-2"})
    c.run(w, "admit", {"prepared": second})
    c.run(w, "launch", {"token": "t-4", "prepared": second})
    w.sm.status[second["job_name"]] = ("InProgress", "")
    c.run(w, "record_failure", {"input": {"prepared": second}, "run_id": "run-2",
                                "error": {"Error": "States.Timeout", "Cause": ""}})
    # Scheduled runs whose jobs end, told by their event or noticed by the reconciler; one aborted while running.
    w.rt.settings = dataclasses.replace(w.rt.settings, quiet_minutes=-1)
    for i, (status, by) in enumerate([(s, by) for by in ("resume", "reconcile") for s in ("Completed", "Failed")]):
        p = c.run(w, "prepare", {"input": {"study": "churn", "trigger": "schedule"}, "run_id": f"run-{i + 3}"})
        c.run(w, "admit", {"prepared": p})
        c.run(w, "launch", {"token": f"t-run-{i + 3}", "prepared": p})
        w.sm.status[p["job_name"]] = ("InProgress", "")
        c.run(w, "reconcile", {})  # running: touched
        w.sm.status[p["job_name"]] = (status, "")
        c.run(w, by, w.job_event(p["job_name"], status) if by == "resume" else {})
        w.rt.registry.set_round("churn", p["round"], "COMPLETED")
    # A guarded study's job is created as its launcher role (assumed by launch).
    guarded = c.run(w, "prepare", {"input": {"source": w.put_spec(spec_doc(name="guarded"),
                                                                  key="configs/guarded.yaml"), "trigger": "s3"},
                                   "run_id": "run-g"})
    c.run(w, "launch", {"token": "t-g", "prepared": {
        **guarded, "launcher_role_arn": "arn:aws:iam::123456789012:role/amt/S/launch/guarded.k.us-east-1"}})
    # Over a quota of one tuning job, rounds queue and park their tokens; each way capacity comes back
    # (a run stopped, a job ended, a run failed and the reconciler as backstop) admits the next.
    w.rt.settings = dataclasses.replace(w.rt.settings, quotas=Quotas(tuning_jobs=1))
    p = c.run(w, "prepare", {"input": {"study": "churn", "trigger": "schedule"}, "run_id": "run-9"})
    c.run(w, "admit", {"prepared": p})
    c.run(w, "launch", {"token": "t-run-9", "prepared": p})
    w.sm.status[p["job_name"]] = ("InProgress", "")
    queued = {}
    for i in range(10, 15):
        other = w.put_spec(spec_doc(name=f"other{i}"), key=f"configs/other{i}.yaml")
        q = c.run(w, "prepare", {"input": {"source": other, "trigger": "s3"}, "run_id": f"run-{i}"})
        c.run(w, "admit", {"prepared": q})
        c.run(w, "admit", {"prepared": q, "token": f"q-run-{i}"})
        queued[i] = q
    c.run(w, "stop", {"detail": {"status": "ABORTED", "name": "run-10"}})  # queued: leaves the queue
    c.run(w, "stop", {"detail": {"status": "ABORTED", "name": "run-9"}})  # running: run-11 is admitted
    c.run(w, "launch", {"token": "t-run-11", "prepared": queued[11]})
    w.sm.status[queued[11]["job_name"]] = ("Completed", "")
    c.run(w, "resume", w.job_event(queued[11]["job_name"], "Completed"))  # run-12 is admitted
    c.run(w, "record_failure", {"input": {"prepared": queued[12]}, "run_id": "run-12",
                                "error": {"Error": "Transient", "Cause": "ResourceLimitExceeded"}})
    c.run(w, "reconcile", {})  # run-13 is admitted by the backstop


# Lambda itself sends a failed asynchronous event to the function's on-failure destination, with the
# function's role: CDK grants these for a queue destination. They belong to the destination, not the code.
DESTINATION_ACTIONS = {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}


def granted(synth: Any, handler: str) -> set[str]:
    """Allow actions of every policy attached to the handler's function role (less the destination's)."""
    resources = synth.json["Resources"]
    ((fid, fn),) = [(k, r) for k, r in resources.items() if r["Type"] == "AWS::Lambda::Function"
                    and r["Properties"].get("Handler") == ids.handler_string(handler)]
    role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    has_queue_destination = any(
        r["Type"] == "AWS::Lambda::EventInvokeConfig" and fid in repr(r["Properties"]["FunctionName"])
        and "Queue" in repr(r["Properties"].get("DestinationConfig", {}).get("OnFailure"))
        for r in resources.values())
    out: set[str] = set()
    for res in resources.values():
        if res["Type"] not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            continue
        if {"Ref": role} not in res["Properties"].get("Roles", []):
            continue
        for st in res["Properties"]["PolicyDocument"]["Statement"]:
            if st["Effect"] == "Allow":
                out.update(st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
    if has_queue_destination:
        out -= DESTINATION_ACTIONS
    return {a for a in out if not a.startswith(NOT_HANDLER_CALLS)}


@pytest.fixture(scope="module")
def template() -> Any:
    import importlib.util
    import sys
    from pathlib import Path

    # The infra tests' synthesizer (a module of theirs, loaded by path: `tests` is not a package).
    path = Path(__file__).resolve().parents[1] / "infra" / "conftest.py"
    spec = importlib.util.spec_from_file_location("amt_infra_synth", path)
    assert spec is not None and spec.loader is not None
    module = sys.modules["amt_infra_synth"] = importlib.util.module_from_spec(spec)  # dataclasses look it up
    spec.loader.exec_module(module)
    return module.synthesize(nag=False)


def test_each_role_allows_exactly_what_its_handler_calls(world: World, calls: Calls, template: Any) -> None:
    exercise_every_handler(world, calls)
    assert set(calls.by_handler) == set(ids.HANDLERS), "every handler ran"
    problems = []
    for handler in ids.HANDLERS:
        used, allowed = calls.by_handler[handler], granted(template, handler)
        missing = sorted(a for a in used if not any(fnmatch.fnmatchcase(a, g) for g in allowed))
        unused = sorted(g for g in allowed if not any(fnmatch.fnmatchcase(a, g) for a in used))
        problems += [f"{handler}: calls {a} but its role does not allow it" for a in missing]
        problems += [f"{handler}: its role allows {g} but the handler never calls it" for g in unused]
    assert problems == [], "\n".join(problems)
