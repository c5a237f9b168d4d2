"""The messages `amt validate` prints for the rules of the spec's newer fields, word for word: a user reads them
to fix the spec, so what each says (and where it points) is behaviour, not decoration."""

from __future__ import annotations

from typing import Any

import pytest
from spec_factory import builtin_spec, custom_spec, errors_of, grid_spec, parse, setin
from test_multi_algorithm import multi_spec

from amt_conductor.spec.scriptmode import SCRIPT_MODE_BUILTINS

VPC = {"subnets": ["subnet-0a1b"], "security_groups": ["sg-0c2d"]}
EFS = {"type": "efs", "id": "fs-0123456789abcdef0", "path": "/datasets/train"}
RESOURCE = "arn:aws:sagemaker:us-east-1:123456789012:algorithm/my-algo"


def _auto(n: int) -> dict[str, Any]:
    return custom_spec(autotune=True, ranges={f"p{i}": {"type": "auto", "hint": "0.1"} for i in range(n)})


def _with_algorithm(doc: dict[str, Any]) -> dict[str, Any]:
    return {**doc, "algorithm": custom_spec()["algorithm"]}


CODE = "s3://example-bucket/code/v1/sourcedir.tar.gz"
FRAMEWORKS = ", ".join(sorted(SCRIPT_MODE_BUILTINS))


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
    "an algorithm beside algorithms": (_with_algorithm(multi_spec()), (
        "algorithm", "not with algorithms: each definition has its own algorithm")),
    "script mode without source": (custom_spec(algorithm={**custom_spec()["algorithm"], "entry_point": "train.py"}), (
        "algorithm.source", "script mode needs both entry_point and source (the S3 URI of the code archive) or "
        "source_dir (a folder beside the spec)")),
    "script mode on an algorithm resource": (custom_spec(algorithm={"name": RESOURCE, "entry_point": "train.py",
                                                                    "source": CODE}), (
        "algorithm.entry_point", f"script mode runs on the framework containers ({FRAMEWORKS}) or a custom image "
        "built on them, not on an algorithm resource")),
    "script mode on linear-learner": (builtin_spec(algorithm={"builtin": "linear-learner", "version": "1",
                                                              "entry_point": "train.py", "source": CODE}), (
        "algorithm.entry_point", f"script mode runs on the framework containers ({FRAMEWORKS}) or a custom image "
        "built on them, not on builtin linear-learner")),
    "a malformed algorithm name": (custom_spec(algorithm={"name": "bad name!"}), (
        "algorithm.name", "expected an algorithm resource name (letters, digits, hyphens, at most 63) or its ARN, "
        "arn:aws:sagemaker:REGION:ACCOUNT:algorithm/NAME (got 'bad name!')")),
    "a file system without a VPC": (custom_spec(data={"train": {"file_system": EFS}}), (
        "data.train.file_system", "a file system is reached through a VPC: set network.subnets and "
        "network.security_groups")),
    "rounds of grid search": (grid_spec(rounds={"max": 2}), (
        "rounds.max", "must be 1 for grid search (got 2): later rounds warm-start, which SageMaker allows for "
        "bayesian and random search only")),
    "new data on an unknown channel": (custom_spec(
        data={"train": {"uri": "s3://example-bucket/train/"}, "validation": {"uri": "s3://example-bucket/val/"}},
        triggers={"new_data": {"channels": ["nope"]}}), (
        "triggers.new_data.channels.0", "no data channel 'nope' (channels: train, validation)")),
    "new data on a manifest channel": (custom_spec(
        data={"train": {"uri": "s3://example-bucket/m", "s3_data_type": "ManifestFile"}},
        triggers={"new_data": {"channels": ["train"]}}), (
        "triggers.new_data.channels.0", "needs an S3Prefix channel: new objects are noticed under its prefix")),
    "new data for grid search": (grid_spec(triggers={"new_data": {"channels": ["train"]}}), (
        "triggers.new_data", "a new-data run warm-starts (transfer learning), which SageMaker allows for bayesian "
        "and random search, not grid")),
    "an instance type beside instance_configs": (setin(custom_spec(), "resources.instance_configs", [
        {"instance_type": "ml.c5.xlarge"}]), (
        "resources.instance_type", "not with instance_configs: give it in each of resources.instance_configs")),
    "an S3 data type on a file system": (custom_spec(network=VPC, data={"train": {
        "file_system": EFS, "s3_data_type": "ManifestFile"}}), (
        "data.train.s3_data_type", "only with an S3 uri, not with file_system")),
    "a wildcard in the code source": (custom_spec(algorithm={**custom_spec()["algorithm"], "entry_point": "t.py",
                                                             "source": "s3://example-bucket/code/*.tar.gz"}), (
        "algorithm.source", "may not contain '*': IAM reads them as wildcards in the study's access (got "
        "'s3://example-bucket/code/*.tar.gz')")),
    "an instance count beside instance_configs": (setin(setin(custom_spec(), "resources.instance_count", 2),
                                                        "resources.instance_configs", [
                                                            {"instance_type": "ml.c5.xlarge"}]), (
        "resources.instance_count", "not with instance_configs: give it in each of resources.instance_configs")),
    "a wildcard in the checkpoint URI": (custom_spec(checkpoint={"uri": "s3://example-bucket/ck*/?"}), (
        "checkpoint.uri", "may not contain '*' or '?': IAM reads them as wildcards in the study's access (got "
        "'s3://example-bucket/ck*/?')")),
}


def test_a_tags_key_and_value_are_told_apart() -> None:
    found = [(e.path, e.message.partition(":")[0]) for e in errors_of(custom_spec(tags={"team": "a|b"}))]
    assert found == [("tags.team", "the tag's value")]
    found = [(e.path, e.message.partition(":")[0]) for e in errors_of(custom_spec(tags={"a|b": "x"}))]
    assert found == [("tags.a|b", "the tag's key")]


def test_data_problems_are_reported_where_the_data_was_written() -> None:
    own = setin(multi_spec(), "algorithms.0.data", {"train": {"file_system": EFS}})
    assert "algorithms.0.data.train.file_system" in [e.path for e in errors_of(own)]
    shared = {**multi_spec(), "data": {"train": {"file_system": EFS}}}
    paths = [e.path for e in errors_of(shared)]
    assert "data.train.file_system" in paths and not any(p.startswith("algorithms.") for p in paths), paths


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
    assert [(e.path, e.message) for e in errors_of(doc)] == [
        ("promote.inference.image", "pytorch is a framework: its training image does not serve; name the inference "
                                    "image")]


def test_a_definitions_own_objective_is_reported_in_the_definition() -> None:
    bad = setin(multi_spec(), "algorithms.0.objective", {"metric": "validation:nope", "goal": "maximize"})
    paths = [e.path for e in errors_of(bad)]
    assert paths and all(p.startswith("algorithms.0.objective") for p in paths), paths


def test_the_auto_range_limit_is_inclusive() -> None:
    assert [e for e in errors_of(_auto(100)) if e.path == "ranges"] == []


def test_too_many_hyperparameters_counts_what_sagemaker_adds() -> None:
    doc = custom_spec(hyperparameters={f"h{i}": 1 for i in range(98)})  # + 3 ranges = 101, over 99
    found = [(e.path, e.message) for e in errors_of(doc)]
    assert ("hyperparameters", "101 static + tuned hyperparameters; at most 99 (SageMaker adds one of its own)") \
        in found, found


def test_xgboost_in_script_mode_needs_the_objective_among_its_metrics() -> None:
    doc = builtin_spec(algorithm={"builtin": "xgboost", "version": "1.7-1", "entry_point": "train.py",
                                  "source": CODE}, objective={"metric": "validation:auc", "goal": "maximize"})
    found = [(e.path, e.message) for e in errors_of(doc)]
    assert ("algorithm.metrics", "xgboost in script mode needs metric definitions (name and regex) for the "
                                 "objective") in found, found


def test_a_framework_study_reports_an_unknown_objective_once() -> None:
    doc = builtin_spec(algorithm={"builtin": "pytorch", "version": "2.1", "py_version": "py310",
                                  "entry_point": "train.py", "source": CODE,
                                  "metrics": [{"name": "val:loss", "regex": "val_loss=([0-9.]+)"}]},
                       objective={"metric": "val:acc", "goal": "maximize"})
    assert [e.path for e in errors_of(doc)].count("objective.metric") == 1


def test_an_isolated_script_mode_study_may_not_name_a_channel_code() -> None:
    doc = builtin_spec(algorithm={"builtin": "pytorch", "version": "2.1", "py_version": "py310",
                                  "entry_point": "train.py", "source": CODE,
                                  "metrics": [{"name": "val:loss", "regex": "val_loss=([0-9.]+)"}]},
                       objective={"metric": "val:loss", "goal": "minimize"}, network={**VPC, "isolation": True},
                       data={"train": {"uri": "s3://example-bucket/train/"}, "code": {"uri": "s3://example-bucket/c/"}})
    found = [(e.path, e.message) for e in errors_of(doc)]
    assert ("data.code", "with network isolation, script mode passes the code archive as the 'code' channel; "
                         "rename this channel") in found, found


def test_resources_problems_are_reported_where_the_resources_were_written() -> None:
    twice = [{"instance_type": "ml.m5.xlarge"}, {"instance_type": "ml.m5.xlarge"}]
    own = setin(multi_spec(), "algorithms.0.resources", {"instance_configs": twice})
    assert [(e.path, e.message) for e in errors_of(own)] == [
        ("algorithms.0.resources.instance_configs", "ml.m5.xlarge is listed twice")]
    shared = multi_spec()
    shared["resources"] = {**{k: v for k, v in shared["resources"].items() if k != "instance_type"},
                           "instance_configs": twice}
    assert ("resources.instance_configs", "ml.m5.xlarge is listed twice") in [
        (e.path, e.message) for e in errors_of(shared)]


def test_a_malformed_inference_image_is_named_where_it_was_written() -> None:
    doc = custom_spec(promote={"model_package_group": "churn-models", "inference": {"image": "not an image"}})
    assert [e.path for e in errors_of(doc)] == ["promote.inference.image"]


def test_a_key_over_local_and_ebs_instances_names_both_kinds() -> None:
    configs = [{"instance_type": t} for t in ("ml.g5.xlarge", "ml.m5.xlarge", "ml.c5.xlarge")]
    doc = setin(custom_spec(kms_key_id="alias/ml"), "resources.instance_configs", configs)
    del doc["resources"]["instance_type"]
    found = [(e.path, e.message) for e in errors_of(doc)]
    assert ("resources.instance_configs", "with kms_key_id, choose instance types that all have local NVMe storage "
            "(ml.g5.xlarge) or all use EBS volumes (ml.m5.xlarge, ml.c5.xlarge): SageMaker takes one volume key "
            "for every choice and refuses it on local storage") in found, found


def test_a_study_instance_count_beside_a_definitions_instance_choices_is_the_definitions_problem() -> None:
    # The definition chose its instances (instance_configs), so the study's instance_count, which it would
    # otherwise inherit, conflicts in the definition: it is the definition the user has to change.
    doc = setin(multi_spec(), "algorithms.0.resources", {"instance_configs": [{"instance_type": "ml.m5.xlarge"}]})
    doc["resources"]["instance_count"] = 2
    doc["algorithms"][1].pop("resources")
    assert [(e.path, e.message) for e in errors_of(doc)] == [
        ("algorithms.0.resources.instance_count",
         "not with instance_configs: give it in each of resources.instance_configs")]


def _definition(resources: dict[str, Any] | None) -> Any:
    doc = multi_spec()
    if resources is None:
        doc["algorithms"][0].pop("resources", None)
    else:
        doc["algorithms"][0]["resources"] = resources
    return parse(doc).algorithms[0]  # type: ignore[index]


@pytest.mark.parametrize(("resources", "path", "written_at"), [
    # A field the definition sets is its own, however deep the problem lies in it.
    ({"max_runtime_per_job": "2h"}, "resources.max_runtime_per_job", "algorithms.0.resources.max_runtime_per_job"),
    ({"instance_configs": [{"instance_type": "ml.m5.xlarge"}]}, "resources.instance_configs.0.instance_type",
     "algorithms.0.resources.instance_configs.0.instance_type"),
    # Choosing the instance (a type or choices) makes every instance field the definition's.
    ({"instance_type": "ml.c5.xlarge"}, "resources.instance_count", "algorithms.0.resources.instance_count"),
    ({"instance_type": "ml.c5.xlarge"}, "resources.volume_size_gb", "algorithms.0.resources.volume_size_gb"),
    ({"instance_type": "ml.c5.xlarge"}, "resources.instance_configs", "algorithms.0.resources.instance_configs"),
    ({"instance_configs": [{"instance_type": "ml.m5.xlarge"}]}, "resources.instance_count",
     "algorithms.0.resources.instance_count"),
    ({"instance_configs": [{"instance_type": "ml.m5.xlarge"}]}, "resources.instance_type",
     "algorithms.0.resources.instance_type"),
    # Anything else it inherits is the study's.
    ({"instance_type": "ml.c5.xlarge"}, "resources.max_jobs", "resources.max_jobs"),
    ({"max_runtime_per_job": "2h"}, "resources.instance_count", "resources.instance_count"),
    (None, "resources.instance_type", "resources.instance_type"),
    (None, "spot.max_wait", "spot.max_wait"),
    (None, "ranges.eta.max", "algorithms.0.ranges.eta.max"),
])
def test_a_problem_in_a_definitions_view_is_named_where_it_was_written(
        resources: dict[str, Any] | None, path: str, written_at: str) -> None:
    from amt_conductor.spec.rules import _written_at

    assert _written_at(path, 0, _definition(resources)) == written_at


@pytest.mark.parametrize("field", ["hyperparameters", "ranges"])
def test_study_hyperparameters_or_ranges_beside_algorithms(field: str) -> None:
    doc = multi_spec()
    doc[field] = custom_spec()[field]
    assert (field, f"not with algorithms: each definition has its own {field}") in [
        (e.path, e.message) for e in errors_of(doc)]


def test_a_definition_with_another_goal_is_told_the_study_s() -> None:
    doc = setin(multi_spec(), "algorithms.1.objective.goal", "minimize")
    assert [(e.path, e.message) for e in errors_of(doc)] == [
        ("algorithms.1.objective.goal", "must be the study's (maximize): one tuning job compares its definitions by "
                                        "one goal")]


def _script_mode(entry_point: str = "train.py") -> dict[str, Any]:
    return builtin_spec(algorithm={"builtin": "pytorch", "version": "2.1", "py_version": "py310",
                                   "entry_point": entry_point, "source": CODE,
                                   "metrics": [{"name": "val:loss", "regex": "val_loss=([0-9.]+)"}]},
                        objective={"metric": "val:loss", "goal": "minimize"})


@pytest.mark.parametrize(("extra", "error"), [
    (0, None),  # 95 of our own + SageMaker's one + script mode's four = 100, the limit
    (1, ("hyperparameters", "96 static + tuned hyperparameters; at most 95 (SageMaker adds one of its own, script "
                            "mode four)")),
])
def test_script_mode_counts_its_four_hyperparameters_against_the_limit(extra: int, error: Any) -> None:
    doc = _script_mode()
    tuned = len(doc["ranges"])
    doc["hyperparameters"] = {f"h{i}": 1 for i in range(95 - tuned + extra)}
    found = [(e.path, e.message) for e in errors_of(doc) if e.path == "hyperparameters"]
    assert found == ([error] if error else []), found


@pytest.mark.parametrize(("doc", "expected"), [
    (setin(custom_spec(), "resources.instance_type", None),
     ("resources.instance_type", "required (or give resources.instance_configs)")),
    (custom_spec(algorithm={**custom_spec()["algorithm"], "builtin": "xgboost", "version": "1.7-1"}),
     ("algorithm", "give exactly one of builtin (with version), image, or name (an algorithm resource)")),
    (custom_spec(ranges={"eta": {"type": "auto", "hint": "0.1"}}),
     ("ranges.eta.type", "auto ranges are chosen by Autotune: set autotune: true")),
    (_script_mode(entry_point="../train.py"),
     ("algorithm.entry_point", "a path inside the source archive, like train.py or src/train.py (got '../train.py')")),
], ids=["no instance type", "builtin and image", "auto range without autotune", "entry point outside the archive"])
def test_more_rule_messages(doc: dict[str, Any], expected: tuple[str, str]) -> None:
    assert expected in [(e.path, e.message) for e in errors_of(doc)], [(e.path, e.message) for e in errors_of(doc)]


def test_cpu_and_gpu_instance_choices_of_a_framework_need_two_images() -> None:
    doc = _script_mode()  # pytorch: one image for CPU instances, another for GPU (xgboost has one for both)
    doc["resources"].pop("instance_type")
    doc["resources"]["instance_configs"] = [{"instance_type": "ml.m5.xlarge"}, {"instance_type": "ml.g4dn.xlarge"}]
    found = [(e.path, e.message) for e in errors_of(doc)]
    assert ("resources.instance_configs", "pytorch has different images for these instance types (cpu and gpu); one "
            "tuning job has one image, so choose instance types of one kind") in found, found
