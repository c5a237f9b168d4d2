"""A YAML loader for specs: safe, YAML 1.2 booleans, duplicate keys are errors, and the source text of
every number and boolean is kept.

YAML 1.1 (PyYAML's default) reads unquoted `off`, `on`, `yes`, `no` as booleans; a user
writing `early_stopping: off` means the word. Only `true`/`false` are booleans here.
A key written twice would silently win in PyYAML; here it is an error naming the key.
SageMaker takes versions and hyperparameter values as text: `1.10` must reach it as "1.10", not as
the float 1.1, so `load_yaml` also returns each non-string scalar's text by its path (`SourceTexts`).
"""

from __future__ import annotations

import re
from typing import Any, TypeAlias

import yaml


class DuplicateKeyError(yaml.YAMLError):
    def __init__(self, path: str, line: int) -> None:
        self.path = path
        super().__init__(f"written twice (again at line {line})")


# Path (mapping keys as text, list indexes as ints) -> the text written there, for numbers and booleans.
SourceTexts: TypeAlias = dict[tuple[str | int, ...], str]


class SpecLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans, duplicate-key detection and the source text of scalars."""

    def compose_document(self) -> yaml.Node | None:
        node = super().compose_document()
        # Remember where each mapping sits so a duplicate key is named by its full path.
        self.mapping_paths: dict[int, str] = {}
        self.source_texts: SourceTexts = {}
        if node is not None:
            _index_paths(node, "", self.mapping_paths)
            _index_texts(node, (), self.source_texts, set())
        return node


def load_yaml(text: str) -> tuple[Any, SourceTexts]:
    """The document in `text` and the source text of its numbers and booleans (raises yaml.YAMLError)."""
    loader = SpecLoader(text)
    try:
        return loader.get_single_data(), getattr(loader, "source_texts", {})
    finally:
        loader.dispose()


_TEXT_KEPT = {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool"}
_MERGE_TAG = "tag:yaml.org,2002:merge"


def _index_texts(node: yaml.Node, path: tuple[str | int, ...], out: SourceTexts, open_: set[int]) -> None:
    if isinstance(node, yaml.ScalarNode):
        if node.tag in _TEXT_KEPT:
            out[path] = node.value
        return
    if id(node) in open_:  # a recursive anchor
        return
    open_.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_texts(item, (*path, i), out, open_)
    elif isinstance(node, yaml.MappingNode):
        # `<<: *base` first (in a list, the first mapping wins), so keys written beside it win, as in the mapping.
        merged = [v for k, v in node.value if k.tag == _MERGE_TAG]
        for source in merged:
            for m in (reversed(source.value) if isinstance(source, yaml.SequenceNode) else [source]):
                if isinstance(m, yaml.MappingNode):
                    _index_texts(m, path, out, open_)
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE_TAG and isinstance(key_node, yaml.ScalarNode):
                _index_texts(value_node, (*path, key_node.value), out, open_)
    open_.discard(id(node))


def _index_paths(node: yaml.Node, path: str, out: dict[int, str]) -> None:
    if id(node) in out:  # an alias: keep the first path (and stop on recursive anchors)
        return
    if isinstance(node, yaml.MappingNode):
        out[id(node)] = path
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
            _index_paths(value_node, f"{path}.{key}" if path else str(key), out)
    elif isinstance(node, yaml.SequenceNode):
        out[id(node)] = path
        for i, item in enumerate(node.value):
            _index_paths(item, f"{path}.{i}" if path else str(i), out)


# Drop YAML 1.1's boolean and integer resolvers; add back only true/false, and integers as
# YAML 1.2 reads them: `010` is ten (not octal eight) and `1:30` is text (not sexagesimal 90).
_INT_TAG = "tag:yaml.org,2002:int"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
SpecLoader.yaml_implicit_resolvers = {
    # Timestamps too: YAML 1.2 has none, and `name: 2024-01-01` means the text, not a date.
    first: [(tag, rx) for tag, rx in resolvers if tag not in ("tag:yaml.org,2002:bool", _INT_TAG, _TIMESTAMP_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
SpecLoader.add_implicit_resolver(
    _INT_TAG, re.compile(r"^(?:[-+]?[0-9][0-9_]*|0o[0-7_]+|0x[0-9a-fA-F_]+)$"), list("-+0123456789")
)


def _construct_int(loader: SpecLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node)).replace("_", "")
    if text.startswith(("0o", "0x")):
        return int(text[2:], 8 if text[1] == "o" else 16)
    return int(text, 10)


SpecLoader.add_constructor(_INT_TAG, _construct_int)


def _construct_mapping(loader: SpecLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # `<<: *anchor` merges; flatten_mapping handles it
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            prefix = getattr(loader, "mapping_paths", {}).get(id(node), "")
            raise DuplicateKeyError(f"{prefix}.{key}" if prefix else str(key), key_node.start_mark.line + 1)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


SpecLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
