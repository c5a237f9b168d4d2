"""Valid spec documents to mutate in tests, and helpers to validate them.

Each builder returns a fresh dict that passes validation; a test changes one thing with
`setin` and checks what the validator says about exactly that thing.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from amt_conductor.spec.errors import FieldError, SpecError
from amt_conductor.spec.loader import validate_document
from amt_conductor.spec.model import Spec

SOURCE = "spec.yaml"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/train:1.0"
DELETE = object()

_CUSTOM: dict[str, Any] = {
    "name": "study",
    "objective": {"metric": "val:loss", "goal": "minimize"},
    "strategy": "bayesian",
    "algorithm": {"image": IMAGE, "metrics": [{"name": "val:loss", "regex": "val_loss=([0-9.]+)"}]},
    "hyperparameters": {"batch_size": 64},
    "ranges": {
        "lr": {"type": "continuous", "min": 0.001, "max": 0.1, "scaling": "log"},
        "depth": {"type": "integer", "min": 2, "max": 8},
        "opt": {"type": "categorical", "values": ["sgd", "adam"]},
    },
    "data": {"train": {"uri": "s3://example-bucket/train/"}},
    "resources": {
        "instance_type": "ml.m5.xlarge",
        "max_jobs": 10,
        "max_parallel_jobs": 2,
        "max_runtime_per_job": "1h",
    },
}


def custom_spec(**top: Any) -> dict[str, Any]:
    """A Bayesian spec over a custom image (needs no image catalog)."""
    doc = copy.deepcopy(_CUSTOM)
    doc.update(copy.deepcopy(top))
    return doc


def builtin_spec(**top: Any) -> dict[str, Any]:
    """The same study on the built-in XGBoost algorithm."""
    doc = custom_spec(**top)
    if "algorithm" not in top:
        doc["algorithm"] = {"builtin": "xgboost", "version": "1.7-1"}
        doc["objective"] = {"metric": "validation:auc", "goal": "maximize"}
    return doc


def grid_spec(**top: Any) -> dict[str, Any]:
    """Grid search over 3 x 2 = 6 combinations, max_jobs left out."""
    doc = custom_spec(strategy="grid", ranges={
        "opt": {"type": "categorical", "values": ["sgd", "adam", "adamw"]},
        "width": {"type": "categorical", "values": [64, 128]},
    })
    del doc["resources"]["max_jobs"]
    doc.update(copy.deepcopy(top))
    return doc


def hyperband_spec(**top: Any) -> dict[str, Any]:
    """Hyperband with an explicit max_resource and early stopping off."""
    doc = custom_spec(strategy="hyperband", hyperband={"min_resource": 1, "max_resource": 27})
    doc.update(copy.deepcopy(top))
    return doc


def setin(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Set (or, with DELETE, remove) the field at dotted `path`; returns `doc` for chaining."""
    parts = path.split(".")
    node: Any = doc
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    last: Any = int(parts[-1]) if isinstance(node, list) else parts[-1]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return doc


def errors_of(doc: Any) -> list[FieldError]:
    """Every problem the validator finds in `doc` (empty when it is valid)."""
    try:
        validate_document(doc, SOURCE)
    except SpecError as exc:
        assert exc.source == SOURCE
        return exc.errors
    return []


def only_error(doc: Any) -> FieldError:
    """The single problem in `doc`: a mutation that breaks one rule must break only that rule."""
    errors = errors_of(doc)
    assert len(errors) == 1, f"expected exactly one error, got {[e.format(SOURCE) for e in errors]}"
    return errors[0]


def parse(doc: Any) -> Spec:
    """The validated spec; fails the test with every error if `doc` is not valid."""
    errors = errors_of(doc)
    assert not errors, [e.format(SOURCE) for e in errors]
    return validate_document(doc, SOURCE)


def to_yaml(doc: dict[str, Any]) -> str:
    return yaml.safe_dump(doc, sort_keys=False)
