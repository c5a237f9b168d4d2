"""Fields SageMaker takes as text carry exactly the text written in the file (issue 8, bug 1).

YAML and JSON read `1.10` as the number 1.1, `True` as a boolean and `0.00001` as 1e-05; a version, a
static hyperparameter, a categorical value, a tag or an environment value must reach SageMaker as written.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from spec_factory import builtin_spec, custom_spec, errors_of, to_yaml

from amt_conductor.spec.loader import parse_spec
from amt_conductor.spec.render import render_request

ROLE = "arn:aws:iam::123456789012:role/sagemaker-tuning"


def _render(text: str, source: str = "spec.yaml") -> dict[str, Any]:
    spec = parse_spec(text, source)
    return render_request(spec, region="us-east-1", role_arn=ROLE, output_bucket="artifacts")


def _framework(builtin: str, version: str, py: str) -> str:
    return to_yaml(custom_spec(algorithm={"builtin": "X", "metrics": [{"name": "val:loss",
                                                                         "regex": "val_loss=([0-9.]+)"}]})).replace(
        "builtin: X", f"builtin: {builtin}\n  version: {version}\n  py_version: {py}")


def test_framework_versions_written_as_numbers_keep_their_text() -> None:
    # tensorflow 2.10 was read as 2.1 ("needs py_version ..."); pytorch 1.10 rendered the 1.1 image.
    tf = _render(_framework("tensorflow", "2.10", "py39"))
    pt = _render(_framework("pytorch", "1.10", "py38"))

    assert tf["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingImage"].endswith(":2.10-cpu-py39")
    assert pt["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingImage"].endswith(":1.10-cpu-py38")


YAML_VALUES = """
hyperparameters:
  framework_version: 1.10
  early_stopping: True
  tol: 0.00001
  seed: 010
  big: 1e3
ranges:
  flag: {type: categorical, values: [TRUE, FALSE]}
  rate: {type: categorical, values: [0.10, 0.5, 1.0]}
  lr: {type: continuous, min: 0.00001, max: 0.10}
tags: {cost: 1.50, owner: ml}
environment: {THREADS: 08, DEBUG: False}
"""


def _with(extra: str) -> str:
    base = custom_spec()
    for key in ("hyperparameters", "ranges", "tags", "environment"):
        base.pop(key, None)
    return to_yaml(base) + extra


def test_yaml_text_fields_carry_the_text_written() -> None:
    request = _render(_with(YAML_VALUES))
    definition = request["TrainingJobDefinition"]
    ranges = request["HyperParameterTuningJobConfig"]["ParameterRanges"]

    assert definition["StaticHyperParameters"] == {"framework_version": "1.10", "early_stopping": "True",
                                                   "tol": "0.00001", "seed": "010", "big": "1e3"}
    assert {r["Name"]: r["Values"] for r in ranges["CategoricalParameterRanges"]} == {
        "flag": ["TRUE", "FALSE"], "rate": ["0.10", "0.5", "1.0"]}
    assert {"Key": "cost", "Value": "1.50"} in request["Tags"]
    assert definition["Environment"] == {"THREADS": "08", "DEBUG": "False"}


def test_numeric_fields_stay_numbers() -> None:
    spec = parse_spec(_with(YAML_VALUES), "spec.yaml")
    lr = spec.ranges["lr"]

    assert (lr.min, lr.max) == (0.00001, 0.1)  # type: ignore[union-attr]
    assert spec.resources.max_jobs == 10


def test_anchors_and_merge_keys_keep_the_text_too() -> None:
    text = _with("""
defaults: &d {framework_version: 1.10, tol: 0.00001}
""").replace("defaults:", "x-defaults:") + "hyperparameters:\n  <<: *d\n  tol: 1.50\n"
    # A spec has no x-defaults field: the anchor lives in a field the model refuses, so check the loader alone.
    from amt_conductor.spec.yamlsafe import load_yaml

    doc, texts = load_yaml(text)
    assert doc["hyperparameters"] == {"framework_version": 1.1, "tol": 1.5}
    assert texts[("hyperparameters", "framework_version")] == "1.10"
    assert texts[("hyperparameters", "tol")] == "1.50"


def test_json_text_fields_carry_the_text_written() -> None:
    doc = custom_spec(hyperparameters={"framework_version": "@1.10@", "tol": "@0.00001@", "n": "@010@"})
    doc["ranges"]["opt"] = {"type": "categorical", "values": ["@1.0@", "@0.50@"]}
    text = json.dumps(doc).replace('"@', "").replace('@"', "").replace("010", "10")  # JSON has no leading zeros

    request = _render(text, "spec.json")

    assert request["TrainingJobDefinition"]["StaticHyperParameters"] == {
        "framework_version": "1.10", "tol": "0.00001", "n": "10"}
    (opt,) = request["HyperParameterTuningJobConfig"]["ParameterRanges"]["CategoricalParameterRanges"]
    assert opt["Values"] == ["1.0", "0.50"]


@pytest.mark.parametrize("path", ["hyperparameters", "tags", "environment"])
def test_a_float_without_its_text_is_refused_with_the_fix(path: str) -> None:
    # A document built in code has no source text: 1e-05 might have been written 0.00001.
    doc = custom_spec(**{path: {"tol": 0.00001}})

    (err,) = [e for e in errors_of(doc) if e.path == f"{path}.tol"]
    assert "quote it" in err.message


def test_a_float_version_or_categorical_without_its_text_is_refused() -> None:
    doc = builtin_spec()
    doc["algorithm"]["version"] = 1.1
    doc["ranges"]["opt"]["values"] = ["sgd", 0.5]

    paths = {e.path: e.message for e in errors_of(doc)}
    assert "quote it" in paths["algorithm.version"]
    assert "quote it" in paths["ranges.opt.values.1"]


def test_integers_and_booleans_without_text_have_one_obvious_text() -> None:
    from spec_factory import parse

    spec = parse(custom_spec(hyperparameters={"n": 10, "flag": True}))
    assert spec.hyperparameters == {"n": "10", "flag": "true"}


_NUMBER_TEXT = st.from_regex(r"-?(0|[1-9][0-9]{0,4})(\.[0-9]{1,6}0{0,2})?([eE][-+]?[0-9]{1,2})?", fullmatch=True)


@settings(max_examples=60, deadline=None)
@given(texts=st.lists(_NUMBER_TEXT, min_size=1, max_size=4, unique=True), fmt=st.sampled_from(["yaml", "json"]))
def test_any_number_written_unquoted_reaches_sagemaker_as_written(texts: list[str], fmt: str) -> None:
    doc = custom_spec(hyperparameters={f"h{i}": f"@{t}@" for i, t in enumerate(texts)})
    doc["ranges"]["opt"] = {"type": "categorical", "values": [f"@{t}@" for t in texts]}
    if fmt == "json":
        assume(all(not re.match(r"-?0[0-9]", t) for t in texts))  # JSON has no leading zeros
        text, source = json.dumps(doc), "spec.json"
    else:
        text, source = to_yaml(doc), "spec.yaml"
    text = re.sub(r"""['"]@([^@]*)@['"]""", r"\1", text)  # the numbers unquoted, as a user writes them

    request = _render(text, source)

    assert request["TrainingJobDefinition"]["StaticHyperParameters"] == {f"h{i}": t for i, t in enumerate(texts)}
    (opt,) = request["HyperParameterTuningJobConfig"]["ParameterRanges"]["CategoricalParameterRanges"]
    assert opt["Values"] == texts


def test_each_definition_of_a_multi_algorithm_study_keeps_its_text() -> None:
    doc = custom_spec()
    one = {k: doc.pop(k) for k in ("algorithm", "hyperparameters", "ranges")}
    doc["algorithms"] = [{"name": "a", **copy.deepcopy(one)}, {"name": "b", **copy.deepcopy(one)}]
    text = to_yaml(doc).replace("batch_size: 64", "tol: 0.00001", 1).replace("batch_size: 64", "tol: 1.10", 1)

    request = _render(text)

    first, second = request["TrainingJobDefinitions"]
    assert first["StaticHyperParameters"] == {"tol": "0.00001"}
    assert second["StaticHyperParameters"] == {"tol": "1.10"}


def test_an_autotune_hint_keeps_its_text() -> None:
    doc = custom_spec(autotune=True)
    doc["ranges"]["momentum"] = {"type": "auto", "hint": "@0.90@"}
    request = _render(to_yaml(doc).replace("'@0.90@'", "0.90"))

    (auto,) = request["HyperParameterTuningJobConfig"]["ParameterRanges"]["AutoParameters"]
    assert auto == {"Name": "momentum", "ValueHint": "0.90"}


def _text_field_paths(schema: dict[str, Any]) -> set[tuple[str, ...]]:
    """Paths ("*" for any key or index) of fields whose schema lets a number stand for text."""
    defs, out = schema["$defs"], set()

    def walk(node: dict[str, Any], path: tuple[str, ...], seen: frozenset[str]) -> None:
        ref = node.get("$ref", "").split("/")[-1]
        if ref:
            if ref not in seen:
                walk(defs[ref], path, seen | {ref})
            return
        kinds = node.get("type")
        if isinstance(kinds, list) and "string" in kinds and "number" in kinds:
            out.add(path)
        for key, sub in node.get("properties", {}).items():
            walk(sub, (*path, key), seen)
        for sub in node.get("anyOf", []) + node.get("oneOf", []) + list(node.get("patternProperties", {}).values()):
            walk(sub, path if sub in node.get("anyOf", []) + node.get("oneOf", []) else (*path, "*"), seen)
        for sub in (node.get("items"), node.get("additionalProperties")):
            if isinstance(sub, dict):
                walk(sub, (*path, "*"), seen)
        for sub in node.get("discriminator", {}).get("mapping", {}).values():
            walk({"$ref": sub}, path, seen)

    walk(schema, (), frozenset())
    return out


def test_every_field_that_takes_a_number_as_text_keeps_the_text_written() -> None:
    # A new text field (its schema allows a number) must be listed in amt_conductor.spec.sourcetext.TEXT_FIELDS.
    from amt_conductor.spec.model import json_schema
    from amt_conductor.spec.sourcetext import TEXT_FIELDS

    found = _text_field_paths(json_schema())
    assert {("hyperparameters", "*"), ("ranges", "*", "values", "*"), ("tags", "*")} <= found
    missing = found - set(TEXT_FIELDS)
    assert not missing, f"add to TEXT_FIELDS: {sorted(missing)}"
