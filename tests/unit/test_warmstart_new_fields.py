"""Warm-start rules for the fields added by issue 8: what a child may change relative to its parent."""

from __future__ import annotations

from typing import Any

import pytest
from spec_factory import custom_spec, parse, setin

from amt_conductor.spec.warmstart import compatibility_problems, static_changes

METRICS = [{"name": "val:loss", "regex": "val_loss=([0-9.]+)"}]
SCRIPT = {"builtin": "pytorch", "version": "2.1", "py_version": "py310", "metrics": METRICS,
          "entry_point": "train.py", "source": "s3://example-bucket/code/v1/sourcedir.tar.gz"}
VPC = {"subnets": ["subnet-0a1b"], "security_groups": ["sg-0c2d"]}
EFS = {"type": "efs", "id": "fs-0123456789abcdef0", "path": "/datasets/train"}


def problems(parent: dict[str, Any], child: dict[str, Any], kind: str = "identical_data_and_algorithm") -> set[str]:
    return {p.field for p in compatibility_problems(parse(child), [parse(parent)], kind)}


@pytest.mark.parametrize(("path", "value"), [
    ("checkpoint", {"uri": "s3://example-bucket/ckpt/"}),
    ("retry", {"max_attempts": 3}),
    ("resources.max_pending", "2h"),
    ("output_compression", "none"),
])
def test_a_child_may_change_operational_fields(path: str, value: object) -> None:
    assert problems(custom_spec(), setin(custom_spec(), path, value)) == set()


def test_instance_configs_may_change() -> None:
    child = custom_spec()
    del child["resources"]["instance_type"]
    child["resources"]["instance_configs"] = [{"instance_type": "ml.m5.xlarge"}, {"instance_type": "ml.c5.xlarge"}]
    assert problems(custom_spec(), child) == set()


def test_turning_script_mode_on_changes_the_hyperparameter_names() -> None:
    plain = custom_spec(algorithm={k: v for k, v in SCRIPT.items() if k not in ("entry_point", "source")})
    assert "hyperparameters" in problems(plain, custom_spec(algorithm=SCRIPT), "transfer_learning")


def test_a_new_code_archive_is_a_static_change() -> None:
    parent = custom_spec(algorithm=SCRIPT)
    child = custom_spec(algorithm={**SCRIPT, "source": "s3://example-bucket/code/v2/sourcedir.tar.gz"})
    changes = static_changes(parse(child), parse(parent))
    assert [c.split(":")[0] for c in changes] == ["sagemaker_submit_directory"]
    assert problems(parent, child) == set()


def test_a_new_entry_point_is_a_static_change() -> None:
    parent = custom_spec(algorithm=SCRIPT)
    child = custom_spec(algorithm={**SCRIPT, "entry_point": "train_v2.py"})
    assert static_changes(parse(child), parse(parent)) == ['sagemaker_program: "train.py" -> "train_v2.py"']


def test_under_network_isolation_a_new_code_archive_changes_no_hyperparameter() -> None:
    # Isolated jobs read the code from a channel, so sagemaker_submit_directory names the channel's archive,
    # whatever the spec's source: a new archive is no static change there (it is one without isolation).
    isolated = {"network": {**VPC, "isolation": True}}
    parent = custom_spec(algorithm=SCRIPT, **isolated)
    child = custom_spec(algorithm={**SCRIPT, "source": "s3://example-bucket/code/v2/sourcedir.tar.gz"}, **isolated)
    assert static_changes(parse(child), parse(parent)) == []


@pytest.mark.parametrize(("kind", "refused"), [("identical_data_and_algorithm", {"algorithm"}),
                                               ("transfer_learning", set())])
def test_a_different_algorithm_resource_keeps_identical_data_and_algorithm_from_warm_starting(
        kind: str, refused: set[str]) -> None:
    parent, child = custom_spec(algorithm={"name": "algo-a"}), custom_spec(algorithm={"name": "algo-b"})
    assert problems(parent, child, kind) == refused


@pytest.mark.parametrize(("kind", "refused"), [("identical_data_and_algorithm", {"data"}),
                                               ("transfer_learning", set())])
def test_a_different_file_system_is_different_data(kind: str, refused: set[str]) -> None:
    parent = custom_spec(network=VPC, data={"train": {"file_system": EFS}})
    child = custom_spec(network=VPC, data={"train": {"file_system": {**EFS, "path": "/datasets/v2"}}})
    assert problems(parent, child, kind) == refused


def test_multi_algorithm_children_compare_definition_by_definition() -> None:
    from test_multi_algorithm import LINEAR, XGB, multi_spec

    parent = multi_spec()
    assert problems(parent, multi_spec()) == set()
    more_rounds = setin(multi_spec(), "algorithms.0.hyperparameters.num_round", 200)
    assert problems(parent, more_rounds) == set()  # one static change
    new_range = setin(multi_spec(), "algorithms.1.ranges.l1", {"type": "continuous", "min": 0.0, "max": 1.0})
    assert problems(parent, new_range) == {"algorithms.1.hyperparameters"}
    assert problems(parent, multi_spec(LINEAR, XGB)) == {"algorithms"}
    assert problems(parent, custom_spec()) == {"algorithms"}


def test_a_range_that_changes_kind_names_both_kinds_and_the_parent() -> None:
    from amt_conductor.spec.warmstart import Problem

    auto = setin(custom_spec(autotune=True), "ranges.lr", {"type": "auto", "hint": "log-uniform"})
    parent = setin(auto, "name", "parent-study")
    assert compatibility_problems(parse(auto), [parse(parent)], "identical_data_and_algorithm") == []
    found = compatibility_problems(parse(custom_spec(autotune=True)), [parse(parent)], "identical_data_and_algorithm")
    assert found == [Problem("parent-study", "ranges.lr.type",
                             "changed auto -> continuous; a hyperparameter keeps its type")]


def test_definitions_in_another_order_name_both_orders_and_the_parent() -> None:
    from test_multi_algorithm import LINEAR, XGB, multi_spec

    from amt_conductor.spec.warmstart import Problem

    parent = setin(multi_spec(), "name", "parent-study")
    found = compatibility_problems(parse(multi_spec(LINEAR, XGB)), [parse(parent)], "identical_data_and_algorithm")
    assert found == [Problem("parent-study", "algorithms",
                             "the definitions (linear, xgb) must be the parent's (xgb, linear), in order")]
    single = compatibility_problems(parse(custom_spec()), [parse(parent)], "identical_data_and_algorithm")
    assert single == [Problem("parent-study", "algorithms",
                              "the definitions (none) must be the parent's (xgb, linear), in order")]
    single_parent = setin(custom_spec(), "name", "parent-study")
    multi = compatibility_problems(parse(multi_spec()), [parse(single_parent)], "identical_data_and_algorithm")
    assert multi == [Problem("parent-study", "algorithms",
                             "the definitions (xgb, linear) must be the parent's (none), in order")]


def test_a_definitions_own_fields_are_named_by_its_index_and_shared_ones_once() -> None:
    from test_multi_algorithm import multi_spec


    parent = setin(multi_spec(), "name", "parent-study")
    child = setin(multi_spec(), "algorithms.1.objective.metric", "validation:objective_loss")
    found = compatibility_problems(parse(child), [parse(parent)], "identical_data_and_algorithm")
    assert [(p.parent, p.field) for p in found] == [("parent-study", "algorithms.1.objective.metric")]
    # The environment is the study's, shared by its definitions: one problem, not one per definition.
    child = setin(multi_spec(), "environment", {"MODE": "fast"})
    found = compatibility_problems(parse(child), [parse(parent)], "identical_data_and_algorithm")
    assert [(p.parent, p.field) for p in found] == [("parent-study", "environment")]


SHA = "a" * 64
SOURCE_DIR = {**{k: v for k, v in SCRIPT.items() if k != "source"}, "source_dir": "code", "source_sha256": SHA}


@pytest.mark.parametrize("algorithm", [SCRIPT, SOURCE_DIR], ids=["source", "source_dir"])
@pytest.mark.parametrize("isolated", [False, True])
def test_the_static_hyperparameters_compared_are_the_ones_rendered(algorithm: dict[str, Any], isolated: bool) -> None:
    from amt_conductor.spec.render import render_request
    from amt_conductor.spec.warmstart import ARTIFACTS_BUCKET, REGION, static_hyperparameters

    network = {"network": {**VPC, "isolation": True}} if isolated else {}
    spec = parse(custom_spec(algorithm=algorithm, **network))
    request = render_request(spec, region="eu-west-1", role_arn="arn:aws:iam::123456789012:role/r",
                             output_bucket="artifacts")
    rendered = request["TrainingJobDefinition"]["StaticHyperParameters"]
    compared = {k: v.replace(REGION, "eu-west-1").replace(ARTIFACTS_BUCKET, "artifacts")
                for k, v in static_hyperparameters(spec).items()}
    assert compared == rendered and "sagemaker_program" in compared


def test_script_mode_from_a_source_dir_changes_the_hyperparameter_names() -> None:
    # A source_dir's archive is script mode as much as a source: a parent without it has other names.
    plain = custom_spec(algorithm={k: v for k, v in SCRIPT.items() if k not in ("entry_point", "source")})
    assert problems(plain, custom_spec(algorithm=SOURCE_DIR), "transfer_learning") == {"hyperparameters"}


def test_new_code_in_a_source_dir_is_a_static_change() -> None:
    parent = custom_spec(algorithm=SOURCE_DIR)
    child = custom_spec(algorithm={**SOURCE_DIR, "source_sha256": "b" * 64})
    (change,) = static_changes(parse(child), parse(parent))
    assert change.startswith("sagemaker_submit_directory: ") and SHA in change and "b" * 64 in change
    assert static_changes(parse(parent), parse(custom_spec(algorithm=SOURCE_DIR))) == []


def test_a_definitions_algorithm_data_and_range_kind_are_named_by_its_index() -> None:
    from test_multi_algorithm import multi_spec

    from amt_conductor.spec.warmstart import Problem

    parent = setin(multi_spec(), "name", "parent-study")
    child = setin(multi_spec(), "algorithms.0.algorithm", {"builtin": "xgboost", "version": "1.5-1"})
    child = setin(child, "algorithms.1.ranges.learning_rate", {"type": "integer", "min": 1, "max": 5})
    child = setin(child, "algorithms.1.data", {"train": {"uri": "s3://example-bucket/other/train/"}})
    found = compatibility_problems(parse(child), [parse(parent)], "identical_data_and_algorithm")
    assert found == [
        Problem("parent-study", "algorithms.0.algorithm",
                "changed; identical_data_and_algorithm needs the same algorithm (use transfer_learning)"),
        Problem("parent-study", "algorithms.1.ranges.learning_rate.type",
                "changed continuous -> integer; a hyperparameter keeps its type"),
        Problem("parent-study", "algorithms.1.data",
                "changed; identical_data_and_algorithm needs the same input data (use transfer_learning)"),
    ]
    transfer = compatibility_problems(parse(child), [parse(parent)], "transfer_learning")
    assert [p.field for p in transfer] == ["algorithms.1.ranges.learning_rate.type"]
