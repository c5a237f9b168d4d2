"""S3 URIs as SageMaker takes them (issue 8, bug 2) and messages in words for every field with a form (bug 8)."""

from __future__ import annotations

import re
from typing import Any

import botocore.session
import pytest
from spec_factory import custom_spec, errors_of, parse, setin

from amt_conductor.cdk.study_scope import S3Location
from amt_conductor.spec.forms import parse_s3_uri
from amt_conductor.spec.model import json_schema
from amt_conductor.spec.render import render_request

ROLE = "arn:aws:iam::123456789012:role/sagemaker-tuning"
# AWS's XGBoost Parquet example reads its data path-style; virtual-hosted and dual-stack URLs name the same objects.
HTTPS = {
    "https://s3-us-west-2.amazonaws.com/sagemaker-sample-files/datasets/tabular/": (
        "sagemaker-sample-files", "datasets/tabular/"),
    "https://s3.eu-west-1.amazonaws.com/my-bucket/train/": ("my-bucket", "train/"),
    "https://s3.amazonaws.com/my-bucket": ("my-bucket", ""),
    "https://my.dotted.bucket.s3.us-east-1.amazonaws.com/data/part-0.csv": ("my.dotted.bucket", "data/part-0.csv"),
    "https://my-bucket.s3.amazonaws.com/": ("my-bucket", ""),
    "https://my-bucket.s3.dualstack.ap-south-1.amazonaws.com/x/y": ("my-bucket", "x/y"),
    "https://s3.cn-north-1.amazonaws.com.cn/cn-bucket/k": ("cn-bucket", "k"),
    "s3://my-bucket/train/": ("my-bucket", "train/"),
}


def _sagemaker_s3_pattern() -> re.Pattern[str]:
    model = botocore.session.get_session().get_service_model("sagemaker")
    return re.compile(model.shape_for("S3Uri").metadata["pattern"])


@pytest.mark.parametrize("uri", sorted(HTTPS))
def test_https_and_s3_uris_pass_through_unchanged_and_scope_iam_to_their_bucket(uri: str) -> None:
    assert _sagemaker_s3_pattern().fullmatch(uri)  # SageMaker's own pattern takes it
    doc = custom_spec(output_uri=uri)
    setin(doc, "data.train.uri", uri)

    request = render_request(parse(doc), region="us-east-1", role_arn=ROLE, output_bucket="artifacts")
    definition = request["TrainingJobDefinition"]

    assert definition["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == uri
    assert definition["OutputDataConfig"]["S3OutputPath"] == uri
    assert S3Location.parse(uri) == S3Location(*HTTPS[uri])


@pytest.mark.parametrize(("uri", "part"), [
    ("https://example.com/bucket/key", "'example.com' is not an S3 endpoint"),
    ("https://s3.amazonaws.com/", "names no bucket"),
    ("https://s3-accesspoint.us-east-1.amazonaws.com/b/k", "not an S3 endpoint"),
    ("gs://bucket/key", "must start with s3:// or https://"),
    ("s3://Bucket/key", "'Bucket' is not a bucket name"),
])
def test_uris_iam_cannot_scope_are_refused_in_words(uri: str, part: str) -> None:
    (err,) = errors_of(setin(custom_spec(), "data.train.uri", uri))
    assert err.path == "data.train.uri" and part in err.message


# Every field that must take a form: a bad value, and the offending part its message must show.
BAD_VALUES: dict[str, tuple[Any, str]] = {
    "name": ("churn_xgb", "'_' at character 6"),
    "algorithm.py_version": ("3.10", "must start with 'py'"),
    "data.<value>.uri": ("s3://example-bucket/" + "k" * 300 + "\nmore", "line break at character 321"),
    "output_uri": ("https://s3.amazonaws.com/Bad_Bucket/" + "x" * 900, "'Bad_Bucket' is not a bucket name"),
    "resources.instance_type": ("ml.m5.XLarge", "'X' at character 7"),
    "warm_start.parents.0": ("parent_1", "'_' at character 7"),
    "network.subnets.0": ("subnet-0abg", "'g' at character 11"),
    "network.security_groups.0": ("sg-0abg", "'g' at character 7"),
    "data.<key>": ("train data", "a space at character 6"),
    "environment.<key>": ("9LIVES", "may not start with '9'"),
    "checkpoint.uri": ("s3://ckpt_bucket/run/", "'ckpt_bucket' is not a bucket name"),
    "data.<value>.file_system.id": ("fs-0123456789abcdefg", "'g' at character 20"),
    "resources.instance_configs.0.instance_type": ("ml.g5.2xlarge ", "a space at character 14"),
    "algorithm.base_framework": ("pytorch_2.1", "'_' at character 8"),
    "promote.model_package_group": ("churn_models", "'_' at character 6"),
    "promote.inference.instance_types.0": ("ml.m5.Large", "'L' at character 7"),
    "algorithm.source": ("s3://code-bucket/" + "src/" * 100 + "sourcedir.zip", "must end with .tar.gz"),
    "algorithms.0.name": ("xgb_1", "'_' at character 4"),
    "algorithm.source_sha256": ("0" * 40 + "G" + "0" * 23, "'G' at character 41"),
}


def _pattern_fields(schema: dict[str, Any]) -> set[str]:
    """Dotted paths of every field whose JSON Schema has a pattern (the fields with a form)."""
    defs = schema["$defs"]
    out: set[str] = set()

    def walk(node: dict[str, Any], path: str) -> None:
        if "$ref" in node:
            walk(defs[node["$ref"].split("/")[-1]], path)
        if "pattern" in node and "anyOf" not in node:
            out.add(path)
        for key, sub in node.get("properties", {}).items():
            walk(sub, f"{path}.{key}" if path else key)
        for sub in node.get("anyOf", []) + node.get("oneOf", []):
            walk(sub, path)
        if isinstance(node.get("items"), dict):
            walk(node["items"], f"{path}.0")
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], f"{path}.<value>")
        if isinstance(node.get("propertyNames"), dict):
            walk(node["propertyNames"], f"{path}.<key>")
        for sub in node.get("patternProperties", {}).values():
            out.add(f"{path}.<key>")  # pydantic puts a key's pattern here
            walk(sub, f"{path}.<value>")

    walk(schema, "")
    return out


def test_every_field_with_a_form_is_checked_here() -> None:
    # A new field with a pattern must get a message in words (amt_conductor.spec.forms) and a case above.
    durations = {"resources.max_runtime_per_job", "resources.max_tuning_runtime", "spot.max_wait",
                 "resources.max_pending", "triggers.new_data.quiet_period"}  # spec.durations words their messages
    fields = _pattern_fields(json_schema()) - durations
    # A definition's fields are the study's models again (algorithm, data, resources): checked above.
    shared = tuple(f"algorithms.0.{model}." for model in ("algorithm", "data", "resources"))
    fields = {f for f in fields if not (f.startswith(shared) and f[len("algorithms.0."):] in {*BAD_VALUES, *durations})}
    assert fields == set(BAD_VALUES), "add each new pattern field to BAD_VALUES"


def _doc_with(path: str, value: Any) -> dict[str, Any]:
    doc = custom_spec(network={"subnets": ["subnet-0abc"], "security_groups": ["sg-0abc"]},
                      warm_start={"type": "transfer_learning", "parents": ["parent-1"]})
    if path == "checkpoint.uri":
        doc["checkpoint"] = {"uri": value}
    elif path == "algorithm.py_version":
        doc["algorithm"] = {"builtin": "pytorch", "version": "2.1", "py_version": value,
                            "metrics": doc["algorithm"]["metrics"]}
    elif path == "data.<value>.file_system.id":
        doc["data"]["train"] = {"file_system": {"type": "efs", "id": value, "path": "/data"}}
    elif path == "algorithm.base_framework":
        doc["algorithm"] = {"builtin": "huggingface", "version": "4.36", "base_framework": value,
                            "py_version": "py310", "metrics": doc["algorithm"]["metrics"]}
    elif path == "algorithms.0.name":
        doc["algorithms"] = [{"name": value, "algorithm": doc.pop("algorithm"), "ranges": doc.pop("ranges"),
                              "hyperparameters": doc.pop("hyperparameters")}]
    elif path.startswith("resources.instance_configs"):
        for key in ("instance_type", "instance_count", "volume_size_gb"):
            doc["resources"].pop(key, None)
        doc["resources"]["instance_configs"] = [{"instance_type": value}]
    elif path.startswith("promote."):
        doc["promote"] = {"model_package_group": "models", "inference": {"instance_types": ["ml.m5.large"]}}
        setin(doc, path, value)
    elif path.endswith("<key>"):
        where = path.split(".")[0]
        doc[where] = {value: doc["data"]["train"] if where == "data" else "x"}
    else:
        setin(doc, path.replace("<value>", "train"), value)
    return doc


@pytest.mark.parametrize("path", sorted(BAD_VALUES))
def test_messages_say_what_is_expected_in_words_and_show_the_offending_part(path: str) -> None:
    value, offending = BAD_VALUES[path]
    errors = errors_of(_doc_with(path, value))
    mine = [e for e in errors if e.path.split(".")[0] == path.split(".")[0]]

    assert mine, [e.message for e in errors]
    message = mine[0].message
    assert offending in message
    assert message.startswith("expected") or "is not" in message or "must" in message
    assert not re.search(r"\^|\$'|\[a-z|\\d|should match pattern", message), message
    assert len(message) < 400  # a 1 KB value is shown around its offending part, not whole


def test_a_long_value_is_shown_around_its_offending_part_not_cut_before_it() -> None:
    value, _ = BAD_VALUES["data.<value>.uri"]
    (err,) = errors_of(_doc_with("data.<value>.uri", value))
    assert "\\nmore" in err.message  # the line break and what follows it, 300 characters in


@pytest.mark.parametrize(("path", "value", "offending"), [
    ("kms_key_id", "arn:aws:kms:us-east-1:123456789012:key/" + "a" * 50 + " ", "a space at character"),
    ("tags.team", "risk" * 50 + "!", "'!' at character 201"),
    ("algorithm.image", "123456789012.dkr.ecr.us-east-1.amazonaws.com/" + "r" * 100 + "#1", "'#' at character"),
])
def test_cross_field_forms_speak_in_words_too(path: str, value: str, offending: str) -> None:
    (err,) = errors_of(setin(custom_spec(), path, value))
    assert offending in err.message and "expected" in err.message
    assert not re.search(r"\^|\[\\w|\\d", err.message), err.message


def test_parse_s3_uri_names_the_bucket_and_key() -> None:
    assert parse_s3_uri("s3://b-1/a/b") == ("b-1", "a/b")


@pytest.mark.parametrize("instance_type", ["ml.p6-b200.48xlarge", "ml.c7i-flex.large", "ml.g5.2xlarge"])
def test_instance_types_with_a_hyphen_in_the_family_are_accepted(instance_type: str) -> None:
    # botocore's TrainingInstanceType enum has such families.
    spec = parse(setin(custom_spec(), "resources.instance_type", instance_type))
    assert spec.resources.instance_type == instance_type


def test_a_raw_pattern_error_is_never_shown_to_a_person() -> None:
    # The safety net for a field that forgets amt_conductor.spec.forms: pydantic's message quotes the regex.
    from pydantic import BaseModel, Field, ValidationError

    from amt_conductor.spec.loader import _translate

    class Throwaway(BaseModel):
        code: str = Field(pattern=r"^[A-Z]{3}$")

    with pytest.raises(ValidationError) as exc:
        Throwaway(code="abcd")
    (err,) = _translate(exc.value, {})
    assert err.path == "code" and "'abcd'" in err.message
    assert "[A-Z]" not in err.message and "pattern" not in err.message
