#!/usr/bin/env python3
"""Builds the CDK app: reads the `amt:*` context, validates configs/, creates the stack, adds cdk-nag.

A bad spec or bad context stops the synth with one line per problem (`FILE: field: message`), no traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from amt_conductor.cdk.config import FEATURE_FLAGS, AppSettings, SynthError
from amt_conductor.cdk.ids import STACK_ID
from amt_conductor.contract import SPEC_SUFFIXES
from amt_conductor.spec.errors import SpecError
from amt_conductor.spec.loader import load_specs
from amt_conductor.spec.model import Spec
from amt_conductor.spec.naming import prefix_overlaps, study_prefix
from stacks.amt_stack import AmtStack


def load_configs(folder: Path) -> list[Spec]:
    """The specs in `folder` (none when it is missing or empty); raises SynthError listing every problem."""
    if not folder.is_dir() or not any(f.is_file() and f.suffix.lower() in SPEC_SUFFIXES for f in folder.rglob("*")):
        return []
    good, bad = load_specs([folder])
    if bad:
        lines = [line for err in bad for line in err.lines()]
        raise SynthError("\n".join(lines))
    path_of = {spec.name: path for path, spec in good}
    overlaps = [f"{path_of[b]}: name: {b!r} starts with {study_prefix(a)!r}, the job prefix of study {a!r} "
                f"({path_of[a]}): its jobs would fall under that study's IAM scope and controls; rename one"
                for a, b in prefix_overlaps(list(path_of))]
    if overlaps:
        raise SynthError("\n".join(overlaps))
    return [spec for _, spec in good]


def check_access(specs: list[Spec], settings: AppSettings) -> None:
    """What the specs ask of IAM that the context does not allow; raises SynthError listing each problem."""
    problems: list[str] = []
    for spec in specs:
        path = f"study {spec.name}"
        for prefix in settings.study_prefixes:
            if spec.name.startswith(prefix):
                problems.append(f"{path}: name: {spec.name!r} starts with the amt:studyPrefixes prefix {prefix!r}: "
                                "its jobs would run as that prefix's shared role; rename the study or the prefix")
        key = spec.kms_key_id or ""
        if key.startswith("arn:"):
            account = key.split(":")[4]
            own = settings.account
            if account != own and account not in settings.kms_key_accounts and own is not None:
                problems.append(f"{path}: kms_key_id: the key is in account {account}, not this stack's ({own}); "
                                "allow it with the amt:kmsKeyAccounts context")
    if problems:
        raise SynthError("\n".join(problems))


def build(context: dict[str, Any] | None = None, *, nag: bool = True, **app_kwargs: Any) -> App:
    """The app with its one stack (not synthesized); `context` adds to/overrides the CLI's context."""
    app = App(context={**FEATURE_FLAGS, **(context or {})}, **app_kwargs)
    settings = AppSettings.from_context(app.node.try_get_context)
    specs = load_configs(settings.configs_dir)
    check_access(specs, settings)
    env = Environment(account=settings.account, region=settings.region) \
        if settings.account or settings.region else None
    AmtStack(app, STACK_ID, settings=settings, specs=specs, env=env,
             description="amt-conductor: declarative SageMaker Automatic Model Tuning studies")
    if nag:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def main() -> int:
    try:
        app = build()
    except (SynthError, SpecError) as exc:
        print("cdk synth stopped:", file=sys.stderr)
        print(str(exc), file=sys.stderr)
        return 1
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
