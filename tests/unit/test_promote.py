"""Promote: the CreateModelPackage request (checked against botocore's model), the comparison with the
group's current model, and a retried step registering one version."""

from __future__ import annotations

import dataclasses
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator
from conftest import ACCOUNT, ARTIFACTS, REGION, World, spec_doc

from amt_conductor.handlers import promote
from amt_conductor.runtime.promote import Meta, compare, inference_image, package_request
from amt_conductor.spec.images import resolve_image
from amt_conductor.spec.model import Spec

GROUP = "churn-models"
PROMOTE = {"model_package_group": GROUP}
SM_MODEL = botocore.session.get_session().get_service_model("sagemaker")


def validate(operation: str, params: dict[str, Any]) -> None:
    """Raise when botocore's model refuses the request (types, enums, lengths, required members)."""
    report = ParamValidator().validate(params, SM_MODEL.operation_model(operation).input_shape)
    assert not report.has_errors(), report.generate_report()


def _spec(**changes: Any) -> Spec:
    return Spec.model_validate(spec_doc(**{"promote": PROMOTE, **changes}))


def _request(spec: Spec, **changes: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "run_id": "churn-0123456789abcdef", "round_no": 3, "tuning_job": "churn-r3-abc123",
        "training_job": "churn-r3-abc123-004-1a2b3c4d", "objective": 0.8731, "hyperparameters":
        {"eta": "0.1", "max_depth": "6", "note": "a,b {c}"}, "model_data_url":
        f"s3://{ARTIFACTS}/training/churn/churn-r3-abc123-004-1a2b3c4d/output/model.tar.gz",
        "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:1.0",
        "report_uri": f"s3://{ARTIFACTS}/reports/churn/churn-r3-abc123/report.md",
        "spec_location": {"bucket": "amt-configs", "key": "configs/churn.yaml", "version_id": "v.1_x"},
    }
    return package_request(spec, **{**kwargs, **changes})


def test_request_is_valid_for_botocore_and_names_the_job_and_objective() -> None:
    spec = _spec(promote={**PROMOTE, "inference": {"instance_types": ["ml.m5.large"], "content_types": ["text/csv"],
                                                   "response_types": ["text/csv"]}})
    req = _request(spec)
    validate("CreateModelPackage", req)
    meta = req["CustomerMetadataProperties"]
    assert meta[Meta.TRAINING_JOB] == "churn-r3-abc123-004-1a2b3c4d" and meta[Meta.TUNING_JOB] == "churn-r3-abc123"
    assert meta[Meta.METRIC] == "validation:auc" and float(meta[Meta.VALUE]) == 0.8731
    assert meta[Meta.RUN] == "churn-0123456789abcdef" and meta[Meta.ROUND] == "3"
    assert meta[f"{Meta.HP}note"] == "a_b _c_"  # botocore's value pattern has no , { }
    assert req["ModelApprovalStatus"] == "PendingManualApproval"
    container = req["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"].endswith("/output/model.tar.gz")


def test_many_hyperparameters_stay_within_fifty_metadata_entries() -> None:
    req = _request(_spec(), hyperparameters={f"p{i:02d}": str(i) for i in range(80)})
    validate("CreateModelPackage", req)
    assert len(req["CustomerMetadataProperties"]) == 50


def test_client_token_is_per_run() -> None:
    spec = _spec()
    a, b, c = _request(spec), _request(spec), _request(spec, run_id="other-run")
    assert a["ClientToken"] == b["ClientToken"] != c["ClientToken"]


def test_approved_in_the_spec_registers_approved() -> None:
    req = _request(_spec(promote={**PROMOTE, "approval": "approved"}))
    assert req["ModelApprovalStatus"] == "Approved"


def test_inference_image_builtin_from_the_catalog_custom_defaults_to_training() -> None:
    xgb = Spec.model_validate(spec_doc(promote=PROMOTE, algorithm={"builtin": "xgboost", "version": "1.7-1"}))
    assert inference_image(xgb, region="eu-west-1", training_image="ignored") == \
        resolve_image("xgboost", "1.7-1", "eu-west-1", "ml.m5.xlarge")
    custom = _spec()
    assert inference_image(custom, region=REGION, training_image="img:train") == "img:train"
    named = _spec(promote={**PROMOTE, "inference": {"image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/serve:1"}})
    assert inference_image(named, region=REGION, training_image="img:train").endswith("/serve:1")


@pytest.mark.parametrize(("goal", "value", "current", "register"), [
    ("maximize", 0.9, 0.8, True), ("maximize", 0.8, 0.8, False), ("maximize", 0.7, 0.8, False),
    ("minimize", 0.1, 0.2, True), ("minimize", 0.3, 0.2, False),
])
def test_compare_follows_the_goal(goal: str, value: float, current: float, register: bool) -> None:
    pkg = {"arn": "arn:pkg/1", "version": 1, "status": "Approved", "metric": "m", "objective": current}
    assert compare(goal, "m", value, pkg)[0] is register


def test_compare_without_a_current_model_or_its_value_registers() -> None:
    assert compare("maximize", "m", 0.5, None)[0]
    assert compare("maximize", "m", 0.5, {"arn": "a", "version": 1, "status": "Approved", "metric": "other",
                                          "objective": 0.9})[0]


def test_spec_model_rejects_bad_promote_fields() -> None:
    from pydantic import ValidationError

    for bad in ({"model_package_group": "ends-with-"}, {"model_package_group": "g", "approval": "rejected"},
                {"model_package_group": "g", "inference": {"instance_types": ["m5.large"]}},
                {"model_package_group": "g", "typo": 1}):
        with pytest.raises(ValidationError):
            Spec.model_validate(spec_doc(promote=bad))


def test_framework_builtin_needs_an_inference_image() -> None:
    from amt_conductor.spec.rules import check_rules

    spec = Spec.model_validate(spec_doc(promote=PROMOTE, algorithm={
        "builtin": "pytorch", "version": "2.1", "py_version": "py310",
        "metrics": [{"name": "validation:auc", "regex": "auc=([0-9.]+)"}]}))
    assert [e.path for e in check_rules(spec)] == ["promote.inference.image"]


# --- the step, on moto's model registry --------------------------------------------------------


@pytest.fixture
def registry_world(world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    world.rt.settings = dataclasses.replace(world.rt.settings, model_package_groups=(GROUP,))
    world.sm.create_model_package_group(ModelPackageGroupName=GROUP)

    def describe_training_job(TrainingJobName: str) -> dict[str, Any]:
        return {"TrainingJobName": TrainingJobName,
                "ModelArtifacts": {"S3ModelArtifacts": f"s3://{ARTIFACTS}/training/churn/{TrainingJobName}/"
                                                       "output/model.tar.gz"},
                "AlgorithmSpecification": {"TrainingImage": "img:train"}}
    monkeypatch.setattr(world.sm, "describe_training_job", describe_training_job, raising=False)
    return world


def _finish_run(w: World, objectives: list[float | None], run_id: str = "run-1") -> dict[str, Any]:
    doc = spec_doc(promote=PROMOTE, rounds={"max": 1})
    p = w.launch_round(w.put_spec(doc), run_id=run_id)
    rep = w.complete_round(p, objectives)
    assert rep["continue"] is False and rep["promote"] is True
    out: dict[str, Any] = w.call(promote, {"prepared": p, "report": rep})
    return out


def _packages(w: World) -> list[dict[str, Any]]:
    arns = [s["ModelPackageArn"] for s in w.sm.list_model_packages(ModelPackageGroupName=GROUP)
            ["ModelPackageSummaryList"]]
    return [w.sm.describe_model_package(ModelPackageName=a) for a in arns]


def test_the_best_job_is_registered_pending_with_its_metadata(registry_world: World) -> None:
    w = registry_world
    out = _finish_run(w, [0.7, 0.9, 0.8])
    (pkg,) = _packages(w)
    assert out["promotion"]["registered"] and out["promotion"]["package_arn"] == pkg["ModelPackageArn"]
    assert pkg["ModelApprovalStatus"] == "PendingManualApproval"
    meta = pkg["CustomerMetadataProperties"]
    run = w.rt.registry.run("run-1")
    assert run is not None and run["package_arn"] == pkg["ModelPackageArn"] and run["status"] == "SUCCEEDED"
    study = w.rt.registry.study("churn")
    assert study is not None and meta[Meta.TRAINING_JOB] == study["best_training_job"]
    assert float(meta[Meta.VALUE]) == 0.9
    assert "model registered" in out["subject"] and pkg["ModelPackageArn"] in out["message"]
    md = w.s3.get_object(Bucket=ARTIFACTS, Key=out["report_uri"].split(f"{ARTIFACTS}/")[1])["Body"].read().decode()
    assert "## Model registry: `churn-models`" in md


def test_a_retried_step_registers_one_version(registry_world: World) -> None:
    w = registry_world
    doc = spec_doc(promote=PROMOTE, rounds={"max": 1})
    p = w.launch_round(w.put_spec(doc))
    rep = w.complete_round(p, [0.7, 0.9])
    first = w.call(promote, {"prepared": p, "report": rep})
    again = w.call(promote, {"prepared": p, "report": rep})
    assert len(_packages(w)) == 1
    assert again["promotion"]["package_arn"] == first["promotion"]["package_arn"]


def test_a_retry_after_the_create_finds_the_package_by_run_id(registry_world: World) -> None:
    w = registry_world
    doc = spec_doc(promote=PROMOTE, rounds={"max": 1})
    p = w.launch_round(w.put_spec(doc))
    rep = w.complete_round(p, [0.7, 0.9])
    real = w.rt.registry.record_promotion
    calls = []

    def lose_first(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("Lambda timed out after CreateModelPackage")
        return real(*args, **kwargs)
    w.rt.registry.record_promotion = lose_first  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        w.call(promote, {"prepared": p, "report": rep})
    out = w.call(promote, {"prepared": p, "report": rep})
    (pkg,) = _packages(w)
    assert out["promotion"]["package_arn"] == pkg["ModelPackageArn"]


def test_a_run_that_does_not_beat_the_approved_model_registers_nothing(registry_world: World) -> None:
    w = registry_world
    _finish_run(w, [0.7, 0.9])
    (first,) = _packages(w)
    w.sm.update_model_package(ModelPackageArn=first["ModelPackageArn"], ModelApprovalStatus="Approved",
                              CustomerMetadataProperties=first["CustomerMetadataProperties"])
    out = _finish_run(w, [0.85, 0.88], run_id="run-2")
    assert len(_packages(w)) == 1
    assert out["promotion"]["registered"] is False and "does not beat" in out["promotion"]["reason"]
    assert "no model registered" in out["subject"] and "does not beat" in out["message"]
    run = w.rt.registry.run("run-2")
    assert run is not None and "package_arn" not in run


def test_an_uploaded_spec_naming_another_group_is_refused_before_tuning(registry_world: World) -> None:
    from amt_conductor.runtime.rounds import SpecInvalid

    w = registry_world
    src = w.put_spec(spec_doc(promote={"model_package_group": "someone-elses"}))
    with pytest.raises(SpecInvalid, match=r"promote\.model_package_group"):
        from amt_conductor.runtime.rounds import prepare
        prepare(w.rt, {"source": src, "run_id": "run-1", "trigger": "s3"})
    # A stack whose reviewed specs name no group may register in none.
    w.rt.settings = dataclasses.replace(w.rt.settings, model_package_groups=())
    with pytest.raises(SpecInvalid) as none:
        prepare(w.rt, {"source": src, "run_id": "run-1", "trigger": "s3"})
    assert str(none.value) == ("configs/churn.yaml: promote.model_package_group: 'someone-elses' is not a group "
                               "this stack may register in (none); add the spec to configs/ and cdk deploy")
    # The message lists the groups the stack may register in, as the deployed specs name them.
    w.rt.settings = dataclasses.replace(w.rt.settings, model_package_groups=(GROUP, "fraud-models"))
    with pytest.raises(SpecInvalid) as exc:
        prepare(w.rt, {"source": src, "run_id": "run-1", "trigger": "s3"})
    assert str(exc.value) == (f"configs/churn.yaml: promote.model_package_group: 'someone-elses' is not a group "
                              f"this stack may register in ({GROUP}, fraud-models); add the spec to configs/ and "
                              "cdk deploy")
