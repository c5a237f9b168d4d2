"""The source being imported: each part hands out its fields once; whatever nobody took is an error."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from amt_conductor.spec.errors import FieldError


class NotExpressible(ValueError):
    """The source has fields a spec cannot express (or is not a tuning request at all)."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e.path}: {e.message}" for e in errors))


@dataclass
class Imported:
    """The spec document, the region its built-in images were resolved in, and notes for the user."""

    doc: dict[str, Any]
    region: str | None = None
    notes: list[str] = field(default_factory=list)


class Source:
    """A part of the request being imported; `take` removes a field, `finish` reports what is left."""

    def __init__(self, data: Any, path: str = "", errors: list[FieldError] | None = None) -> None:
        self.data: dict[str, Any] = data if isinstance(data, dict) else {}
        self.present = isinstance(data, dict)
        self.path = path
        self.errors: list[FieldError] = [] if errors is None else errors
        self._children: list[Source] = []

    def take(self, key: str, default: Any = None) -> Any:
        return self.data.pop(key, default)

    def child(self, key: str) -> Source:
        node = Source(self.data.get(key), f"{self.path}.{key}" if self.path else key, self.errors)
        self._children.append(node)
        return node

    def refuse_if_present(self, key: str, message: str) -> None:
        if key in self.data:
            self.data.pop(key)
            self.errors.append(FieldError(f"{self.path}.{key}" if self.path else key, message))

    def finish(self) -> None:
        """Every field nobody took is an error: the spec cannot express it."""
        for node in self._children:
            node.finish()
            parent_key = node.path.rsplit(".", 1)[-1]
            if node.present and not node.data and self.data.get(parent_key) == {}:
                del self.data[parent_key]
        for key, value in list(self.data.items()):
            if value in ({}, [], None):
                continue  # an empty list or map says nothing
            where = f"{self.path}.{key}" if self.path else key
            if not any(e.path.startswith(where) for e in self.errors):
                self.errors.append(FieldError(where, "the spec has no field for this; not imported"))
        self.data.clear()


def leftover(data: dict[str, Any], where: str, errors: list[FieldError]) -> None:
    for key, value in data.items():
        if value not in ({}, [], None):
            errors.append(FieldError(f"{where}.{key}", "the spec has no field for this; not imported"))


def enum_value(src: Source, key: str, mapping: dict[str, str]) -> str | None:
    value = src.take(key)
    if value is None:
        return None
    if value not in mapping:
        src.errors.append(FieldError(f"{src.path}.{key}", f"unknown value {value!r}; one of {', '.join(mapping)}"))
        return None
    return mapping[value]


def put(target: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        target[key] = value


def pruned(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}

