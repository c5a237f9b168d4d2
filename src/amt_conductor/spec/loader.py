"""Reading specs: bytes or files -> `Spec`, or a `SpecError` listing every problem with its field path.

Bad input never escapes as a traceback: malformed YAML, wrong types, empty or binary
files and oversized files all become `SpecError`s.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from amt_conductor.contract import SPEC_SUFFIXES
from amt_conductor.spec.errors import FieldError, SpecError
from amt_conductor.spec.model import RANGE_TYPES, Spec
from amt_conductor.spec.sourcetext import Path as TextPath
from amt_conductor.spec.sourcetext import apply_source_text

SourceTexts = dict[TextPath, str]

MAX_SPEC_BYTES = 1_000_000


def parse_spec(data: bytes | str, source: str, *, spec_dir: Path | None = None) -> Spec:
    """Parse and validate one spec; raises SpecError naming `source` and each field. `spec_dir`, the folder
    holding the spec, lets an `algorithm.source_dir` be packaged (and its digest written into the spec)."""
    raw = _decode(data, source)
    doc, texts = _load_document(raw, source)
    if spec_dir is not None:
        from amt_conductor.spec.sourcedir import resolve_document

        problems = resolve_document(doc, spec_dir)
        if problems:
            raise SpecError(source, problems)
    return validate_document(doc, source, source_texts=texts)


def validate_document(doc: Any, source: str, *, source_texts: SourceTexts | None = None) -> Spec:
    """Validate an already-parsed document (a dict). `source_texts` (path -> text written there, from the
    loaders) lets text fields carry numbers exactly as written; without it a float in a text field is refused."""
    from amt_conductor.spec.rules import check_rules

    if source_texts:
        doc = apply_source_text(doc, source_texts)
    if doc is None:
        raise SpecError(source, [FieldError("", "empty spec: expected a mapping with name, objective, ...")])
    if not isinstance(doc, dict):
        raise SpecError(source, [FieldError("", f"expected a mapping of fields, got {_kind(doc)}")])
    try:
        spec = Spec.model_validate(doc)
    except ValidationError as exc:
        raise SpecError(source, _field_errors_then_rules(exc, doc)) from None
    problems = check_rules(spec)
    if problems:
        raise SpecError(source, problems)
    return spec


def load_spec(path: str | Path) -> Spec:
    """Read and validate the spec at `path`."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_SPEC_BYTES:
            raise SpecError(str(p), [FieldError("", f"file is {size:,} bytes; a spec may be at most "
                                                     f"{MAX_SPEC_BYTES:,} bytes")])
        # Bounded: a device or pipe (/dev/zero) reports size 0 and never ends.
        with p.open("rb") as fh:
            data = fh.read(MAX_SPEC_BYTES + 1)
        if len(data) > MAX_SPEC_BYTES:
            raise SpecError(str(p), [FieldError("", f"more than {MAX_SPEC_BYTES:,} bytes; a spec may be at most "
                                                     f"{MAX_SPEC_BYTES:,} bytes")])
    except OSError as exc:
        raise SpecError(str(p), [FieldError("", f"cannot read: {exc.strerror or exc}")]) from None
    return parse_spec(data, str(p), spec_dir=p.parent)


def find_specs(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Spec files named by `paths` (files, or folders searched recursively, sorted).

    Raises SpecError for a path that does not exist or a folder with no spec in it.
    """
    for given in paths:
        p = Path(given)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SPEC_SUFFIXES)
            if not found:
                raise SpecError(str(p), [FieldError("", f"no spec files ({', '.join(SPEC_SUFFIXES)}) in "
                                                         "this folder")])
            yield from found
        elif p.exists():
            yield p
        else:
            raise SpecError(str(p), [FieldError("", "no such file or folder")])


def load_specs(paths: Iterable[str | Path]) -> tuple[list[tuple[Path, Spec]], list[SpecError]]:
    """Load every spec under `paths`; returns the good ones and the errors (nothing is lost)."""
    good: list[tuple[Path, Spec]] = []
    bad: list[SpecError] = []
    names: dict[str, Path] = {}
    seen: set[Path] = set()
    for given in paths:
        try:
            files = list(find_specs([given]))
        except SpecError as exc:
            bad.append(exc)
            continue
        for f in files:
            if f.resolve() in seen:  # a file named twice (a folder and a file in it) is read once
                continue
            seen.add(f.resolve())
            try:
                spec = load_spec(f)
            except SpecError as exc:
                bad.append(exc)
                continue
            if spec.name in names and names[spec.name] != f:
                bad.append(SpecError(str(f), [FieldError("name", f"study name {spec.name!r} is already used "
                                                                  f"by {names[spec.name]}")]))
                continue
            names[spec.name] = f
            good.append((f, spec))
    return good, bad


# --- reading ----------------------------------------------------------------------------------

def _decode(data: bytes | str, source: str) -> str:
    if isinstance(data, str):
        return data
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError(source, [FieldError("", f"file is {len(data):,} bytes; a spec may be at most "
                                                 f"{MAX_SPEC_BYTES:,} bytes")])
    if b"\x00" in data[:8192]:
        raise SpecError(source, [FieldError("", "binary file: a spec is YAML or JSON text")])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpecError(source, [FieldError("", f"not UTF-8 text (byte {exc.start}): a spec is YAML or "
                                                 "JSON text")]) from None


def _load_document(text: str, source: str) -> tuple[Any, SourceTexts]:
    """The document and the source text of its numbers and booleans, by path."""
    if not text.strip():
        raise SpecError(source, [FieldError("", "empty file: expected a spec with name, objective, ...")])
    if source.lower().endswith(".json") or text.lstrip().startswith("{"):
        try:
            texts: SourceTexts = {}
            doc = json.loads(text, object_pairs_hook=_JsonPairs, parse_float=_JsonNumber.of_float,
                             parse_int=_JsonNumber.of_int)
            return _json_value(doc, (), source, texts), texts
        except json.JSONDecodeError as exc:
            if source.lower().endswith(".json"):
                raise SpecError(source, [FieldError("", f"invalid JSON at line {exc.lineno}, column "
                                                         f"{exc.colno}: {exc.msg}")]) from None
        except RecursionError:
            raise SpecError(source, [FieldError("", "nested too deeply to be a spec")]) from None
    return _load_yaml(text, source)


class _JsonPairs(list[tuple[str, Any]]):
    """A JSON object as read, before its keys are checked for duplicates."""


class _JsonNumber:
    """A JSON number with the text it was written as."""

    def __init__(self, text: str, value: int | float) -> None:
        self.text, self.value = text, value

    @classmethod
    def of_float(cls, text: str) -> _JsonNumber:
        return cls(text, float(text))

    @classmethod
    def of_int(cls, text: str) -> _JsonNumber:
        return cls(text, int(text))


def _json_value(value: Any, path: TextPath, source: str, texts: SourceTexts) -> Any:
    # json.loads keeps the last of duplicate keys silently; a spec treats them as errors, as in YAML.
    if isinstance(value, _JsonPairs):
        out: dict[str, Any] = {}
        for key, item in value:
            if key in out:
                raise SpecError(source, [FieldError(".".join(map(str, (*path, key))), "written twice")])
            out[key] = _json_value(item, (*path, key), source, texts)
        return out
    if isinstance(value, list):
        return [_json_value(v, (*path, i), source, texts) for i, v in enumerate(value)]
    if isinstance(value, _JsonNumber):
        texts[path] = value.text
        return value.value
    return value


def _load_yaml(text: str, source: str) -> tuple[Any, SourceTexts]:
    import yaml

    from amt_conductor.spec.yamlsafe import DuplicateKeyError, load_yaml

    try:
        return load_yaml(text)
    except DuplicateKeyError as exc:
        raise SpecError(source, [FieldError(exc.path, str(exc))]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SpecError(source, [FieldError("", f"invalid YAML{where}: {problem}")]) from None
    except RecursionError:
        raise SpecError(source, [FieldError("", "nested too deeply to be a spec")]) from None
    except (ValueError, TypeError, AttributeError) as exc:
        # Explicit tags with bad values (`!!int abc`) and mappings used as keys fail in PyYAML's
        # constructors with plain Python errors, not YAMLError.
        raise SpecError(source, [FieldError("", f"invalid YAML: a value cannot be read ({exc})")]) from None


# --- pydantic errors -> field paths a person recognizes ---------------------------------------

def _field_errors_then_rules(exc: ValidationError, doc: dict[str, Any]) -> list[FieldError]:
    """The field errors; and when they are only unknown fields, also the cross-field problems of the spec
    the user meant (each typo read as its did-you-mean field), so a typo does not hide the rest."""
    from amt_conductor.spec.rules import check_rules

    errors = _translate(exc, doc)
    repaired, filled = _read_typos_as_meant(exc, doc)
    if repaired is None:
        return errors
    # `max_paralel_jobs` also makes `max_parallel_jobs` missing: the typo's own line says it all.
    errors = [e for e in errors if not (e.message == "required" and e.path in filled)]
    try:
        meant = Spec.model_validate(repaired)
    except ValidationError:
        return errors
    known = {e.path for e in errors}
    return errors + [p for p in check_rules(meant) if p.path not in known]


def _read_typos_as_meant(exc: ValidationError, doc: dict[str, Any]) -> tuple[dict[str, Any] | None, set[str]]:
    """A copy of `doc` with each unknown field moved to the field it probably meant (or dropped), and the
    paths so filled; (None, {}) when some error is not an unknown or missing field."""
    import copy

    errors = exc.errors(include_url=False)
    if any(e["type"] not in ("extra_forbidden", "missing") for e in errors):
        return None, set()
    repaired, filled = copy.deepcopy(doc), set()
    for err in errors:
        if err["type"] != "extra_forbidden":
            continue
        parent, key = list(err["loc"][:-1]), str(err["loc"][-1])
        mapping: Any = repaired
        for part in parent:
            try:
                mapping = mapping[part]
            except (KeyError, IndexError, TypeError):
                if part not in RANGE_TYPES:  # a discriminator tag in the path is not a key in the document
                    return None, set()
        if not isinstance(mapping, dict) or key not in mapping:
            return None, set()
        value = mapping.pop(key)
        hint = difflib.get_close_matches(key, _allowed_fields(parent), n=1)
        if hint and hint[0] not in mapping:
            mapping[hint[0]] = value
            filled.add(".".join(str(p) for p in _clean_loc((*parent, hint[0]))))
    return repaired, filled


def _translate(exc: ValidationError, doc: dict[str, Any]) -> list[FieldError]:
    out: list[FieldError] = []
    seen: set[tuple[str, str]] = set()
    for err in exc.errors(include_url=False):
        loc = _clean_loc(err["loc"])
        path = ".".join(str(p) for p in loc)
        message = _message(err, loc, doc)
        if (path, message) not in seen:
            seen.add((path, message))
            out.append(FieldError(path, message))
    return out


def _clean_loc(loc: tuple[Any, ...]) -> list[Any]:
    parts: list[Any] = []
    for i, part in enumerate(loc):
        # Discriminated unions add the tag (`ranges.eta.continuous.min`): drop it.
        if i >= 2 and loc[i - 2] == "ranges" and part in RANGE_TYPES:
            continue
        if isinstance(part, str) and ("[" in part or part.endswith("-keys")):
            # `function-after[...]`, `[key]`: validator bookkeeping, not a field.
            if part.endswith("[key]"):
                parts.append("<key>")
            continue
        parts.append(part)
    return parts


def _message(err: Any, loc: list[Any], doc: dict[str, Any]) -> str:
    kind = err["type"]
    msg: str = err["msg"]
    if kind == "extra_forbidden":
        allowed = _allowed_fields(list(err["loc"])[:-1])
        hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        suffix = f" (did you mean {hint[0]!r}?)" if hint else (
            f" (allowed: {', '.join(sorted(allowed))})" if allowed else "")
        return f"unknown field{suffix}"
    if kind == "missing":
        return "required"
    if kind in ("too_long", "string_too_long") and isinstance(err.get("input"), str):
        # A long text is described by its length; echoing it helps nobody.
        return f"at most {err['ctx']['max_length']:,} characters (got {len(err['input']):,})"
    if kind == "string_pattern_mismatch":
        # Fields use amt_conductor.spec.forms for messages in words; never show a person a raw regular expression.
        return f"does not have the form this field takes (see the spec reference) (got {_short(err.get('input'))})"
    if kind == "union_tag_invalid":
        return f"type must be one of {', '.join(RANGE_TYPES)} (got {err.get('input', {}).get('type')!r})" \
            if isinstance(err.get("input"), dict) else msg
    if kind == "union_tag_not_found":
        return f"needs a type: one of {', '.join(RANGE_TYPES)}"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    got = err.get("input")
    if kind not in {"model_type", "dict_type"} and not isinstance(got, dict | list) and got is not None:
        msg = f"{msg[0].lower()}{msg[1:]} (got {_short(got)})" if "(got" not in msg else msg
    elif msg:
        msg = f"{msg[0].lower()}{msg[1:]}"
    return msg


def _allowed_fields(loc: list[Any]) -> list[str]:
    """Field names of the model at raw pydantic `loc` in a Spec (for 'did you mean').

    Walks dict keys, list indexes and discriminated-union tags (`ranges.eta.categorical`),
    so nested typos (`data.train.urii`, `ranges.eta.scale`) get a hint too.
    """
    annotation: Any = Spec
    for part in loc:
        annotation = _step(annotation, part)
        if annotation is None:
            return []
    model = _unwrap(annotation)
    return list(model.model_fields) if isinstance(model, type) and issubclass(model, BaseModel) else []


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated[...] and Optional[...] down to the type inside."""
    import typing

    while True:
        if typing.get_origin(annotation) is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if _is_union(annotation) and len(members) == 1:
            annotation = members[0]
            continue
        return annotation


def _is_union(annotation: Any) -> bool:
    import types
    import typing

    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _step(annotation: Any, part: Any) -> Any:
    import typing

    annotation = _unwrap(annotation)
    origin = typing.get_origin(annotation)
    if origin is dict:
        return typing.get_args(annotation)[1]
    if origin is list:
        return typing.get_args(annotation)[0]
    if _is_union(annotation):
        # A discriminated union's tag picks the member (`ranges.eta.categorical`).
        for member in typing.get_args(annotation):
            tag = getattr(member, "model_fields", {}).get("type")
            if tag is not None and part in typing.get_args(tag.annotation):
                return member
        return None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(str(part))
        return field.annotation if field is not None else None
    return None


def _short(value: Any, limit: int = 80) -> str:
    """repr(value), cut to `limit` characters: an error line stays readable for a 1 MB string."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 3]}..."


def _kind(value: Any) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number", bool: "true/false"}.get(
        type(value), type(value).__name__)
