"""The specs a `TuningStudies` deploys: loaded from their folder and checked at synth time, so a bad spec
stops `cdk synth` with its file and field named (`configs/churn.yaml: ranges.eta.min: ...`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from amt_conductor.cdk.config import SynthError
from amt_conductor.contract import SPEC_SUFFIXES
from amt_conductor.spec.loader import load_specs
from amt_conductor.spec.model import Spec
from amt_conductor.spec.naming import prefix_overlaps, study_prefix


def spec_files(folder: Path) -> list[Path]:
    """The spec files under `folder` (none when it is missing)."""
    if not folder.is_dir():
        return []
    return sorted(f for f in folder.rglob("*") if f.is_file() and f.suffix.lower() in SPEC_SUFFIXES)


def load_configs(folder: Path) -> list[Spec]:
    """The specs in `folder` (none when it is missing or empty); raises SynthError listing every problem."""
    if not spec_files(folder):
        return []
    good, bad = load_specs([folder])
    if bad:
        raise SynthError("\n".join(line for err in bad for line in err.lines()))
    path_of = {spec.name: path for path, spec in good}
    overlaps = [f"{path_of[b]}: name: {b!r} starts with {study_prefix(a)!r}, the job prefix of study {a!r} "
                f"({path_of[a]}): its jobs would fall under that study's IAM scope and controls; rename one"
                for a, b in prefix_overlaps(list(path_of))]
    if overlaps:
        raise SynthError("\n".join(overlaps))
    return [spec for _, spec in good]


def check_access(specs: Sequence[Spec], *, study_prefixes: Sequence[str], account: str | None,
                 kms_key_accounts: Sequence[str]) -> None:
    """What the specs ask of IAM that the props do not allow; raises SynthError listing each problem.
    `account` is the stack's when it is known at synth time (a key in another account is then refused here;
    otherwise a CloudFormation rule refuses it at deploy time)."""
    problems: list[str] = []
    for spec in specs:
        path = f"study {spec.name}"
        for prefix in study_prefixes:
            if spec.name.startswith(prefix):
                problems.append(f"{path}: name: {spec.name!r} starts with the study prefix {prefix!r} "
                                "(amt:studyPrefixes): its jobs would run as that prefix's shared role; rename the "
                                "study or the prefix")
        key = spec.kms_key_id or ""
        if key.startswith("arn:") and account is not None:
            key_account = key.split(":")[4]
            if key_account != account and key_account not in kms_key_accounts:
                problems.append(f"{path}: kms_key_id: the key is in account {key_account}, not this stack's "
                                f"({account}); allow it with kms_key_accounts (the amt:kmsKeyAccounts context)")
    if problems:
        raise SynthError("\n".join(problems))
