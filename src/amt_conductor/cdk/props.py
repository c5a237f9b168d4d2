"""`TuningStudies`' props, checked before anything is built: each problem names the construct and the prop
(`TuningStudies Platform/Tuning: study_prefixes: ...`), as the `amt:*` context's checks name the key."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from typing import Any

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3

from amt_conductor.cdk.config import (
    ENVIRONMENTS,
    QUEUE_TIMEOUT_HOURS,
    RECONCILE_MINUTES,
    EnvSettings,
    SynthError,
    check_account_ids,
    check_data_prefixes,
    check_emails,
    check_quotas,
    check_range,
    check_study_prefixes,
    check_webhook_secret,
)
from amt_conductor.contract import Quotas

# A deployment's name: in IAM paths (`/amt/<name>/`) and the dashboard's name; its hash keys tags and rules.
DEPLOYMENT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")


def environment_settings(where: str, environment: str | EnvSettings, log_retention: logs.RetentionDays | None,
                         removal_policy: RemovalPolicy | None) -> EnvSettings:
    """The named (or given) environment's settings with the retention and removal props applied."""
    if isinstance(environment, str):
        if environment not in ENVIRONMENTS:
            raise SynthError(f"{where}: environment: must be one of {', '.join(ENVIRONMENTS)} or an EnvSettings "
                             f"(got {environment!r})")
        environment = ENVIRONMENTS[environment]
    if log_retention is not None:
        environment = dataclasses.replace(environment, log_retention=log_retention)
    if removal_policy is not None:
        environment = dataclasses.replace(environment, ephemeral_removal=removal_policy)
    return environment


def check_props(where: str, *, name: str, vpc: ec2.IVpc | None, vpc_subnets: ec2.SubnetSelection | None,
                security_groups: Sequence[ec2.ISecurityGroup], study_prefixes: Sequence[str],
                data_prefixes: Sequence[str], notify_emails: Sequence[str], chat_webhook_secret: str | None,
                kms_key_accounts: Sequence[str], quotas: Quotas, reconcile_minutes: int,
                queue_timeout_hours: int) -> None:
    """Raises SynthError for the first prop that is wrong."""
    if not DEPLOYMENT_NAME.fullmatch(name):
        raise SynthError(f"{where}: name: {name!r} must be letters, digits and '-', starting with a letter, at "
                         "most 128 (it is part of IAM paths and the dashboard's name)")
    checks: list[tuple[str, Callable[[Any], None], Any]] = [
        ("study_prefixes", check_study_prefixes, study_prefixes),
        ("data_prefixes", check_data_prefixes, data_prefixes),
        ("notify_emails", check_emails, notify_emails),
        ("chat_webhook_secret", check_webhook_secret, chat_webhook_secret),
        ("kms_key_accounts", check_account_ids, kms_key_accounts),
        ("quotas", check_quotas, quotas),
        ("reconcile_minutes", lambda v: check_range(v, RECONCILE_MINUTES), reconcile_minutes),
        ("queue_timeout_hours", lambda v: check_range(v, QUEUE_TIMEOUT_HOURS), queue_timeout_hours),
    ]
    for prop, check, value in checks:
        try:
            check(value)
        except ValueError as exc:
            raise SynthError(f"{where}: {prop}: {exc}") from None
    if vpc is None and (vpc_subnets is not None or security_groups):
        raise SynthError(f"{where}: vpc_subnets and security_groups need vpc")


def check_artifacts_key(where: str, stack: Stack, bucket: s3.IBucket | None, key: kms.IKey) -> None:
    """Reports and code archives are written with the bucket's default encryption, which our roles and the
    studies' roles may use only when it is our key (or SSE-S3)."""
    theirs = bucket.encryption_key if bucket is not None else None
    if theirs is not None and stack.resolve(theirs.key_arn) != stack.resolve(key.key_arn):
        raise SynthError(f"{where}: artifacts_bucket: it is encrypted with another KMS key than encryption_key; "
                         "pass that key as encryption_key too")
