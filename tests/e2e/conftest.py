"""Fixtures for end-to-end runs in the simulator: the template (synthesized once) and spec files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from amt_conductor.cli.simulate.template import PROJECT_ROOT, synthesize

EXAMPLE = PROJECT_ROOT / "configs" / "churn-xgb.yaml"


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    """The app's workflow template; synthesis costs seconds, so once per session."""
    return synthesize()


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


@pytest.fixture
def make_spec(tmp_path: Path) -> Any:
    """Write configs/churn-xgb.yaml with `changes` merged in (None removes a field); returns the path.

    The study keeps its name: the stack's resume rule only hears jobs of the studies in configs/.
    Small job counts keep the reports (and so the tests) quick.
    """

    def write(**changes: Any) -> Path:
        doc = yaml.safe_load(EXAMPLE.read_text())
        small = {"resources": {"max_jobs": 6, "max_parallel_jobs": 2}, "completion": None, "budget": None}
        doc = _merge(_merge(doc, small), changes)
        path = tmp_path / "churn-xgb.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return path

    return write
