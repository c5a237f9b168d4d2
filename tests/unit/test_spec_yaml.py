"""YAML as a person means it: `off` is the word off, duplicate keys are errors, numbers are decimal."""

from __future__ import annotations

import pytest
import yaml
from spec_factory import custom_spec, hyperband_spec, to_yaml

from amt_conductor.spec.errors import SpecError
from amt_conductor.spec.loader import parse_spec
from amt_conductor.spec.yamlsafe import SpecLoader


def load(text: str) -> object:
    return yaml.load(text, Loader=SpecLoader)


def spec_yaml(extra: str, **top: object) -> str:
    return to_yaml(custom_spec(**top)) + extra


def errors(text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        parse_spec(text, "s.yaml")
    return info.value.lines()


def test_unquoted_off_means_off() -> None:
    text = to_yaml(hyperband_spec()) + "early_stopping: off\n"
    assert parse_spec(text, "s.yaml").early_stopping == "off"


def test_early_stopping_auto() -> None:
    assert parse_spec(spec_yaml("early_stopping: auto\n"), "s.yaml").early_stopping == "auto"


def test_early_stopping_false_still_means_off() -> None:
    # A JSON spec, or YAML written as `false`, means the same.
    assert parse_spec(spec_yaml("early_stopping: false\n"), "s.yaml").early_stopping == "off"


def test_early_stopping_on_is_not_a_value() -> None:
    [line] = errors(spec_yaml("early_stopping: on\n"))
    assert line.startswith("s.yaml: early_stopping: ")
    assert "'on'" in line


@pytest.mark.parametrize("word", ["on", "off", "yes", "no", "y", "n", "On", "NO"])
def test_yaml11_booleans_stay_strings(word: str) -> None:
    assert load(f"a: {word}\nb: [{word}]\n") == {"a": word, "b": [word]}


@pytest.mark.parametrize(("text", "value"), [("true", True), ("False", False), ("TRUE", True)])
def test_true_and_false_are_booleans(text: str, value: bool) -> None:
    assert load(f"a: {text}") == {"a": value}


def test_yes_no_on_stay_strings_where_strings_are_expected() -> None:
    text = spec_yaml("tags: {review: no, ok: yes}\n")
    text = text.replace("  batch_size: 64\n", "  batch_size: 64\n  shuffle: yes\n  verbose: no\n  amp: on\n")
    text = text.replace("    - sgd\n    - adam\n", "    - yes\n    - no\n    - off\n")
    spec = parse_spec(text, "s.yaml")
    assert spec.hyperparameters == {"batch_size": "64", "shuffle": "yes", "verbose": "no", "amp": "on"}
    assert spec.ranges["opt"].values == ["yes", "no", "off"]  # type: ignore[union-attr]
    assert spec.tags == {"review": "no", "ok": "yes"}


def test_spot_enabled_true() -> None:
    assert parse_spec(spec_yaml("spot: {enabled: true}\n"), "s.yaml").spot.enabled is True


@pytest.mark.parametrize(("text", "value"), [("010", 10), ("0x1F", 31), ("0o17", 15), ("1_000", 1000),
                                             ("-5", -5), ("0", 0)])
def test_integers_read_as_yaml_1_2(text: str, value: int) -> None:
    assert load(f"a: {text}") == {"a": value}


def test_leading_zero_tag_keeps_its_digits() -> None:
    spec = parse_spec(spec_yaml("tags: {cost-center: 0420}\n"), "s.yaml")
    assert spec.tags["cost-center"] == "0420"  # a text field carries the text written


def test_sexagesimal_is_not_a_number() -> None:
    assert load("a: 1:30") == {"a": "1:30"}
    [line] = errors(spec_yaml("").replace("max_runtime_per_job: 1h", "max_runtime_per_job: 1:30"))
    assert line.startswith("s.yaml: resources.max_runtime_per_job: ")


def test_duplicate_top_level_key_is_an_error_naming_it() -> None:
    text = spec_yaml("strategy: random\n")
    [line] = errors(text)
    assert line.startswith("s.yaml: strategy: written twice")
    assert f"line {text.count(chr(10))}" in line


def test_duplicate_nested_key_is_named_by_its_path() -> None:
    text = spec_yaml("").replace("  max_jobs: 10\n", "  max_jobs: 10\n  max_jobs: 12\n")
    [line] = errors(text)
    assert line.startswith("s.yaml: resources.max_jobs: written twice")


def test_duplicate_key_in_a_list_item_is_named_by_its_path() -> None:
    text = spec_yaml("").replace("- name: val:loss\n", "- name: val:loss\n    name: other\n")
    assert "name: other" in text
    [line] = errors(text)
    assert line.startswith("s.yaml: algorithm.metrics.0.name: written twice")


def test_merge_keys_work() -> None:
    doc = load("base: &b {a: 1, b: 2}\nx:\n  <<: *b\n  b: 3\n")
    assert doc == {"base": {"a": 1, "b": 2}, "x": {"a": 1, "b": 3}}


def test_python_tags_are_refused() -> None:
    [line] = errors("!!python/object/apply:os.system ['true']\n")
    assert line.startswith("s.yaml: invalid YAML")


def test_yaml_infinity_is_not_a_bound() -> None:
    text = spec_yaml("").replace("    max: 0.1\n", "    max: .inf\n")
    [line] = errors(text)
    assert line.startswith("s.yaml: ranges.lr.max: ") and "finite" in line


def test_dates_stay_text() -> None:
    # YAML 1.1 would read a date; YAML 1.2 (and a person) reads the text.
    import yaml

    from amt_conductor.spec.yamlsafe import SpecLoader

    assert yaml.load("description: 2024-01-01\nwhen: 2001-12-14t21:59:43.10-05:00\n", Loader=SpecLoader) == {
        "description": "2024-01-01", "when": "2001-12-14t21:59:43.10-05:00"}
