"""Argument types shared by the `amt` subcommands: a bad value is a usage error (exit 2), never a traceback."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable


def positive_int(text: str) -> int:
    """A whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more (got {value})")
    return value


def _matching(pattern: str, what: str, example: str) -> Callable[[str], str]:
    compiled = re.compile(pattern)

    def check(text: str) -> str:
        if not compiled.fullmatch(text):
            raise argparse.ArgumentTypeError(f"not {what} (got {text!r}; e.g. {example})")
        return text

    return check


# The patterns SageMaker's API model and S3 enforce, so `amt render` never prints a request they reject.
role_arn = _matching(r"arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]{1,2000}", "an IAM role ARN",
                     "arn:aws:iam::123456789012:role/amt-sagemaker")
bucket_name = _matching(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]", "an S3 bucket name", "my-artifacts")
region_name = _matching(r"[a-z]{2}(-[a-z]+)+-\d", "an AWS region", "eu-west-1")
