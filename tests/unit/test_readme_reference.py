"""The README's spec reference stays true to the model: every field is documented, none invented."""

from __future__ import annotations

import re
import typing
from pathlib import Path

from pydantic import BaseModel

from amt_conductor.spec.model import Spec

README = Path(__file__).resolve().parents[2] / "README.md"


def _field_paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    paths: set[str] = set()
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        nested = [a for a in (field.annotation, *typing.get_args(field.annotation))
                  if isinstance(a, type) and issubclass(a, BaseModel)]
        if nested and name not in {"ranges", "data"}:
            for sub in nested:
                paths |= _field_paths(sub, f"{path}.")
        else:
            paths.add(path)
    return paths


def _documented() -> str:
    text = README.read_text()
    return text[text.index("### Reference"):]


def test_every_spec_field_is_in_the_reference() -> None:
    table = _documented()
    missing = sorted(p for p in _field_paths(Spec)
                     if f"`{p}`" not in table and f"`{p.replace('metrics.', 'metrics[].')}" not in table)
    assert not missing, f"README reference lacks: {missing}"


def test_reference_names_no_field_the_model_lacks() -> None:
    known = _field_paths(Spec) | {"ranges.<name>", "ranges.<name>.scaling"}
    documented = set(re.findall(r"^\| `([a-z_.<>\[\]]+)`", _documented(), re.M))
    channel = {p for p in documented if p.startswith("data.<channel>.")}
    unknown = sorted(p for p in documented - channel - known
                     if p.replace("metrics[]", "metrics") not in known and not p.startswith("algorithm.metrics[]"))
    assert not unknown, f"README documents fields the model lacks: {unknown}"
