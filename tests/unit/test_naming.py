"""Deterministic names: the same spec and round give the same tuning job name, any change gives a new
one, and every name fits SageMaker's 32 characters and pattern; execution names fit Step Functions."""

from __future__ import annotations

import json
import random
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spec_factory import custom_spec, parse, setin

from amt_conductor.spec.loader import parse_spec
from amt_conductor.spec.model import Spec
from amt_conductor.spec.naming import execution_name, job_name, max_study_name_length, study_prefix

SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$")
EXECUTION_SAFE = re.compile(r"^[0-9A-Za-z_-]{1,80}$")
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def longest_name(max_round: int = 999) -> int:
    # <name>-r<round>-<6 hex> must fit 32 characters up to round 999 (runs keep adding rounds).
    return 32 - len(f"-r{max_round}-") - 6


@st.composite
def study_names(draw: st.DrawFn, max_len: int) -> str:
    """Valid study names: lowercase alphanumerics, hyphens inside, up to `max_len` characters."""
    size = draw(st.integers(min_value=1, max_value=max_len))
    alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
    chars = [draw(st.sampled_from(alnum))]
    while len(chars) < size:
        chars.append(draw(st.sampled_from(alnum + "-")) if len(chars) < size - 1 else draw(st.sampled_from(alnum)))
    return "".join(chars)


@FAST
@given(data=st.data(), max_round=st.integers(min_value=1, max_value=20))
def test_names_fit_for_every_valid_name_length_and_round(data: st.DataObject, max_round: int) -> None:
    name = data.draw(study_names(longest_name()))
    spec = parse(custom_spec(name=name, rounds={"max": max_round}))
    round_no = data.draw(st.integers(min_value=1, max_value=999))
    job = job_name(spec, round_no)
    assert len(job) <= 32
    assert SAGEMAKER_NAME.match(job)
    assert job.startswith(f"{name}-r{round_no}-")
    assert job.startswith(study_prefix(name))


@pytest.mark.parametrize("max_round", [1, 9, 10, 20])
def test_longest_valid_name_at_the_horizon_round_is_exactly_32(max_round: int) -> None:
    spec = parse(custom_spec(name="a" * longest_name(), rounds={"max": max_round}))
    assert len(job_name(spec, 999)) == 32


@FAST
@given(round_no=st.integers(min_value=1, max_value=20), seed=st.integers(min_value=0))
def test_same_spec_and_round_give_the_same_name(round_no: int, seed: int) -> None:
    doc = custom_spec(rounds={"max": 20}, tags={"a": "1", "b": "2", "c": "3"})
    # Key order in the file does not matter; the content does.
    shuffled = _shuffled(doc, random.Random(seed))
    first, second = parse(doc), parse_spec(json.dumps(shuffled), "s.json")
    assert job_name(first, round_no) == job_name(second, round_no)


def _shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: _shuffled(v, rng) for k, v in items}
    return value


def test_same_spec_from_yaml_and_json_gives_the_same_name() -> None:
    from spec_factory import to_yaml

    doc = custom_spec()
    assert job_name(parse_spec(to_yaml(doc), "s.yaml"), 1) == job_name(parse_spec(json.dumps(doc), "s.json"), 1)


def test_different_rounds_give_different_names() -> None:
    spec = parse(custom_spec(rounds={"max": 20}))
    assert len({job_name(spec, r) for r in range(1, 21)}) == 20


# One change per field of the spec; test_every_field_is_covered keeps the list complete.
CHANGES: list[tuple[str, Any]] = [
    ("name", "study2"),
    ("description", "another description"),
    ("objective.goal", "maximize"),
    ("objective.metric", "val:acc"),
    ("strategy", "random"),
    ("hyperband", {"max_resource": 9}),
    ("algorithm.image", "123456789012.dkr.ecr.us-east-1.amazonaws.com/train:1.1"),
    ("algorithm.metrics.0.regex", "loss: ([0-9.]+)"),
    ("algorithm.input_mode", "Pipe"),
    ("hyperparameters.batch_size", 128),
    ("hyperparameters.extra", "x"),
    ("ranges.lr.max", 0.2),
    ("ranges.lr.scaling", "linear"),
    ("ranges.depth.min", 3),
    ("ranges.opt.values", ["sgd", "adam", "adamw"]),
    ("data.train.uri", "s3://example-bucket/train-v2/"),
    ("data.validation", {"uri": "s3://example-bucket/val/"}),
    ("output_uri", "s3://example-bucket/out/"),
    ("resources.instance_type", "ml.m5.2xlarge"),
    ("resources.instance_count", 2),
    ("resources.volume_size_gb", 50),
    ("resources.max_jobs", 11),
    ("resources.max_parallel_jobs", 3),
    ("resources.max_runtime_per_job", "2h"),
    ("resources.max_tuning_runtime", "1d"),
    ("spot", {"enabled": True}),
    ("early_stopping", "auto"),
    ("completion", {"target": 0.1}),
    ("random_seed", 1),
    ("warm_start", {"type": "transfer_learning", "parents": ["old-r1-abcdef"]}),
    ("rounds", {"max": 2}),
    ("budget", {"max_instance_hours": 100}),
    ("network", {"isolation": True}),
    ("kms_key_id", "alias/ml"),
    ("environment", {"A": "1"}),
    ("schedule", "rate(1 day)"),
    ("promote", {"model_package_group": "models"}),
    ("triggers", {"new_data": {"channels": ["train"]}}),
    ("tags", {"team": "ml"}),
    ("checkpoint", {"uri": "s3://example-bucket/ckpt/"}),
    ("retry", {"max_attempts": 2}),
    ("resources.max_pending", "1h"),
    ("output_compression", "none"),
    ("data.train.shuffle_seed", 3),
    ("algorithm", {"name": "my-algorithm"}),
    ("autotune", True),
]


def test_every_field_is_covered() -> None:
    # spec_version has one value: writing it out is not a change. priority orders the admission queue only.
    # algorithms replaces algorithm/hyperparameters/ranges: its own test below.
    assert {path.split(".")[0] for path, _ in CHANGES} | {"spec_version", "priority", "algorithms"} == set(
        Spec.model_fields)
    assert job_name(parse(custom_spec(spec_version=1)), 1) == job_name(parse(custom_spec()), 1)
    assert job_name(parse(custom_spec(priority=7)), 1) == job_name(parse(custom_spec()), 1)


@pytest.mark.parametrize(("path", "value"), CHANGES, ids=[p for p, _ in CHANGES])
def test_changing_any_field_changes_the_name(path: str, value: Any) -> None:
    base = custom_spec()
    if path == "hyperband":
        base, changed_doc = custom_spec(strategy="hyperband"), custom_spec(strategy="hyperband")
        setin(base, "hyperband", {"max_resource": 10})
        setin(changed_doc, path, value)
    else:
        changed_doc = setin(custom_spec(), path, value)
    if path == "objective.metric":
        setin(base, "algorithm.metrics", [{"name": "val:loss", "regex": "l=([0-9.]+)"},
                                          {"name": "val:acc", "regex": "a=([0-9.]+)"}])
        setin(changed_doc, "algorithm.metrics", base["algorithm"]["metrics"])
    assert job_name(parse(changed_doc), 1) != job_name(parse(base), 1)


@FAST
@given(max_jobs=st.integers(min_value=2, max_value=750), other=st.integers(min_value=2, max_value=750))
def test_changing_a_number_changes_the_name(max_jobs: int, other: int) -> None:
    first = parse(setin(custom_spec(), "resources.max_jobs", max_jobs))
    second = parse(setin(custom_spec(), "resources.max_jobs", other))
    assert (job_name(first, 1) == job_name(second, 1)) == (max_jobs == other)


def test_round_must_be_positive() -> None:
    spec = parse(custom_spec())
    with pytest.raises(ValueError, match="round"):
        job_name(spec, 0)


def test_a_round_beyond_the_horizon_that_does_not_fit_is_refused() -> None:
    spec = parse(custom_spec(name="a" * longest_name(), rounds={"max": 9}))
    assert len(job_name(spec, 999)) == 32
    with pytest.raises(ValueError, match="32"):
        job_name(spec, 1000)


# --- Step Functions execution names ----------------------------------------------------------

tokens = st.text(min_size=0, max_size=300)


@FAST
@given(study=study_names(32), token=tokens)
def test_execution_name_is_safe(study: str, token: str) -> None:
    # Same in every process: tests/unit/test_determinism.py.
    name = execution_name(study, token)
    assert EXECUTION_SAFE.match(name), name
    assert name.startswith(study)


@FAST
@given(study=study_names(32), first=tokens, second=tokens)
def test_execution_name_differs_for_different_tokens(study: str, first: str, second: str) -> None:
    assert (execution_name(study, first) == execution_name(study, second)) == (first == second)


@FAST
@given(study=st.text(min_size=0, max_size=200), token=tokens)
def test_execution_name_is_safe_for_any_study_text(study: str, token: str) -> None:
    assert EXECUTION_SAFE.match(execution_name(study, token))


def test_execution_name_differs_per_study() -> None:
    assert execution_name("a", "t") != execution_name("b", "t")


def test_prefix_overlaps_finds_a_study_inside_another_studys_job_prefix() -> None:
    from amt_conductor.spec.naming import prefix_overlaps

    assert prefix_overlaps(["churn", "churn-rare", "churn-xgb", "fraud"]) == [("churn", "churn-rare")]
    assert prefix_overlaps(["a", "a-r", "b-r2"]) == [("a", "a-r")]
    assert prefix_overlaps(["churn-xgb", "churn-xgb-q4"]) == []


def test_changing_a_definition_changes_the_name() -> None:
    from test_multi_algorithm import multi_spec

    base = job_name(parse(multi_spec()), 1)
    assert job_name(parse(setin(multi_spec(), "algorithms.1.ranges.learning_rate.max", 0.5)), 1) != base
    assert job_name(parse(setin(multi_spec(), "algorithms.0.name", "xgb2")), 1) != base


def test_study_names_leave_room_for_the_round_suffix() -> None:
    # <study>-r<round>-<6 hex> within SageMaker's 32 characters: 32 - len("-r9-") - 6 for single-digit rounds.
    assert max_study_name_length(9) == 22
    assert max_study_name_length() == 32 - len("-r999-") - 6  # every run continues the numbering: up to 999


def test_execution_names_cut_the_study_never_the_digest() -> None:
    # Step Functions allows 80 characters of [0-9A-Za-z_-]; the 16 hex digits (64 bits) keep two triggers apart.
    name = execution_name("s" * 100, "tick")
    head, _, digest = name.rpartition("-")
    assert len(name) == 80 and head == "s" * 63
    assert re.fullmatch(r"[0-9a-f]{16}", digest), digest
    assert execution_name("churn.v2 test", "t").startswith("churn-v2-test-")
