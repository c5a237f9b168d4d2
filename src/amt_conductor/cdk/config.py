"""Settings chosen at synth time: per-environment defaults (dev, prod) and the `amt:*` context keys.

No CloudFormation parameters: everything that varies is decided here, from context
(`cdk synth -c amt:env=prod`, or cdk.json), so a template says exactly what it deploys.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
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


# Feature flags the stack relies on (set by app.py, so they hold without cdk.json too).
FEATURE_FLAGS: dict[str, object] = {
    # Access logs delivered under a bucket policy, so every bucket can be owner-enforced (no ACLs).
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
}


class SynthError(Exception):
    """A problem with the inputs of a synth (context, missing build output): printed, no traceback."""


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
    LAYER_DIR = "amt:layerDir"
    RECONCILE_MINUTES = "amt:reconcileMinutes"
    # Model package groups `promote:` names that exist already: the stack references them instead of creating them.
    EXISTING_MODEL_PACKAGE_GROUPS = "amt:existingModelPackageGroups"
    # Account limits admission keeps within (docs/operations.md, Quotas and the queue).
    QUOTA_TUNING_JOBS = "amt:quotaTuningJobs"
    QUOTA_INSTANCES = "amt:quotaInstances"
    QUOTA_DEFAULT_INSTANCES = "amt:quotaDefaultInstances"
    QUEUE_TIMEOUT_HOURS = "amt:queueTimeoutHours"


@dataclass(frozen=True)
class AppSettings:
    """Everything the stack needs from context, parsed and checked once."""

    env: EnvSettings
    account: str | None = None
    region: str | None = None
    notify_emails: tuple[str, ...] = ()
    chat_webhook_secret: str | None = None
    kms_key_accounts: tuple[str, ...] = ()
    study_prefixes: tuple[str, ...] = ()
    data_prefixes: tuple[str, ...] = ()
    configs_dir: Path = field(default=ROOT / "configs")
    layer_dir: Path = field(default=ROOT / "build" / "layer")
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
        emails = _strings(get, ContextKeys.NOTIFY_EMAILS)
        for e in emails:
            if "@" not in e:
                raise SynthError(f"context {ContextKeys.NOTIFY_EMAILS}: {e!r} is not an email address")
        if get(ContextKeys.CHAT_WEBHOOK_URL):
            raise SynthError(f"context {ContextKeys.CHAT_WEBHOOK_URL}: a webhook URL is a credential and would be a "
                             f"literal in the template; store it in Secrets Manager and set "
                             f"{ContextKeys.CHAT_WEBHOOK_SECRET}=SECRET_NAME[:JSON_FIELD]")
        webhook = get(ContextKeys.CHAT_WEBHOOK_SECRET) or None
        if webhook is not None and not re.fullmatch(r"[\w/+=.@-]{1,512}(:[\w.-]+)?", str(webhook)):
            raise SynthError(f"context {ContextKeys.CHAT_WEBHOOK_SECRET}: expected a Secrets Manager secret name, "
                             f"optionally with :json_field (got {webhook!r})")
        kms_accounts = _strings(get, ContextKeys.KMS_KEY_ACCOUNTS)
        for acct in kms_accounts:
            if not re.fullmatch(r"\d{12}", acct):
                raise SynthError(f"context {ContextKeys.KMS_KEY_ACCOUNTS}: {acct!r} is not a 12-digit account id")
        data = _strings(get, ContextKeys.DATA_PREFIXES)
        for uri in data:
            try:
                parse_s3_uri(uri)  # the IAM scope is derived from its bucket and prefix
            except ValueError as exc:
                raise SynthError(f"context {ContextKeys.DATA_PREFIXES}: {exc}") from None
            if "*" in uri or "?" in uri:
                raise SynthError(f"context {ContextKeys.DATA_PREFIXES}: {uri!r}: IAM would read * and ? as wildcards")
        prefixes = _strings(get, ContextKeys.STUDY_PREFIXES)
        for p in prefixes:
            if not p or len(p) > MAX_PREFIX_LENGTH or not all(c.islower() or c.isdigit() or c == "-" for c in p):
                raise SynthError(f"context {ContextKeys.STUDY_PREFIXES}: {p!r} must be a study-name prefix "
                                 f"(lowercase letters, digits, '-'; at most {MAX_PREFIX_LENGTH}; no wildcard)")
        minutes = get(ContextKeys.RECONCILE_MINUTES) or 15
        try:
            reconcile = int(minutes)
        except (TypeError, ValueError):
            raise SynthError(f"context {ContextKeys.RECONCILE_MINUTES}: not a number ({minutes!r})") from None
        if not 1 <= reconcile <= 1440:
            raise SynthError(f"context {ContextKeys.RECONCILE_MINUTES}: must be 1-1440 (got {reconcile})")
        quotas = _quotas(get)
        queue_hours = _int(get, ContextKeys.QUEUE_TIMEOUT_HOURS, 30 * 24, 1, 365 * 24)
        configs = get(ContextKeys.CONFIGS_DIR)
        layer = get(ContextKeys.LAYER_DIR)
        return cls(
            env=ENVIRONMENTS[env_name],
            account=get(ContextKeys.ACCOUNT) or None,
            region=get(ContextKeys.REGION) or None,
            notify_emails=emails,
            chat_webhook_secret=webhook,
            kms_key_accounts=kms_accounts,
            study_prefixes=prefixes,
            data_prefixes=data,
            configs_dir=Path(configs) if configs else ROOT / "configs",
            layer_dir=Path(layer) if layer else ROOT / "build" / "layer",
            reconcile_minutes=reconcile,
            existing_model_package_groups=_strings(get, ContextKeys.EXISTING_MODEL_PACKAGE_GROUPS),
            quotas=quotas,
            queue_timeout_hours=queue_hours,
        )


def _int(get: Callable[[str], Any], key: str, default: int, low: int, high: int) -> int:
    raw = get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise SynthError(f"context {key}: not a whole number ({raw!r})") from None
    if not low <= value <= high:
        raise SynthError(f"context {key}: must be {low}-{high} (got {value})")
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
        if not str(itype).startswith("ml."):
            raise SynthError(f"context {ContextKeys.QUOTA_INSTANCES}: {itype!r} is not an instance type (ml.*)")
        try:
            instances[str(itype)] = int(n)
        except (TypeError, ValueError):
            raise SynthError(f"context {ContextKeys.QUOTA_INSTANCES}: {itype}: not a whole number ({n!r})") from None
        if instances[str(itype)] < 0:
            raise SynthError(f"context {ContextKeys.QUOTA_INSTANCES}: {itype}: must be >= 0")
    return Quotas(
        tuning_jobs=_int(get, ContextKeys.QUOTA_TUNING_JOBS, DEFAULT_TUNING_JOB_QUOTA, 1, 100_000),
        instances=instances,
        default_instances=_int(get, ContextKeys.QUOTA_DEFAULT_INSTANCES, DEFAULT_INSTANCE_QUOTA, 0, 100_000))


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
