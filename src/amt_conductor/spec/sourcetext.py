"""Fields SageMaker takes as text carry exactly the text written in the file.

YAML and JSON read `1.10` as the number 1.1 and `True` as a boolean; a version, a static hyperparameter,
a categorical value, an Autotune hint, a tag or an environment value must reach SageMaker as written
("1.10", "True").
The loaders keep each number's and boolean's source text by path; `apply_source_text` puts that text
back into the text fields before the model sees the document. Numeric fields (range bounds, limits)
stay numbers. Without source text (a dict built in Python) the model refuses floats in text fields.
"""

from __future__ import annotations

from typing import Any

# Paths of the text fields; "*" is any key or list index. A definition's fields also sit under each
# item of `algorithms` (multi-algorithm tuning).
_DEFINITION_TEXT_FIELDS: tuple[tuple[str, ...], ...] = (
    ("algorithm", "version"),
    ("algorithm", "py_version"),
    ("hyperparameters", "*"),
    ("ranges", "*", "values", "*"),
    ("ranges", "*", "hint"),  # Autotune's ValueHint
    ("environment", "*"),
)
TEXT_FIELDS: tuple[tuple[str, ...], ...] = (
    *_DEFINITION_TEXT_FIELDS,
    ("tags", "*"),
    *(("algorithms", "*", *f) for f in _DEFINITION_TEXT_FIELDS),
)

Path = tuple[str | int, ...]


def apply_source_text(doc: Any, texts: dict[Path, str]) -> Any:
    """`doc` with every number or boolean in a text field replaced by the text written for it."""
    if not texts:
        return doc
    for pattern in TEXT_FIELDS:
        doc = _apply(doc, pattern, (), texts)
    return doc


def _apply(node: Any, pattern: tuple[str, ...], path: Path, texts: dict[Path, str]) -> Any:
    if not pattern:
        if isinstance(node, bool | int | float) and path in texts:
            return texts[path]
        return node
    head, rest = pattern[0], pattern[1:]
    if isinstance(node, dict):
        keys = list(node) if head == "*" else [k for k in node if k == head]
        if not keys:
            return node
        out = dict(node)
        for k in keys:
            out[k] = _apply(node[k], rest, (*path, str(k)), texts)
        return out
    if isinstance(node, list) and head == "*":
        return [_apply(item, rest, (*path, i), texts) for i, item in enumerate(node)]
    return node
