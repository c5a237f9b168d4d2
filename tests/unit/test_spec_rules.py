"""Every validation rule of the spec: a failing case (exact field path, meaningful message) and a
passing case next to it, usually at the boundary.

Limits come from the CreateHyperParameterTuningJob API and the AMT developer guide
(../shared/reference/amt-api.md sections 1.2-1.5), not from the code under test.
"""

from __future__ import annotations

from typing import Any

import pytest
from spec_factory import (
    DELETE,
    IMAGE,
    SOURCE,
    builtin_spec,
    custom_spec,
    errors_of,
    grid_spec,
    hyperband_spec,
    only_error,
    parse,
    setin,
)


def cont(lo: float, hi: float, scaling: str = "auto") -> dict[str, object]:
    return {"type": "continuous", "min": lo, "max": hi, "scaling": scaling}


def integer(lo: object, hi: object, scaling: str = "auto") -> dict[str, object]:
    return {"type": "integer", "min": lo, "max": hi, "scaling": scaling}


def cat(*values: object) -> dict[str, object]:
    return {"type": "categorical", "values": list(values)}


# --- ranges ---------------------------------------------------------------------------------

def test_at_most_30_ranges() -> None:
    ranges = {f"p{i}": cont(0, 1) for i in range(31)}
    err = only_error(custom_spec(ranges=ranges))
    assert err.path == "ranges"
    assert "31 ranges" in err.message and "30" in err.message
    del ranges["p30"]
    assert len(parse(custom_spec(ranges=ranges)).ranges) == 30


def test_at_least_one_range() -> None:
    err = only_error(custom_spec(ranges={}))
    assert err.path == "ranges"
    assert "at least one" in err.message


def test_at_most_30_categorical_values() -> None:
    err = only_error(custom_spec(ranges={"c": cat(*range(31))}))
    assert err.path == "ranges.c.values"
    assert "at most 30" in err.message
    assert len(parse(custom_spec(ranges={"c": cat(*range(30))})).ranges["c"].values) == 30


def test_categorical_values_distinct() -> None:
    err = only_error(custom_spec(ranges={"c": cat("a", "b", "a")}))
    assert err.path == "ranges.c.values"
    assert "distinct" in err.message and "a" in err.message
    assert parse(custom_spec(ranges={"c": cat("a", "b")})).ranges["c"].values == ["a", "b"]


def test_categorical_number_and_its_text_are_the_same_value() -> None:
    # SageMaker receives strings: 1 and "1" would be the same candidate twice.
    err = only_error(custom_spec(ranges={"c": cat(1, "1")}))
    assert err.path == "ranges.c.values"
    assert "1" in err.message


def test_categorical_needs_a_value() -> None:
    assert only_error(custom_spec(ranges={"c": cat()})).path == "ranges.c.values"


@pytest.mark.parametrize("kind", ["continuous", "integer"])
def test_log_scaling_needs_min_above_zero(kind: str) -> None:
    rng = {"type": kind, "min": 0, "max": 10, "scaling": "log"}
    err = only_error(custom_spec(ranges={"x": rng}))
    assert err.path == "ranges.x.min"
    assert "> 0 for log" in err.message
    assert "0" in err.message
    parse(custom_spec(ranges={"x": {**rng, "min": 1}}))


def test_log_scaling_rejects_negative_min() -> None:
    assert only_error(custom_spec(ranges={"x": cont(-1, 1, "log")})).path == "ranges.x.min"


def test_reverse_log_only_for_continuous() -> None:
    err = only_error(custom_spec(ranges={"x": integer(0, 5, "reverse_log")}))
    assert err.path == "ranges.x.scaling"
    assert "continuous" in err.message


@pytest.mark.parametrize(("lo", "hi"), [(0.0, 1.0), (-0.1, 0.5), (0.5, 1.5)])
def test_reverse_log_within_zero_to_one(lo: float, hi: float) -> None:
    err = only_error(custom_spec(ranges={"x": cont(lo, hi, "reverse_log")}))
    assert err.path == "ranges.x"
    assert "0 <= min < max < 1" in err.message
    assert f"min {lo}" in err.message and f"max {hi}" in err.message


@pytest.mark.parametrize(("lo", "hi"), [(0.0, 0.999), (0.5, 0.99)])
def test_reverse_log_accepted_within_zero_to_one(lo: float, hi: float) -> None:
    assert parse(custom_spec(ranges={"x": cont(lo, hi, "reverse_log")})).ranges["x"].scaling == "reverse_log"


@pytest.mark.parametrize("make", [cont, integer])
@pytest.mark.parametrize(("lo", "hi"), [(5, 5), (6, 5)])
def test_min_below_max(make: object, lo: int, hi: int) -> None:
    err = only_error(custom_spec(ranges={"x": make(lo, hi)}))  # type: ignore[operator]
    assert err.path == "ranges.x.max"
    assert "greater than min" in err.message
    assert str(hi) in err.message


@pytest.mark.parametrize("make", [cont, integer])
def test_min_below_max_accepted(make: object) -> None:
    parse(custom_spec(ranges={"x": make(4, 5)}))  # type: ignore[operator]


@pytest.mark.parametrize("bound", ["min", "max"])
def test_integer_bounds_are_integers(bound: str) -> None:
    doc = custom_spec(ranges={"x": integer(3, 10)})
    setin(doc, f"ranges.x.{bound}", 3.5 if bound == "min" else 9.5)
    err = only_error(doc)
    assert err.path == f"ranges.x.{bound}"
    assert "integer" in err.message
    assert "3.5" in err.message or "9.5" in err.message


def test_integer_bounds_whole_numbers_accepted() -> None:
    rng = parse(custom_spec(ranges={"x": integer(3, 10)})).ranges["x"]
    assert (rng.min, rng.max) == (3, 10)


def test_range_type_must_be_known() -> None:
    err = only_error(custom_spec(ranges={"x": {"type": "float", "min": 0, "max": 1}}))
    assert err.path == "ranges.x"
    assert "continuous" in err.message and "'float'" in err.message


def test_range_type_is_required() -> None:
    err = only_error(custom_spec(ranges={"x": {"min": 0, "max": 1}}))
    assert err.path == "ranges.x"
    assert "type" in err.message


# --- strategies -----------------------------------------------------------------------------

def test_grid_tunes_only_categoricals() -> None:
    doc = grid_spec()
    doc["ranges"]["lr"] = cont(0.1, 0.2)
    err = only_error(doc)
    assert err.path == "ranges.lr.type"
    assert "categorical" in err.message


def test_grid_max_jobs_may_be_left_out() -> None:
    spec = parse(grid_spec())
    assert spec.resources.max_jobs is None
    assert spec.max_jobs_effective() == 3 * 2


def test_grid_max_jobs_must_equal_combinations() -> None:
    err = only_error(setin(grid_spec(), "resources.max_jobs", 10))
    assert err.path == "resources.max_jobs"
    assert "6 combinations" in err.message and "got 10" in err.message
    assert parse(setin(grid_spec(), "resources.max_jobs", 6)).resources.max_jobs == 6


def test_grid_at_most_750_combinations() -> None:
    doc = grid_spec(ranges={"a": cat(*range(30)), "b": cat(*range(26))})  # 780
    err = only_error(doc)
    assert err.path == "ranges"
    assert "780" in err.message and "750" in err.message
    parse(grid_spec(ranges={"a": cat(*range(30)), "b": cat(*range(25))}))  # 750


@pytest.mark.parametrize("make", [grid_spec, hyperband_spec])
def test_grid_and_hyperband_run_one_round_per_run(make: Any) -> None:
    # Later rounds warm-start, and SageMaker warm-starts only bayesian and random search.
    err = only_error(setin(make(), "rounds.max", 2))
    assert err.path == "rounds.max"
    assert "must be 1" in err.message and "got 2" in err.message
    assert parse(setin(make(), "rounds.max", 1)).rounds.max == 1


@pytest.mark.parametrize("strategy", ["bayesian", "random"])
def test_bayesian_and_random_may_chain_rounds(strategy: str) -> None:
    assert parse(custom_spec(strategy=strategy, rounds={"max": 5})).rounds.max == 5


def test_hyperband_needs_early_stopping_off() -> None:
    err = only_error(hyperband_spec(early_stopping="auto"))
    assert err.path == "early_stopping"
    assert "off" in err.message and "hyperband" in err.message
    assert parse(hyperband_spec(early_stopping="off")).early_stopping == "off"


def test_hyperband_needs_a_max_resource() -> None:
    err = only_error(hyperband_spec(hyperband={"min_resource": 1}))
    assert err.path == "hyperband.max_resource"
    assert "epochs" in err.message
    assert only_error(setin(hyperband_spec(), "hyperband", DELETE)).path == "hyperband.max_resource"


# The keys SageMaker infers MaxResource from (API docs, HyperbandStrategyConfig).
@pytest.mark.parametrize("key", ["epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs"])
def test_hyperband_max_resource_inferred_from_epochs(key: str) -> None:
    doc = hyperband_spec(hyperband={"min_resource": 2}, hyperparameters={key: 30})
    assert parse(doc).hyperband.max_resource is None  # type: ignore[union-attr]
    assert parse(setin(doc, "hyperband", DELETE)).strategy == "hyperband"


def test_hyperband_inferred_epochs_must_be_a_whole_number() -> None:
    err = only_error(hyperband_spec(hyperband=None, hyperparameters={"epochs": "ten"}))
    assert err.path == "hyperparameters.epochs"
    assert "whole number" in err.message


def test_hyperband_at_most_20000_epochs() -> None:
    err = only_error(hyperband_spec(hyperband={"max_resource": 20001}))
    assert err.path == "hyperband.max_resource"
    assert "20000" in err.message
    err = only_error(hyperband_spec(hyperband=None, hyperparameters={"epochs": 20001}))
    assert err.path == "hyperparameters.epochs"
    assert "20000" in err.message
    parse(hyperband_spec(hyperband={"max_resource": 20000}))


def test_hyperband_infers_up_to_20000_epochs() -> None:
    """Issue 14, item 8: the bound of an inferred max_resource is the API's MaxResource bound, inclusive."""
    assert parse(hyperband_spec(hyperband=None, hyperparameters={"epochs": 20000})).strategy == "hyperband"
    assert parse(hyperband_spec(hyperband=None, hyperparameters={"epochs": 1})).strategy == "hyperband"
    assert only_error(hyperband_spec(hyperband=None, hyperparameters={"epochs": 0})).path == "hyperparameters.epochs"


def test_hyperband_min_resource_at_most_max() -> None:
    err = only_error(hyperband_spec(hyperband={"min_resource": 28, "max_resource": 27}))
    assert err.path == "hyperband.min_resource"
    assert "27" in err.message and "28" in err.message
    parse(hyperband_spec(hyperband={"min_resource": 27, "max_resource": 27}))


@pytest.mark.parametrize("strategy", ["bayesian", "random"])
def test_hyperband_field_only_with_hyperband(strategy: str) -> None:
    err = only_error(custom_spec(strategy=strategy, hyperband={"max_resource": 10}))
    assert err.path == "hyperband"
    assert "hyperband" in err.message and strategy in err.message


def test_strategy_must_be_known() -> None:
    err = only_error(custom_spec(strategy="genetic"))
    assert err.path == "strategy"
    assert "bayesian" in err.message and "'genetic'" in err.message


# --- resources ------------------------------------------------------------------------------

def test_max_parallel_jobs_at_most_max_jobs() -> None:
    doc = custom_spec()
    setin(doc, "resources.max_parallel_jobs", 11)
    err = only_error(doc)
    assert err.path == "resources.max_parallel_jobs"
    assert "10" in err.message and "11" in err.message
    assert parse(setin(doc, "resources.max_parallel_jobs", 10)).resources.max_parallel_jobs == 10


def test_grid_max_parallel_jobs_at_most_combinations() -> None:
    err = only_error(setin(grid_spec(), "resources.max_parallel_jobs", 7))
    assert err.path == "resources.max_parallel_jobs"
    assert "6" in err.message


@pytest.mark.parametrize("strategy", ["bayesian", "random", "hyperband"])
def test_max_jobs_required_except_grid(strategy: str) -> None:
    doc = hyperband_spec() if strategy == "hyperband" else custom_spec(strategy=strategy)
    err = only_error(setin(doc, "resources.max_jobs", DELETE))
    assert err.path == "resources.max_jobs"
    assert "required" in err.message


def test_max_jobs_limits_per_strategy() -> None:
    # Bayesian: 750; Random: 10,000 (service quotas).
    doc = setin(custom_spec(), "resources.max_jobs", 751)
    err = only_error(doc)
    assert err.path == "resources.max_jobs"
    assert "750" in err.message
    parse(setin(custom_spec(), "resources.max_jobs", 750))
    parse(setin(custom_spec(strategy="random"), "resources.max_jobs", 10_000))
    assert only_error(setin(custom_spec(strategy="random"), "resources.max_jobs", 10_001)).path == \
        "resources.max_jobs"


@pytest.mark.parametrize(("field", "value"), [
    ("instance_type", "m5.xlarge"), ("instance_count", 0), ("max_parallel_jobs", 0),
    ("max_runtime_per_job", "soon"), ("max_tuning_runtime", 60),
])
def test_resource_field_bounds(field: str, value: object) -> None:
    assert only_error(setin(custom_spec(), f"resources.{field}", value)).path == f"resources.{field}"


def test_required_fields_are_named() -> None:
    paths = {e.path for e in errors_of({"resources": {}})}
    expected = {"name", "objective", "strategy", "algorithm", "ranges", "data", "resources.instance_type",
                "resources.max_parallel_jobs", "resources.max_runtime_per_job"}
    assert expected <= paths
    assert all(e.message == "required" for e in errors_of({"resources": {}}) if e.path in expected)


def test_at_least_one_data_channel() -> None:
    assert only_error(custom_spec(data={})).path == "data"


# --- spot -----------------------------------------------------------------------------------

def test_spot_max_wait_at_least_max_runtime() -> None:
    err = only_error(custom_spec(spot={"enabled": True, "max_wait": "30m"}))
    assert err.path == "spot.max_wait"
    assert "3600s" in err.message and "1800s" in err.message
    assert parse(custom_spec(spot={"enabled": True, "max_wait": "1h"})).spot_max_wait() == 3600


def test_spot_max_wait_only_with_spot_enabled() -> None:
    err = only_error(custom_spec(spot={"max_wait": "2h"}))
    assert err.path == "spot.max_wait"
    assert "enabled" in err.message
    assert parse(custom_spec(spot={"enabled": False})).spot_max_wait() is None


def test_spot_max_wait_defaults_to_twice_the_runtime() -> None:
    assert parse(custom_spec(spot={"enabled": True})).spot_max_wait() == 2 * 3600


# --- completion -----------------------------------------------------------------------------

def test_completion_max_jobs_not_improving_at_least_3() -> None:
    err = only_error(custom_spec(completion={"max_jobs_not_improving": 2}))
    assert err.path == "completion.max_jobs_not_improving"
    assert "3" in err.message
    assert parse(custom_spec(completion={"max_jobs_not_improving": 3})).completion.max_jobs_not_improving == 3  # type: ignore[union-attr]


def test_completion_must_set_something() -> None:
    err = only_error(custom_spec(completion={}))
    assert err.path == "completion"
    parse(custom_spec(completion={"stop_on_convergence": True}))


# --- warm start -----------------------------------------------------------------------------

def warm(*parents: str) -> dict[str, object]:
    return {"type": "transfer_learning", "parents": list(parents)}


@pytest.mark.parametrize("count", [0, 6])
def test_warm_start_one_to_five_parents(count: int) -> None:
    err = only_error(custom_spec(warm_start=warm(*(f"p-r1-{i}" for i in range(count)))))
    assert err.path == "warm_start.parents"
    assert ("at least 1" if count == 0 else "at most 5") in err.message


@pytest.mark.parametrize("count", [1, 5])
def test_warm_start_one_to_five_parents_accepted(count: int) -> None:
    spec = parse(custom_spec(warm_start=warm(*(f"p-r1-{i}" for i in range(count)))))
    assert len(spec.warm_start.parents) == count  # type: ignore[union-attr]


def test_warm_start_parent_listed_twice() -> None:
    err = only_error(custom_spec(warm_start=warm("p-r1-a", "p-r1-a")))
    assert err.path == "warm_start.parents"
    assert "'p-r1-a'" in err.message


def test_warm_start_type_must_be_known() -> None:
    err = only_error(custom_spec(warm_start={"type": "transfer", "parents": ["p"]}))
    assert err.path == "warm_start.type"
    assert "transfer_learning" in err.message


@pytest.mark.parametrize("make", [grid_spec, hyperband_spec])
def test_warm_start_only_for_bayesian_and_random(make: object) -> None:
    err = only_error(make(warm_start=warm("p-r1-a")))  # type: ignore[operator]
    assert err.path == "warm_start"


# --- hyperparameters and algorithm ----------------------------------------------------------

def test_static_and_tuned_names_disjoint() -> None:
    err = only_error(custom_spec(hyperparameters={"lr": "0.1", "batch_size": 64}))
    assert err.path == "hyperparameters.lr"
    assert "static or tuned" in err.message


def test_static_hyperparameters_become_strings() -> None:
    spec = parse(custom_spec(hyperparameters={"a": 1, "b": "0.50", "c": True, "d": "x"}))
    assert spec.hyperparameters == {"a": "1", "b": "0.50", "c": "true", "d": "x"}


def test_custom_image_needs_metric_definitions() -> None:
    doc = setin(custom_spec(), "algorithm.metrics", [])
    err = only_error(doc)
    assert err.path == "algorithm.metrics"
    assert "metric definitions" in err.message


def test_objective_metric_among_custom_metrics() -> None:
    doc = setin(custom_spec(), "objective.metric", "val:acc")
    err = only_error(doc)
    assert err.path == "objective.metric"
    assert "'val:acc'" in err.message and "val:loss" in err.message
    setin(doc, "algorithm.metrics", [{"name": "val:acc", "regex": "acc=([0-9.]+)"}])
    assert parse(doc).objective.metric == "val:acc"


def test_metric_regex_must_compile() -> None:
    err = only_error(setin(custom_spec(), "algorithm.metrics.0.regex", "val_loss=([0-9.]+"))
    assert err.path == "algorithm.metrics.0.regex"
    assert "regular expression" in err.message


def test_metric_regex_needs_a_capture_group() -> None:
    err = only_error(setin(custom_spec(), "algorithm.metrics.0.regex", "val_loss=[0-9.]+"))
    assert err.path == "algorithm.metrics.0.regex"
    assert "capture group" in err.message


def test_metric_defined_twice() -> None:
    metric = {"name": "val:loss", "regex": "loss=([0-9.]+)"}
    err = only_error(setin(custom_spec(), "algorithm.metrics", [metric, metric]))
    assert err.path == "algorithm.metrics"
    assert "twice" in err.message


@pytest.mark.parametrize("algorithm", [
    {"image": IMAGE, "builtin": "xgboost", "version": "1.7-1"},
    {"input_mode": "File"},
])
def test_algorithm_exactly_one_of_builtin_or_image(algorithm: dict[str, str]) -> None:
    doc = custom_spec(algorithm={**algorithm, "metrics": [{"name": "val:loss", "regex": "l=([0-9.]+)"}]})
    err = only_error(doc)
    assert err.path == "algorithm"
    assert "exactly one" in err.message


def test_custom_image_must_be_an_ecr_uri() -> None:
    err = only_error(setin(custom_spec(), "algorithm.image", "docker.io/me/train:1"))
    assert err.path == "algorithm.image"
    assert "docker.io/me/train:1" in err.message


def test_builtin_algorithm_checked_against_the_catalog() -> None:
    assert parse(builtin_spec()).algorithm.builtin == "xgboost"
    err = only_error(builtin_spec(algorithm={"builtin": "xgbost", "version": "1.7-1"}))
    assert err.path == "algorithm.builtin"
    assert "xgboost" in err.message
    err = only_error(builtin_spec(algorithm={"builtin": "xgboost", "version": "0.1"}))
    assert err.path == "algorithm.version"
    assert "0.1" in err.message


# --- names ----------------------------------------------------------------------------------

@pytest.mark.parametrize("max_round", [1, 9, 10, 20])
def test_study_name_leaves_room_for_round_and_hash(max_round: int) -> None:
    # Job names are <name>-r<round>-<6 hex> within SageMaker's 32 characters, up to round 999 whatever
    # rounds.max is: every run of a study continues its round numbering.
    longest = 32 - len("-r999-") - 6
    ok = custom_spec(name="a" * longest, rounds={"max": max_round})
    assert parse(ok).name == "a" * longest
    err = only_error(setin(ok, "name", "a" * (longest + 1)))
    assert err.path == "name"
    assert str(longest) in err.message and str(longest + 1) in err.message and "999" in err.message


@pytest.mark.parametrize("name", ["Churn", "-churn", "churn-", "churn_xgb", "churn.xgb", ""])
def test_study_name_pattern(name: str) -> None:
    assert only_error(custom_spec(name=name)).path == "name"


# --- unknown fields -------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "hint"), [
    ("nmae", "name"),
    ("resources.max_paralel_jobs", "max_parallel_jobs"),
    ("spot.enabeld", "enabled"),
    ("objective.metrik", "metric"),
    ("ranges.lr.scale", "scaling"),
    ("ranges.opt.valuse", "values"),
    ("data.train.urii", "uri"),
    ("algorithm.metrics.0.regx", "regex"),
])
def test_unknown_field_rejected_with_did_you_mean(path: str, hint: str) -> None:
    doc = custom_spec(spot={"enabled": False})
    err = only_error(setin(doc, path, "x"))
    assert err.path == path
    assert "unknown field" in err.message
    assert f"did you mean {hint!r}" in err.message


def test_unknown_field_without_a_close_match_lists_the_allowed_ones() -> None:
    err = only_error(setin(custom_spec(), "resources.zzz", 1))
    assert err.path == "resources.zzz"
    assert "max_parallel_jobs" in err.message and "instance_type" in err.message


# --- budget ---------------------------------------------------------------------------------

def test_budget_exceeded_by_worst_case() -> None:
    # 10 jobs x 2 instances x 1h = 20 instance-hours.
    doc = setin(custom_spec(budget={"max_instance_hours": 19}), "resources.instance_count", 2)
    err = only_error(doc)
    assert err.path == "budget.max_instance_hours"
    assert "20 instance-hours" in err.message and "19" in err.message
    assert parse(setin(doc, "budget.max_instance_hours", 20)).budget.max_instance_hours == 20  # type: ignore[union-attr]


def test_budget_worst_case_on_spot_counts_billable_runtime_not_max_wait() -> None:
    # 10 jobs x 1 instance x 1h (max_runtime_per_job) = 10; the 3h max_wait includes unbilled waiting.
    err = only_error(custom_spec(budget={"max_instance_hours": 9}, spot={"enabled": True, "max_wait": "3h"}))
    assert err.path == "budget.max_instance_hours"
    assert "10 instance-hours" in err.message and "9" in err.message
    parse(custom_spec(budget={"max_instance_hours": 10}, spot={"enabled": True, "max_wait": "3h"}))


def test_budget_of_a_grid_counts_its_combinations() -> None:
    # 6 combinations x 1h.
    err = only_error(grid_spec(budget={"max_instance_hours": 5}))
    assert "6 instance-hours" in err.message
    parse(grid_spec(budget={"max_instance_hours": 6}))


# --- settings -------------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["aws:team", "AWS:team", "amt:study", "amt:round"])
def test_tags_reserved_prefixes(key: str) -> None:
    err = only_error(custom_spec(tags={key: "x"}))
    assert err.path == f"tags.{key}"
    assert "reserved" in err.message


def test_tags_characters() -> None:
    err = only_error(custom_spec(tags={"team": "ml#platform"}))
    assert err.path == "tags.team"
    tags = {"team": "ml platform", "cost-center": 4711, "owner": "a.b@example.com", "path": "x/y:z=1+2"}
    assert parse(custom_spec(tags=tags)).tags["cost-center"] == "4711"


@pytest.mark.parametrize("key", [
    "1234abcd-12ab-34cd-56ef-1234567890ab",
    "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "alias/ml-data",
    "arn:aws:kms:eu-west-1:123456789012:alias/ml-data",
])
def test_kms_key_formats_accepted(key: str) -> None:
    assert parse(custom_spec(kms_key_id=key)).kms_key_id == key


@pytest.mark.parametrize("key", ["my-key", "arn:aws:s3:::bucket", "arn:aws:kms:us-east-1:123:key/abc", "alias"])
def test_kms_key_format_rejected(key: str) -> None:
    err = only_error(custom_spec(kms_key_id=key))
    assert err.path == "kms_key_id"
    assert repr(key) in err.message


@pytest.mark.parametrize("expr", ["rate(7 days)", "rate(1 hour)", "rate(30 minutes)", "cron(0 3 ? * MON *)"])
def test_schedule_expression_accepted(expr: str) -> None:
    assert parse(custom_spec(schedule=expr)).schedule == expr


@pytest.mark.parametrize("expr", ["every day", "rate(0 days)", "rate(2 weeks)", "cron(0 3 * *)", "7d"])
def test_schedule_expression_rejected(expr: str) -> None:
    err = only_error(custom_spec(schedule=expr))
    assert err.path == "schedule"
    assert "rate(7 days)" in err.message and repr(expr) in err.message


@pytest.mark.parametrize("network", [{"subnets": ["subnet-0abc"]}, {"security_groups": ["sg-0abc"]}])
def test_network_subnets_and_security_groups_together(network: dict[str, list[str]]) -> None:
    err = only_error(custom_spec(network=network))
    assert err.path == "network"
    assert "subnets" in err.message and "security_groups" in err.message


@pytest.mark.parametrize("network", [
    {"subnets": ["subnet-0abc"], "security_groups": ["sg-0abc"]},
    {"isolation": True},
])
def test_network_accepted(network: dict[str, object]) -> None:
    parse(custom_spec(network=network))


def test_network_ids_format() -> None:
    doc = custom_spec(network={"subnets": ["vpc-0abc"], "security_groups": ["sg-0abc"]})
    assert only_error(doc).path == "network.subnets.0"


# --- all at once ----------------------------------------------------------------------------

def test_all_errors_of_a_file_are_reported_at_once() -> None:
    doc = custom_spec(hyperparameters={"lr": "0.1"}, spot={"max_wait": "2h"}, network={"subnets": ["subnet-1"]})
    setin(doc, "resources.max_parallel_jobs", 20)
    paths = sorted(e.path for e in errors_of(doc))
    assert paths == ["hyperparameters.lr", "network", "resources.max_parallel_jobs", "spot.max_wait"]


def test_all_field_errors_are_reported_at_once() -> None:
    doc = custom_spec(strategy="bayes", early_stopping="sometimes")
    setin(doc, "resources.instance_count", 0)
    paths = sorted(e.path for e in errors_of(doc))
    assert paths == ["early_stopping", "resources.instance_count", "strategy"]


def test_every_error_formats_as_file_path_message() -> None:
    doc = custom_spec(hyperparameters={"lr": 0.1})
    [err] = errors_of(doc)
    assert err.format("configs/x.yaml") == f"configs/x.yaml: hyperparameters.lr: {err.message}"


def test_framework_image_needs_metric_definitions() -> None:
    # pytorch/tensorflow/mxnet images run the user's script: SageMaker knows none of its metrics.
    from amt_conductor.spec.images import catalog_info, versions

    framework = next(f for f in catalog_info()["frameworks"] if f != "huggingface")  # needs base_framework too
    version = next(v for v in reversed(versions(framework)) if not check_framework(framework, v))
    doc = builtin_spec(algorithm={"builtin": framework, "version": version})
    err = only_error(doc)
    assert err.path == "algorithm.metrics"
    assert framework in err.message and "metric definitions" in err.message
    setin(doc, "algorithm.metrics", [{"name": "val:loss", "regex": "val_loss=([0-9.]+)"}])
    assert parse(doc).algorithm.builtin == framework
    err = only_error(setin(doc, "objective.metric", "val:acc"))
    assert err.path == "objective.metric"


def check_framework(name: str, version: str) -> str | None:
    """A problem resolving `name` `version` on the factory's instance type, or None."""
    from amt_conductor.spec.images import ImageError, resolve_image

    try:
        resolve_image(name, version, "us-east-1", instance_type="ml.m5.xlarge")
    except ImageError as exc:
        return str(exc)
    return None


def test_long_bad_values_are_cut_in_messages() -> None:
    err = only_error(custom_spec(description="x" * 5000))
    assert err.path == "description"
    assert err.message == "at most 1,024 characters (got 5,000)"


def test_a_long_hyperparameter_value_is_measured_in_characters() -> None:
    err = only_error(setin(custom_spec(), "hyperparameters.batch_size", "9" * 2501))
    assert (err.path, err.message) == ("hyperparameters.batch_size", "at most 2,500 characters (got 2,501)")


# --- line breaks: SageMaker's `.*` patterns match none, and a YAML block scalar ends in one -------

@pytest.mark.parametrize(("path", "value"), [
    ("hyperparameters.config", '{"a": 1}\n'),
    ("ranges.opt.values", ["sgd", "adam\n"]),
    ("tags.team", "ml\n"),
])
def test_values_with_line_breaks_rejected(path: str, value: object) -> None:
    err = only_error(setin(custom_spec(), path, value))
    assert err.path.startswith(path)
    assert "one line" in err.message


def test_hyperparameter_name_with_a_line_break_stays_one_error_line() -> None:
    err = only_error(custom_spec(hyperparameters={"a\nb": 1}))
    assert "one line" in err.message
    assert "\n" not in err.format(SOURCE)


def test_hyperparameter_values_may_have_spaces_and_tabs() -> None:
    assert parse(custom_spec(hyperparameters={"a": "x y\tz"})).hyperparameters["a"] == "x y\tz"


@pytest.mark.parametrize(("field", "value"), [
    ("kms_key_id", "alias/ml\n"),
    ("schedule", "rate(7 days)\n"),
    ("algorithm.image", IMAGE + "\n"),
])
def test_trailing_line_break_rejected(field: str, value: str) -> None:
    assert only_error(setin(custom_spec(), field, value)).path == field


@pytest.mark.parametrize("key", ["team\n", "te\tam"])
def test_tag_keys_without_control_characters(key: str) -> None:
    err = only_error(custom_spec(tags={key: "x"}))
    assert err.path == f"tags.{key}"
    assert "\n" not in err.format(SOURCE)


def test_tag_may_use_unicode_letters_and_spaces() -> None:
    assert parse(custom_spec(tags={"équipe": "ml\u00a0platform"})).tags["équipe"] == "ml\u00a0platform"


@pytest.mark.parametrize(("path", "value"), [
    ("ranges.lr.max", float("inf")), ("ranges.lr.min", float("nan")), ("ranges.lr.min", float("-inf")),
    ("completion", {"target": float("nan")}), ("budget", {"max_instance_hours": float("inf")}),
])
def test_numbers_are_finite(path: str, value: object) -> None:
    # YAML reads .inf and .nan as floats; `nan` would even slip through min < max.
    err = only_error(setin(custom_spec(), path, value))
    assert err.path.startswith(path)
    assert "finite" in err.message


def test_at_most_100_hyperparameters_including_sagemakers_own() -> None:
    # Static + tunable <= 100, and SageMaker adds _tuning_objective_metric: 99 are left (3 tuned here).
    assert parse(custom_spec(hyperparameters={f"s{i}": i for i in range(96)}))
    err = only_error(custom_spec(hyperparameters={f"s{i}": i for i in range(97)}))
    assert err.path == "hyperparameters"
    assert "100" in err.message and "99" in err.message


@pytest.mark.parametrize("where", ["hyperparameters", "ranges"])
def test_the_hyperparameter_sagemaker_sets_is_reserved(where: str) -> None:
    doc = custom_spec()
    doc[where]["_tuning_objective_metric"] = "x" if where == "hyperparameters" else {
        "type": "categorical", "values": ["a", "b"]}
    err = only_error(doc)
    assert err.path == f"{where}._tuning_objective_metric"
    assert "reserved" in err.message


def test_underscore_hyperparameters_of_algorithms_are_allowed() -> None:
    # AWS's Object2Vec tuning example sends these static hyperparameters (issue 8, bug 3).
    spec = parse(custom_spec(hyperparameters={"_num_gpus": "auto", "_num_kv_servers": "auto", "_kvstore": "device"},
                             ranges={"_lr": {"type": "continuous", "min": 0.01, "max": 0.1}}))
    assert set(spec.hyperparameters) == {"_num_gpus", "_num_kv_servers", "_kvstore"}
    assert set(spec.ranges) == {"_lr"}


@pytest.mark.parametrize("path", ["resources.max_jobs", "resources.max_parallel_jobs", "resources.instance_count",
                                  "ranges.lr.min", "rounds.max", "random_seed"])
def test_true_or_false_is_not_a_number(path: str) -> None:
    # pydantic would read `true` as 1: `max_jobs: true` is a mistake to name, not a job count.
    err = only_error(setin(custom_spec(), path, True))
    assert err.path == path
    assert err.message == "expected a number (got true)"


# --- S3 URIs: no IAM wildcards (issue 9 item 10) --------------------------------------------

@pytest.mark.parametrize(("path", "uri"), [
    ("data.train.uri", "s3://example-bucket/tr?in/"),      # attack: `?` matches any one character in IAM
    ("data.train.uri", "s3://example-bucket/*"),           # attack: the whole bucket
    ("output_uri", "s3://example-bucket/out*/"),
])
def test_a_wildcard_in_an_s3_uri_is_refused_naming_the_field(path: str, uri: str) -> None:
    err = only_error(setin(custom_spec(), path, uri))
    assert err.path == path
    assert "IAM reads them as wildcards" in err.message


def test_a_plain_s3_uri_passes() -> None:
    assert errors_of(setin(custom_spec(), "output_uri", "s3://example-bucket/out-1/")) == []


# --- each message names the rule and the way out (mutation testing found messages no test read) -----------------

_MX = {"builtin": "mxnet", "version": "1.4.1", "metrics": [{"name": "val:loss", "regex": "val_loss=([0-9.]+)"}]}
_XGB = {"algorithm": {"builtin": "xgboost", "version": "1.7-1"},
        "objective": {"metric": "validation:auc", "goal": "maximize"}}


@pytest.mark.parametrize(("doc", "path", "says"), [
    (setin(custom_spec(), "ranges", {}), "ranges", ["at least one hyperparameter range"]),
    (setin(custom_spec(), "ranges.depth.scaling", "reverse_log"), "ranges.depth.scaling",
     ["reverse_log is only for continuous"]),
    (custom_spec(hyperparameters={"_tuning_objective_metric": 1}), "hyperparameters._tuning_objective_metric",
     ["reserved", "SageMaker sets this hyperparameter itself"]),
    # A grid with a non-categorical range and a max_jobs: the type is the problem, not the count.
    (setin(setin(grid_spec(), "ranges.width", cont(1, 2)), "resources.max_jobs", 4), "ranges.width.type",
     ["grid search tunes only categorical"]),
    (hyperband_spec(early_stopping="auto"), "early_stopping", ["must be off", "hyperband"]),
    (hyperband_spec(hyperband={"min_resource": 1}), "hyperband.max_resource",
     ["required", "epochs, numepochs, n-epochs, n_epochs, num_epochs"]),
    (hyperband_spec(hyperband=None, hyperparameters={"epochs": "ten"}), "hyperparameters.epochs",
     ["must be a whole number"]),
    (custom_spec(algorithm={"metrics": _MX["metrics"]}), "algorithm",
     ["give exactly one of builtin", "image, or name"]),
    (custom_spec(algorithm={"image": IMAGE, "version": "1", "metrics": _MX["metrics"]}), "algorithm.version",
     ["only with builtin", "tag"]),
    (custom_spec(algorithm={"image": IMAGE}), "algorithm.metrics", ["a custom image needs metric definitions"]),
    (custom_spec(algorithm={"image": IMAGE, "metrics": [{"name": "a", "regex": "a=(.*)"},
                                                         {"name": "b", "regex": "b=(.*)"}]}),
     "objective.metric", ["'val:loss' is not among", "(a, b)"]),
    (custom_spec(spot={"max_wait": "2h"}), "spot.max_wait", ["only with spot.enabled"]),
    (custom_spec(algorithm={**_MX, "py_version": "py9"}), "algorithm.py_version",
     ["mxnet 1.4.1 needs py_version", "py2, py3", "'py9'"]),
    (custom_spec(algorithm=_MX), "algorithm.py_version", ["mxnet 1.4.1 needs py_version"]),
    (setin(custom_spec(**_XGB), "resources.instance_type", "ml.inf1.xlarge"), "algorithm",
     ["ml.inf1.xlarge: Inferentia"]),
    (custom_spec(completion={}), "completion", ["sets nothing", "give target, max_jobs_not_improving or "
                                                               "stop_on_convergence"]),
    # The billable worst case spelled out from the spec's own numbers (10 jobs x 1 instance x 1 h), Spot or not:
    # waiting for Spot capacity is not billed.
    (custom_spec(budget={"max_instance_hours": 5}), "budget.max_instance_hours",
     ["one round may bill 10 instance-hours", "max_jobs 10 x instance_count 1 x max_runtime_per_job 1h",
      "budget of 5"]),
    (custom_spec(budget={"max_instance_hours": 5}, spot={"enabled": True, "max_wait": "90m"}),
     "budget.max_instance_hours", ["one round may bill 10 instance-hours", "x max_runtime_per_job 1h"]),
    (grid_spec(rounds={"max": 2}), "rounds.max", ["must be 1 for grid", "SageMaker allows for bayesian and random"]),
    (custom_spec(kms_key_id="my-key"), "kms_key_id", ["expected a KMS key id, key ARN, alias/NAME or alias ARN"]),
    (custom_spec(schedule="every day"), "schedule", ["expected an EventBridge expression"]),
    (custom_spec(tags={"aws:x": "1"}), "tags.aws:x", ["the aws: and amt: prefixes are reserved"]),
    (custom_spec(tags={"a\tb": "1"}), "tags.a\tb",
     ["the tag's key: expected letters, digits, spaces", "'\\t' at character 2 is not allowed"]),
    (custom_spec(network={"subnets": ["subnet-0a"]}), "network", ["a VPC needs both subnets and security_groups"]),
])
def test_each_rule_names_the_field_and_says_why(doc: dict[str, Any], path: str, says: list[str]) -> None:
    err = only_error(doc)
    assert err.path == path
    assert err.message.startswith(says[0]), err.message  # the point first, as the reader scans
    for phrase in says[1:]:
        assert phrase in err.message, err.message


def test_a_framework_image_with_its_python_is_valid() -> None:
    assert parse(custom_spec(algorithm={**_MX, "py_version": "py2"})).algorithm.py_version == "py2"
