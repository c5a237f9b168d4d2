"""Durations in specs: integer seconds or 90s / 30m / 2h / 1d (and combinations)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from spec_factory import custom_spec, only_error, parse, setin

from amt_conductor.spec.durations import format_duration, parse_duration


@pytest.mark.parametrize(("value", "seconds"), [
    ("90s", 90), ("30m", 1800), ("2h", 7200), ("1d", 86400), ("1h30m", 5400), ("1d 2h", 93600),
    (" 45M ", 2700), (3600, 3600), ("3600", 3600), (1, 1), (120.0, 120),
])
def test_parse(value: object, seconds: int) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", [
    "", "h", "2x", "2y", "1.5h", "-1h", "2 hours", "1h-30m", "h1", "0s", "0", 0, -5, 1.5, True, False, None,
    [1], {"h": 1},
])
def test_parse_rejects(value: object) -> None:
    with pytest.raises(ValueError, match=r"90s, 30m, 2h, 1d|at least 1 second"):
        parse_duration(value)


def test_bare_digits_are_seconds() -> None:
    assert parse_duration("2") == 2


@pytest.mark.parametrize(("seconds", "text"), [(3600, "1h"), (5400, "1h30m"), (90, "1m30s"), (86400, "1d"),
                                               (93784, "1d2h3m4s"), (0, "0s")])
def test_format(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text


@given(st.integers(min_value=1, max_value=10 * 365 * 86400))
def test_format_then_parse_round_trips(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize(("field", "value", "seconds"), [
    ("resources.max_runtime_per_job", "90s", 90),
    ("resources.max_runtime_per_job", "30m", 1800),
    ("resources.max_runtime_per_job", 7200, 7200),
    ("resources.max_tuning_runtime", "1d", 86400),
])
def test_spec_fields_take_durations(field: str, value: object, seconds: int) -> None:
    spec = parse(setin(custom_spec(), field, value))
    section, name = field.split(".")
    assert getattr(getattr(spec, section), name) == seconds


def test_spot_max_wait_takes_a_duration() -> None:
    assert parse(custom_spec(spot={"enabled": True, "max_wait": "2h"})).spot.max_wait == 7200


@pytest.mark.parametrize("value", ["1 hour", "1x", "soon", True])
def test_spec_rejects_bad_durations(value: object) -> None:
    err = only_error(setin(custom_spec(), "resources.max_runtime_per_job", value))
    assert err.path == "resources.max_runtime_per_job"
    assert "90s, 30m, 2h, 1d" in err.message
    assert repr(value) in err.message


def test_max_runtime_per_job_at_most_28_days() -> None:
    # StoppingCondition.MaxRuntimeInSeconds: at most 28 days.
    assert parse(setin(custom_spec(), "resources.max_runtime_per_job", "28d")).resources.max_runtime_per_job == \
        28 * 86400
    err = only_error(setin(custom_spec(), "resources.max_runtime_per_job", "29d"))
    assert err.path == "resources.max_runtime_per_job"


def test_max_tuning_runtime_api_bounds() -> None:
    # ResourceLimits.MaxRuntimeInSeconds: 120 .. 15,768,000.
    assert only_error(setin(custom_spec(), "resources.max_tuning_runtime", "119s")).path == \
        "resources.max_tuning_runtime"
    parse(setin(custom_spec(), "resources.max_tuning_runtime", "2m"))
    parse(setin(custom_spec(), "resources.max_tuning_runtime", 15_768_000))
    assert only_error(setin(custom_spec(), "resources.max_tuning_runtime", 15_768_001)).path == \
        "resources.max_tuning_runtime"
