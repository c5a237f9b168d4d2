"""Names shared by the infrastructure and the runtime: environment variable keys,
the registry's key schema, and the typed settings the handlers read at cold start.

The stack sets exactly these variables (it imports this module), and the handlers
parse them once per cold start with `Settings.from_env()`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field


class EnvKeys:
    """Environment variable keys, named once."""

    REGISTRY_TABLE = "AMT_REGISTRY_TABLE"
    ARTIFACTS_BUCKET = "AMT_ARTIFACTS_BUCKET"
    CONFIGS_BUCKET = "AMT_CONFIGS_BUCKET"
    CONFIGS_PREFIX = "AMT_CONFIGS_PREFIX"
    TOPIC_ARN = "AMT_TOPIC_ARN"
    # One role for every study (tests, CLI); a deployed stack sets ROLE_ARN_BASE and STACK_KEY instead and
    # each study runs as its own role (amt_conductor.spec.access).
    EXECUTION_ROLE_ARN = "AMT_EXECUTION_ROLE_ARN"
    ROLE_ARN_BASE = "AMT_ROLE_ARN_BASE"
    STACK_KEY = "AMT_STACK_KEY"
    # The stack's KMS key: outputs of specs without kms_key_id are encrypted with it.
    KMS_KEY_ARN = "AMT_KMS_KEY_ARN"
    STATE_MACHINE_ARN = "AMT_STATE_MACHINE_ARN"
    REPORTS_PREFIX = "AMT_REPORTS_PREFIX"
    QUIET_MINUTES = "AMT_RECONCILE_QUIET_MINUTES"
    # Comma-separated study-name prefixes of uploaded studies (amt:studyPrefixes): they run as the prefix's role.
    STUDY_PREFIXES = "AMT_STUDY_PREFIXES"
    # Comma-separated model package groups the Promote function may register in (the reviewed specs').
    MODEL_PACKAGE_GROUPS = "AMT_MODEL_PACKAGE_GROUPS"
    # The account's SageMaker limits admission keeps within (JSON, `Quotas.to_env`).
    QUOTAS = "AMT_QUOTAS"
    # Powertools reads these two itself.
    SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"
    METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"


class RegistrySchema:
    """Key schema of the DynamoDB registry (single table)."""

    PK = "pk"
    SK = "sk"
    # Sparse index of tuning jobs a workflow is waiting on: only items with `inflight` set appear.
    INFLIGHT_INDEX = "inflight"
    INFLIGHT_PK = "inflight"
    INFLIGHT_SK = "updated_at"


SPEC_SUFFIXES = (".yaml", ".yml", ".json")
DEFAULT_CONFIGS_PREFIX = "configs/"
# The specs deployed from configs/, written by the stack's deployment only (amt_conductor.runtime.deployed).
DEPLOYED_SPECS_KEY = "deployed/specs.json"
DEFAULT_REPORTS_PREFIX = "reports/"
DEFAULT_QUIET_MINUTES = 30
METRICS_NAMESPACE = "AmtConductor"


# AWS's default SageMaker quotas, used unless the amt:quota* context keys say otherwise: 100 concurrent
# hyperparameter tuning jobs per account and region; training instances per instance type vary by type and
# account (new accounts often have 0 GPU instances), so 20 is only a starting point: set yours.
DEFAULT_TUNING_JOB_QUOTA = 100
DEFAULT_INSTANCE_QUOTA = 20


@dataclass(frozen=True)
class Quotas:
    """Concurrent tuning jobs, and training instances per instance type, our runs may hold at once."""

    tuning_jobs: int = DEFAULT_TUNING_JOB_QUOTA
    instances: dict[str, int] = field(default_factory=dict)
    default_instances: int = DEFAULT_INSTANCE_QUOTA

    def instance_limit(self, instance_type: str) -> int:
        return int(self.instances.get(instance_type, self.default_instances))

    def to_env(self) -> str:
        return json.dumps({"tuning_jobs": self.tuning_jobs, "instances": self.instances,
                           "default_instances": self.default_instances}, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_env(cls, text: str) -> Quotas:
        doc = json.loads(text) if text else {}
        return cls(tuning_jobs=int(doc.get("tuning_jobs", DEFAULT_TUNING_JOB_QUOTA)),
                   instances={str(k): int(v) for k, v in (doc.get("instances") or {}).items()},
                   default_instances=int(doc.get("default_instances", DEFAULT_INSTANCE_QUOTA)))


@dataclass(frozen=True)
class Settings:
    """What a handler may need from its environment; missing keys are empty strings."""

    registry_table: str
    artifacts_bucket: str
    configs_bucket: str
    configs_prefix: str
    topic_arn: str
    execution_role_arn: str
    state_machine_arn: str
    reports_prefix: str
    quiet_minutes: int
    study_prefixes: tuple[str, ...] = ()
    model_package_groups: tuple[str, ...] = ()
    quotas: Quotas = field(default_factory=Quotas)
    role_arn_base: str = ""
    stack_key: str = ""
    kms_key_arn: str = ""

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Read the settings from `env` (default: os.environ)."""
        e = os.environ if env is None else env
        return cls(
            registry_table=e.get(EnvKeys.REGISTRY_TABLE, ""),
            artifacts_bucket=e.get(EnvKeys.ARTIFACTS_BUCKET, ""),
            configs_bucket=e.get(EnvKeys.CONFIGS_BUCKET, ""),
            configs_prefix=e.get(EnvKeys.CONFIGS_PREFIX, DEFAULT_CONFIGS_PREFIX),
            topic_arn=e.get(EnvKeys.TOPIC_ARN, ""),
            execution_role_arn=e.get(EnvKeys.EXECUTION_ROLE_ARN, ""),
            state_machine_arn=e.get(EnvKeys.STATE_MACHINE_ARN, ""),
            reports_prefix=e.get(EnvKeys.REPORTS_PREFIX, DEFAULT_REPORTS_PREFIX),
            quiet_minutes=int(e.get(EnvKeys.QUIET_MINUTES, str(DEFAULT_QUIET_MINUTES))),
            study_prefixes=tuple(p for p in e.get(EnvKeys.STUDY_PREFIXES, "").split(",") if p),
            model_package_groups=tuple(g for g in e.get(EnvKeys.MODEL_PACKAGE_GROUPS, "").split(",") if g),
            quotas=Quotas.from_env(e.get(EnvKeys.QUOTAS, "")),
            role_arn_base=e.get(EnvKeys.ROLE_ARN_BASE, ""),
            stack_key=e.get(EnvKeys.STACK_KEY, ""),
            kms_key_arn=e.get(EnvKeys.KMS_KEY_ARN, ""),
        )


class StackOutputs:
    """CloudFormation output keys the stack exports and `amt submit`/`amt status` read."""

    CONFIGS_BUCKET = "ConfigsBucketName"
    CONFIGS_PREFIX = "ConfigsPrefix"
    ARTIFACTS_BUCKET = "ArtifactsBucketName"
    REGISTRY_TABLE = "RegistryTableName"
    STATE_MACHINE_ARN = "StateMachineArn"
    TOPIC_ARN = "TopicArn"
