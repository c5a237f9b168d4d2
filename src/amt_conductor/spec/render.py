"""Rendering: a spec (plus where it runs) -> the CreateHyperParameterTuningJob request boto3 expects."""

from __future__ import annotations

from typing import Any

from amt_conductor.spec.access import TAG_ROUND, TAG_STACK, TAG_STUDY
from amt_conductor.spec.instances import local_storage_types
from amt_conductor.spec.model import AutoRange, CategoricalRange, Channel, ContinuousRange, IntegerRange, Spec
from amt_conductor.spec.naming import job_name
from amt_conductor.spec.scriptmode import CODE_CHANNEL, script_hyperparameters

SCALING = {"auto": "Auto", "linear": "Linear", "log": "Logarithmic", "reverse_log": "ReverseLogarithmic"}
STRATEGY = {"bayesian": "Bayesian", "random": "Random", "grid": "Grid", "hyperband": "Hyperband"}
WARM_START = {"identical_data_and_algorithm": "IdenticalDataAndAlgorithm", "transfer_learning": "TransferLearning"}


FILE_SYSTEM = {"efs": "EFS", "fsx_lustre": "FSxLustre"}


def training_image(spec: Spec, region: str) -> str:
    """The training image: the custom image, or the built-in algorithm's image in `region`."""
    if spec.algo.image is not None:
        return spec.algo.image
    from amt_conductor.spec.images import resolve_image

    assert spec.algo.builtin is not None  # the rules guarantee one of image/builtin/name
    # With several instance choices, the rules check that every one resolves to this same image.
    return resolve_image(spec.algo.builtin, spec.algo.version, region,
                         instance_type=spec.instance_choices()[0].instance_type, py_version=spec.algo.py_version,
                         base_framework=spec.algo.base_framework)


def render_request(
    spec: Spec,
    *,
    region: str,
    role_arn: str,
    output_bucket: str,
    round_no: int = 1,
    parents: list[str] | None = None,
    stack_key: str = "",
    default_kms_key: str = "",
    warm_start_type: str | None = None,
) -> dict[str, Any]:
    """The request for round `round_no`; `parents` (tuning job names) override the spec's warm start.
    `stack_key` tags the job as the stack's (its roles may touch only such jobs); `default_kms_key`
    encrypts the outputs of a spec without `kms_key_id` (the stack's key).
    `output_bucket` (the stack's artifacts bucket) also holds the archives of `source_dir` specs."""
    name = job_name(spec, round_no)
    request: dict[str, Any] = {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": _tuning_config(spec),
    }
    if spec.algorithms:
        # Multi-algorithm: each definition carries its name, objective and ranges; the tuning config neither
        # (as the SageMaker Python SDK's HyperparameterTuner.create renders them).
        request["TrainingJobDefinitions"] = [
            {"DefinitionName": definition.name, "TuningObjective": _objective(view),
             "HyperParameterRanges": _ranges(view),
             **_training_definition(view, region=region, role_arn=role_arn, output_bucket=output_bucket,
                                    default_kms_key=default_kms_key)}
            for definition, view in zip(spec.algorithms, spec.definitions(), strict=True)]
    else:
        request["TrainingJobDefinition"] = _training_definition(spec, region=region, role_arn=role_arn,
                                                                output_bucket=output_bucket,
                                                                default_kms_key=default_kms_key)
    warm = _warm_start(spec, parents, warm_start_type)
    if warm:
        request["WarmStartConfig"] = warm
    if spec.autotune:
        request["Autotune"] = {"Mode": "Enabled"}
    request["Tags"] = [{"Key": k, "Value": v} for k, v in sorted(spec.tags.items())] + [
        {"Key": TAG_STUDY, "Value": spec.name},
        {"Key": TAG_ROUND, "Value": str(round_no)},
    ] + ([{"Key": TAG_STACK, "Value": stack_key}] if stack_key else [])
    return request


def _tuning_config(spec: Spec) -> dict[str, Any]:
    config: dict[str, Any] = {"Strategy": STRATEGY[spec.strategy]}
    if not spec.algorithms:
        config["HyperParameterTuningJobObjective"] = _objective(spec)
    config["ResourceLimits"] = _limits(spec)
    if not spec.algorithms:
        config["ParameterRanges"] = _ranges(spec)
    config["TrainingJobEarlyStoppingType"] = "Auto" if spec.early_stopping == "auto" else "Off"
    if spec.strategy == "hyperband":
        hb = spec.hyperband
        strategy: dict[str, Any] = {"MinResource": hb.min_resource if hb else 1}
        if hb and hb.max_resource is not None:
            strategy["MaxResource"] = hb.max_resource
        config["StrategyConfig"] = {"HyperbandStrategyConfig": strategy}
    completion = _completion(spec)
    if completion:
        config["TuningJobCompletionCriteria"] = completion
    if spec.random_seed is not None:
        config["RandomSeed"] = spec.random_seed
    return config


def _objective(spec: Spec) -> dict[str, str]:
    return {"Type": spec.objective.goal.capitalize(), "MetricName": spec.objective.metric}


def _limits(spec: Spec) -> dict[str, Any]:
    limits: dict[str, Any] = {"MaxParallelTrainingJobs": spec.resources.max_parallel_jobs}
    if spec.resources.max_jobs is not None:
        limits["MaxNumberOfTrainingJobs"] = spec.resources.max_jobs
    if spec.resources.max_tuning_runtime is not None:
        limits["MaxRuntimeInSeconds"] = spec.resources.max_tuning_runtime
    return limits


def _ranges(spec: Spec) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {
        "IntegerParameterRanges": [],
        "ContinuousParameterRanges": [],
        "CategoricalParameterRanges": [],
        "AutoParameters": [],
    }
    for name, r in spec.ranges.items():
        if isinstance(r, CategoricalRange):
            out["CategoricalParameterRanges"].append({"Name": name, "Values": list(r.values)})
        elif isinstance(r, AutoRange):
            out["AutoParameters"].append({"Name": name, "ValueHint": r.hint})
        elif isinstance(r, IntegerRange):
            out["IntegerParameterRanges"].append(
                {"Name": name, "MinValue": str(r.min), "MaxValue": str(r.max), "ScalingType": SCALING[r.scaling]})
        elif isinstance(r, ContinuousRange):
            out["ContinuousParameterRanges"].append(
                {"Name": name, "MinValue": _num(r.min), "MaxValue": _num(r.max), "ScalingType": SCALING[r.scaling]})
    return {k: v for k, v in out.items() if v}


def _num(x: float) -> str:
    return str(int(x)) if x.is_integer() else repr(x)


def _completion(spec: Spec) -> dict[str, Any]:
    c = spec.completion
    if c is None:
        return {}
    out: dict[str, Any] = {}
    if c.target is not None:
        out["TargetObjectiveMetricValue"] = c.target
    if c.max_jobs_not_improving is not None:
        out["BestObjectiveNotImproving"] = {"MaxNumberOfTrainingJobsNotImproving": c.max_jobs_not_improving}
    if c.stop_on_convergence:
        out["ConvergenceDetected"] = {"CompleteOnConvergence": "Enabled"}
    return out


def _training_definition(spec: Spec, *, region: str, role_arn: str, output_bucket: str,
                         default_kms_key: str) -> dict[str, Any]:
    algo: dict[str, Any] = {"TrainingInputMode": spec.algo.input_mode}
    if spec.algo.name is not None:
        algo["AlgorithmName"] = spec.algo.name  # SageMaker takes the image from the algorithm resource
    else:
        algo["TrainingImage"] = training_image(spec, region)
    if spec.algo.metrics:
        algo["MetricDefinitions"] = [{"Name": m.name, "Regex": m.regex} for m in spec.algo.metrics]
    output: dict[str, Any] = {"S3OutputPath": spec.output_uri or f"s3://{output_bucket}/training/{spec.name}/"}
    if spec.output_compression is not None:
        output["CompressionType"] = spec.output_compression.upper()
    resources: dict[str, Any]
    if spec.resources.instance_configs:
        resources = {"InstanceConfigs": [{"InstanceType": c.instance_type, "InstanceCount": c.instance_count,
                                          "VolumeSizeInGB": c.volume_size_gb} for c in spec.resources.instance_configs],
                     "AllocationStrategy": "Prioritized"}
    else:
        resources = {
            "InstanceType": spec.resources.instance_type,
            "InstanceCount": spec.resources.instance_count,
            "VolumeSizeInGB": spec.resources.volume_size_gb,
        }
    if spec.kms_key_id:
        output["KmsKeyId"] = spec.kms_key_id
        # SageMaker refuses a volume key on instances with local NVMe storage (their hardware encrypts it).
        if not local_storage_types(spec):
            resources["VolumeKmsKeyId"] = spec.kms_key_id
    elif default_kms_key:
        output["KmsKeyId"] = default_kms_key
    stopping: dict[str, Any] = {"MaxRuntimeInSeconds": spec.resources.max_runtime_per_job}
    wait = spec.spot_max_wait()
    if wait is not None:
        stopping["MaxWaitTimeInSeconds"] = wait
    if spec.resources.max_pending is not None:
        stopping["MaxPendingTimeInSeconds"] = spec.resources.max_pending
    definition: dict[str, Any] = {
        "AlgorithmSpecification": algo,
        "RoleArn": role_arn,
        "InputDataConfig": [_channel(name, ch) for name, ch in spec.data.items()],
        "OutputDataConfig": output,
        # Instance choices live in HyperParameterTuningResourceConfig, which replaces ResourceConfig.
        ("HyperParameterTuningResourceConfig" if spec.resources.instance_configs else "ResourceConfig"): resources,
        "StoppingCondition": stopping,
        "EnableManagedSpotTraining": spec.spot.enabled,
    }
    if spec.checkpoint is not None:
        definition["CheckpointConfig"] = {"S3Uri": spec.checkpoint.uri}
        if spec.checkpoint.local_path is not None:
            definition["CheckpointConfig"]["LocalPath"] = spec.checkpoint.local_path
    if spec.retry is not None:
        definition["RetryStrategy"] = {"MaximumRetryAttempts": spec.retry.max_attempts}
    static = static_hyperparameters(spec, region=region, artifacts_bucket=output_bucket)
    source = code_source(spec, output_bucket)
    if spec.algo.entry_point is not None and source is not None and _isolated(spec):
        # The isolated container cannot reach S3: SageMaker copies the archive in as a channel (as the SDK does).
        code = {"S3DataType": "S3Prefix", "S3Uri": source, "S3DataDistributionType": "FullyReplicated"}
        definition["InputDataConfig"].append({"ChannelName": CODE_CHANNEL, "DataSource": {"S3DataSource": code}})
    if static:
        definition["StaticHyperParameters"] = static
    if spec.network is not None:
        if spec.network.subnets:
            definition["VpcConfig"] = {"Subnets": list(spec.network.subnets),
                                       "SecurityGroupIds": list(spec.network.security_groups)}
        definition["EnableNetworkIsolation"] = spec.network.isolation
        definition["EnableInterContainerTrafficEncryption"] = spec.network.encrypt_inter_container_traffic
    if spec.environment:
        definition["Environment"] = dict(spec.environment)
    return definition


def static_hyperparameters(spec: Spec, *, region: str, artifacts_bucket: str) -> dict[str, str]:
    """A training definition's StaticHyperParameters: the spec's, and in script mode the four the SDK adds
    (the code archive, the entry point, the log level, the region). Warm-start checks compare these."""
    static = dict(spec.hyperparameters)
    source = code_source(spec, artifacts_bucket)
    if spec.algo.entry_point is not None and source is not None:
        static.update(script_hyperparameters(spec.algo.entry_point, source, region, isolated=_isolated(spec)))
    return static


def code_source(spec: Spec, artifacts_bucket: str) -> str | None:
    """The S3 URI of the script-mode archive: `source`, or where the stack ships source_dir's archive
    (None without script mode, and for a source_dir whose digest amt has not written yet)."""
    algo = spec.algo
    if algo.source_dir is not None and algo.source_sha256 is not None:
        from amt_conductor.spec.sourcedir import code_uri

        return code_uri(spec.name, algo.source_sha256, bucket=artifacts_bucket)
    return algo.source


def _isolated(spec: Spec) -> bool:
    return spec.network is not None and spec.network.isolation


def _channel(name: str, ch: Channel) -> dict[str, Any]:
    source: dict[str, Any]
    if ch.file_system is not None:
        fs = ch.file_system
        source = {"FileSystemDataSource": {"FileSystemId": fs.id, "FileSystemAccessMode": fs.access_mode,
                                           "FileSystemType": FILE_SYSTEM[fs.type], "DirectoryPath": fs.path}}
    else:
        s3: dict[str, Any] = {"S3DataType": ch.s3_data_type, "S3Uri": ch.uri,
                              "S3DataDistributionType": ch.distribution}
        if ch.attribute_names:
            s3["AttributeNames"] = list(ch.attribute_names)
        source = {"S3DataSource": s3}
    out: dict[str, Any] = {"ChannelName": name, "DataSource": source}
    if ch.content_type:
        out["ContentType"] = ch.content_type
    if ch.compression:
        out["CompressionType"] = ch.compression
    if ch.record_wrapper:
        out["RecordWrapperType"] = ch.record_wrapper
    if ch.input_mode:
        out["InputMode"] = ch.input_mode
    if ch.shuffle_seed is not None:
        out["ShuffleConfig"] = {"Seed": ch.shuffle_seed}
    return out


def _warm_start(spec: Spec, parents: list[str] | None, kind: str | None = None) -> dict[str, Any]:
    """`kind` overrides the spec's type: a run started by new data warm-starts with transfer_learning."""
    names = list(parents) if parents is not None else (list(spec.warm_start.parents) if spec.warm_start else [])
    if not names:
        return {}
    kind = kind or (spec.warm_start.type if spec.warm_start else "identical_data_and_algorithm")
    return {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": n} for n in names[:5]],
        "WarmStartType": WARM_START[kind],
    }
