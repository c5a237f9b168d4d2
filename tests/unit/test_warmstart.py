"""Warm-start compatibility: each reason SageMaker refuses a child (failing and passing case), and the
readable diff of what changed. Rules: ../shared/reference/amt-api.md section 1.5."""

from __future__ import annotations

from typing import Any

import pytest
from spec_factory import builtin_spec, custom_spec, parse, setin

from amt_conductor.spec.model import Spec
from amt_conductor.spec.warmstart import compatibility_problems, describe_changes, static_changes


def spec(**top: Any) -> Spec:
    return parse(custom_spec(**top))


def fields(child: Spec, parents: list[Spec], kind: str | None = None) -> list[str]:
    return [p.field for p in compatibility_problems(child, parents, kind)]


def changed(path: str, value: Any, **top: Any) -> Spec:
    return parse(setin(custom_spec(**top), path, value))


PARENT = spec()


def test_identical_spec_is_compatible() -> None:
    assert compatibility_problems(spec(), [PARENT]) == []


def test_allowed_changes_are_compatible() -> None:
    # Ranges, job counts, parallelism, instance type and runtime may change.
    child = spec(ranges={
        "lr": {"type": "continuous", "min": 0.01, "max": 0.5, "scaling": "log"},
        "depth": {"type": "integer", "min": 3, "max": 12},
        "opt": {"type": "categorical", "values": ["sgd", "adam", "adamw"]},
    })
    child = parse(setin(setin(child.model_dump(mode="json", exclude_none=True), "resources.max_jobs", 50),
                        "resources.instance_type", "ml.c5.xlarge"))
    assert compatibility_problems(child, [PARENT]) == []


# --- objective ------------------------------------------------------------------------------

def test_objective_metric_changed() -> None:
    child = spec(objective={"metric": "val:acc", "goal": "minimize"},
                 algorithm={"image": custom_spec()["algorithm"]["image"],
                            "metrics": [{"name": "val:acc", "regex": "acc=([0-9.]+)"}]})
    [problem] = compatibility_problems(child, [PARENT], "transfer_learning")
    assert problem.field == "objective.metric"
    assert "'val:loss'" in problem.message and "'val:acc'" in problem.message
    assert problem.parent == "study"


def test_objective_goal_changed() -> None:
    assert fields(changed("objective.goal", "maximize"), [PARENT]) == ["objective.goal"]


# --- hyperparameter names and types ---------------------------------------------------------

def test_name_set_changed_by_adding() -> None:
    [problem] = compatibility_problems(changed("hyperparameters.dropout", "0.1"), [PARENT])
    assert problem.field == "hyperparameters"
    assert "added dropout" in problem.message


def test_name_set_changed_by_removing() -> None:
    [problem] = compatibility_problems(spec(hyperparameters={}), [PARENT])
    assert problem.field == "hyperparameters"
    assert "removed batch_size" in problem.message


def test_static_to_tunable_keeps_the_name_set() -> None:
    child = spec(hyperparameters={})
    child = parse(setin(child.model_dump(mode="json", exclude_none=True), "ranges.batch_size",
                        {"type": "integer", "min": 16, "max": 256}))
    assert compatibility_problems(child, [PARENT]) == []


def test_tunable_type_changed() -> None:
    child = changed("ranges.depth", {"type": "continuous", "min": 2, "max": 8})
    [problem] = compatibility_problems(child, [PARENT])
    assert problem.field == "ranges.depth.type"
    assert "integer -> continuous" in problem.message


def test_tunable_type_kept_with_new_bounds() -> None:
    assert compatibility_problems(changed("ranges.depth", {"type": "integer", "min": 1, "max": 20}), [PARENT]) == []


# --- static changes -------------------------------------------------------------------------

def static_parent(n: int) -> Spec:
    return spec(hyperparameters={f"h{i}": i for i in range(n)})


def test_ten_static_value_changes_allowed() -> None:
    child = spec(hyperparameters={f"h{i}": i + 100 for i in range(10)})
    assert len(static_changes(child, static_parent(10))) == 10
    assert compatibility_problems(child, [static_parent(10)]) == []


def test_eleven_static_value_changes_refused() -> None:
    child = spec(hyperparameters={f"h{i}": i + 100 for i in range(11)})
    [problem] = compatibility_problems(child, [static_parent(11)])
    assert problem.field == "hyperparameters"
    assert "11 static changes" in problem.message and "10" in problem.message
    assert "h0: 0 -> 100" in problem.message


def test_categorical_turned_static_counts_once_per_value() -> None:
    # The parent tunes `opt` over 2 values: making it static counts 2 changes.
    child_doc = custom_spec(hyperparameters={"batch_size": 64, "opt": "adam"})
    del child_doc["ranges"]["opt"]
    child = parse(child_doc)
    assert static_changes(child, PARENT) == ["opt: tunable -> static (adam)"] * 2


def test_categorical_turned_static_pushes_over_the_limit() -> None:
    # 9 static value changes + a 2-valued categorical made static = 11.
    parent = spec(hyperparameters={f"h{i}": i for i in range(9)})
    child_doc = custom_spec(hyperparameters={**{f"h{i}": i + 1 for i in range(9)}, "opt": "sgd"})
    del child_doc["ranges"]["opt"]
    assert fields(parse(child_doc), [parent]) == ["hyperparameters"]
    # ... while 8 value changes + the categorical = 10 is allowed.
    child_doc["hyperparameters"]["h8"] = 8
    assert compatibility_problems(parse(child_doc), [parent]) == []


def test_continuous_turned_static_counts_once() -> None:
    child_doc = custom_spec(hyperparameters={"batch_size": 64, "lr": "0.01"})
    del child_doc["ranges"]["lr"]
    assert static_changes(parse(child_doc), PARENT) == ["lr: tunable -> static (0.01)"]


# --- identical data and algorithm -----------------------------------------------------------

IDENTICAL = "identical_data_and_algorithm"
TRANSFER = "transfer_learning"


def test_identical_data_changed() -> None:
    child = changed("data.train.uri", "s3://example-bucket/train-v2/")
    [problem] = compatibility_problems(child, [PARENT], IDENTICAL)
    assert problem.field == "data"
    assert "transfer_learning" in problem.message
    assert compatibility_problems(child, [PARENT], TRANSFER) == []


def test_identical_channel_added() -> None:
    child = changed("data.validation", {"uri": "s3://example-bucket/val/"})
    assert fields(child, [PARENT], IDENTICAL) == ["data"]


def test_identical_image_changed() -> None:
    child = changed("algorithm.image", "123456789012.dkr.ecr.us-east-1.amazonaws.com/train:2.0")
    assert fields(child, [PARENT], IDENTICAL) == ["algorithm"]
    assert compatibility_problems(child, [PARENT], TRANSFER) == []


def test_identical_builtin_version_changed() -> None:
    parent = parse(builtin_spec())
    child = parse(setin(builtin_spec(), "algorithm.version", "1.5-1"))
    assert fields(child, [parent], IDENTICAL) == ["algorithm"]
    assert compatibility_problems(child, [parent], TRANSFER) == []


def test_warm_start_type_defaults_to_the_childs() -> None:
    child = changed("data.train.uri", "s3://example-bucket/train-v2/",
                    warm_start={"type": TRANSFER, "parents": ["study-r1-abcdef"]})
    assert compatibility_problems(child, [PARENT]) == []
    no_warm_start = changed("data.train.uri", "s3://example-bucket/train-v2/")
    assert fields(no_warm_start, [PARENT]) == ["data"]  # continuation rounds: identical


# --- parents --------------------------------------------------------------------------------

def test_at_most_five_parents() -> None:
    parents = [spec(name=f"p{i}") for i in range(6)]
    problems = compatibility_problems(spec(), parents)
    assert [p.field for p in problems] == ["warm_start.parents"]
    assert "6 parents" in problems[0].message
    assert compatibility_problems(spec(), parents[:5]) == []


def test_each_parent_is_checked() -> None:
    good, bad = spec(name="good"), spec(name="bad", hyperparameters={})
    problems = compatibility_problems(spec(), [good, bad])
    assert [(p.parent, p.field) for p in problems] == [("bad", "hyperparameters")]
    assert str(problems[0]).startswith("hyperparameters: ") and str(problems[0]).endswith("(parent bad)")


# --- fields SageMaker does not let change ---------------------------------------------------

def test_environment_changed() -> None:
    assert fields(spec(environment={"A": "1"}), [PARENT], TRANSFER) == ["environment"]
    assert compatibility_problems(spec(environment={"A": "1"}), [spec(environment={"A": "1"})]) == []


@pytest.mark.parametrize("flag", ["isolation", "encrypt_inter_container_traffic"])
def test_network_flags_changed(flag: str) -> None:
    child = spec(network={flag: True})
    assert fields(child, [PARENT], TRANSFER) == [f"network.{flag}"]
    assert compatibility_problems(child, [spec(network={flag: True})]) == []


def test_vpc_may_change() -> None:
    child = spec(network={"subnets": ["subnet-0a"], "security_groups": ["sg-0b"]})
    assert compatibility_problems(child, [PARENT]) == []


def test_several_problems_reported_together() -> None:
    child = spec(environment={"A": "1"}, hyperparameters={}, network={"isolation": True})
    assert sorted(fields(child, [PARENT])) == ["environment", "hyperparameters", "network.isolation"]


# --- describe_changes -----------------------------------------------------------------------

def test_describe_changes_lists_changed_paths() -> None:
    child = parse(setin(setin(custom_spec(), "resources.max_jobs", 30), "ranges.lr.max", 0.5))
    lines = describe_changes(child, PARENT)
    assert lines == ["ranges.lr.max: 0.1 -> 0.5", "resources.max_jobs: 10 -> 30"]


def test_describe_changes_shows_added_and_removed() -> None:
    child = spec(hyperparameters={"dropout": "0.1"})
    lines = describe_changes(child, PARENT)
    assert "hyperparameters.batch_size: '64' -> None" in lines
    assert "hyperparameters.dropout: None -> '0.1'" in lines


def test_describe_changes_of_identical_specs_is_empty() -> None:
    assert describe_changes(spec(), PARENT) == []


def test_a_section_added_to_the_child_is_one_line() -> None:
    child = spec(network={"isolation": True})
    assert [line for line in describe_changes(child, PARENT) if line.startswith("network")] == [
        f"network: None -> {child.network.model_dump(mode='json')!r}"]  # type: ignore[union-attr]


def test_problems_name_the_parent_and_what_changed() -> None:
    # What `amt diff` and Prepare's warning print: the field, the change and the parent.
    child = spec(objective={"metric": "val:loss", "goal": "maximize"},
                 ranges={**custom_spec()["ranges"], "depth": {"type": "categorical", "values": [2, 4]}})
    assert sorted(str(p) for p in compatibility_problems(child, [PARENT])) == [
        "objective.goal: changed minimize -> maximize (parent study)",
        "ranges.depth.type: changed integer -> categorical; a hyperparameter keeps its type (parent study)",
    ]
    [too_many] = [p for p in compatibility_problems(spec(), [PARENT] * 6) if p.field == "warm_start.parents"]
    assert str(too_many) == "warm_start.parents: 6 parents; at most 5 (parent *)"


def test_a_changed_set_of_names_says_what_was_added_and_removed() -> None:
    [problem] = compatibility_problems(spec(hyperparameters={"dropout": "0.1", "gamma": 1}), [PARENT])
    assert problem.message == ("the set of static + tunable names must stay the same: added dropout, gamma; removed "
                               "batch_size (declare future-tunable names as static from the start)")
    [only_added] = compatibility_problems(spec(hyperparameters={"batch_size": 64, "gamma": 1}), [PARENT])
    assert "added gamma (declare" in only_added.message and "removed" not in only_added.message
    lr_and_depth = {k: v for k, v in custom_spec()["ranges"].items() if k != "opt"}
    [only_removed] = compatibility_problems(spec(hyperparameters={}, ranges=lr_and_depth), [PARENT])
    assert "removed batch_size, opt (declare" in only_removed.message and "added" not in only_removed.message


def test_each_refusal_names_the_parent_and_the_way_out() -> None:
    child = spec(data={"train": {"uri": "s3://example-bucket/train-v2/"}}, environment={"A": "1"},
                 algorithm={"image": custom_spec()["algorithm"]["image"].replace(":1.0", ":2.0"),
                            "metrics": custom_spec()["algorithm"]["metrics"]})
    problems = {p.field: p for p in compatibility_problems(child, [PARENT])}
    assert sorted(problems) == ["algorithm", "data", "environment"]
    assert {p.parent for p in problems.values()} == {"study"}
    for field in ("data", "algorithm"):
        assert problems[field].message.startswith("changed; identical_data_and_algorithm needs the same")
        assert problems[field].message.endswith("(use transfer_learning)")
    assert problems["environment"].message.startswith("changed; SageMaker does not allow Environment to change")
    assert problems["environment"].message.endswith("in a warm start")
    [isolation] = compatibility_problems(spec(network={"isolation": True}), [PARENT])
    assert (isolation.parent, isolation.field) == ("study", "network.isolation")
    assert isolation.message.startswith("changed; it must match the parent in a warm start")
    statics = {f"h{i}": i for i in range(11)}
    [too_many] = compatibility_problems(spec(hyperparameters={k: v + 1 for k, v in statics.items()}),
                                        [spec(hyperparameters=statics)])
    assert too_many.parent == "study"
    assert too_many.message.startswith("11 static changes; at most 10: h0: 0 -> 1; h1: 1 -> 2; ")
