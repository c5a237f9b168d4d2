"""Rendering: every example spec becomes a request botocore's own validator accepts, and each spec
field lands in the CreateHyperParameterTuningJob field the API documents for it."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.model import Shape
from botocore.validate import ParamValidator
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from spec_factory import builtin_spec, custom_spec, errors_of, grid_spec, hyperband_spec, parse, setin

from amt_conductor.spec.images import resolve_image
from amt_conductor.spec.loader import load_spec
from amt_conductor.spec.model import Spec
from amt_conductor.spec.naming import job_name
from amt_conductor.spec.render import render_request

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.y*ml"))
ROLE = "arn:aws:iam::123456789012:role/sagemaker-tuning"
BUCKET = "artifacts-bucket"


@functools.cache
def input_shape() -> Shape:
    model = botocore.session.get_session().get_service_model("sagemaker")
    return model.operation_model("CreateHyperParameterTuningJob").input_shape


def _pattern(raw: str) -> re.Pattern[str]:
    # Java's Unicode classes, as used by the Tag patterns.
    raw = raw.replace(r"\p{L}", "a-zA-Z\u00c0-\uffff").replace(r"\p{Z}", " ")
    return re.compile(raw.replace(r"\p{N}", "0-9"))


def stricter_problems(value: Any, shape: Shape, path: str = "") -> list[str]:
    """What ParamValidator does not check but the service does: enums, max lengths and patterns."""
    meta, out = shape.metadata, []
    if shape.type_name == "string":
        if shape.enum and value not in shape.enum:
            out.append(f"{path}: {value!r} not in {shape.enum}")
        if "max" in meta and len(value) > meta["max"]:
            out.append(f"{path}: longer than {meta['max']}")
        if "pattern" in meta and not _pattern(meta["pattern"]).fullmatch(value):
            out.append(f"{path}: {value!r} does not match {meta['pattern']}")
    elif shape.type_name in ("integer", "long") and "max" in meta and value > meta["max"]:
        out.append(f"{path}: above {meta['max']}")
    elif shape.type_name == "structure":
        for key, item in value.items():
            out += stricter_problems(item, shape.members[key], f"{path}.{key}")
    elif shape.type_name == "list":
        if "max" in meta and len(value) > meta["max"]:
            out.append(f"{path}: more than {meta['max']} items")
        for i, item in enumerate(value):
            out += stricter_problems(item, shape.member, f"{path}[{i}]")
    elif shape.type_name == "map":
        for key, item in value.items():
            out += stricter_problems(key, shape.key, f"{path}{{{key}}}")
            out += stricter_problems(item, shape.value, f"{path}.{key}")
    return out


def assert_valid_request(request: dict[str, Any]) -> None:
    report = ParamValidator().validate(request, input_shape())
    assert not report.has_errors(), report.generate_report()
    assert stricter_problems(request, input_shape()) == []


def render(spec: Spec, **kwargs: Any) -> dict[str, Any]:
    kwargs = {"region": "us-east-1", "role_arn": ROLE, "output_bucket": BUCKET, **kwargs}
    return render_request(spec, **kwargs)


def test_there_are_example_specs() -> None:
    assert len(CONFIGS) >= 5


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "ap-southeast-2"])
def test_example_specs_pass_botocore_validation(path: Path, region: str) -> None:
    spec = load_spec(path)
    first = render(spec, region=region)
    assert_valid_request(first)
    parents = [job_name(spec, 1)]
    second = render(spec, region=region, round_no=2, parents=parents)
    assert_valid_request(second)
    assert second["WarmStartConfig"]["ParentHyperParameterTuningJobs"] == [{"HyperParameterTuningJobName": parents[0]}]
    assert second["HyperParameterTuningJobName"] == job_name(spec, 2) != first["HyperParameterTuningJobName"]


@pytest.mark.parametrize("make", [custom_spec, builtin_spec, grid_spec, hyperband_spec])
def test_factory_specs_pass_botocore_validation(make: Any) -> None:
    assert_valid_request(render(parse(make())))


def test_validator_catches_a_broken_request() -> None:
    # The check itself must be able to fail.
    request = render(parse(custom_spec()))
    request["HyperParameterTuningJobConfig"]["Strategy"] = "Genetic"
    request["TrainingJobDefinition"]["ResourceConfig"]["InstanceCount"] = "1"
    report = ParamValidator().validate(request, input_shape())
    assert report.has_errors()
    assert stricter_problems(request, input_shape()) != []


def test_render_is_plain_json() -> None:
    # Same in every process: tests/unit/test_determinism.py.
    spec = parse(custom_spec())
    assert json.loads(json.dumps(render(spec))) == render(spec)


def test_job_name_is_the_round_name() -> None:
    spec = parse(custom_spec())
    assert render(spec, round_no=3)["HyperParameterTuningJobName"] == job_name(spec, 3)


# --- tuning config ---------------------------------------------------------------------------

@pytest.mark.parametrize(("scaling", "api"), [("auto", "Auto"), ("linear", "Linear"), ("log", "Logarithmic"),
                                              ("reverse_log", "ReverseLogarithmic")])
def test_scaling_names(scaling: str, api: str) -> None:
    doc = custom_spec(ranges={"x": {"type": "continuous", "min": 0.1, "max": 0.9, "scaling": scaling}})
    [rng] = render(parse(doc))["HyperParameterTuningJobConfig"]["ParameterRanges"]["ContinuousParameterRanges"]
    assert rng == {"Name": "x", "MinValue": "0.1", "MaxValue": "0.9", "ScalingType": api}


@pytest.mark.parametrize(("make", "api"), [(custom_spec, "Bayesian"), (grid_spec, "Grid"),
                                           (hyperband_spec, "Hyperband")])
def test_strategy(make: Any, api: str) -> None:
    assert render(parse(make()))["HyperParameterTuningJobConfig"]["Strategy"] == api


def test_random_strategy() -> None:
    assert render(parse(custom_spec(strategy="random")))["HyperParameterTuningJobConfig"]["Strategy"] == "Random"


def test_objective() -> None:
    config = render(parse(builtin_spec()))["HyperParameterTuningJobConfig"]
    assert config["HyperParameterTuningJobObjective"] == {"Type": "Maximize", "MetricName": "validation:auc"}


@pytest.mark.parametrize(("value", "api"), [("auto", "Auto"), ("off", "Off"), (False, "Off")])
def test_early_stopping(value: object, api: str) -> None:
    config = render(parse(custom_spec(early_stopping=value)))["HyperParameterTuningJobConfig"]
    assert config["TrainingJobEarlyStoppingType"] == api


def test_early_stopping_default_off() -> None:
    assert render(parse(custom_spec()))["HyperParameterTuningJobConfig"]["TrainingJobEarlyStoppingType"] == "Off"


def test_hyperband_config() -> None:
    config = render(parse(hyperband_spec(hyperband={"min_resource": 3, "max_resource": 81})))
    assert config["HyperParameterTuningJobConfig"]["StrategyConfig"] == {
        "HyperbandStrategyConfig": {"MinResource": 3, "MaxResource": 81}}


def test_hyperband_inferred_max_resource_is_left_to_sagemaker() -> None:
    doc = hyperband_spec(hyperband=None, hyperparameters={"epochs": 50})
    request = render(parse(doc))
    assert request["HyperParameterTuningJobConfig"]["StrategyConfig"] == {
        "HyperbandStrategyConfig": {"MinResource": 1}}
    assert request["TrainingJobDefinition"]["StaticHyperParameters"]["epochs"] == "50"


def test_no_strategy_config_without_hyperband() -> None:
    assert "StrategyConfig" not in render(parse(custom_spec()))["HyperParameterTuningJobConfig"]


def test_completion_criteria() -> None:
    doc = custom_spec(completion={"target": 0.95, "max_jobs_not_improving": 5, "stop_on_convergence": True})
    assert render(parse(doc))["HyperParameterTuningJobConfig"]["TuningJobCompletionCriteria"] == {
        "TargetObjectiveMetricValue": 0.95,
        "BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 5},
        "ConvergenceDetected": {"CompleteOnConvergence": "Enabled"},
    }


def test_completion_criteria_only_what_is_set() -> None:
    config = render(parse(custom_spec(completion={"target": 0.5})))["HyperParameterTuningJobConfig"]
    assert config["TuningJobCompletionCriteria"] == {"TargetObjectiveMetricValue": 0.5}
    assert "TuningJobCompletionCriteria" not in render(parse(custom_spec()))["HyperParameterTuningJobConfig"]


def test_resource_limits() -> None:
    doc = setin(custom_spec(), "resources.max_tuning_runtime", "2h")
    assert render(parse(doc))["HyperParameterTuningJobConfig"]["ResourceLimits"] == {
        "MaxNumberOfTrainingJobs": 10, "MaxParallelTrainingJobs": 2, "MaxRuntimeInSeconds": 7200}


def test_grid_without_max_jobs_leaves_it_to_sagemaker() -> None:
    limits = render(parse(grid_spec()))["HyperParameterTuningJobConfig"]["ResourceLimits"]
    assert "MaxNumberOfTrainingJobs" not in limits


def test_random_seed() -> None:
    assert render(parse(custom_spec(random_seed=0)))["HyperParameterTuningJobConfig"]["RandomSeed"] == 0
    assert "RandomSeed" not in render(parse(custom_spec()))["HyperParameterTuningJobConfig"]


def test_ranges_are_strings() -> None:
    doc = custom_spec(ranges={
        "depth": {"type": "integer", "min": 3, "max": 10, "scaling": "linear"},
        "lr": {"type": "continuous", "min": 0.00001, "max": 1},
        "width": {"type": "categorical", "values": [64, 128, "auto", True]},
    })
    ranges = render(parse(doc))["HyperParameterTuningJobConfig"]["ParameterRanges"]
    assert ranges["IntegerParameterRanges"] == [
        {"Name": "depth", "MinValue": "3", "MaxValue": "10", "ScalingType": "Linear"}]
    [lr] = ranges["ContinuousParameterRanges"]
    assert float(lr["MinValue"]) == 0.00001 and float(lr["MaxValue"]) == 1
    assert ranges["CategoricalParameterRanges"] == [{"Name": "width", "Values": ["64", "128", "auto", "true"]}]


def test_empty_range_kinds_are_left_out() -> None:
    doc = custom_spec(ranges={"x": {"type": "integer", "min": 1, "max": 2}})
    assert list(render(parse(doc))["HyperParameterTuningJobConfig"]["ParameterRanges"]) == ["IntegerParameterRanges"]


# --- training definition ---------------------------------------------------------------------

def test_static_hyperparameters_all_strings() -> None:
    doc = custom_spec(hyperparameters={"a": 1, "b": "0.25", "c": True, "d": "x", "e": False})
    static = render(parse(doc))["TrainingJobDefinition"]["StaticHyperParameters"]
    assert static == {"a": "1", "b": "0.25", "c": "true", "d": "x", "e": "false"}


def test_no_static_hyperparameters() -> None:
    assert "StaticHyperParameters" not in render(parse(custom_spec(hyperparameters={})))["TrainingJobDefinition"]


def test_custom_image_and_metrics() -> None:
    algo = render(parse(custom_spec()))["TrainingJobDefinition"]["AlgorithmSpecification"]
    assert algo == {
        "TrainingImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/train:1.0",
        "TrainingInputMode": "File",
        "MetricDefinitions": [{"Name": "val:loss", "Regex": "val_loss=([0-9.]+)"}],
    }


@pytest.mark.parametrize("region", ["us-east-1", "eu-central-1"])
def test_builtin_image_resolved_for_the_region(region: str) -> None:
    spec = parse(builtin_spec())
    algo = render(spec, region=region)["TrainingJobDefinition"]["AlgorithmSpecification"]
    assert algo["TrainingImage"] == resolve_image("xgboost", "1.7-1", region, instance_type="ml.m5.xlarge")
    assert f".dkr.ecr.{region}." in algo["TrainingImage"]
    assert "MetricDefinitions" not in algo


def test_input_mode() -> None:
    doc = setin(custom_spec(), "algorithm.input_mode", "FastFile")
    assert render(parse(doc))["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingInputMode"] == "FastFile"


def test_channels() -> None:
    doc = custom_spec(data={
        "train": {"uri": "s3://bkt/train/", "content_type": "text/csv", "compression": "Gzip",
                  "distribution": "ShardedByS3Key", "input_mode": "Pipe"},
        "validation": {"uri": "s3://bkt/val/"},
    })
    assert render(parse(doc))["TrainingJobDefinition"]["InputDataConfig"] == [
        {"ChannelName": "train", "ContentType": "text/csv", "CompressionType": "Gzip", "InputMode": "Pipe",
         "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bkt/train/",
                                         "S3DataDistributionType": "ShardedByS3Key"}}},
        {"ChannelName": "validation",
         "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bkt/val/",
                                         "S3DataDistributionType": "FullyReplicated"}}},
    ]


def test_output_path() -> None:
    assert render(parse(custom_spec()))["TrainingJobDefinition"]["OutputDataConfig"] == {
        "S3OutputPath": f"s3://{BUCKET}/training/study/"}
    doc = custom_spec(output_uri="s3://mine/out/")
    assert render(parse(doc))["TrainingJobDefinition"]["OutputDataConfig"]["S3OutputPath"] == "s3://mine/out/"


def test_resources_and_role() -> None:
    doc = setin(custom_spec(), "resources.instance_count", 2)
    setin(doc, "resources.volume_size_gb", 100)
    definition = render(parse(doc))["TrainingJobDefinition"]
    assert definition["RoleArn"] == ROLE
    assert definition["ResourceConfig"] == {"InstanceType": "ml.m5.xlarge", "InstanceCount": 2, "VolumeSizeInGB": 100}


def test_on_demand_stopping_condition() -> None:
    definition = render(parse(custom_spec()))["TrainingJobDefinition"]
    assert definition["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}
    assert definition["EnableManagedSpotTraining"] is False


def test_spot_stopping_condition() -> None:
    definition = render(parse(custom_spec(spot={"enabled": True, "max_wait": "3h"})))["TrainingJobDefinition"]
    assert definition["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 10800}
    assert definition["EnableManagedSpotTraining"] is True


def test_spot_default_max_wait() -> None:
    definition = render(parse(custom_spec(spot={"enabled": True})))["TrainingJobDefinition"]
    assert definition["StoppingCondition"]["MaxWaitTimeInSeconds"] == 7200


def test_vpc_and_network_flags() -> None:
    doc = custom_spec(network={"subnets": ["subnet-0a", "subnet-0b"], "security_groups": ["sg-0c"],
                               "isolation": True, "encrypt_inter_container_traffic": True})
    definition = render(parse(doc))["TrainingJobDefinition"]
    assert definition["VpcConfig"] == {"Subnets": ["subnet-0a", "subnet-0b"], "SecurityGroupIds": ["sg-0c"]}
    assert definition["EnableNetworkIsolation"] is True
    assert definition["EnableInterContainerTrafficEncryption"] is True


@pytest.mark.parametrize(("isolation", "encryption"), [(True, False), (False, True)])
def test_network_isolation_and_traffic_encryption_are_rendered_each_from_its_own_flag(isolation: bool,
                                                                                    encryption: bool) -> None:
    """Issue 14, item 1: with both flags equal, one rendered from the other's field would go unnoticed."""
    doc = custom_spec(network={"isolation": isolation, "encrypt_inter_container_traffic": encryption})
    definition = render(parse(doc))["TrainingJobDefinition"]
    assert definition["EnableNetworkIsolation"] is isolation
    assert definition["EnableInterContainerTrafficEncryption"] is encryption


def test_no_vpc_without_network() -> None:
    definition = render(parse(custom_spec()))["TrainingJobDefinition"]
    assert "VpcConfig" not in definition
    assert not definition.get("EnableNetworkIsolation", False)


def test_kms_key_encrypts_output_and_volumes() -> None:
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    definition = render(parse(custom_spec(kms_key_id=key)))["TrainingJobDefinition"]
    assert definition["OutputDataConfig"]["KmsKeyId"] == key
    assert definition["ResourceConfig"]["VolumeKmsKeyId"] == key


def test_environment() -> None:
    definition = render(parse(custom_spec(environment={"LOG_LEVEL": "debug"})))["TrainingJobDefinition"]
    assert definition["Environment"] == {"LOG_LEVEL": "debug"}
    assert "Environment" not in render(parse(custom_spec()))["TrainingJobDefinition"]


# --- warm start and tags ---------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "api"), [("identical_data_and_algorithm", "IdenticalDataAndAlgorithm"),
                                           ("transfer_learning", "TransferLearning")])
def test_warm_start_from_the_spec(kind: str, api: str) -> None:
    spec = parse(custom_spec(warm_start={"type": kind, "parents": ["old-r1-aaaaaa", "old-r2-bbbbbb"]}))
    assert render(spec)["WarmStartConfig"] == {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "old-r1-aaaaaa"},
                                           {"HyperParameterTuningJobName": "old-r2-bbbbbb"}],
        "WarmStartType": api,
    }


def test_parents_argument_overrides_the_spec_and_keeps_its_type() -> None:
    spec = parse(custom_spec(warm_start={"type": "transfer_learning", "parents": ["old-r1-aaaaaa"]}))
    warm = render(spec, round_no=2, parents=["study-r1-cccccc"])["WarmStartConfig"]
    assert warm == {"ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "study-r1-cccccc"}],
                    "WarmStartType": "TransferLearning"}


def test_continuation_rounds_default_to_identical_data_and_algorithm() -> None:
    warm = render(parse(custom_spec()), round_no=2, parents=["study-r1-cccccc"])["WarmStartConfig"]
    assert warm["WarmStartType"] == "IdenticalDataAndAlgorithm"



def test_a_run_started_by_new_data_warm_starts_by_transfer_learning_whatever_the_spec_says() -> None:
    spec = parse(custom_spec(warm_start={"type": "identical_data_and_algorithm", "parents": ["old-r1-aaaaaa"]}))
    warm = render(spec, round_no=2, parents=["study-r1-cccccc"], warm_start_type="transfer_learning")
    assert warm["WarmStartConfig"]["WarmStartType"] == "TransferLearning"

def test_no_warm_start_without_parents() -> None:
    assert "WarmStartConfig" not in render(parse(custom_spec()))
    assert "WarmStartConfig" not in render(parse(custom_spec()), parents=[])


def test_tags_include_study_and_round() -> None:
    tags = render(parse(custom_spec(tags={"team": "ml", "cost-center": 4711})), round_no=2)["Tags"]
    assert {"Key": "team", "Value": "ml"} in tags
    assert {"Key": "cost-center", "Value": "4711"} in tags
    assert {"Key": "amt:study", "Value": "study"} in tags
    assert {"Key": "amt:round", "Value": "2"} in tags
    assert len(tags) == 4


@st.composite
def feature_specs(draw: st.DrawFn) -> dict[str, Any]:
    """Valid specs combining optional features at random."""
    doc = custom_spec(strategy=draw(st.sampled_from(["bayesian", "random"])))
    if draw(st.booleans()):
        doc["spot"] = {"enabled": True, "max_wait": draw(st.sampled_from(["1h", "2h", 86400]))}
    if draw(st.booleans()):
        doc["network"] = {"subnets": ["subnet-0a1b"], "security_groups": ["sg-0c2d"],
                          "isolation": draw(st.booleans()), "encrypt_inter_container_traffic": draw(st.booleans())}
    if draw(st.booleans()):
        doc["kms_key_id"] = draw(st.sampled_from(["alias/ml", "1234abcd-12ab-34cd-56ef-1234567890ab"]))
    if draw(st.booleans()):
        doc["completion"] = {"target": draw(st.floats(-1e6, 1e6)), "max_jobs_not_improving":
                             draw(st.integers(3, 100)), "stop_on_convergence": draw(st.booleans())}
    if draw(st.booleans()):
        doc["early_stopping"] = "auto"
    if draw(st.booleans()):
        doc["random_seed"] = draw(st.integers(0, 2**31 - 1))
    if draw(st.booleans()):
        doc["warm_start"] = {"type": draw(st.sampled_from(["identical_data_and_algorithm", "transfer_learning"])),
                             "parents": [f"old-r{i}-abcdef" for i in range(1, draw(st.integers(1, 5)) + 1)]}
    doc["ranges"]["lr"]["scaling"] = draw(st.sampled_from(["auto", "linear", "log"]))
    doc["ranges"]["depth"]["max"] = draw(st.integers(3, 10_000))
    doc["hyperparameters"] = {f"h{i}": draw(st.one_of(st.integers(), st.floats(allow_nan=False), st.booleans(),
                                                      st.text(max_size=20)))
                              for i in range(draw(st.integers(0, 5)))}
    doc["tags"] = {f"t{i}": draw(st.from_regex(r"[A-Za-z0-9 _.:/=+@-]{0,30}", fullmatch=True))
                   for i in range(draw(st.integers(0, 5)))}
    return doc


@settings(max_examples=40, deadline=None)
@given(doc=feature_specs())
def test_any_feature_combination_renders_a_valid_request(doc: dict[str, Any]) -> None:
    # The contract: whatever the validator accepts, SageMaker's request validation accepts.
    assume(not errors_of(doc))
    assert_valid_request(render(parse(doc)))


def test_a_framework_image_follows_the_specs_instance_type_and_python() -> None:
    # Expected from the sagemaker SDK itself: GPU instance -> gpu image, py2 -> the py2 repository.
    sdk = pytest.importorskip("sagemaker.core.image_uris")
    doc = custom_spec(algorithm={"builtin": "mxnet", "version": "1.4.1", "py_version": "py2",
                                 "metrics": [{"name": "val:loss", "regex": "val_loss=([0-9.]+)"}]})
    doc["resources"]["instance_type"] = "ml.p3.2xlarge"
    image = render(parse(doc), region="us-west-2")["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingImage"]
    assert image == sdk.retrieve("mxnet", region="us-west-2", version="1.4.1", py_version="py2",
                                 instance_type="ml.p3.2xlarge", image_scope="training")


def test_bounds_are_rendered_as_the_shortest_decimal() -> None:
    doc = custom_spec()
    doc["ranges"]["lr"] = {"type": "continuous", "min": 1.0, "max": 100.0}
    doc["ranges"]["mom"] = {"type": "continuous", "min": 0.001, "max": 0.9}
    ranges = render(parse(doc))["HyperParameterTuningJobConfig"]["ParameterRanges"]["ContinuousParameterRanges"]
    assert [(r["Name"], r["MinValue"], r["MaxValue"]) for r in ranges] == [("lr", "1", "100"), ("mom", "0.001", "0.9")]


def test_at_most_five_parents_are_rendered() -> None:
    # SageMaker's limit (WarmStartConfig.ParentHyperParameterTuningJobs: 1-5 items).
    parents = [f"old-r{i}-abcdef" for i in range(1, 8)]
    warm = render(parse(custom_spec()), parents=parents)["WarmStartConfig"]
    assert [p["HyperParameterTuningJobName"] for p in warm["ParentHyperParameterTuningJobs"]] == parents[:5]


def test_the_stacks_key_encrypts_the_outputs_of_a_spec_without_its_own() -> None:
    from test_multi_algorithm import multi_spec

    from amt_conductor.spec.render import render_request

    stack_key = "arn:aws:kms:us-east-1:123456789012:key/stack"
    kw: dict[str, Any] = {"region": "us-east-1", "role_arn": "arn:aws:iam::123456789012:role/r",
                          "output_bucket": "b"}
    single = render_request(parse(custom_spec()), default_kms_key=stack_key, **kw)["TrainingJobDefinition"]
    assert single["OutputDataConfig"]["KmsKeyId"] == stack_key
    assert "VolumeKmsKeyId" not in single["ResourceConfig"]  # the stack's key is for the outputs only
    multi = render_request(parse(multi_spec()), default_kms_key=stack_key, **kw)["TrainingJobDefinitions"]
    assert [d["OutputDataConfig"]["KmsKeyId"] for d in multi] == [stack_key, stack_key]
    assert "KmsKeyId" not in render_request(parse(custom_spec()), **kw)["TrainingJobDefinition"]["OutputDataConfig"]
    own = "alias/ml-outputs"
    mine = render_request(parse(custom_spec(kms_key_id=own)), default_kms_key=stack_key, **kw)
    assert mine["TrainingJobDefinition"]["OutputDataConfig"]["KmsKeyId"] == own


def test_each_definition_writes_to_the_artifacts_bucket_and_the_job_is_tagged_with_the_stack() -> None:
    from test_multi_algorithm import multi_spec

    from amt_conductor.spec.access import TAG_STACK
    from amt_conductor.spec.render import render_request

    kw: dict[str, Any] = {"region": "us-east-1", "role_arn": "arn:aws:iam::123456789012:role/r",
                          "output_bucket": "amt-artifacts"}
    request = render_request(parse(multi_spec()), stack_key="k1", **kw)
    assert [d["OutputDataConfig"]["S3OutputPath"] for d in request["TrainingJobDefinitions"]] == [
        "s3://amt-artifacts/training/study/"] * 2
    assert {"Key": TAG_STACK, "Value": "k1"} in request["Tags"]
    assert TAG_STACK not in {t["Key"] for t in render_request(parse(multi_spec()), **kw)["Tags"]}
