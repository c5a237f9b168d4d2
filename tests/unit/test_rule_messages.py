"""The messages `amt validate` prints for the rules of the spec's newer fields, word for word: a user reads them
to fix the spec, so what each says (and where it points) is behaviour, not decoration."""

from __future__ import annotations

from typing import Any

import pytest
from spec_factory import builtin_spec, custom_spec, errors_of, setin
from test_multi_algorithm import multi_spec

VPC = {"subnets": ["subnet-0a1b"], "security_groups": ["sg-0c2d"]}
EFS = {"type": "efs", "id": "fs-0123456789abcdef0", "path": "/datasets/train"}
RESOURCE = "arn:aws:sagemaker:us-east-1:123456789012:algorithm/my-algo"


def _auto(n: int) -> dict[str, Any]:
    return custom_spec(autotune=True, ranges={f"p{i}": {"type": "auto", "hint": "0.1"} for i in range(n)})


def _manifest_in_file_mode() -> dict[str, Any]:
    return custom_spec(data={"train": {"uri": "s3://example-bucket/train/manifest",
                                       "s3_data_type": "AugmentedManifestFile"}})


CASES: dict[str, tuple[dict[str, Any], tuple[str, str]]] = {
    "grid with algorithms": (multi_spec(strategy="grid"), (
        "strategy", "grid search runs one definition's categorical grid; use bayesian or random with algorithms")),
    "too many auto ranges": (_auto(101), ("ranges", "101 auto ranges; SageMaker takes at most 100")),
    "a sagemaker_* hyperparameter": (custom_spec(hyperparameters={"sagemaker_program": "train.py"}), (
        "hyperparameters.sagemaker_program",
        "sagemaker_* hyperparameters control which code the SageMaker containers run and are never written by "
        "hand; for script mode give algorithm.entry_point and algorithm.source")),
    "a resource's py_version": (custom_spec(algorithm={"name": RESOURCE, "py_version": "py310"}), (
        "algorithm.py_version", "only with builtin; an algorithm resource has its own image")),
    "a resource's version": (custom_spec(algorithm={"name": RESOURCE, "version": "1"}), (
        "algorithm.version", "only with builtin; an algorithm resource has its own image")),
    "an S3 field on a file system": (custom_spec(network=VPC, data={"train": {
        "file_system": EFS, "distribution": "ShardedByS3Key"}}), (
        "data.train.distribution", "only with an S3 uri, not with file_system")),
    "a manifest in File mode": (_manifest_in_file_mode(), (
        "data.train.s3_data_type", "an AugmentedManifestFile is read in Pipe input mode only (the channel's "
        "input mode is File): set data.train.input_mode: Pipe")),
    "a manifest without attributes": (_manifest_in_file_mode(), (
        "data.train.attribute_names", "required with an AugmentedManifestFile: the attributes of each manifest "
        "line to send, e.g. [source-ref, class]")),
    "promoting a resource's model": (custom_spec(algorithm={"name": RESOURCE}, promote={
        "model_package_group": "churn-models"}), (
        "promote.inference.image", "an algorithm resource (algorithm.name) has no training image to serve from; "
        "name the inference image")),
    "new data on a file system": (custom_spec(network=VPC, data={"train": {"file_system": EFS}},
                                              triggers={"new_data": {"channels": ["train"]}}), (
        "triggers.new_data.channels.0", "needs an S3 channel (uri): a file system channel sends no upload events")),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_message_names_the_field_and_says_what_to_do(case: str) -> None:
    doc, expected = CASES[case]
    found = [(e.path, e.message) for e in errors_of(doc)]
    assert expected in found, found


def test_a_framework_study_that_names_its_inference_image_may_promote() -> None:
    doc = builtin_spec(algorithm={"builtin": "pytorch", "version": "2.1", "py_version": "py310",
                                  "entry_point": "train.py", "source": "s3://example-bucket/code/v1/sourcedir.tar.gz",
                                  "metrics": [{"name": "val:loss", "regex": "val_loss=([0-9.]+)"}]},
                       objective={"metric": "val:loss", "goal": "minimize"},
                       promote={"model_package_group": "digits", "inference": {
                           "image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1-cpu-py310"}})
    assert [e for e in errors_of(doc) if e.path.startswith("promote")] == []
    del doc["promote"]["inference"]
    assert [e.path for e in errors_of(doc)] == ["promote.inference.image"]


def test_a_definitions_own_objective_is_reported_in_the_definition() -> None:
    bad = setin(multi_spec(), "algorithms.0.objective", {"metric": "validation:nope", "goal": "maximize"})
    paths = [e.path for e in errors_of(bad)]
    assert paths and all(p.startswith("algorithms.0.objective") for p in paths), paths
