"""Reviews where pull requests happen: `amt plan --format markdown` and `amt diff --format markdown`.

The text is GitHub-flavoured Markdown, meant to be pasted or posted as a pull request comment.
`amt diff` compares two versions of a study (two files) or of a folder of studies (matched by
study name): for each study, what changes in its search space, its worst-case cost, whether
SageMaker would accept the new version warm-started from the old, and which request fields change.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amt_conductor.contract import SPEC_SUFFIXES
from amt_conductor.spec.errors import SpecError
from amt_conductor.spec.loader import load_specs
from amt_conductor.spec.model import Spec
from amt_conductor.spec.plan import Plan, make_plan
from amt_conductor.spec.render import render_request
from amt_conductor.spec.warmstart import compatibility_problems, diff_paths

# Rendering needs a place to run; the review compares two renderings made with the same values,
# so these never show up in a change.
REVIEW_REGION = "us-east-1"
REVIEW_ROLE = "arn:aws:iam::123456789012:role/amt-review"
REVIEW_BUCKET = "amt-review-artifacts"
# A pull request comment is read, not scrolled: more changed request fields than this are summarized.
MAX_FIELD_ROWS = 40

# Lists in the request whose items have a name: diffed item by item (by name), not as a whole.
_KEYED_LISTS = {
    "ContinuousParameterRanges": "Name",
    "IntegerParameterRanges": "Name",
    "CategoricalParameterRanges": "Name",
    "AutoParameters": "Name",
    "MetricDefinitions": "Name",
    "InputDataConfig": "ChannelName",
    "TrainingJobDefinitions": "DefinitionName",
    "Tags": "Key",
}


def _cell(value: object) -> str:
    """A value inside a Markdown table cell, as JSON (a string "10" is not the number 10), in code."""
    if value is None:
        return "-"
    text = json.dumps(value, ensure_ascii=False)
    return "`" + text.replace("|", "\\|").replace("`", "'").replace("\n", " ") + "`"


def _table(header: tuple[str, ...], rows: Iterable[tuple[str, ...]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


# --- plan ---------------------------------------------------------------------------------------

def plan_markdown(entries: Iterable[tuple[Path, Spec]]) -> str:
    """One section per spec: what it will do and cost, and its warnings."""
    out: list[str] = ["## amt plan", ""]
    for path, spec in entries:
        plan = make_plan(spec)
        out += [f"### `{spec.name}` ({path})", ""]
        out += _table(("", "value"), ((k, v) for k, v in _plan_rows(plan)))
        out.append("")
        out += [f"- :warning: {w}" for w in plan.warnings] or ["No warnings."]
        out.append("")
    return "\n".join(out)


def _plan_rows(plan: Plan) -> list[tuple[str, str]]:
    return [
        ("strategy", plan.strategy),
        ("first job name", f"`{plan.job_name}`"),
        ("search space", plan.search_space),
        ("training jobs", f"{plan.max_jobs} per round, {plan.parallel} in parallel"),
        ("rounds", str(plan.rounds)),
        ("worst case per round", f"{plan.worst_case_hours_per_round:g} instance-hours billed, "
                                 f"{plan.worst_case_round_time} wall clock"),
        ("worst case in all", f"{plan.worst_case_hours_total:g} instance-hours"),
    ]


# --- diff ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StudyChange:
    """One study in a diff: `old` or `new` is None when the study was added or removed."""

    name: str
    old: tuple[Path, Spec] | None
    new: tuple[Path, Spec] | None
    warm_type: str | None = None

    @property
    def refused(self) -> list[str]:
        """Why SageMaker would refuse the new version warm-started from the old one (empty: accepted)."""
        if self.old is None or self.new is None:
            return []
        new = self.new[1]
        kind = self.warm_type or (new.warm_start.type if new.warm_start else "identical_data_and_algorithm")
        return [f"{p.field}: {p.message}" for p in compatibility_problems(new, [self.old[1]], kind)]


def pair_studies(old: list[tuple[Path, Spec]], new: list[tuple[Path, Spec]],
                 warm_type: str | None = None) -> list[StudyChange]:
    """Match two versions of a set of specs by study name; with one spec on each side, pair them."""
    if len(old) == 1 and len(new) == 1:
        return [StudyChange(new[0][1].name, old[0], new[0], warm_type)]
    by_old = {s.name: (p, s) for p, s in old}
    by_new = {s.name: (p, s) for p, s in new}
    return [StudyChange(n, by_old.get(n), by_new.get(n), warm_type) for n in sorted(set(by_old) | set(by_new))]


def request_changes(old: Spec, new: Spec) -> list[tuple[str, object, object]]:
    """The CreateHyperParameterTuningJob fields that differ between two versions (round 1, no parents)."""
    a, b = (_keyed(render_request(s, region=REVIEW_REGION, role_arn=REVIEW_ROLE, output_bucket=REVIEW_BUCKET))
            for s in (old, new))
    return diff_paths(a, b, "")


def _keyed(value: Any) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            key = _KEYED_LISTS.get(k)
            if key and isinstance(v, list) and all(isinstance(i, dict) and key in i for i in v):
                out[k] = {str(i[key]): _keyed({f: x for f, x in i.items() if f != key}) for i in v}
            else:
                out[k] = _keyed(v)
        return out
    if isinstance(value, list):
        return [_keyed(v) for v in value]
    return value


def diff_markdown(changes: list[StudyChange]) -> str:
    """The pull request comment for a set of study changes."""
    changed = [c for c in changes if c.old is None or c.new is None or _differs(c)]
    out = ["## amt diff", ""]
    if not changed:
        return "\n".join([*out, "No study changes.", ""])
    out += _table(("study", "change", "worst case per round", "warm start"),
                  (_summary_row(c) for c in changed))
    out.append("")
    for c in changed:
        out += _study_section(c)
    return "\n".join(out)


def _differs(c: StudyChange) -> bool:
    assert c.old is not None and c.new is not None
    return c.old[1] != c.new[1]


def _hours(spec: Spec) -> float:
    return make_plan(spec).worst_case_hours_per_round


def _summary_row(c: StudyChange) -> tuple[str, ...]:
    if c.old is None:
        assert c.new is not None
        return (f"`{c.name}`", "added", f"{_hours(c.new[1]):g} instance-hours", "-")
    if c.new is None:
        return (f"`{c.name}`", "removed", "-", "-")
    before, after = _hours(c.old[1]), _hours(c.new[1])
    cost = f"{before:g} → {after:g} instance-hours" if before != after else f"{after:g} instance-hours (same)"
    verdict = ":x: refused" if c.refused else ":white_check_mark: accepted"
    return (f"`{c.name}`", "changed", cost, verdict)


def _study_section(c: StudyChange) -> list[str]:
    out = [f"### `{c.name}`", ""]
    if c.old is None or c.new is None:
        path, spec = c.new or c.old  # type: ignore[misc]
        verb = "Added" if c.old is None else "Removed"
        plan = make_plan(spec)
        out += [f"{verb}: `{path}`. {plan.search_space}; {plan.max_jobs} training jobs per round, "
                f"{plan.worst_case_hours_per_round:g} instance-hours per round in the worst case.", ""]
        return out
    (old_path, old), (new_path, new) = c.old, c.new
    before, after = make_plan(old), make_plan(new)
    out += _table(("", "before", "after"), [
        ("file", f"`{old_path}`", f"`{new_path}`"),
        ("search space", before.search_space, after.search_space),
        ("training jobs per round", f"{before.max_jobs} ({before.parallel} in parallel)",
         f"{after.max_jobs} ({after.parallel} in parallel)"),
        ("worst case per round", f"{before.worst_case_hours_per_round:g} instance-hours",
         f"{after.worst_case_hours_per_round:g} instance-hours"),
        ("worst case in all", f"{before.worst_case_hours_total:g} instance-hours",
         f"{after.worst_case_hours_total:g} instance-hours"),
    ])
    out.append("")
    refused = c.refused
    if refused:
        out.append("**Warm start: SageMaker would refuse** the new version warm-started from the old one:")
        out += [f"- {r}" for r in refused]
    else:
        out.append("**Warm start:** SageMaker accepts the new version warm-started from the old one.")
    out.append("")
    try:
        fields = request_changes(old, new)
    except ValueError as exc:  # ImageError: e.g. a built-in with no image in the review region
        return [*out, f"The request could not be rendered for comparison: {exc}", ""]
    out += [f"Request fields that change ({len(fields)}):", ""]
    rows = [(f"`{path}`", _cell(a), _cell(b)) for path, a, b in fields[:MAX_FIELD_ROWS]]
    out += _table(("field", "before", "after"), rows)
    if len(fields) > MAX_FIELD_ROWS:
        out.append(f"\n…and {len(fields) - MAX_FIELD_ROWS} more (run `amt render` on both versions).")
    out.append("")
    return out


def load_sides(old: str, new: str) -> tuple[list[tuple[Path, Spec]], list[tuple[Path, Spec]], list[SpecError]]:
    """Both sides of a diff (each a file or a folder), and every problem found in either."""
    old_good, old_bad = _load_side(old)
    new_good, new_bad = _load_side(new)
    return old_good, new_good, old_bad + new_bad


def _load_side(path: str) -> tuple[list[tuple[Path, Spec]], list[SpecError]]:
    # A folder with no spec yet is a side with no studies (a pull request adding the first one).
    p = Path(path)
    if p.is_dir() and not any(f.is_file() and f.suffix.lower() in SPEC_SUFFIXES for f in p.rglob("*")):
        return [], []
    return load_specs([path])
