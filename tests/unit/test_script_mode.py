"""Script mode (algorithm.entry_point + algorithm.source) renders the hyperparameters the SageMaker Python SDK
sends, exactly as it sends them; and the containers' control hyperparameters and environment variables that
redirect code or endpoints are refused with the field named (issue 9, finding 2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from spec_factory import builtin_spec, custom_spec, errors_of, only_error, parse, setin
from test_render import assert_valid_request, render

from amt_conductor.spec.scriptmode import CODE_CHANNEL_ARCHIVE, CONTROL_ENVIRONMENT

SDK = json.loads((Path(__file__).resolve().parents[1] / "data" / "sdk" / "script_mode_hyperparameters.json")
                 .read_text())
METRICS = [{"name": "val:loss", "regex": "val_loss=([0-9.]+)"}]
PYTORCH = {"builtin": "pytorch", "version": "2.1", "py_version": "py310", "metrics": METRICS}


def script_spec(**algorithm: Any) -> dict[str, Any]:
    algo = {**PYTORCH, "entry_point": SDK["entry_point"], "source": SDK["code_archive"], **algorithm}
    return custom_spec(algorithm=algo)


def static(doc: dict[str, Any], region: str = "us-east-1") -> dict[str, str]:
    request = render(parse(doc), region=region)
    assert_valid_request(request)
    result: dict[str, str] = request["TrainingJobDefinition"]["StaticHyperParameters"]
    return result


def test_script_mode_sends_what_the_sdk_sends() -> None:
    expected = {k: v for k, v in SDK["hyperparameters"].items() if k not in SDK["bookkeeping_not_sent_by_amt"]}
    sent = static(script_spec(), region=SDK["region"])
    assert {k: v for k, v in sent.items() if k.startswith("sagemaker_")} == expected
    assert sent["batch_size"] == "64"  # the spec's own hyperparameters stay as written


def test_script_mode_region_follows_the_render_region() -> None:
    assert static(script_spec(), region="eu-west-1")["sagemaker_region"] == json.dumps("eu-west-1")


def test_network_isolated_script_mode_passes_the_archive_as_the_code_channel() -> None:
    doc = script_spec()
    doc["network"] = {"isolation": True}
    request = render(parse(doc))
    assert_valid_request(request)
    td = request["TrainingJobDefinition"]
    assert td["StaticHyperParameters"]["sagemaker_submit_directory"] == json.dumps(CODE_CHANNEL_ARCHIVE)
    code = [c for c in td["InputDataConfig"] if c["ChannelName"] == "code"]
    assert code == [{"ChannelName": "code", "DataSource": {"S3DataSource": {
        "S3DataType": "S3Prefix", "S3Uri": SDK["code_archive"], "S3DataDistributionType": "FullyReplicated"}}}]


@pytest.mark.parametrize("builtin", ["xgboost", "sklearn"])
def test_script_mode_on_algorithm_containers_needs_metrics_for_the_objective(builtin: str) -> None:
    version = {"xgboost": "1.7-1", "sklearn": "1.2-1"}[builtin]
    doc = builtin_spec(algorithm={"builtin": builtin, "version": version, "entry_point": "train.py",
                                  "source": "s3://example-bucket/code/sourcedir.tar.gz"})
    assert only_error(doc).path == "algorithm.metrics"
    doc["algorithm"]["metrics"] = METRICS
    assert not errors_of(doc)


def test_script_mode_is_refused_on_containers_that_run_no_script() -> None:
    doc = builtin_spec(algorithm={"builtin": "linear-learner", "version": "1", "entry_point": "train.py",
                                  "source": "s3://example-bucket/code/sourcedir.tar.gz"})
    assert only_error(doc).path == "algorithm.entry_point"


@pytest.mark.parametrize(("algorithm", "path"), [
    ({"source": None}, "algorithm.source"),
    ({"entry_point": None}, "algorithm.entry_point"),
    ({"entry_point": "/opt/ml/input/data/train/run.py"}, "algorithm.entry_point"),
    ({"entry_point": "../run.py"}, "algorithm.entry_point"),
    ({"source": "s3://example-bucket/code/"}, "algorithm.source"),
    ({"source": "/opt/ml/input/data/train/code"}, "algorithm.source"),
])
def test_bad_script_mode_fields_are_named(algorithm: dict[str, Any], path: str) -> None:
    doc = script_spec(**algorithm)
    doc["algorithm"] = {k: v for k, v in doc["algorithm"].items() if v is not None}
    assert only_error(doc).path == path


def test_script_source_is_readable_by_the_execution_role() -> None:
    from amt_conductor.cdk.study_scope import S3Location, study_access

    assert S3Location.parse(SDK["code_archive"]) in study_access(parse(script_spec())).data


# --- the attack: a built-in image made to run code from a data channel -------------------------

def test_attack_spec_control_hyperparameters_on_a_builtin_are_refused() -> None:
    doc = builtin_spec(hyperparameters={"sagemaker_program": "run.py",
                                        "sagemaker_submit_directory": "/opt/ml/input/data/train/code"})
    paths = {e.path for e in errors_of(doc)}
    assert paths == {"hyperparameters.sagemaker_program", "hyperparameters.sagemaker_submit_directory"}


@pytest.mark.parametrize("name", ["sagemaker_program", "SageMaker_Program", "sagemaker_region",
                                  "sagemaker_container_log_level", "sagemaker_mpi_custom_mpi_options"])
def test_control_hyperparameters_are_refused_static_or_tuned(name: str) -> None:
    assert only_error(setin(builtin_spec(), f"hyperparameters.{name}", "x")).path == f"hyperparameters.{name}"
    tuned = setin(builtin_spec(), f"ranges.{name}", {"type": "categorical", "values": ["run.py"]})
    assert only_error(tuned).path == f"ranges.{name}"


@pytest.mark.parametrize("name", [
    "SAGEMAKER_PROGRAM", "SAGEMAKER_SUBMIT_DIRECTORY", "SAGEMAKER_TRAINING_MODULE", "SAGEMAKER_BASE_DIR",
    "SM_CHANNEL_TRAIN", "S3_ENDPOINT_URL", "CA_REPOSITORY_ARN", "PIP_INDEX_URL", "PYTHONPATH", "PYTHONSTARTUP",
    "LD_PRELOAD", "LD_LIBRARY_PATH", "PATH", "HOME", "BASH_ENV", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
    "AWS_CONFIG_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "HTTPS_PROXY", "https_proxy", "HF_ENDPOINT",
    "pythonpath",
])
def test_environment_that_redirects_code_or_endpoints_is_refused(name: str) -> None:
    error = only_error(custom_spec(environment={name: "x"}))
    assert error.path == f"environment.{name}"
    assert error.message.startswith("may not be set by a spec: ")


@pytest.mark.parametrize("name", ["OMP_NUM_THREADS", "NCCL_DEBUG", "PYTHONUNBUFFERED", "TF_CPP_MIN_LOG_LEVEL",
                                  "MY_SETTING", "PATHS_FILE"])
def test_ordinary_environment_is_accepted(name: str) -> None:
    assert not errors_of(custom_spec(environment={name: "1"}))


def test_every_refused_environment_entry_says_why() -> None:
    assert all(reason and not reason.endswith(".") for _, reason in CONTROL_ENVIRONMENT)


# --- Hugging Face: the catalog's images, chosen with base_framework ----------------------------

HF = {"builtin": "huggingface", "version": "4.36", "base_framework": "pytorch2.1", "py_version": "py310",
      "metrics": METRICS, "entry_point": "train.py", "source": "s3://example-bucket/code/sourcedir.tar.gz"}


def hf_spec(**algorithm: Any) -> dict[str, Any]:
    return setin(custom_spec(algorithm={**HF, **algorithm}), "resources.instance_type", "ml.g5.xlarge")


def test_hugging_face_script_mode_renders_the_sdk_s_image() -> None:
    pytest.importorskip("sagemaker.core.image_uris")
    import sagemaker.core.image_uris as iu

    request = render(parse(hf_spec()))
    assert_valid_request(request)
    expected = iu.retrieve("huggingface", "us-east-1", "4.36", image_scope="training", instance_type="ml.g5.xlarge",
                           py_version="py310", base_framework_version="pytorch2.1")
    assert request["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingImage"] == expected


@pytest.mark.parametrize(("algorithm", "path"), [
    ({"base_framework": None}, "algorithm.base_framework"),
    ({"base_framework": "pytorch9.9"}, "algorithm.base_framework"),
    ({"base_framework": "jax0.4"}, "algorithm.base_framework"),
])
def test_hugging_face_base_framework_problems_are_named(algorithm: dict[str, Any], path: str) -> None:
    doc = hf_spec(**algorithm)
    doc["algorithm"] = {k: v for k, v in doc["algorithm"].items() if v is not None}
    assert only_error(doc).path == path


def test_base_framework_is_only_for_hugging_face() -> None:
    doc = custom_spec(algorithm={**PYTORCH, "base_framework": "pytorch2.1"})
    assert only_error(doc).path == "algorithm.base_framework"


def test_framework_images_are_granted_by_their_repository_not_any() -> None:
    # py_version and base_framework pick the image: without them the grant fell back to every repository.
    from aws_cdk import App, Stack

    from amt_conductor.cdk.roles import pull_images_statements
    from amt_conductor.cdk.study_scope import study_access

    statements = pull_images_statements(Stack(App(), "S"), study_access(parse(hf_spec())), lambda _: "123456789012")
    [pull] = [s for s in statements if s.sid == "PullImages"]
    assert [r.rsplit(":", 1)[-1] for r in pull.resources] == ["repository/huggingface-pytorch-training"]
