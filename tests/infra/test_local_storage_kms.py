"""KMS on instance types with local NVMe storage (issue 8, bug 4): SageMaker refuses VolumeKmsKeyId there,
so the request leaves it out, `amt plan` says so, and the stack's KMS denies still let the job launch."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import botocore.session
import pytest
import yaml
from aws_cdk import App, Environment, Stack
from botocore.validate import ParamValidator

from amt_conductor.cdk.roles import controls_deny_statements
from amt_conductor.cdk.study_scope import study_access
from amt_conductor.spec.errors import SpecError
from amt_conductor.spec.instances import EBS_ONLY_FAMILIES, LOCAL_STORAGE_FAMILIES, family, has_local_storage
from amt_conductor.spec.loader import parse_spec
from amt_conductor.spec.model import Spec
from amt_conductor.spec.plan import make_plan
from amt_conductor.spec.render import render_request

ROOT = Path(__file__).resolve().parents[2]
ROLE = "arn:aws:iam::123456789012:role/sagemaker-tuning"


def _fraud(instance_type: str) -> Spec:
    doc = yaml.safe_load((ROOT / "configs" / "fraud-random-spot.yaml").read_text())
    doc["resources"]["instance_type"] = instance_type
    return parse_spec(yaml.safe_dump(doc, sort_keys=False), "fraud-random-spot.yaml")


def _request(spec: Spec) -> dict[str, Any]:
    return render_request(spec, region="us-east-1", role_arn=ROLE, output_bucket="artifacts")


# --- a small evaluator of the deny statements' conditions, with IAM's rules for absent keys -------------

def _context(request: dict[str, Any]) -> dict[str, Any]:
    """The condition keys SageMaker sets for this CreateHyperParameterTuningJob request."""
    td = request["TrainingJobDefinition"]
    res = td.get("ResourceConfig") or td["HyperParameterTuningResourceConfig"]
    types = [res["InstanceType"]] if "InstanceType" in res else [c["InstanceType"] for c in res["InstanceConfigs"]]
    ctx: dict[str, Any] = {"sagemaker:InstanceTypes": types,
                           "sagemaker:VolumeKmsKey": res.get("VolumeKmsKeyId"),
                           "sagemaker:OutputKmsKey": td["OutputDataConfig"].get("KmsKeyId"),
                           "sagemaker:VpcSubnets": td.get("VpcConfig", {}).get("Subnets"),
                           "sagemaker:VpcSecurityGroupIds": td.get("VpcConfig", {}).get("SecurityGroupIds"),
                           "sagemaker:NetworkIsolation": td.get("EnableNetworkIsolation"),
                           "sagemaker:InterContainerTrafficEncryption": td.get("EnableInterContainerTrafficEncryption")}
    return {k: v for k, v in ctx.items() if v is not None}


def _values(v: Any) -> list[str]:
    return [str(x) for x in (v if isinstance(v, list) else [v])]


def _matches(operator: str, key: str, expected: Any, ctx: dict[str, Any]) -> bool:
    present, want = key in ctx, _values(expected)
    got = _values(ctx[key]) if present else []
    if operator == "StringNotEquals":  # negated operators match when the key is absent
        return not present or all(g not in want for g in got)
    if operator == "Null":
        return present != (want == ["true"])
    if operator == "Bool":
        return present and [g.lower() for g in got] == want
    if operator == "ForAnyValue:StringNotEquals":  # ForAnyValue on an absent key does not match
        return any(g not in want for g in got)
    raise AssertionError(f"condition operator {operator} is not modelled here")


def _denied_by(statements: list[dict[str, Any]], ctx: dict[str, Any]) -> list[str]:
    return [s["Sid"] for s in statements if s["Effect"] == "Deny" and all(
        _matches(op, key, expected, ctx) for op, block in s.get("Condition", {}).items()
        for key, expected in block.items())]


def _deny_statements(spec: Spec) -> list[dict[str, Any]]:
    stack = Stack(App(builtin_cloud_formation_validation=False), "Throwaway",
                  env=Environment(account="123456789012", region="us-east-1"))
    # The Denies of the study's launcher role (the only role that may pass its execution role).
    return [stack.resolve(s.to_statement_json()) for s in controls_deny_statements(stack, study_access(spec))]


def test_kms_on_a_local_storage_instance_renders_without_a_volume_key_and_iam_allows_it() -> None:
    spec = _fraud("ml.g5.2xlarge")
    request = _request(spec)
    td = request["TrainingJobDefinition"]
    model = botocore.session.get_session().get_service_model("sagemaker")
    ParamValidator().validate(request, model.operation_model("CreateHyperParameterTuningJob").input_shape)

    assert "VolumeKmsKeyId" not in td["ResourceConfig"]
    assert td["OutputDataConfig"]["KmsKeyId"] == spec.kms_key_id  # outputs stay encrypted with the key
    assert any("ml.g5.2xlarge has local NVMe storage" in w for w in make_plan(spec).warnings)
    statements = _deny_statements(spec)
    assert _denied_by(statements, _context(request)) == []
    # The exemption is for the spec's own instance types: elsewhere, leaving out the volume key is denied,
    # and the output key deny is untouched.
    on_ebs = _context(request) | {"sagemaker:InstanceTypes": ["ml.m5.2xlarge"]}
    assert any("VolumeKmsKey" in sid for sid in _denied_by(statements, on_ebs))
    no_output_key = {k: v for k, v in _context(request).items() if k != "sagemaker:OutputKmsKey"}
    assert any("OutputKmsKey" in sid for sid in _denied_by(statements, no_output_key))


def test_kms_on_an_ebs_instance_keeps_the_volume_key_and_its_deny() -> None:
    spec = _fraud("ml.m5.2xlarge")
    request = _request(spec)
    statements = _deny_statements(spec)

    assert request["TrainingJobDefinition"]["ResourceConfig"]["VolumeKmsKeyId"] == spec.kms_key_id
    assert _denied_by(statements, _context(request)) == []
    without = {k: v for k, v in _context(request).items() if k != "sagemaker:VolumeKmsKey"}
    assert any("VolumeKmsKey" in sid for sid in _denied_by(statements, without))
    assert not any("local NVMe" in w for w in make_plan(spec).warnings)


def _training_families() -> set[str]:
    model = botocore.session.get_session().get_service_model("sagemaker")
    return {family(t) for t in model.shape_for("TrainingInstanceType").enum}


def test_every_training_family_in_botocore_is_classified() -> None:
    # A family SageMaker adds must be looked up in the EC2 instance store table, not guessed.
    assert _training_families() <= LOCAL_STORAGE_FAMILIES | EBS_ONLY_FAMILIES
    assert not LOCAL_STORAGE_FAMILIES & EBS_ONLY_FAMILIES


@pytest.mark.parametrize("fam", sorted(_training_families()))
def test_the_sdk_rule_holds_for_every_family_it_covers(fam: str) -> None:
    # The SageMaker Python SDK: a "d" in the family, or g5, means local storage (no volume KMS key).
    if "d" in fam or fam.startswith("g5"):
        assert has_local_storage(f"ml.{fam}.xlarge")


def test_families_the_docs_name_have_local_storage() -> None:
    for t in ("ml.p4d.24xlarge", "ml.g4dn.xlarge", "ml.g5.2xlarge", "ml.m5d.large", "ml.c6id.large"):
        assert has_local_storage(t), t
    for t in ("ml.m5.xlarge", "ml.c5.2xlarge", "ml.p3.2xlarge", "ml.p2.xlarge"):
        assert not has_local_storage(t), t
    assert re.fullmatch(r"[a-z0-9-]+", family("ml.p6-b200.48xlarge"))


def test_instance_choices_with_local_storage_carry_no_volume_key_and_iam_allows_them() -> None:
    doc = yaml.safe_load((ROOT / "configs" / "fraud-random-spot.yaml").read_text())
    doc["resources"].pop("instance_type")
    doc["resources"]["instance_configs"] = [{"instance_type": "ml.g5.2xlarge"}, {"instance_type": "ml.g4dn.2xlarge"}]
    spec = parse_spec(yaml.safe_dump(doc, sort_keys=False), "fraud-random-spot.yaml")
    request = _request(spec)

    config = request["TrainingJobDefinition"]["HyperParameterTuningResourceConfig"]
    assert "VolumeKmsKeyId" not in config
    assert _denied_by(_deny_statements(spec), _context(request)) == []


def test_kms_with_instance_choices_mixing_local_and_ebs_storage_is_refused() -> None:
    # One VolumeKmsKeyId covers every choice: the EBS volumes would silently go without the key.
    doc = yaml.safe_load((ROOT / "configs" / "fraud-random-spot.yaml").read_text())
    doc["resources"].pop("instance_type")
    doc["resources"]["instance_configs"] = [{"instance_type": "ml.g5.2xlarge"}, {"instance_type": "ml.m5.2xlarge"}]
    with pytest.raises(SpecError) as exc:
        parse_spec(yaml.safe_dump(doc, sort_keys=False), "fraud-random-spot.yaml")
    (err,) = exc.value.errors
    assert err.path == "resources.instance_configs"
    assert "ml.g5.2xlarge" in err.message and "ml.m5.2xlarge" in err.message


def test_a_multi_algorithm_study_with_one_local_storage_definition_launches() -> None:
    doc = yaml.safe_load((ROOT / "configs" / "fraud-random-spot.yaml").read_text())
    one = {k: doc.pop(k) for k in ("algorithm", "hyperparameters", "ranges")}
    doc["algorithms"] = [{"name": "on-ebs", **one}, {"name": "on-nvme", **one,
                                                     "resources": {"instance_type": "ml.g5.2xlarge"}}]
    spec = parse_spec(yaml.safe_dump(doc, sort_keys=False), "fraud-random-spot.yaml")
    request = _request(spec)

    ebs, nvme = request["TrainingJobDefinitions"]
    assert ebs["ResourceConfig"]["VolumeKmsKeyId"] == spec.kms_key_id
    assert "VolumeKmsKeyId" not in nvme["ResourceConfig"]
    assert nvme["OutputDataConfig"]["KmsKeyId"] == spec.kms_key_id
    assert any("ml.g5.2xlarge has local NVMe storage" in w for w in make_plan(spec).warnings)
    statements = _deny_statements(spec)
    # However SageMaker fills the volume key for two definitions (one key, or none), the launch is allowed.
    ctx = {"sagemaker:InstanceTypes": ["ml.m5.2xlarge", "ml.g5.2xlarge"],
           "sagemaker:OutputKmsKey": spec.kms_key_id, "sagemaker:VpcSubnets": ebs["VpcConfig"]["Subnets"],
           "sagemaker:VpcSecurityGroupIds": ebs["VpcConfig"]["SecurityGroupIds"],
           "sagemaker:NetworkIsolation": True, "sagemaker:InterContainerTrafficEncryption": True}
    assert _denied_by(statements, ctx) == []
    assert _denied_by(statements, ctx | {"sagemaker:VolumeKmsKey": spec.kms_key_id}) == []
