"""`amt submit` and `amt status` against moto: the stack's outputs are stubbed, S3, Step Functions and the
registry are real APIs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from amt_conductor.cli import remote
from amt_conductor.cli.main import main
from amt_conductor.contract import RegistrySchema as K
from amt_conductor.contract import StackOutputs
from amt_conductor.runtime.registry import Registry, RoundStatus
from amt_conductor.spec.naming import execution_name

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:amt-workflow"


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="amt-configs")
        s3.put_bucket_versioning(Bucket="amt-configs", VersioningConfiguration={"Status": "Enabled"})
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(
            TableName="amt-registry", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": K.PK, "AttributeType": "S"},
                                  {"AttributeName": K.SK, "AttributeType": "S"}],
            KeySchema=[{"AttributeName": K.PK, "KeyType": "HASH"}, {"AttributeName": K.SK, "KeyType": "RANGE"}])
        outputs = {StackOutputs.CONFIGS_BUCKET: "amt-configs", StackOutputs.CONFIGS_PREFIX: "configs/",
                   StackOutputs.STATE_MACHINE_ARN: MACHINE, StackOutputs.REGISTRY_TABLE: "amt-registry"}
        monkeypatch.setattr(remote, "stack_outputs", lambda stack, region: outputs)
        yield s3, ddb


def test_submit_uploads_the_validated_spec_and_names_the_execution_from_its_version(
        stack: Any, capsys: pytest.CaptureFixture[str]) -> None:
    s3, _ = stack
    assert main(["submit", str(CONFIGS / "churn-xgb.yaml"), "--stack", "AmtConductor", "--no-wait"]) == 0
    obj = s3.get_object(Bucket="amt-configs", Key="configs/churn-xgb.yaml")
    assert obj["Body"].read() == (CONFIGS / "churn-xgb.yaml").read_bytes()
    # The start function derives the same name from the same version: the ARN is known before the run starts.
    expected = MACHINE.replace(":stateMachine:", ":execution:") + ":" + execution_name("churn-xgb", obj["VersionId"])
    assert capsys.readouterr().out.strip() == expected


def test_submit_refuses_an_invalid_spec_and_uploads_nothing(
        stack: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s3, _ = stack
    bad = tmp_path / "bad.yaml"
    shutil.copy(CONFIGS / "churn-xgb.yaml", bad)
    bad.write_text(bad.read_text().replace("max_parallel_jobs: 2", "max_parallel_jobs: 200"))
    assert main(["submit", str(bad), "--stack", "AmtConductor", "--no-wait"]) == 1
    assert capsys.readouterr().err.startswith(f"{bad}: resources.max_parallel_jobs:")
    assert s3.list_objects_v2(Bucket="amt-configs").get("KeyCount", 0) == 0


def test_status_lists_rounds_from_the_registry(stack: Any, capsys: pytest.CaptureFixture[str]) -> None:
    _, ddb = stack
    reg = Registry(ddb, "amt-registry")
    loc = {"bucket": "amt-configs", "key": "configs/churn-xgb.yaml", "version_id": "v1"}
    reg.put_study_spec("churn-xgb", spec_location=loc, goal="maximize", schedule=None)
    reg.claim_run("run-1", study="churn-xgb", trigger="s3", spec_location=loc)
    reg.claim_round("churn-xgb", 1, run_id="run-1", job_name="churn-xgb-r1-aaaaaa", parents=[],
                    spec_location=loc, worst_case_hours=20)
    reg.set_round("churn-xgb", 1, RoundStatus.COMPLETED, best_objective=0.91, report_uri="s3://a/r1.md")
    reg.claim_round("churn-xgb", 2, run_id="run-1", job_name="churn-xgb-r2-aaaaaa",
                    parents=["churn-xgb-r1-aaaaaa"], spec_location=loc, worst_case_hours=20)
    assert main(["status", "churn-xgb", "--stack", "AmtConductor"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["round", "job_name", "status", "best_objective", "parents", "report_uri",
                                "model_package"]
    assert lines[2].split() == ["1", "churn-xgb-r1-aaaaaa", "COMPLETED", "0.91", "-", "s3://a/r1.md", "-"]
    assert lines[3].split()[:3] == ["2", "churn-xgb-r2-aaaaaa", "LAUNCHING"]
    assert lines[3].split()[4] == "churn-xgb-r1-aaaaaa"


def test_status_of_an_unknown_study_is_a_one_line_error(stack: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "ghost", "--stack", "AmtConductor"]) == 1
    assert capsys.readouterr().err.strip() == "no rounds recorded for study 'ghost'"


def test_a_missing_stack_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from botocore.stub import Stubber

    cfn = boto3.client("cloudformation", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(cfn)
    stubber.add_client_error("describe_stacks", "ValidationError", "Stack with id Nope does not exist")
    stubber.activate()
    monkeypatch.setattr(boto3, "client", lambda service, **kwargs: cfn)
    assert main(["status", "churn-xgb", "--stack", "Nope"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("stack Nope: cannot read the stack:")
    assert "does not exist" in err[0]


def _promoted_study(ddb: Any) -> Registry:
    reg = Registry(ddb, "amt-registry")
    loc = {"bucket": "amt-configs", "key": "configs/churn-xgb.yaml", "version_id": "v1"}
    reg.put_study_spec("churn-xgb", spec_location=loc, goal="maximize", schedule=None)
    reg.claim_run("run-1", study="churn-xgb", trigger="s3", spec_location=loc)
    reg.claim_round("churn-xgb", 1, run_id="run-1", job_name="churn-xgb-r1-aaaaaa", parents=[],
                    spec_location=loc, worst_case_hours=20)
    reg.set_round("churn-xgb", 1, RoundStatus.COMPLETED, best_objective=0.91, report_uri="s3://a/r1.md")
    reg.update_study_best("churn-xgb", goal="maximize", objective=0.91, training_job="churn-xgb-r1-aaaaaa-002-ab",
                          hyperparameters={"eta": "0.1"}, round_no=1,
                          report_uri="s3://amt-artifacts/reports/churn-xgb/churn-xgb-r1-aaaaaa/report.md")
    reg.record_promotion("run-1", "churn-xgb", {
        "registered": True, "package_arn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-xgb/1",
        "model_artifact": "s3://b/training/churn-xgb/churn-xgb-r1-aaaaaa-002-ab/output/model.tar.gz",
        "candidate": {"training_job": "churn-xgb-r1-aaaaaa-002-ab", "objective": 0.91}, "reason": "first"})
    return reg


def test_status_shows_the_package_a_run_registered(stack: Any, capsys: pytest.CaptureFixture[str]) -> None:
    _promoted_study(stack[1])
    assert main(["status", "churn-xgb", "--stack", "AmtConductor", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["model_package"].endswith(":model-package/churn-xgb/1")


def test_best_prints_job_objective_artifact_and_package(stack: Any, capsys: pytest.CaptureFixture[str]) -> None:
    _promoted_study(stack[1])
    assert main(["best", "churn-xgb", "--stack", "AmtConductor", "--json"]) == 0
    best = json.loads(capsys.readouterr().out)
    assert best["training_job"] == "churn-xgb-r1-aaaaaa-002-ab" and best["tuning_job"] == "churn-xgb-r1-aaaaaa"
    assert best["objective"] == 0.91 and best["hyperparameters"] == {"eta": "0.1"}
    assert best["model_package"].endswith("/churn-xgb/1")
    assert best["model_artifact"].endswith("/churn-xgb-r1-aaaaaa-002-ab/output/model.tar.gz")
    assert main(["best", "churn-xgb", "--stack", "AmtConductor"]) == 0
    table = capsys.readouterr().out
    assert "hyperparameter eta" in table and "model_package" in table


def test_best_of_an_unknown_study_is_a_one_line_error(stack: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["best", "ghost", "--stack", "AmtConductor"]) == 1
    assert capsys.readouterr().err.strip() == "no best training job recorded for study 'ghost'"


def test_report_prints_a_presigned_link_to_the_latest_html_page(stack: Any, capsys: pytest.CaptureFixture[str]) -> None:
    _promoted_study(stack[1])
    assert main(["report", "churn-xgb", "--stack", "AmtConductor"]) == 0
    url = capsys.readouterr().out.strip()
    path, _, query = url.partition("?")
    assert "amt-artifacts" in path and path.endswith("/reports/churn-xgb/churn-xgb-r1-aaaaaa/report.html")
    assert "Signature=" in query and "response-content-type=text%2Fhtml" in query


def test_report_from_a_simulator_folder_is_the_highest_round(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    for job, round_no in (("churn-xgb-r1-aaaaaa", 1), ("churn-xgb-r2-aaaaaa", 2)):
        folder = tmp_path / "reports" / "churn-xgb" / job
        folder.mkdir(parents=True)
        (folder / "report.json").write_text(json.dumps({"round": round_no}))
        (folder / "report.html").write_text("<!DOCTYPE html>")
    assert main(["report", "churn-xgb", "--local", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip().endswith("/churn-xgb-r2-aaaaaa/report.html")
    assert main(["report", "ghost", "--local", str(tmp_path)]) == 1


def test_status_shows_a_round_waiting_for_capacity_and_its_place(stack: Any,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from amt_conductor.runtime.capacity import Capacity, order_key

    _, ddb = stack
    reg = Registry(ddb, "amt-registry")
    loc = {"bucket": "amt-configs", "key": "configs/churn-xgb.yaml", "version_id": "v1"}
    reg.claim_run("run-1", study="churn-xgb", trigger="s3", spec_location=loc)
    reg.claim_round("churn-xgb", 1, run_id="run-1", job_name="churn-xgb-r1-aaaaaa", parents=[],
                    spec_location=loc, worst_case_hours=20)
    cap = Capacity(reg)
    needs = {"instance_type": "ml.m5.xlarge", "instances": 2}
    for t, job in ((100, "other-r1-bbbbbb"), (200, "churn-xgb-r1-aaaaaa"), (300, "late-r1-cccccc")):
        cap.enqueue(order_key(t, 0, job), {"job_name": job, "needs": needs})
    assert main(["status", "churn-xgb", "--stack", "AmtConductor"]) == 0
    row = capsys.readouterr().out.splitlines()[2]
    assert "churn-xgb-r1-aaaaaa" in row and "QUEUED (2 of 3)" in row
