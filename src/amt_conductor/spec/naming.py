"""SageMaker and Step Functions names, derived deterministically (named once, here).

A tuning job is `<study>-r<round>-<hash6>`: the same spec and round always give the same
name (so a retry adopts the job instead of launching twice), and any change to the spec
gives a new one. Names fit SageMaker's 32 characters and `[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}`.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the start handler names executions without paying for pydantic
    from amt_conductor.spec.model import Spec

JOB_NAME_MAX = 32
HASH_LEN = 6
# Every run of a study continues its round numbering (uploads, schedules), so names must fit far
# beyond one run's rounds.max: study names are sized for this many rounds.
ROUND_HORIZON = 999
JOB_NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$")
EXECUTION_NAME_MAX = 80
_EXEC_SAFE = re.compile(r"[^0-9A-Za-z_-]")


def suffix_length(round_no: int) -> int:
    """Characters the `-r<round>-<hash>` suffix takes."""
    return len(f"-r{round_no}-") + HASH_LEN


def max_study_name_length(max_round: int | None = None) -> int:
    """Longest study name whose job names fit 32 characters up to round `max_round` (default: the horizon)."""
    return JOB_NAME_MAX - suffix_length(ROUND_HORIZON if max_round is None else max_round)


# Fields added to spec version 1 after its first release. While unset they are left out of the digest,
# so upgrading amt-conductor renames no existing study's jobs (a running round keeps adopting its job).
ADDED_FIELDS = frozenset({
    "checkpoint", "retry", "max_pending", "instance_configs", "output_compression", "name",
    "entry_point", "source", "attribute_names", "shuffle_seed", "record_wrapper", "file_system", "algorithms",
    "autotune", "base_framework", "example", "source_dir", "source_sha256", "promote", "triggers",
})


def _without_unset_additions(value: object) -> object:
    if isinstance(value, dict):
        return {k: _without_unset_additions(v) for k, v in value.items()
                if not (k in ADDED_FIELDS and v in (None, False, [], {}))}
    if isinstance(value, list):
        return [_without_unset_additions(v) for v in value]
    return value


def spec_hash(spec: Spec) -> str:
    """A short, stable digest of everything in the spec."""
    # `priority` orders the admission queue and changes nothing SageMaker runs: it renames no job.
    data = _without_unset_additions(spec.model_dump(mode="json", exclude={"priority"}))
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def job_name(spec: Spec, round_no: int) -> str:
    """The tuning job name for `spec` in round `round_no` (1-based)."""
    if round_no < 1:
        raise ValueError(f"round must be >= 1 (got {round_no})")
    name = f"{spec.name}-r{round_no}-{spec_hash(spec)[:HASH_LEN]}"
    if len(name) > JOB_NAME_MAX:
        raise ValueError(f"job name {name!r} is longer than {JOB_NAME_MAX} characters")
    return name


def study_prefix(study: str) -> str:
    """The prefix every tuning and training job of `study` starts with (for IAM scoping)."""
    return f"{study}-r"


def execution_name(study: str, token: str) -> str:
    """A Step Functions execution name for one run of `study` triggered by `token`
    (an S3 object version, a schedule time): the same token gives the same name."""
    digest = hashlib.sha256(f"{study}\0{token}".encode()).hexdigest()[:16]
    head = _EXEC_SAFE.sub("-", study)[: EXECUTION_NAME_MAX - len(digest) - 1]
    return f"{head}-{digest}"


def prefix_overlaps(studies: list[str]) -> list[tuple[str, str]]:
    """Pairs (a, b) where b's job names start with a's job prefix (`churn-r` covers `churn-rare-r1-...`):
    IAM statements and event rules scoped to a's prefix would also cover b's jobs."""
    return [(a, b) for a in studies for b in studies if a != b and study_prefix(b).startswith(study_prefix(a))]
