"""The tuning spec, version 1: one pydantic model used by the CLI, synth-time validation and the handlers.

Field-level rules (types, bounds, unknown keys) live here; rules that relate several
fields live in `amt_conductor.spec.rules` so that all of them are reported at once.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from amt_conductor.spec import forms
from amt_conductor.spec.durations import parse_duration
from amt_conductor.spec.forms import S3_URI_CHECK, S3_URI_SCHEMA

S3Uri = Annotated[str, S3_URI_SCHEMA, S3_URI_CHECK]

# The JSON Schema describes what a user may write (editors check files against it), not the
# validated value: durations as text, hyperparameter values as numbers or booleans.
_DURATION_SCHEMA = {
    "anyOf": [{"type": "integer", "minimum": 1},
              {"type": "string", "pattern": r"^\s*(\d+|(\d+\s*[smhdSMHD]\s*)+)\s*$"}],
    "description": "Seconds, or a duration like 90s, 30m, 2h, 1d (or 1h30m).",
}
Seconds = Annotated[int, BeforeValidator(parse_duration), WithJsonSchema(_DURATION_SCHEMA)]
Scaling = Literal["auto", "linear", "log", "reverse_log"]


def _stringify(value: Any) -> Any:
    """Text fields (hyperparameter, categorical, tag and environment values, versions) as SageMaker takes them.

    The loaders hand over the text written in the file (see spec.sourcetext), so a number only arrives here
    from a document built in code: an integer or a boolean has one obvious text, a float has not (1.10 and
    1.1 are the same float), so it is refused rather than changed."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        raise ValueError(f"sent to SageMaker as text, but the text of this number is unknown (1.10 and 1.1 are "
                         f"the same number): quote it as it should be sent, e.g. '{value!r}'")
    return value


def _one_line(value: str) -> str:
    # SageMaker's patterns for hyperparameter names and values are `.*`, which matches no line break:
    # a YAML block scalar (`|`) ends in one and the request would be refused.
    if any(c in value for c in "\n\r\x85\u2028\u2029"):
        raise ValueError("must be on one line (SageMaker refuses line breaks here)")
    return value


def _absolute_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"must be an absolute path, starting with / (got {value!r})")
    return _one_line(value)


def _relative_folder(value: str) -> str:
    if value.startswith(("/", "~")) or "\\" in value or re.match(r"^[A-Za-z]:", value):
        raise ValueError(f"a folder relative to the spec file, with / between names (got {value!r})")
    return _one_line(value)


ParamValue = Annotated[str, BeforeValidator(_stringify), AfterValidator(_one_line),
                       WithJsonSchema({"type": ["string", "number", "boolean"]})]
ParamName = Annotated[str, Field(min_length=1, max_length=256), AfterValidator(_one_line)]


def _not_bool(value: Any) -> Any:
    # pydantic reads true as 1; in a spec it is a mistake (`max_jobs: true`), not a number.
    if isinstance(value, bool):
        raise ValueError(f"expected a number (got {str(value).lower()})")
    return value


Int = Annotated[int, BeforeValidator(_not_bool)]
Num = Annotated[float, BeforeValidator(_not_bool)]


class _Strict(BaseModel):
    # A typo must never be silently ignored; YAML's .inf and .nan are no bounds or targets SageMaker takes.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Objective(_Strict):
    """What the tuning job optimizes."""

    metric: str = Field(min_length=1, max_length=255, description="Objective metric name.")
    goal: Literal["maximize", "minimize"] = Field(description="Maximize or minimize the metric.")


class Hyperband(_Strict):
    """Hyperband settings; `max_resource` may be inferred from an epochs hyperparameter."""

    min_resource: Int = Field(default=1, ge=1, description="Minimum epochs before a job may be stopped.")
    max_resource: Int | None = Field(
        default=None, ge=1, le=20000, description="Maximum epochs; default: the static epochs hyperparameter."
    )


class MetricDefinition(_Strict):
    """A metric parsed from the training log by a regex whose first group is the value."""

    name: str = Field(min_length=1, max_length=255)
    regex: str = Field(min_length=1, max_length=500)
    example: str | None = Field(
        default=None, min_length=1, max_length=10_000,
        description="A real log line the regex must capture a number from (checked by amt validate).")

    @field_validator("regex")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            compiled = re.compile(v)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        if compiled.groups < 1:
            raise ValueError("needs a capture group around the value, e.g. 'loss=([0-9.]+)'")
        return v

    @field_validator("example")
    @classmethod
    def _one_log_line(cls, v: str | None) -> str | None:
        if v is not None and any(c in v for c in "\n\r"):
            raise ValueError("must be one log line: SageMaker applies the regex to each line on its own")
        return v


class Algorithm(_Strict):
    """A built-in algorithm or framework by name and version, or a custom image with metric regexes."""

    builtin: str | None = Field(default=None, min_length=1, description="Built-in algorithm or framework.")
    version: Annotated[str | None, BeforeValidator(_stringify),
                       WithJsonSchema({"type": ["string", "number", "null"]})] = Field(
        default=None, description="Version of the built-in algorithm (e.g. '1.7-1')."
    )
    py_version: Annotated[str, forms.PY_VERSION.schema(), forms.PY_VERSION.check] | None = Field(
        default=None, description="Python version of a framework image, e.g. 'py310'."
    )
    base_framework: Annotated[str, forms.BASE_FRAMEWORK.schema(), forms.BASE_FRAMEWORK.check] | None = Field(
        default=None, description="huggingface only: the base framework and its version, e.g. 'pytorch2.1'.")
    image: str | None = Field(default=None, min_length=1, max_length=255, description="ECR image URI.")
    name: str | None = Field(
        default=None, min_length=1, max_length=170,
        description="An algorithm resource's name or ARN (yours, or an AWS Marketplace subscription).",
    )
    entry_point: Annotated[str, AfterValidator(_one_line)] | None = Field(
        default=None, min_length=1, max_length=256,
        description="Script mode: the script to run, a path inside the `source` archive (e.g. train.py).")
    source: Annotated[str, forms.CODE_ARCHIVE_SCHEMA, forms.CODE_ARCHIVE_CHECK] | None = None
    source_dir: Annotated[str, AfterValidator(_relative_folder)] | None = Field(
        default=None, min_length=1, max_length=1024,
        description="Script mode: a folder relative to the spec file, packaged and shipped by cdk deploy.")
    source_sha256: Annotated[str, forms.SHA256.schema(), forms.SHA256.check] | None = Field(
        default=None, description="Written by amt: the sha256 of source_dir's archive (part of the job names).")
    metrics: list[MetricDefinition] = Field(default_factory=list, max_length=40)
    input_mode: Literal["File", "Pipe", "FastFile"] = "File"


class ContinuousRange(_Strict):
    type: Literal["continuous"]
    min: Num
    max: Num
    scaling: Scaling = "auto"


class IntegerRange(_Strict):
    type: Literal["integer"]
    min: Int
    max: Int
    scaling: Scaling = "auto"


class CategoricalRange(_Strict):
    type: Literal["categorical"]
    values: list[ParamValue] = Field(min_length=1, max_length=30)

    @field_validator("values")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        dupes = sorted({x for x in v if v.count(x) > 1})
        if dupes:
            raise ValueError(f"values must be distinct (repeated: {', '.join(dupes)})")
        return v


class AutoRange(_Strict):
    """A hyperparameter Autotune chooses the range of, from a hint (e.g. '0.1' or 'log-uniform')."""

    type: Literal["auto"]
    hint: Annotated[ParamValue, Field(max_length=256)]


Range = Annotated[ContinuousRange | IntegerRange | CategoricalRange | AutoRange, Field(discriminator="type")]
RANGE_TYPES = ("continuous", "integer", "categorical", "auto")
# Training jobs one tuning job may start (service quotas, not adjustable for these strategies); the most
# Autotune may choose when max_jobs is left to it.
MAX_JOBS = {"random": 10_000}
MAX_JOBS_DEFAULT = 750


class FileSystem(_Strict):
    """An EFS or FSx for Lustre directory mounted as a channel (the jobs run in the spec's VPC)."""

    type: Literal["efs", "fsx_lustre"]
    id: Annotated[str, forms.FILE_SYSTEM_ID.schema(min_length=11, max_length=21, description="fs-0123456789abcdef0"),
                  forms.FILE_SYSTEM_ID.check]
    path: Annotated[str, AfterValidator(_absolute_path)] = Field(
        max_length=4096, description="The directory: '/' or '/<dir>' on EFS, '/<mount name>/<dir>' on FSx.")
    access_mode: Literal["ro", "rw"] = "ro"


class Channel(_Strict):
    """An input channel: an S3 location (`uri`) or a file system directory (`file_system`)."""

    uri: S3Uri | None = None
    file_system: FileSystem | None = None
    content_type: str | None = Field(default=None, max_length=256)
    compression: Literal["None", "Gzip"] | None = None
    distribution: Literal["FullyReplicated", "ShardedByS3Key"] = "FullyReplicated"
    s3_data_type: Literal["S3Prefix", "ManifestFile", "AugmentedManifestFile"] = "S3Prefix"
    input_mode: Literal["File", "Pipe", "FastFile"] | None = None
    attribute_names: list[Annotated[str, Field(min_length=1, max_length=256), AfterValidator(_one_line)]] | None = (
        Field(default=None, min_length=1, max_length=16, description="JSON attributes of an augmented manifest."))
    shuffle_seed: Int | None = Field(default=None, ge=0, le=2**63 - 1, description="ShuffleConfig.Seed.")
    record_wrapper: Literal["None", "RecordIO"] | None = None


class InstanceConfig(_Strict):
    """One instance choice of several, tried in the order given (HyperParameterTuningInstanceConfig)."""

    instance_type: Annotated[str, forms.INSTANCE_TYPE.schema(), forms.INSTANCE_TYPE.check]
    instance_count: Int = Field(default=1, ge=1)
    volume_size_gb: Int = Field(default=30, ge=1, le=16384)


def _instance_type_optional(schema: dict[str, Any]) -> None:
    # Required unless instance_configs is given (the validator below); editors should not demand it.
    schema["required"] = [f for f in schema.get("required", []) if f != "instance_type"]


class Resources(_Strict):
    """Instances per training job and the tuning job's limits."""

    model_config = ConfigDict(json_schema_extra=_instance_type_optional)

    # Required (so a spec without it is told so with its other missing fields), except beside instance_configs.
    instance_type: Annotated[str, forms.INSTANCE_TYPE.schema(), forms.INSTANCE_TYPE.check] | None = Field()
    instance_count: Int = Field(default=1, ge=1)
    volume_size_gb: Int = Field(default=30, ge=1, le=16384)
    instance_configs: list[InstanceConfig] | None = Field(
        default=None, min_length=1, max_length=6,
        description="Instead of instance_type/count/volume: up to 6 choices SageMaker tries in order.",
    )
    max_jobs: Int | None = Field(default=None, ge=1)
    max_parallel_jobs: Int = Field(ge=1, le=100)
    max_runtime_per_job: Seconds = Field(le=28 * 86400)
    max_tuning_runtime: Seconds | None = Field(default=None, ge=120, le=15_768_000)
    # botocore's StoppingCondition.MaxPendingTimeInSeconds bounds: 30 min to 28 days.
    max_pending: Seconds | None = Field(
        default=None, ge=1800, le=2_419_200,
        description="Longest a training job may wait for accelerated (ml.p/g/trn) capacity before it is stopped.",
    )

    @model_validator(mode="before")
    @classmethod
    def _configs_replace_instance_type(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("instance_configs") is not None and "instance_type" not in data:
            return {**data, "instance_type": None}
        return data


class Spot(_Strict):
    enabled: bool = False
    max_wait: Seconds | None = Field(default=None, description="Default: twice max_runtime_per_job.")


class Checkpoint(_Strict):
    """Where training jobs save checkpoints, so a Spot interruption or a retry resumes instead of restarting."""

    uri: S3Uri = Field(description="s3://bucket/prefix/ (or an S3 https:// URL) for checkpoints.")
    local_path: Annotated[str, AfterValidator(_absolute_path)] | None = Field(
        default=None, max_length=4096, description="Path in the container; SageMaker's default /opt/ml/checkpoints/.")


class Retry(_Strict):
    """Retries of a training job that fails with an internal server error."""

    max_attempts: Int = Field(ge=1, le=30, description="RetryStrategy.MaximumRetryAttempts (1-30).")


class Completion(_Strict):
    target: Num | None = None
    max_jobs_not_improving: Int | None = Field(default=None, ge=3)
    stop_on_convergence: bool = False


class WarmStart(_Strict):
    type: Literal["identical_data_and_algorithm", "transfer_learning"]
    parents: list[Annotated[str, forms.TUNING_JOB_NAME.schema(max_length=32), forms.TUNING_JOB_NAME.check]] = (
        Field(min_length=1, max_length=5)
    )


class Rounds(_Strict):
    max: Int = Field(default=1, ge=1, le=20)
    min_improvement: Num = Field(default=0.0, ge=0)


class Budget(_Strict):
    max_instance_hours: Num = Field(gt=0)


class Network(_Strict):
    subnets: list[Annotated[str, forms.SUBNET.schema(), forms.SUBNET.check]] = Field(
        default_factory=list, max_length=16
    )
    security_groups: list[Annotated[str, forms.SECURITY_GROUP.schema(), forms.SECURITY_GROUP.check]] = Field(
        default_factory=list, max_length=5
    )
    isolation: bool = False
    encrypt_inter_container_traffic: bool = False


class Inference(_Strict):
    """How the registered model is served; the image defaults to the algorithm's (built-in) or the training image."""

    image: str | None = Field(default=None, min_length=1, max_length=255, description="Inference image URI.")
    instance_types: list[Annotated[str, forms.INSTANCE_TYPE.schema(), forms.INSTANCE_TYPE.check]] = Field(
        default_factory=list, max_length=50)
    content_types: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(
        default_factory=list, max_length=50)
    response_types: list[Annotated[str, Field(min_length=1, max_length=1024)]] = Field(
        default_factory=list, max_length=50)


class Promote(_Strict):
    """Register the study's best training job as a model package version when a run ends and it is better."""

    model_package_group: Annotated[str, forms.MODEL_PACKAGE_GROUP.schema(min_length=1, max_length=63),
                                   forms.MODEL_PACKAGE_GROUP.check]
    approval: Literal["pending", "approved"] = "pending"
    description: str | None = Field(default=None, max_length=1024)
    inference: Inference = Field(default_factory=Inference)


class NewData(_Strict):
    """New objects under these channels' prefixes start a run (transfer learning), at most once per quiet period."""

    channels: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(min_length=1, max_length=20)
    quiet_period: Seconds = Field(default=3600, ge=60, le=7 * 86400,
                                  description="Uploads must pause this long before the run starts.")


class Triggers(_Strict):
    new_data: NewData | None = None


def _early_stopping(value: Any) -> Any:
    # YAML 1.1 reads an unquoted `off` as false; the user means "off".
    if value is False:
        return "off"
    if value is True:
        return "auto"
    return value


Channels = dict[Annotated[str, forms.CHANNEL_NAME.schema(max_length=64), forms.CHANNEL_NAME.check], Channel]
StaticHyperparameters = dict[ParamName, Annotated[ParamValue, Field(max_length=2500)]]


class DefinitionResources(_Strict):
    """A definition's own instances and time per job; the tuning job's limits (max_jobs, ...) stay shared."""

    instance_type: Annotated[str, forms.INSTANCE_TYPE.schema(), forms.INSTANCE_TYPE.check] | None = None
    instance_count: Int | None = Field(default=None, ge=1)
    volume_size_gb: Int | None = Field(default=None, ge=1, le=16384)
    instance_configs: list[InstanceConfig] | None = Field(default=None, min_length=1, max_length=6)
    max_runtime_per_job: Seconds | None = Field(default=None, le=28 * 86400)
    max_pending: Seconds | None = Field(default=None, ge=1800, le=2_419_200)


class Definition(_Strict):
    """One algorithm of a multi-algorithm study (a TrainingJobDefinition with its DefinitionName)."""

    name: Annotated[str, forms.TUNING_JOB_NAME.schema(min_length=1, max_length=64), forms.TUNING_JOB_NAME.check] = (
        Field(description="DefinitionName: letters, digits and hyphens."))
    algorithm: Algorithm
    hyperparameters: StaticHyperparameters = Field(default_factory=dict)
    ranges: dict[ParamName, Range]
    objective: Objective | None = Field(default=None, description="Default: the study's objective.")
    data: Channels | None = Field(default=None, min_length=1, max_length=20, description="Default: the study's.")
    resources: DefinitionResources | None = Field(default=None, description="Overrides of the study's resources.")


def _algorithm_optional(schema: dict[str, Any]) -> None:
    # algorithm and ranges are required unless `algorithms` is given (the validator below): so say editors.
    schema["required"] = [f for f in schema.get("required", []) if f not in ("algorithm", "ranges")]
    schema["anyOf"] = [{"required": ["algorithm", "ranges"]}, {"required": ["algorithms"]}]


class Spec(_Strict):
    """A tuning study: everything needed to create its tuning jobs, round after round."""

    model_config = ConfigDict(json_schema_extra=_algorithm_optional)

    @model_validator(mode="before")
    @classmethod
    def _definitions_replace_algorithm(cls, data: Any) -> Any:
        # With `algorithms`, a missing top-level algorithm and ranges are not errors: the definitions carry them.
        if isinstance(data, dict) and data.get("algorithms") is not None:
            data = {"algorithm": None, "ranges": {}, **data}
            resources = data.get("resources")
            if isinstance(resources, dict) and "instance_type" not in resources:  # definitions may give theirs
                data["resources"] = {"instance_type": None, **resources}
        return data

    spec_version: Literal[1] = 1
    name: Annotated[str, forms.STUDY_NAME.schema(min_length=1, max_length=32), forms.STUDY_NAME.check]
    description: str | None = Field(default=None, max_length=1024)
    objective: Objective
    strategy: Literal["bayesian", "random", "grid", "hyperband"]
    hyperband: Hyperband | None = None
    # Required, except beside `algorithms` (each definition has its own; see the validator below).
    algorithm: Algorithm | None = Field()
    hyperparameters: StaticHyperparameters = Field(default_factory=dict)
    ranges: dict[ParamName, Range]
    algorithms: list[Definition] | None = Field(
        default=None, min_length=1, max_length=10,
        description="Multi-algorithm tuning: up to 10 named definitions, each with its own algorithm, "
                    "hyperparameters and ranges (then leave out the top-level ones).",
    )
    data: Channels = Field(min_length=1, max_length=20)
    output_uri: S3Uri | None = None
    output_compression: Literal["gzip", "none"] | None = Field(
        default=None, description="Compression of the model artifact; SageMaker's default is gzip.")
    resources: Resources
    spot: Spot = Field(default_factory=Spot)
    checkpoint: Checkpoint | None = None
    retry: Retry | None = None
    early_stopping: Annotated[Literal["auto", "off"], BeforeValidator(_early_stopping)] = "off"
    completion: Completion | None = None
    random_seed: Int | None = Field(default=None, ge=0)
    warm_start: WarmStart | None = None
    autotune: bool = Field(default=False, description="Let SageMaker choose ranges (type: auto) and unset settings.")
    rounds: Rounds = Field(default_factory=Rounds)
    budget: Budget | None = None
    network: Network | None = None
    kms_key_id: str | None = Field(default=None, min_length=1, max_length=2048)
    environment: dict[Annotated[str, forms.ENV_NAME.schema(max_length=512), forms.ENV_NAME.check], Annotated[
        str, BeforeValidator(_stringify), Field(max_length=512),
        WithJsonSchema({"type": ["string", "number", "boolean"], "maxLength": 512}),
    ]] = Field(default_factory=dict, max_length=48)
    schedule: str | None = None
    promote: Promote | None = None
    triggers: Triggers | None = None
    # Admission order under the account's quotas: each point goes ahead of rounds submitted up to an hour
    # later (amt_conductor.runtime.capacity.PRIORITY_STEP_S), so a long wait always wins in the end.
    priority: Int = Field(default=0, ge=0, le=10)
    tags: dict[Annotated[str, Field(min_length=1, max_length=128)], Annotated[
        ParamValue, Field(max_length=256)
    ]] = Field(default_factory=dict, max_length=45)

    @property
    def algo(self) -> Algorithm:
        """The algorithm of a single-algorithm spec, or of one of `definitions()`."""
        if self.algorithm is None:
            raise ValueError(f"{self.name}: a multi-algorithm spec has no single algorithm; use definitions()")
        return self.algorithm

    def definitions(self) -> list[Spec]:
        """One single-algorithm view per definition (the spec itself when it has no `algorithms`): each
        definition's algorithm, hyperparameters and ranges, its objective, data and resources or the study's."""
        if not self.algorithms:
            return [self]
        return [self._view(d) for d in self.algorithms]

    def _view(self, d: Definition) -> Spec:
        resources = self.resources
        if d.resources is not None:
            update = d.resources.model_dump(exclude_unset=True)
            if "instance_configs" in update:  # choices replace the study's single instance type, and vice versa
                update = {"instance_type": None, **update}
            elif "instance_type" in update:
                update = {"instance_configs": None, **update}
            resources = resources.model_copy(update={
                k: ([InstanceConfig.model_validate(c) for c in v] if k == "instance_configs" and v else v)
                for k, v in update.items()})
        return self.model_copy(update={
            "algorithm": d.algorithm, "hyperparameters": d.hyperparameters, "ranges": d.ranges,
            "objective": d.objective or self.objective, "data": d.data or self.data, "resources": resources,
            "algorithms": None,
        })

    def grid_size(self) -> int:
        """Number of distinct combinations of the categorical ranges (Grid's job count)."""
        size = 1
        for r in self.ranges.values():
            size *= len(r.values) if isinstance(r, CategoricalRange) else 0
        return size

    def max_jobs_effective(self) -> int:
        """Training jobs one round may start: max_jobs, the grid's combinations, or with Autotune choosing it,
        the most it may choose (the strategy's limit)."""
        if self.resources.max_jobs is not None:
            return self.resources.max_jobs
        if self.strategy == "grid":
            return self.grid_size()
        return MAX_JOBS.get(self.strategy, MAX_JOBS_DEFAULT) if self.autotune else 0

    def instance_choices(self) -> list[InstanceConfig]:
        """The instance configurations jobs may run on: `resources.instance_configs`, else the single one."""
        res = self.resources
        if res.instance_configs:
            return list(res.instance_configs)
        if res.instance_type is None:  # refused by the rules; an empty list keeps callers total
            return []
        return [InstanceConfig(instance_type=res.instance_type, instance_count=res.instance_count,
                               volume_size_gb=res.volume_size_gb)]

    def max_instance_count(self) -> int:
        """Instances per training job in the costliest choice (the budget's worst case)."""
        return max((c.instance_count for c in self.instance_choices()), default=1)

    def spot_max_wait(self) -> int | None:
        if not self.spot.enabled:
            return None
        return self.spot.max_wait or 2 * self.resources.max_runtime_per_job


def json_schema() -> dict[str, Any]:
    """The spec's JSON Schema (for editors)."""
    schema = Spec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "amt-conductor tuning spec (version 1)"
    return schema
