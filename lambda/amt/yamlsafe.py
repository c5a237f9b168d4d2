"""A YAML loader for specs: safe, YAML 1.2 booleans, and duplicate keys are errors.

YAML 1.1 (PyYAML's default) reads unquoted `off`, `on`, `yes`, `no` as booleans; a user
writing `early_stopping: off` means the word. Only `true`/`false` are booleans here.
A key written twice would silently win in PyYAML; here it is an error naming the key.
"""

from __future__ import annotations

import re
from typing import Any

import yaml


class DuplicateKeyError(yaml.YAMLError):
    def __init__(self, path: str, line: int) -> None:
        self.path = path
        super().__init__(f"written twice (again at line {line})")


class SpecLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans and duplicate-key detection."""

    def compose_document(self) -> yaml.Node | None:
        node = super().compose_document()
        # Remember where each mapping sits so a duplicate key is named by its full path.
        self.mapping_paths: dict[int, str] = {}
        if node is not None:
            _index_paths(node, "", self.mapping_paths)
        return node


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
