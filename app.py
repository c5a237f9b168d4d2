#!/usr/bin/env python3
"""Builds the CDK app: reads the `amt:*` context, creates the stack (its TuningStudies validates configs/),
adds cdk-nag.

A bad spec or bad context stops the synth with one line per problem (`FILE: field: message`), no traceback.
"""

from __future__ import annotations

import sys
from typing import Any

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from amt_conductor.cdk.config import AppSettings, SynthError
from amt_conductor.cdk.ids import STACK_ID
from amt_conductor.spec.errors import SpecError
from stacks.amt_stack import AmtStack


def build(context: dict[str, Any] | None = None, *, nag: bool = True, **app_kwargs: Any) -> App:
    """The app with its one stack (not synthesized); `context` adds to/overrides the CLI's context."""
    app = App(context=context or {}, **app_kwargs)
    settings = AppSettings.from_context(app.node.try_get_context)
    env = Environment(account=settings.account, region=settings.region) \
        if settings.account or settings.region else None
    AmtStack(app, STACK_ID, settings=settings, env=env,
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
