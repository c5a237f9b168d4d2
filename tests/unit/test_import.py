"""`amt import`: what is refused and named, what is dropped with a note, text values, names, --job."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from amt_conductor.cli.importer import to_yaml
from amt_conductor.cli.main import main
from amt_conductor.spec.importing.request import study_name
from amt_conductor.spec.naming import JOB_NAME_RE, max_study_name_length
from amt_conductor.spec.yamlsafe import SpecLoader

REAL = Path(__file__).resolve().parents[1] / "data" / "real"


def _request(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((REAL / name).read_text())
    return data


def _import(request: dict[str, Any], tmp_path: Path, capsys: Any, *args: str) -> tuple[int, str, str]:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    code = main(["import", str(path), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _spec(out: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.load(out, Loader=SpecLoader)
    return doc


@pytest.mark.parametrize(("where", "field", "value"), [
    (("TrainingJobDefinition", "ResourceConfig"), "KeepAlivePeriodInSeconds", 600),
    (("TrainingJobDefinition", "ResourceConfig"), "InstanceGroups", [{"InstanceGroupName": "g", "InstanceType":
                                                                      "ml.m5.xlarge", "InstanceCount": 1}]),
    (("TrainingJobDefinition",), "SomethingNew", {"Mode": "On"}),
    (("HyperParameterTuningJobConfig",), "FutureKnob", "Enabled"),
    (("TrainingJobDefinition", "InputDataConfig", 0), "DatasetSource", {"Foo": "bar"}),
])
def test_a_field_the_spec_cannot_express_exits_1_naming_it(where: tuple[Any, ...], field: str, value: Any,
                                                            tmp_path: Path, capsys: Any) -> None:
    request = _request("01-examples-xgboost-direct-marketing.json")
    target: Any = request
    for key in where:
        target = target[key]
    target[field] = value
    code, out, err = _import(request, tmp_path, capsys)
    assert code == 1 and out == ""
    path = ".".join(str(k) for k in (*where, field))
    assert f"request.json: {path}: " in err


def test_output_and_volume_keys_that_differ_are_refused(tmp_path: Path, capsys: Any) -> None:
    request = _request("01-examples-xgboost-direct-marketing.json")
    request["TrainingJobDefinition"]["OutputDataConfig"]["KmsKeyId"] = "alias/output"
    code, _, err = _import(request, tmp_path, capsys)
    assert code == 1
    assert "TrainingJobDefinition.OutputDataConfig.KmsKeyId: the spec's kms_key_id encrypts both" in err


def test_the_same_key_for_output_and_volume_is_kms_key_id(tmp_path: Path, capsys: Any) -> None:
    request = _request("01-examples-xgboost-direct-marketing.json")
    request["TrainingJobDefinition"]["OutputDataConfig"]["KmsKeyId"] = "alias/amt"
    request["TrainingJobDefinition"]["ResourceConfig"]["VolumeKmsKeyId"] = "alias/amt"
    code, out, _ = _import(request, tmp_path, capsys)
    assert code == 0 and _spec(out)["kms_key_id"] == "alias/amt"


def test_sdk_requests_import_as_the_text_the_container_receives(tmp_path: Path, capsys: Any) -> None:
    # The SDK's JSON quoting is undone; its bookkeeping is dropped, and stderr says so.
    request = _request("16-graphstorm-sdk-script-mode.json")
    statics = request["TrainingJobDefinition"]["StaticHyperParameters"]
    for key in [k for k in statics if k.startswith("sagemaker_") and k not in
                ("sagemaker_job_name", "sagemaker_estimator_class_name", "sagemaker_estimator_module")]:
        del statics[key]  # script mode has its own test (the corpus); here only quoting and bookkeeping
    code, out, err = _import(request, tmp_path, capsys)
    assert code == 0, err
    spec = _spec(out)
    assert spec["hyperparameters"]["graph-name"] == "my-graph"
    # The toolkit would read a bare 1 as a number: the SDK's quotes stay, so the script still gets the text.
    assert spec["hyperparameters"]["topk-model-to-save"] == '"1"'
    assert spec["ranges"]["model_encoder_type"]["values"] == ["rgcn", "hgt"]
    assert not any(k.startswith("sagemaker_") for k in spec["hyperparameters"])
    assert "sagemaker_job_name, sagemaker_estimator_class_name, sagemaker_estimator_module" in err
    assert "note: " in err


def test_values_not_written_by_the_sdk_keep_their_quotes(tmp_path: Path, capsys: Any) -> None:
    request = _request("01-examples-xgboost-direct-marketing.json")
    request["TrainingJobDefinition"]["StaticHyperParameters"]["label"] = '"quoted"'
    code, out, _ = _import(request, tmp_path, capsys)
    assert code == 0 and _spec(out)["hyperparameters"]["label"] == '"quoted"'


def test_built_in_images_come_back_as_builtin_and_version(tmp_path: Path, capsys: Any) -> None:
    code, out, _ = _import(_request("11-ack-e2e-xgboost-tags.json"), tmp_path, capsys)
    assert code == 0
    assert _spec(out)["algorithm"] == {"builtin": "xgboost", "version": "1.0-1"}
    # The same repository and tag in an account that is not the region's registry is someone's own image.
    request = _request("11-ack-e2e-xgboost-tags.json")
    image = "111122223333.dkr.ecr.us-west-2.amazonaws.com/sagemaker-xgboost:1.0-1-cpu-py3"
    request["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingImage"] = image
    request["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"] = [
        {"Name": "validation:error", "Regex": "validation-error:([0-9.]+)"}]
    code, out, _ = _import(request, tmp_path, capsys)
    assert code == 0 and _spec(out)["algorithm"]["image"] == image


def test_study_name_from_name_or_job_name(tmp_path: Path, capsys: Any) -> None:
    request = _request("02-examples-keras-byo-container.json")
    assert _spec(_import(request, tmp_path, capsys)[1])["name"] == "byo-keras-tuningjob"
    assert _spec(_import(request, tmp_path, capsys, "--name", "keras")[1])["name"] == "keras"
    code, _, err = _import(request, tmp_path, capsys, "--name", "Not Valid")
    assert code == 1 and "name: " in err


@given(st.text(min_size=0, max_size=40))
def test_a_study_name_is_made_valid_from_any_job_name(job_name: str) -> None:
    name = study_name(job_name)
    assert JOB_NAME_RE.match(name) and name == name.lower()
    assert len(name) <= max_study_name_length()


@settings(max_examples=150, deadline=None)
@given(st.one_of(
    st.sampled_from(["1.10", "True", "FALSE", "off", "yes", "0o17", "010", "1e-05", "", "null", "~", "1:30",
                     "2024-01-01", ".inf", "- a", "a: b", "#x", "'q'", '"q"', " lead", "0x1F"]),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20)))
def test_text_values_read_back_exactly(value: str) -> None:
    doc = {"hyperparameters": {"x": value}, "tags": {"k": value}}
    assert yaml.load(to_yaml(doc), Loader=SpecLoader) == doc


def test_neither_or_both_sources_is_a_usage_error(capsys: Any) -> None:
    assert main(["import"]) == 2
    assert main(["import", "x.json", "--job", "j"]) == 2
    capsys.readouterr()


def test_a_file_that_is_not_a_request_is_named(tmp_path: Path, capsys: Any) -> None:
    code, _, err = _import({"name": "a spec"}, tmp_path, capsys)
    assert code == 1 and "not a CreateHyperParameterTuningJob request" in err
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    assert main(["import", str(bad)]) == 1
    assert "bad.json: invalid JSON at line 1" in capsys.readouterr().err


def test_import_a_job_from_the_account(capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto import mock_aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    request = _request("13-ack-warm-start.json")
    with mock_aws():
        import boto3

        boto3.client("sagemaker", region_name="us-west-2").create_hyper_parameter_tuning_job(**request)
        assert main(["import", "--job", request["HyperParameterTuningJobName"], "--region", "us-west-2"]) == 0
        spec = _spec(capsys.readouterr().out)
        assert main(["import", "--job", "no-such-job", "--region", "us-west-2"]) == 1
        assert "job no-such-job: cannot describe the tuning job" in capsys.readouterr().err
    assert spec["tags"] == {t["Key"]: t["Value"] for t in request["Tags"]}  # Describe has none: ListTags does
    assert spec["warm_start"] == {"type": "identical_data_and_algorithm", "parents": ["unit-testing-hpo-first-run"]}
    assert spec["algorithm"] == {"builtin": "xgboost", "version": "1"}


def test_describe_responses_lose_only_what_sagemaker_added(tmp_path: Path, capsys: Any) -> None:
    described = json.loads((REAL / "describe" / "ack-warm-start.json").read_text())
    assert main(["import", str(REAL / "describe" / "ack-warm-start.json")]) == 0
    captured = capsys.readouterr()
    spec = _spec(captured.out)
    assert "_tuning_objective_metric" not in spec["hyperparameters"]
    assert "metrics" not in spec["algorithm"]  # xgboost's own metric list, added by SageMaker
    assert "MetricDefinitions: the built-in algorithm's own metrics" in captured.err
    # A custom image's metric definitions are the user's: kept.
    custom = copy.deepcopy(described)
    custom["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingImage"] = (
        "111122223333.dkr.ecr.us-west-2.amazonaws.com/mine:1")
    code, out, _ = _import(custom, tmp_path, capsys)
    assert code == 0 and len(_spec(out)["algorithm"]["metrics"]) == 19


def test_the_readme_example_is_the_exact_output(capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    root = REAL.parents[2]
    readme = (root / "README.md").read_text()
    block = readme[readme.index("$ amt import tests/data/real/11-ack"):]
    block = block[: block.index("```")]
    notes, head = block.split("$ head -12 churn-ack.yaml\n")
    monkeypatch.chdir(root)
    assert main(["import", "tests/data/real/11-ack-e2e-xgboost-tags.json", "--name", "churn-ack"]) == 0
    captured = capsys.readouterr()
    assert "".join(captured.out.splitlines(keepends=True)[:12]) == head
    assert captured.err == notes.split("\n", 1)[1]


@pytest.mark.parametrize(("sdk", "spec"), [
    ('"rgcn"', "rgcn"), ('"s3://b/k"', "s3://b/k"), ('"my graph"', "my graph"),
    # The toolkit would read these bare texts as JSON (1.1, False, None, a list): the quotes stay.
    ('"1.10"', '"1.10"'), ('"false"', '"false"'), ('"null"', '"null"'), ('"[1, 2]"', '"[1, 2]"'), ('"1"', '"1"'),
    ("20", "20"), ("plain", "plain"), ('"unterminated', '"unterminated'),
])
def test_sdk_quotes_go_only_where_the_script_gets_the_same_text(sdk: str, spec: str) -> None:
    from amt_conductor.spec.importing.request import toolkit_value, unquote

    assert unquote(sdk) == spec
    assert toolkit_value(spec) == toolkit_value(sdk)


def test_an_output_key_alone_on_local_storage_instances_is_kms_key_id(tmp_path: Path, capsys: Any) -> None:
    # SageMaker refuses a volume key on ml.g5 (local NVMe): such a job has only the output key, and amt
    # renders only that one for it.
    request = _request("01-examples-xgboost-direct-marketing.json")
    request["TrainingJobDefinition"]["OutputDataConfig"]["KmsKeyId"] = "alias/amt"
    request["TrainingJobDefinition"]["ResourceConfig"]["InstanceType"] = "ml.g5.2xlarge"
    code, out, err = _import(request, tmp_path, capsys)
    assert code == 0, err
    assert _spec(out)["kms_key_id"] == "alias/amt"
    request["TrainingJobDefinition"]["ResourceConfig"]["InstanceType"] = "ml.m5.2xlarge"
    code, _, err = _import(request, tmp_path, capsys)
    assert code == 1 and "OutputDataConfig.KmsKeyId" in err


def _catalog_cases() -> list[Any]:
    from amt_conductor.spec.images import _catalog

    cases = []
    for name, algo in sorted(_catalog()["algorithms"].items()):
        for version in dict.fromkeys((algo["known"][0], algo["known"][-1])):  # ordered: xdist workers must agree
            entry = algo["versions"].get(algo.get("aliases", {}).get(version, version), {})
            base = next(iter(entry.get("base_aliases", {})), None) or next(iter(entry.get("by_base", {})), None)
            for instance_type in ("ml.m5.xlarge", "ml.g5.2xlarge"):
                cases.append(pytest.param(name, version, base, instance_type, id=f"{name}-{version}-{instance_type}"))
    return cases


@pytest.mark.parametrize(("name", "version", "base", "instance_type"), _catalog_cases())
def test_every_catalog_image_imports_as_a_builtin_that_resolves_to_it(name: str, version: str, base: str | None,
                                                                       instance_type: str) -> None:
    from amt_conductor.spec.images import ImageError, resolve_image
    from amt_conductor.spec.importing.definition import _builtin

    for py in (None, "py3", "py310", "py311", "py312"):
        try:
            image = resolve_image(name, version, "eu-west-1", instance_type=instance_type, py_version=py,
                                  base_framework=base)
            break
        except ImageError:
            continue
    else:
        pytest.skip(f"{name} {version} has no image for {instance_type} in eu-west-1")
    found = _builtin(image, instance_type)
    assert found is not None, image
    assert found.pop("region") == "eu-west-1"
    assert resolve_image(found.pop("builtin"), found.pop("version"), "eu-west-1", instance_type=instance_type,
                         **found) == image


def test_definitions_keep_their_own_instances_and_data(tmp_path: Path, capsys: Any) -> None:
    # A second algorithm on a bigger instance with its own data: the overrides a spec can express.
    request = _request("12-ack-multi-definition.json")
    second = copy.deepcopy(request["TrainingJobDefinitions"][0])
    second["DefinitionName"] = "bigger"
    second["ResourceConfig"]["InstanceType"] = "ml.m5.2xlarge"
    second["InputDataConfig"] = second["InputDataConfig"][:1]
    second["TuningObjective"] = {"Type": "Minimize", "MetricName": "validation:rmse"}
    request["TrainingJobDefinitions"].append(second)
    code, out, err = _import(request, tmp_path, capsys)
    assert code == 0, err
    bigger = _spec(out)["algorithms"][1]
    assert bigger["resources"] == {"instance_type": "ml.m5.2xlarge"}
    assert list(bigger["data"]) == ["train"]
    assert bigger["objective"] == {"metric": "validation:rmse", "goal": "minimize"}
    assert "objective" not in _spec(out)["algorithms"][0]  # the study's


def test_what_a_spec_shares_across_algorithms_must_agree(tmp_path: Path, capsys: Any) -> None:
    request = _request("12-ack-multi-definition.json")
    second = copy.deepcopy(request["TrainingJobDefinitions"][0])
    second["DefinitionName"] = "with-checkpoints"
    second["CheckpointConfig"] = {"S3Uri": "s3://amzn-s3-demo-bucket/checkpoints/"}
    request["TrainingJobDefinitions"].append(second)
    code, out, err = _import(request, tmp_path, capsys)
    assert code == 1 and out == ""
    assert "TrainingJobDefinitions.1.CheckpointConfig: differs from TrainingJobDefinitions.0" in err


def test_completion_criteria_import_or_are_named(tmp_path: Path, capsys: Any) -> None:
    request = _request("01-examples-xgboost-direct-marketing.json")
    request["HyperParameterTuningJobConfig"]["TuningJobCompletionCriteria"] = {
        "TargetObjectiveMetricValue": 0.95, "BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 5},
        "ConvergenceDetected": {"CompleteOnConvergence": "Enabled"}}
    code, out, err = _import(request, tmp_path, capsys)
    assert code == 0, err
    assert _spec(out)["completion"] == {"target": 0.95, "max_jobs_not_improving": 5, "stop_on_convergence": True}
    request["HyperParameterTuningJobConfig"]["TuningJobCompletionCriteria"]["ConvergenceDetected"] = {
        "CompleteOnConvergence": "Disabled"}
    code, _, err = _import(request, tmp_path, capsys)
    assert code == 1 and "ConvergenceDetected.CompleteOnConvergence: the spec can only enable it" in err
