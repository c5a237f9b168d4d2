"""AugmentedManifestFile channels (issue 8, bug 5): Pipe input mode only, and attribute names required."""

from __future__ import annotations

from typing import Any

from spec_factory import custom_spec, only_error, parse

from amt_conductor.spec.render import render_request


def channel(doc: dict[str, Any]) -> dict[str, Any]:
    request = render_request(parse(doc), region="us-east-1", role_arn="arn:aws:iam::123456789012:role/r",
                             output_bucket="artifacts")
    (train,) = request["TrainingJobDefinition"]["InputDataConfig"]
    return train


def _augmented(**channel_fields: Any) -> dict[str, Any]:
    doc = custom_spec()
    doc["data"]["train"].update(s3_data_type="AugmentedManifestFile", **channel_fields)
    return doc


def test_augmented_manifest_needs_pipe_mode() -> None:
    # "AugmentedManifestFile can only be used if the Channel's input mode is Pipe" (S3DataSource docs).
    err = only_error(_augmented(attribute_names=["source-ref", "class"]))
    assert err.path == "data.train.s3_data_type" and "Pipe" in err.message and "File" in err.message


def test_augmented_manifest_needs_attribute_names() -> None:
    err = only_error(_augmented(input_mode="Pipe"))
    assert err.path == "data.train.attribute_names" and "required" in err.message


def test_augmented_manifest_in_pipe_mode_with_attribute_names_renders() -> None:
    ch = channel(_augmented(input_mode="Pipe", attribute_names=["source-ref", "class"]))
    assert ch["InputMode"] == "Pipe"
    assert ch["DataSource"]["S3DataSource"]["S3DataType"] == "AugmentedManifestFile"
    assert ch["DataSource"]["S3DataSource"]["AttributeNames"] == ["source-ref", "class"]
