"""Settings chosen at synth time: per-environment defaults (dev, prod) and the `amt:*` context keys.

No CloudFormation parameters: everything that varies is decided here, from context
(`cdk synth -c amt:env=prod`, or cdk.json), so a template says exactly what it deploys.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs

from amt_conductor.contract import DEFAULT_INSTANCE_QUOTA, DEFAULT_TUNING_JOB_QUOTA, Quotas
from amt_conductor.spec.access import MAX_PREFIX_LENGTH
from amt_conductor.spec.forms import parse_s3_uri

# Relative to where `cdk` runs (the app's directory), as CDK resolves relative paths.
ROOT = Path()

# Powertools for AWS Lambda (Python) v3 layer, published by AWS in every commercial region.
POWERTOOLS_ACCOUNT = "017000801446"
POWERTOOLS_LAYER = "AWSLambdaPowertoolsPythonV3-python312-x86_64"
POWERTOOLS_LAYER_VERSION = 27


# Feature flags the constructs rely on: `TuningStudies` sets them on itself, so they hold in any app
# (with or without them in its cdk.json).
FEATURE_FLAGS: dict[str, object] = {
    # Access logs delivered under a bucket policy, so every bucket can be owner-enforced (no ACLs).
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
}


class SynthError(Exception):
    """A problem with the inputs of a synth (context, props, specs): the app prints it, no traceback."""


@dataclass(frozen=True)
class EnvSettings:
    """What differs between environments."""

    name: str
    log_retention: logs.RetentionDays
    # Log groups, queues and the access-log bucket; data buckets, the registry and the key are always retained.
    ephemeral_removal: RemovalPolicy
    noncurrent_version_days: int
    access_log_days: int
    # Alarms: how many failures in one period page someone.
    failed_executions_threshold: int
    handler_errors_threshold: int
    throttles_threshold: int
    alarm_period_minutes: int


ENVIRONMENTS: dict[str, EnvSettings] = {
    "dev": EnvSettings(
        name="dev",
        log_retention=logs.RetentionDays.TWO_WEEKS,
        ephemeral_removal=RemovalPolicy.DESTROY,
        noncurrent_version_days=30,
        access_log_days=90,
        failed_executions_threshold=3,
        handler_errors_threshold=5,
        throttles_threshold=5,
        alarm_period_minutes=15,
    ),
    "prod": EnvSettings(
        name="prod",
        log_retention=logs.RetentionDays.ONE_YEAR,
        ephemeral_removal=RemovalPolicy.RETAIN,
        noncurrent_version_days=365,
        access_log_days=400,
        failed_executions_threshold=1,
        handler_errors_threshold=1,
        throttles_threshold=1,
        alarm_period_minutes=5,
    ),
}


class ContextKeys:
    """Every context key the app reads (documented in docs/operations.md)."""

    ENV = "amt:env"
    ACCOUNT = "amt:account"
    REGION = "amt:region"
    NOTIFY_EMAILS = "amt:notifyEmails"
    CHAT_WEBHOOK_URL = "amt:chatWebhookUrl"  # refused: a URL in context would be a literal in the template
    CHAT_WEBHOOK_SECRET = "amt:chatWebhookSecret"
    KMS_KEY_ACCOUNTS = "amt:kmsKeyAccounts"
    STUDY_PREFIXES = "amt:studyPrefixes"
    DATA_PREFIXES = "amt:dataPrefixes"
    CONFIGS_DIR = "amt:configsDir"
    RECONCILE_MINUTES = "amt:reconcileMinutes"
    # Model package groups `promote:` names that exist already: the stack references them instead of creating them.
    EXISTING_MODEL_PACKAGE_GROUPS = "amt:existingModelPackageGroups"
    # Account limits admission keeps within (docs/operations.md, Quotas and the queue).
    QUOTA_TUNING_JOBS = "amt:quotaTuningJobs"
    QUOTA_INSTANCES = "amt:quotaInstances"
    QUOTA_DEFAULT_INSTANCES = "amt:quotaDefaultInstances"
    QUEUE_TIMEOUT_HOURS = "amt:queueTimeoutHours"


# --- checks shared by the `amt:*` context and `TuningStudies`' props ---------------------------
# Each raises ValueError with a message that names no source: the caller prefixes the context key or the prop.

RECONCILE_MINUTES = (1, 1440)
QUEUE_TIMEOUT_HOURS = (1, 365 * 24)
QUOTA_TUNING_JOBS = (1, 100_000)
QUOTA_INSTANCES = (0, 100_000)


def check_emails(emails: Sequence[str]) -> None:
    for e in emails:
        if "@" not in e:
            raise ValueError(f"{e!r} is not an email address")


def check_webhook_secret(secret: str | None) -> None:
    if secret is not None and not re.fullmatch(r"[\w/+=.@-]{1,512}(:[\w.-]+)?", secret):
        raise ValueError(f"expected a Secrets Manager secret name, optionally with :json_field (got {secret!r})")


def check_account_ids(accounts: Sequence[str]) -> None:
    for acct in accounts:
        if not re.fullmatch(r"\d{12}", acct):
            raise ValueError(f"{acct!r} is not a 12-digit account id")


def check_data_prefixes(uris: Sequence[str]) -> None:
    for uri in uris:
        parse_s3_uri(uri)  # the IAM scope is derived from its bucket and prefix (raises ValueError)
        if "*" in uri or "?" in uri:
            raise ValueError(f"{uri!r}: IAM would read * and ? as wildcards")


def check_study_prefixes(prefixes: Sequence[str]) -> None:
    for p in prefixes:
        if not p or len(p) > MAX_PREFIX_LENGTH or not all(c.islower() or c.isdigit() or c == "-" for c in p):
            raise ValueError(f"{p!r} must be a study-name prefix (lowercase letters, digits, '-'; at most "
                             f"{MAX_PREFIX_LENGTH}; no wildcard)")


def check_range(value: int, bounds: tuple[int, int]) -> None:
    low, high = bounds
    if not low <= value <= high:
        raise ValueError(f"must be {low}-{high} (got {value})")


def check_quotas(quotas: Quotas) -> None:
    check_range(quotas.tuning_jobs, QUOTA_TUNING_JOBS)
    check_range(quotas.default_instances, QUOTA_INSTANCES)
    for itype, n in quotas.instances.items():
        if not str(itype).startswith("ml."):
            raise ValueError(f"{itype!r} is not an instance type (ml.*)")
        if n < 0:
            raise ValueError(f"{itype}: must be >= 0")


@dataclass(frozen=True)
class AppSettings:
    """The project app's `amt:*` context, parsed and checked once (app.py turns it into TuningStudies' props)."""

    env: EnvSettings
    account: str | None = None
    region: str | None = None
    notify_emails: tuple[str, ...] = ()
    chat_webhook_secret: str | None = None
    kms_key_accounts: tuple[str, ...] = ()
    study_prefixes: tuple[str, ...] = ()
    data_prefixes: tuple[str, ...] = ()
    configs_dir: Path = field(default=ROOT / "configs")
    reconcile_minutes: int = 15
    existing_model_package_groups: tuple[str, ...] = ()
    quotas: Quotas = field(default_factory=Quotas)
    queue_timeout_hours: int = 30 * 24

    @classmethod
    def from_context(cls, get: Callable[[str], Any]) -> AppSettings:
        """Read the `amt:*` keys with `get` (e.g. `app.node.try_get_context`); raises SynthError."""
        env_name = str(get(ContextKeys.ENV) or "dev")
        if env_name not in ENVIRONMENTS:
            raise SynthError(f"context {ContextKeys.ENV}: must be one of {', '.join(ENVIRONMENTS)} "
                             f"(got {env_name!r})")
        if get(ContextKeys.CHAT_WEBHOOK_URL):
            raise SynthError(f"context {ContextKeys.CHAT_WEBHOOK_URL}: a webhook URL is a credential and would be a "
                             f"literal in the template; store it in Secrets Manager and set "
                             f"{ContextKeys.CHAT_WEBHOOK_SECRET}=SECRET_NAME[:JSON_FIELD]")
        webhook = get(ContextKeys.CHAT_WEBHOOK_SECRET) or None
        settings = cls(
            env=ENVIRONMENTS[env_name],
            account=get(ContextKeys.ACCOUNT) or None,
            region=get(ContextKeys.REGION) or None,
            notify_emails=_strings(get, ContextKeys.NOTIFY_EMAILS),
            chat_webhook_secret=None if webhook is None else str(webhook),
            kms_key_accounts=_strings(get, ContextKeys.KMS_KEY_ACCOUNTS),
            study_prefixes=_strings(get, ContextKeys.STUDY_PREFIXES),
            data_prefixes=_strings(get, ContextKeys.DATA_PREFIXES),
            configs_dir=Path(get(ContextKeys.CONFIGS_DIR) or ROOT / "configs"),
            reconcile_minutes=_int(get, ContextKeys.RECONCILE_MINUTES, 15, RECONCILE_MINUTES),
            existing_model_package_groups=_strings(get, ContextKeys.EXISTING_MODEL_PACKAGE_GROUPS),
            quotas=_quotas(get),
            queue_timeout_hours=_int(get, ContextKeys.QUEUE_TIMEOUT_HOURS, 30 * 24, QUEUE_TIMEOUT_HOURS),
        )
        checks: list[tuple[str, Callable[[Any], None], Any]] = [
            (ContextKeys.NOTIFY_EMAILS, check_emails, settings.notify_emails),
            (ContextKeys.CHAT_WEBHOOK_SECRET, check_webhook_secret, settings.chat_webhook_secret),
            (ContextKeys.KMS_KEY_ACCOUNTS, check_account_ids, settings.kms_key_accounts),
            (ContextKeys.DATA_PREFIXES, check_data_prefixes, settings.data_prefixes),
            (ContextKeys.STUDY_PREFIXES, check_study_prefixes, settings.study_prefixes),
        ]
        for key, check, value in checks:
            try:
                check(value)
            except ValueError as exc:
                raise SynthError(f"context {key}: {exc}") from None
        return settings


def _int(get: Callable[[str], Any], key: str, default: int, bounds: tuple[int, int]) -> int:
    raw = get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise SynthError(f"context {key}: not a whole number ({raw!r})") from None
    try:
        check_range(value, bounds)
    except ValueError as exc:
        raise SynthError(f"context {key}: {exc}") from None
    return value


def _quotas(get: Callable[[str], Any]) -> Quotas:
    """amt:quotaTuningJobs, amt:quotaDefaultInstances, and amt:quotaInstances as a JSON object
    (`{"ml.p3.2xlarge": 4}`) or `type=n,type=n`."""
    raw = get(ContextKeys.QUOTA_INSTANCES) or {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip().startswith("{") else dict(
                (k.strip(), v.strip()) for k, v in (pair.split("=", 1) for pair in raw.split(",") if pair.strip()))
        except ValueError:
            raise SynthError(f"context {ContextKeys.QUOTA_INSTANCES}: expected a JSON object or "
                             "type=count,type=count") from None
    if not isinstance(raw, dict):
        raise SynthError(f"context {ContextKeys.QUOTA_INSTANCES}: expected an object of instance type -> count")
    instances: dict[str, int] = {}
    for itype, n in raw.items():
        try:
            instances[str(itype)] = int(n)
        except (TypeError, ValueError):
            raise SynthError(f"context {ContextKeys.QUOTA_INSTANCES}: {itype}: not a whole number ({n!r})") from None
    quotas = Quotas(
        tuning_jobs=_int(get, ContextKeys.QUOTA_TUNING_JOBS, DEFAULT_TUNING_JOB_QUOTA, QUOTA_TUNING_JOBS),
        instances=instances,
        default_instances=_int(get, ContextKeys.QUOTA_DEFAULT_INSTANCES, DEFAULT_INSTANCE_QUOTA, QUOTA_INSTANCES))
    try:
        check_quotas(quotas)
    except ValueError as exc:
        raise SynthError(f"context {ContextKeys.QUOTA_INSTANCES}: {exc}") from None
    return quotas


def _strings(get: Callable[[str], Any], key: str) -> tuple[str, ...]:
    """A list from context: a JSON list (cdk.json) or a comma-separated string (`-c key=a,b`)."""
    value = get(key)
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise SynthError(f"context {key}: invalid JSON list ({exc.msg})") from None
        else:
            value = [v for v in (s.strip() for s in text.split(",")) if v]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SynthError(f"context {key}: expected a list of strings")
    return tuple(value)
