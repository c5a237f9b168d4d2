"""Warm-start compatibility: what would make SageMaker refuse a child tuning job given its parents.

The rules (SageMaker developer guide, "Run a Warm Start Hyperparameter Tuning Job"):
same objective; the same set of static + tunable hyperparameter names; no tunable
hyperparameter changes type; at most 10 static changes (a categorical turned static
counts once per value); IdenticalDataAndAlgorithm keeps data and image; at most 5 parents;
fields outside the changeable list (environment, isolation, encryption) must match.

Fields added later, by the same rules (API reference, HyperParameterTuningJobWarmStartConfig.WarmStartType):
script mode's code (`algorithm.entry_point`, `source`) reaches SageMaker as static hyperparameters, so
turning it on or off changes the set of names and changing it counts toward the 10 static changes; an
algorithm resource (`algorithm.name`) or Hugging Face `base_framework` is part of the training image, and a
file system channel part of the input data, which identical_data_and_algorithm keeps. Checkpoints, retries,
`max_pending`, `instance_configs` and `output_compression` are neither data, image nor hyperparameters: a
child may change them.
"""

from __future__ import annotations

from dataclasses import dataclass

from amt_conductor.spec import render
from amt_conductor.spec.model import AutoRange, CategoricalRange, ContinuousRange, IntegerRange, Spec

MAX_PARENTS = 5
MAX_STATIC_CHANGES = 10


@dataclass(frozen=True)
class Problem:
    """One reason SageMaker would refuse the child; `parent` is the parent study's name."""

    parent: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message} (parent {self.parent})"


def _range_kind(r: object) -> str:
    if isinstance(r, ContinuousRange):
        return "continuous"
    if isinstance(r, IntegerRange):
        return "integer"
    if isinstance(r, AutoRange):
        return "auto"
    return "categorical"


ARTIFACTS_BUCKET = "<artifacts-bucket>"  # parent and child are studies of one stack: one artifacts bucket
REGION = "<region>"  # and run in one region


def static_hyperparameters(spec: Spec) -> dict[str, str]:
    """The static hyperparameters SageMaker sees, script mode's included: render's, with the region and the
    artifacts bucket (where a source_dir's archive lives, under a key that names the study) as placeholders."""
    return render.static_hyperparameters(spec, region=REGION, artifacts_bucket=ARTIFACTS_BUCKET)


def static_changes(child: Spec, parent: Spec) -> list[str]:
    """The changes that count toward SageMaker's limit of 10, one line each."""
    out: list[str] = []
    child_static, parent_static = static_hyperparameters(child), static_hyperparameters(parent)
    for name, value in child_static.items():
        if name in parent.ranges:
            r = parent.ranges[name]
            weight = len(r.values) if isinstance(r, CategoricalRange) else 1
            out.extend([f"{name}: tunable -> static ({value})"] * weight)
        elif name in parent_static and parent_static[name] != value:
            out.append(f"{name}: {parent_static[name]} -> {value}")
    return out


def compatibility_problems(child: Spec, parents: list[Spec], warm_type: str | None = None) -> list[Problem]:
    """Every reason SageMaker would refuse `child` warm-started from `parents` (empty: compatible).

    `warm_type` defaults to the child's warm_start.type, else identical_data_and_algorithm.
    """
    kind = warm_type or (child.warm_start.type if child.warm_start else "identical_data_and_algorithm")
    problems: list[Problem] = []
    if len(parents) > MAX_PARENTS:
        problems.append(Problem("*", "warm_start.parents", f"{len(parents)} parents; at most {MAX_PARENTS}"))
    for parent in parents:
        problems.extend(_against_definitions(child, parent, kind))
    return problems


def _against_definitions(child: Spec, parent: Spec, kind: str) -> list[Problem]:
    """Single-algorithm specs directly; multi-algorithm ones definition by definition, matched by name."""
    if not child.algorithms and not parent.algorithms:
        return _against(child, parent, kind)
    names = [d.name for d in child.algorithms or []]
    if names != [d.name for d in parent.algorithms or []]:
        # The definitions are what the parent's training jobs ran; a child compares with each by its name.
        return [Problem(parent.name, "algorithms", f"the definitions ({', '.join(names) or 'none'}) must be the "
                        f"parent's ({', '.join(d.name for d in parent.algorithms or []) or 'none'}), in order")]
    out: list[Problem] = []
    for i, (c, p) in enumerate(zip(child.definitions(), parent.definitions(), strict=True)):
        out.extend(Problem(x.parent, f"algorithms.{i}.{x.field}", x.message) if x.field.split(".")[0] in (
            "algorithm", "hyperparameters", "ranges", "data", "objective") else x for x in _against(c, p, kind))
    return list(dict.fromkeys(out))


def _against(child: Spec, parent: Spec, kind: str) -> list[Problem]:
    p = parent.name
    out: list[Problem] = []
    if child.objective.metric != parent.objective.metric:
        out.append(Problem(p, "objective.metric", f"changed {parent.objective.metric!r} -> "
                                                  f"{child.objective.metric!r}; it must stay the same"))
    if child.objective.goal != parent.objective.goal:
        out.append(Problem(p, "objective.goal", f"changed {parent.objective.goal} -> {child.objective.goal}"))
    child_names = set(static_hyperparameters(child)) | set(child.ranges)
    parent_names = set(static_hyperparameters(parent)) | set(parent.ranges)
    if child_names != parent_names:
        added, removed = sorted(child_names - parent_names), sorted(parent_names - child_names)
        parts = [f"added {', '.join(added)}"] if added else []
        parts += [f"removed {', '.join(removed)}"] if removed else []
        out.append(Problem(p, "hyperparameters", "the set of static + tunable names must stay the same: "
                           + "; ".join(parts) + " (declare future-tunable names as static from the start)"))
    for name, r in child.ranges.items():
        if name in parent.ranges and _range_kind(r) != _range_kind(parent.ranges[name]):
            out.append(Problem(p, f"ranges.{name}.type", f"changed {_range_kind(parent.ranges[name])} -> "
                                                         f"{_range_kind(r)}; a hyperparameter keeps its type"))
    changes = static_changes(child, parent)
    if len(changes) > MAX_STATIC_CHANGES:
        out.append(Problem(p, "hyperparameters", f"{len(changes)} static changes; at most {MAX_STATIC_CHANGES}: "
                                                 + "; ".join(changes)))
    if kind == "identical_data_and_algorithm":
        if _data_of(child) != _data_of(parent):
            out.append(Problem(p, "data", "changed; identical_data_and_algorithm needs the same input data "
                                          "(use transfer_learning)"))
        if _image_of(child) != _image_of(parent):
            out.append(Problem(p, "algorithm", "changed; identical_data_and_algorithm needs the same algorithm "
                                               "(use transfer_learning)"))
    if child.environment != parent.environment:
        out.append(Problem(p, "environment", "changed; SageMaker does not allow Environment to change in a "
                                             "warm start"))
    cn, pn = child.network, parent.network
    for attr in ("isolation", "encrypt_inter_container_traffic"):
        if (getattr(cn, attr) if cn else False) != (getattr(pn, attr) if pn else False):
            out.append(Problem(p, f"network.{attr}", "changed; it must match the parent in a warm start"))
    return out


def _image_of(spec: Spec) -> tuple[str | None, ...]:
    # A built-in algorithm's version picks its image as surely as a custom image's tag does.
    algo = spec.algo
    return algo.image, algo.builtin, algo.version, algo.name, algo.base_framework


def _data_of(spec: Spec) -> dict[str, object]:
    return {k: v.uri if v.file_system is None else v.file_system.model_dump() for k, v in spec.data.items()}


def describe_changes(child: Spec, parent: Spec) -> list[str]:
    """A readable diff of what the child changes relative to the parent (allowed or not)."""
    a, b = parent.model_dump(mode="json"), child.model_dump(mode="json")
    return [f"{path}: {old!r} -> {new!r}" for path, old, new in diff_paths(a, b, "")]


def diff_paths(a: object, b: object, path: str) -> list[tuple[str, object, object]]:
    """Every (dotted path, old, new) where two JSON-like values differ; dicts are compared key by key."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[tuple[str, object, object]] = []
        for key in sorted(set(a) | set(b), key=str):
            sub = f"{path}.{key}" if path else str(key)
            out.extend(diff_paths(a.get(key), b.get(key), sub))
        return out
    return [] if a == b else [(path, a, b)]
