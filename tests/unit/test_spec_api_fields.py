"""The rest of the CreateHyperParameterTuningJob API (issue 8): each new spec field is validated with the
limits botocore's model states, lands in the request field the API documents for it, and the rendering
passes botocore's own validator."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from spec_factory import builtin_spec, custom_spec, errors_of, only_error, parse, setin
from test_render import assert_valid_request, feature_specs, input_shape, render

from amt_conductor.spec.budget import (
    RETRY_PROVISIONING_SECONDS,
    job_wall_seconds,
    wait_timeout_seconds,
    worst_case_instance_hours,
)
from amt_conductor.spec.plan import make_plan

CKPT = "s3://example-bucket/checkpoints/study/"


def definition_shape(member: str) -> Any:
    return input_shape().members["TrainingJobDefinition"].members[member]


def definition(doc: dict[str, Any]) -> dict[str, Any]:
    request = render(parse(doc))
    assert_valid_request(request)
    result: dict[str, Any] = request["TrainingJobDefinition"]
    return result


# --- checkpoint -----------------------------------------------------------------------------

def test_checkpoint_renders_checkpoint_config() -> None:
    td = definition(custom_spec(checkpoint={"uri": CKPT, "local_path": "/opt/ml/checkpoints/run"}))
    assert td["CheckpointConfig"] == {"S3Uri": CKPT, "LocalPath": "/opt/ml/checkpoints/run"}


def test_checkpoint_local_path_left_to_sagemaker_by_default() -> None:
    assert definition(custom_spec(checkpoint={"uri": CKPT}))["CheckpointConfig"] == {"S3Uri": CKPT}


def test_no_checkpoint_config_without_checkpoint() -> None:
    assert "CheckpointConfig" not in definition(custom_spec())


@pytest.mark.parametrize(("field", "value"), [("uri", "ftp://bucket/x"), ("local_path", "checkpoints"),
                                              ("local_path", "/a\nb")])
def test_checkpoint_bad_values_are_named(field: str, value: str) -> None:
    doc = custom_spec(checkpoint={"uri": CKPT})
    assert only_error(setin(doc, f"checkpoint.{field}", value)).path == f"checkpoint.{field}"


def test_checkpoint_needs_a_uri() -> None:
    error = only_error(custom_spec(checkpoint={"local_path": "/opt/ml/checkpoints"}))
    assert (error.path, error.message) == ("checkpoint.uri", "required")


def test_plan_warns_about_spot_without_checkpoint() -> None:
    warnings = make_plan(parse(custom_spec(spot={"enabled": True}))).warnings
    assert any("restarts from zero" in w for w in warnings)


def test_plan_does_not_warn_with_a_checkpoint_or_without_spot() -> None:
    with_ckpt = make_plan(parse(custom_spec(spot={"enabled": True}, checkpoint={"uri": CKPT}))).warnings
    on_demand = make_plan(parse(custom_spec())).warnings
    assert not [w for w in with_ckpt + on_demand if "restarts from zero" in w]


# --- retry ----------------------------------------------------------------------------------

def test_retry_renders_retry_strategy() -> None:
    assert definition(custom_spec(retry={"max_attempts": 3}))["RetryStrategy"] == {"MaximumRetryAttempts": 3}


def test_retry_bounds_are_botocore_s() -> None:
    meta = definition_shape("RetryStrategy").members["MaximumRetryAttempts"].metadata
    for value in (meta["min"], meta["max"]):
        assert not errors_of(custom_spec(retry={"max_attempts": value}))
    for value in (meta["min"] - 1, meta["max"] + 1):
        assert only_error(custom_spec(retry={"max_attempts": value})).path == "retry.max_attempts"


def test_retries_add_no_billable_time() -> None:
    # MaxRuntimeInSeconds bounds all attempts together (API reference, StoppingCondition).
    base = parse(custom_spec())
    assert worst_case_instance_hours(parse(custom_spec(retry={"max_attempts": 5}))) == worst_case_instance_hours(base)


def test_retries_lengthen_the_wait_for_the_round() -> None:
    base, retried = parse(custom_spec()), parse(custom_spec(retry={"max_attempts": 2}))
    assert job_wall_seconds(retried) == job_wall_seconds(base) + 2 * RETRY_PROVISIONING_SECONDS
    assert wait_timeout_seconds(retried) > wait_timeout_seconds(base)


# --- resources.max_pending ------------------------------------------------------------------

def test_max_pending_renders_in_the_stopping_condition() -> None:
    doc = setin(custom_spec(), "resources.max_pending", "2h")
    assert definition(doc)["StoppingCondition"]["MaxPendingTimeInSeconds"] == 7200


def test_max_pending_bounds_are_botocore_s() -> None:
    meta = definition_shape("StoppingCondition").members["MaxPendingTimeInSeconds"].metadata
    for value in (meta["min"], meta["max"]):
        assert not errors_of(setin(custom_spec(), "resources.max_pending", value))
    for value in (meta["min"] - 1, meta["max"] + 1):
        assert only_error(setin(custom_spec(), "resources.max_pending", value)).path == "resources.max_pending"


def test_max_pending_bounds_each_attempt_in_the_wait() -> None:
    doc = setin(custom_spec(retry={"max_attempts": 1}), "resources.max_pending", "1h")
    assert job_wall_seconds(parse(doc)) == 3600 + 2 * 3600  # runtime 1h, pending 1h before each of 2 attempts


def test_plan_says_max_pending_does_nothing_on_cpu_instances() -> None:
    cpu = make_plan(parse(setin(builtin_spec(), "resources.max_pending", "1h"))).warnings
    gpu_doc = setin(setin(custom_spec(), "resources.max_pending", "1h"), "resources.instance_type", "ml.g5.xlarge")
    gpu = make_plan(parse(gpu_doc)).warnings
    assert any("max_pending has no effect" in w for w in cpu)
    assert not any("max_pending" in w for w in gpu)


def test_checkpoint_location_is_readable_and_writable_by_the_execution_role() -> None:
    from aws_cdk import App, Stack

    from amt_conductor.cdk.roles import execution_statements
    from amt_conductor.cdk.study_scope import S3Location, study_access

    access = study_access(parse(custom_spec(checkpoint={"uri": CKPT})))
    assert access.checkpoints == (S3Location("example-bucket", "checkpoints/study/"),)
    stack = Stack(App(), "S")
    statements = [stack.resolve(st.to_statement_json()) for st in execution_statements(
        stack, access, artifacts_bucket_arn="arn:aws:s3:::artifacts", stack_key_arn="k", registry_account=str)]
    objects = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::example-bucket/checkpoints/study/*"]]}
    for action in ("s3:GetObject", "s3:PutObject"):
        assert any(action in st["Action"] and objects in (st["Resource"] if isinstance(st["Resource"], list)
                                                          else [st["Resource"]]) for st in statements), action


# --- output_compression, algorithm.name -----------------------------------------------------

@pytest.mark.parametrize(("value", "api"), [("gzip", "GZIP"), ("none", "NONE")])
def test_output_compression(value: str, api: str) -> None:
    assert definition(custom_spec(output_compression=value))["OutputDataConfig"]["CompressionType"] == api
    assert api in definition_shape("OutputDataConfig").members["CompressionType"].enum


def test_output_compression_left_to_sagemaker_by_default() -> None:
    assert "CompressionType" not in definition(custom_spec())["OutputDataConfig"]


MARKETPLACE = "arn:aws:sagemaker:us-east-1:123456789012:algorithm/scikit-decision-trees-1542"  # a subscription ARN


@pytest.mark.parametrize("name", ["my-algorithm", MARKETPLACE])
def test_algorithm_name_renders_algorithm_name_without_image(name: str) -> None:
    doc = custom_spec(algorithm={"name": name})
    algo = definition(doc)["AlgorithmSpecification"]
    assert algo == {"AlgorithmName": name, "TrainingInputMode": "File"}


@pytest.mark.parametrize("name", ["bad_name", "-x", "x-", "arn:aws:sagemaker:us-east-1:12:algorithm/x"])
def test_algorithm_name_outside_sagemaker_s_pattern_is_refused(name: str) -> None:
    error = only_error(custom_spec(algorithm={"name": name}))
    assert error.path == "algorithm.name"
    pattern = definition_shape("AlgorithmSpecification").members["AlgorithmName"].metadata["pattern"]
    import re
    assert not re.fullmatch(pattern, name)


def test_algorithm_needs_exactly_one_source() -> None:
    doc = custom_spec(algorithm={"name": "my-algorithm", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1"})
    assert only_error(doc).path == "algorithm"


# --- channels: attribute_names, shuffle_seed, record_wrapper, file_system -------------------

def channel(doc: dict[str, Any], name: str = "train") -> dict[str, Any]:
    channels = {c["ChannelName"]: c for c in definition(doc)["InputDataConfig"]}
    return channels[name]


def test_channel_options_render() -> None:
    doc = custom_spec(algorithm={**custom_spec()["algorithm"], "input_mode": "Pipe"})
    doc["data"]["train"].update(s3_data_type="AugmentedManifestFile", attribute_names=["source-ref", "class"],
                                shuffle_seed=7, record_wrapper="RecordIO")
    ch = channel(doc)
    assert ch["DataSource"]["S3DataSource"]["AttributeNames"] == ["source-ref", "class"]
    assert ch["ShuffleConfig"] == {"Seed": 7}
    assert ch["RecordWrapperType"] == "RecordIO"


def test_record_io_needs_pipe_mode() -> None:
    doc = setin(custom_spec(), "data.train.record_wrapper", "RecordIO")
    assert only_error(doc).path == "data.train.record_wrapper"


def test_attribute_names_limit_is_botocore_s() -> None:
    limit = definition_shape("InputDataConfig").member.members["DataSource"].members["S3DataSource"] \
        .members["AttributeNames"].metadata["max"]
    ok = setin(custom_spec(), "data.train.attribute_names", [f"a{i}" for i in range(limit)])
    assert not errors_of(ok)
    too_many = setin(custom_spec(), "data.train.attribute_names", [f"a{i}" for i in range(limit + 1)])
    assert only_error(too_many).path == "data.train.attribute_names"


VPC = {"subnets": ["subnet-0a1b"], "security_groups": ["sg-0c2d"]}
EFS = {"type": "efs", "id": "fs-0123456789abcdef0", "path": "/datasets/train"}


@pytest.mark.parametrize(("kind", "api"), [("efs", "EFS"), ("fsx_lustre", "FSxLustre")])
def test_file_system_channel(kind: str, api: str) -> None:
    doc = custom_spec(network=VPC, data={"train": {"file_system": {**EFS, "type": kind, "access_mode": "rw"}}})
    assert channel(doc)["DataSource"] == {"FileSystemDataSource": {
        "FileSystemId": EFS["id"], "FileSystemAccessMode": "rw", "FileSystemType": api, "DirectoryPath": EFS["path"]}}


def test_file_system_is_read_only_by_default() -> None:
    doc = custom_spec(network=VPC, data={"train": {"file_system": EFS}})
    assert channel(doc)["DataSource"]["FileSystemDataSource"]["FileSystemAccessMode"] == "ro"


def test_file_system_needs_a_vpc() -> None:
    assert only_error(custom_spec(data={"train": {"file_system": EFS}})).path == "data.train.file_system"


@pytest.mark.parametrize(("channel_doc", "path"), [
    ({}, "data.train"),
    ({"uri": "s3://example-bucket/train/", "file_system": EFS}, "data.train"),
    ({"file_system": EFS, "distribution": "ShardedByS3Key"}, "data.train.distribution"),
    ({"file_system": EFS, "attribute_names": ["a"]}, "data.train.attribute_names"),
    ({"file_system": {**EFS, "id": "fs-12"}}, "data.train.file_system.id"),
    ({"file_system": {**EFS, "path": "datasets"}}, "data.train.file_system.path"),
])
def test_bad_channels_are_named(channel_doc: dict[str, Any], path: str) -> None:
    assert only_error(custom_spec(network=VPC, data={"train": channel_doc})).path == path


def test_file_system_is_in_the_study_scope() -> None:
    from amt_conductor.cdk.study_scope import study_access

    access = study_access(parse(custom_spec(network=VPC, data={"train": {"file_system": EFS}})))
    assert access.file_systems == (("efs", EFS["id"], "ro"),)
    assert access.data == ()


# --- resources.instance_configs -------------------------------------------------------------

CONFIGS = [{"instance_type": "ml.m5.xlarge"}, {"instance_type": "ml.c5.2xlarge", "instance_count": 2},
           {"instance_type": "ml.m5.2xlarge", "volume_size_gb": 100}]


def flexible(**top: Any) -> dict[str, Any]:
    doc = custom_spec(**top)
    del doc["resources"]["instance_type"]
    doc["resources"]["instance_configs"] = CONFIGS
    return doc


def test_instance_configs_render_hyperparameter_tuning_resource_config() -> None:
    td = definition(flexible())
    assert "ResourceConfig" not in td
    assert td["HyperParameterTuningResourceConfig"] == {
        "AllocationStrategy": "Prioritized",
        "InstanceConfigs": [{"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
                            {"InstanceType": "ml.c5.2xlarge", "InstanceCount": 2, "VolumeSizeInGB": 30},
                            {"InstanceType": "ml.m5.2xlarge", "InstanceCount": 1, "VolumeSizeInGB": 100}]}


def test_instance_configs_carry_the_volume_key() -> None:
    td = definition(flexible(kms_key_id="alias/ml"))
    assert td["HyperParameterTuningResourceConfig"]["VolumeKmsKeyId"] == "alias/ml"


def test_instance_configs_limit_is_botocore_s() -> None:
    limit = definition_shape("HyperParameterTuningResourceConfig").members["InstanceConfigs"].metadata["max"]
    types = [f"ml.m5.{s}" for s in ("large", "xlarge", "2xlarge", "4xlarge", "12xlarge", "24xlarge")]
    types += ["ml.c5.xlarge"]
    ok = flexible()
    ok["resources"]["instance_configs"] = [{"instance_type": t} for t in types[:limit]]
    assert not errors_of(ok)
    ok["resources"]["instance_configs"] = [{"instance_type": t} for t in types[:limit + 1]]
    assert only_error(ok).path == "resources.instance_configs"


@pytest.mark.parametrize(("field", "value"), [("instance_type", "ml.m5.xlarge"), ("instance_count", 2),
                                              ("volume_size_gb", 50)])
def test_single_instance_fields_are_refused_beside_instance_configs(field: str, value: object) -> None:
    assert only_error(setin(flexible(), f"resources.{field}", value)).path == f"resources.{field}"


def test_an_instance_type_or_configs_is_required() -> None:
    doc = custom_spec()
    del doc["resources"]["instance_type"]
    assert only_error(doc).path == "resources.instance_type"


def test_budget_uses_the_costliest_instance_choice() -> None:
    # 10 jobs x 1 h, and the second choice runs 2 instances per job.
    assert worst_case_instance_hours(parse(flexible())) == 20


def test_instance_choices_of_a_builtin_must_share_one_image() -> None:
    doc = builtin_spec(algorithm={"builtin": "pytorch", "version": "2.1", "py_version": "py310",
                                  "metrics": [{"name": "val:loss", "regex": "val_loss=([0-9.]+)"}]},
                       objective={"metric": "val:loss", "goal": "minimize"})
    del doc["resources"]["instance_type"]
    doc["resources"]["instance_configs"] = [{"instance_type": "ml.g5.xlarge"}, {"instance_type": "ml.p3.2xlarge"}]
    assert not errors_of(doc)  # both gpu
    doc["resources"]["instance_configs"].append({"instance_type": "ml.m5.xlarge"})
    assert only_error(doc).path == "resources.instance_configs"


def test_reports_count_the_largest_instance_choice() -> None:
    from amt_conductor.runtime.sagemaker_ops import _instance_count

    td = definition(flexible())
    assert _instance_count(td) == 2
    assert _instance_count(definition(custom_spec())) == 1


def test_schema_lets_instance_configs_replace_instance_type() -> None:
    from amt_conductor.spec.model import json_schema

    resources = json_schema()["$defs"]["Resources"]
    assert "instance_configs" in resources["properties"] and "instance_type" not in resources["required"]


# --- every combination of the new optional fields renders a request botocore accepts --------



@st.composite
def new_field_specs(draw: st.DrawFn) -> dict[str, Any]:
    """The existing feature combinations, plus the issue 8 fields at random."""
    doc = draw(feature_specs())
    if draw(st.booleans()):
        doc["checkpoint"] = {"uri": CKPT, **({"local_path": "/opt/ml/checkpoints"} if draw(st.booleans()) else {})}
    if draw(st.booleans()):
        doc["retry"] = {"max_attempts": draw(st.integers(1, 30))}
    if draw(st.booleans()):
        doc["resources"]["max_pending"] = draw(st.integers(1800, 2_419_200))
    if draw(st.booleans()):
        doc["output_compression"] = draw(st.sampled_from(["gzip", "none"]))
    if draw(st.booleans()):
        del doc["resources"]["instance_type"]
        types = draw(st.lists(st.sampled_from(["ml.m5.xlarge", "ml.m5.2xlarge", "ml.c5.xlarge", "ml.g5.xlarge",
                                               "ml.p3.2xlarge", "ml.r5.large"]), min_size=1, max_size=6, unique=True))
        doc["resources"]["instance_configs"] = [
            {"instance_type": t, "instance_count": draw(st.integers(1, 4)), "volume_size_gb": draw(st.integers(1, 500))}
            for t in types]
    train = doc["data"]["train"]
    if draw(st.booleans()):
        train["shuffle_seed"] = draw(st.integers(0, 2**63 - 1))
    if draw(st.booleans()):
        train["attribute_names"] = draw(st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True),
                                                 min_size=1, max_size=16))
    if draw(st.booleans()):
        doc["algorithm"]["input_mode"] = "Pipe"
        train["record_wrapper"] = draw(st.sampled_from(["None", "RecordIO"]))
    if draw(st.booleans()):
        doc["network"] = {**doc.get("network", {}), **VPC}
        doc["data"]["fs"] = {"file_system": {**EFS, "type": draw(st.sampled_from(["efs", "fsx_lustre"])),
                                             "access_mode": draw(st.sampled_from(["ro", "rw"]))}}
    if draw(st.booleans()):
        doc["algorithm"] = {**doc["algorithm"], "entry_point": "src/train.py",
                            "source": "s3://example-bucket/code/sourcedir.tar.gz"}
    elif draw(st.booleans()):
        doc["algorithm"] = {"name": draw(st.sampled_from(["my-algorithm", MARKETPLACE])),
                            "input_mode": doc["algorithm"].get("input_mode", "File")}
    return doc


@settings(max_examples=60, deadline=None)
@given(doc=new_field_specs())
def test_any_combination_of_new_fields_renders_a_valid_request(doc: dict[str, Any]) -> None:
    assume(not errors_of(doc))
    assert_valid_request(render(parse(doc)))


def test_schema_includes_every_new_field() -> None:
    from amt_conductor.spec.model import json_schema

    defs = json_schema()["$defs"]
    assert {"checkpoint", "retry", "output_compression"} <= set(json_schema()["properties"])
    assert {"max_pending", "instance_configs"} <= set(defs["Resources"]["properties"])
    assert {"attribute_names", "shuffle_seed", "record_wrapper", "file_system"} <= set(defs["Channel"]["properties"])
    assert {"name", "entry_point", "source", "base_framework"} <= set(defs["Algorithm"]["properties"])


@st.composite
def multi_and_autotune_specs(draw: st.DrawFn) -> dict[str, Any]:
    """Multi-algorithm specs whose definitions override at random, with or without Autotune."""
    from test_multi_algorithm import LINEAR, XGB, multi_spec

    definitions = []
    for i in range(draw(st.integers(1, 4))):
        d = dict(draw(st.sampled_from([XGB, LINEAR])), name=f"def-{i}")
        # Only XGBoost may inherit the study's objective (validation:auc is an XGBoost metric).
        if d["algorithm"]["builtin"] == "xgboost" and draw(st.booleans()):
            d.pop("objective", None)
        if draw(st.booleans()):
            d["resources"] = {"instance_configs": [{"instance_type": "ml.m5.xlarge"}, {"instance_type": "ml.c5.xlarge",
                                                                                          "instance_count": 2}]}
        if draw(st.booleans()):
            d["data"] = {"train": {"uri": f"s3://example-bucket/def-{i}/"}}
        definitions.append(d)
    doc = multi_spec(*definitions)
    if draw(st.booleans()):
        doc["autotune"] = True
        doc["algorithms"][0]["ranges"] = {**doc["algorithms"][0]["ranges"], "alpha": {"type": "auto", "hint": "1"}}
        if draw(st.booleans()):
            del doc["resources"]["max_jobs"]
    if draw(st.booleans()):
        doc["checkpoint"] = {"uri": CKPT}
        doc["retry"] = {"max_attempts": draw(st.integers(1, 30))}
    return doc


@settings(max_examples=25, deadline=None)
@given(doc=multi_and_autotune_specs())
def test_any_multi_algorithm_or_autotune_spec_renders_a_valid_request(doc: dict[str, Any]) -> None:
    assert not errors_of(doc), errors_of(doc)
    assert_valid_request(render(parse(doc)))
