"""Importing: a CreateHyperParameterTuningJob request (or a Describe response) -> a spec document.

The inverse of `amt.render`. Every field of the source is either carried into the spec, or named in
an error because the spec cannot express it: `take` removes what it reads, and whatever is left at
the end is an error (`FieldError` with the request's own field path). Nothing is dropped silently;
what is dropped on purpose (the role ARN, the SDK's bookkeeping, what SageMaker adds in Describe) is
reported as a note.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from amt.errors import FieldError
from amt.naming import max_study_name_length

# What the SageMaker Python SDK adds for its own `attach()`; the training container never reads them.
SDK_BOOKKEEPING = ("sagemaker_job_name", "sagemaker_estimator_class_name", "sagemaker_estimator_module")
# Script-mode hyperparameters the SDK sets for framework containers (the training toolkit reads them).
SDK_SCRIPT_MODE = ("sagemaker_program", "sagemaker_submit_directory", "sagemaker_region",
                   "sagemaker_container_log_level")
SDK_LOG_LEVEL = 20  # logging.INFO, the SDK's default container_log_level
# SageMaker adds this to every training job of a tuning job; Describe lists it, a request never has it.
TUNING_OBJECTIVE_HP = "_tuning_objective_metric"
REQUEST_FIELDS = ("HyperParameterTuningJobName", "HyperParameterTuningJobConfig", "TrainingJobDefinition",
                  "TrainingJobDefinitions", "WarmStartConfig", "Tags", "Autotune")
AMT_TAG_PREFIX = "amt:"
_ECR = re.compile(r"^\d{12}\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com/")

_STRATEGY = {"Bayesian": "bayesian", "Random": "random", "Grid": "grid", "Hyperband": "hyperband"}
_SCALING = {"Auto": "auto", "Linear": "linear", "Logarithmic": "log", "ReverseLogarithmic": "reverse_log"}
_FILE_SYSTEM = {"EFS": "efs", "FSxLustre": "fsx_lustre"}
_WARM_START = {"IdenticalDataAndAlgorithm": "identical_data_and_algorithm", "TransferLearning": "transfer_learning"}


class NotExpressible(ValueError):
    """The source has fields a spec cannot express (or is not a tuning request at all)."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e.path}: {e.message}" for e in errors))


@dataclass
class Imported:
    """The spec document, the region its built-in images were resolved in, and notes for the user."""

    doc: dict[str, Any]
    region: str | None = None
    notes: list[str] = field(default_factory=list)


def request_from_describe(response: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """The request fields of a DescribeHyperParameterTuningJob response, without what SageMaker added."""
    request = {k: _drop_nulls(v) for k, v in response.items() if k in REQUEST_FIELDS and v is not None}
    for where, definition in _definitions(request):
        statics = definition.get("StaticHyperParameters", {})
        if TUNING_OBJECTIVE_HP in statics:
            del statics[TUNING_OBJECTIVE_HP]
        algo = definition.get("AlgorithmSpecification", {})
        if algo.get("MetricDefinitions") and _builtin_algorithm_image(algo.get("TrainingImage", "")):
            # A built-in algorithm's metrics are SageMaker's own: Describe lists them, the request had none.
            del algo["MetricDefinitions"]
            notes.append(f"{where}.AlgorithmSpecification.MetricDefinitions: the built-in algorithm's own metrics "
                         "(listed by Describe, not part of the request) are left out")
    return request


def spec_from_request(request: dict[str, Any], *, name: str | None = None) -> Imported:
    """The spec document for `request`; raises NotExpressible naming every field the spec cannot express."""
    if not isinstance(request, dict) or "HyperParameterTuningJobConfig" not in request:
        raise NotExpressible([FieldError("", "not a CreateHyperParameterTuningJob request or Describe response "
                                             "(no HyperParameterTuningJobConfig)")])
    src = _Source(json.loads(json.dumps(request)))  # a private copy: taking fields removes them
    out = Imported(doc={})
    doc = out.doc
    job_name = src.take("HyperParameterTuningJobName")
    doc["name"] = name if name is not None else study_name(job_name or "")

    config = src.child("HyperParameterTuningJobConfig")
    doc["strategy"] = _enum(config, "Strategy", _STRATEGY)
    objective = config.child("HyperParameterTuningJobObjective")
    if objective.present:
        doc["objective"] = {"metric": objective.take("MetricName"), "goal": objective.take("Type", "").lower()}
    hyperband = config.child("StrategyConfig").child("HyperbandStrategyConfig")
    if hyperband.present:
        doc["hyperband"] = _pruned({"min_resource": hyperband.take("MinResource"),
                                    "max_resource": hyperband.take("MaxResource")})
    limits = config.child("ResourceLimits")
    resources: dict[str, Any] = {"max_parallel_jobs": limits.take("MaxParallelTrainingJobs")}
    _put(resources, "max_jobs", limits.take("MaxNumberOfTrainingJobs"))
    _put(resources, "max_tuning_runtime", limits.take("MaxRuntimeInSeconds"))
    doc["ranges"] = _ranges(config.child("ParameterRanges"), out)
    early = _enum(config, "TrainingJobEarlyStoppingType", {"Off": "off", "Auto": "auto"})
    if early == "auto":
        doc["early_stopping"] = "auto"
    completion = _completion(config.child("TuningJobCompletionCriteria"))
    if completion:
        doc["completion"] = completion
    _put(doc, "random_seed", config.take("RandomSeed"))

    definition = src.child("TrainingJobDefinition")
    if not definition.present:
        if "TrainingJobDefinitions" in src.data:
            raise NotExpressible([FieldError("TrainingJobDefinitions",
                                             "several training job definitions (multi-algorithm tuning): "
                                             "not in the spec yet")])
        raise NotExpressible([FieldError("TrainingJobDefinition", "required: the job's training job definition")])
    _definition(definition, doc, resources, out)
    doc["resources"] = resources

    autotune = src.child("Autotune")
    if autotune.present:
        mode = autotune.take("Mode")
        if not _has_autotune():
            src.errors.append(FieldError("Autotune", "autotune is not in the spec yet"))
        elif mode == "Enabled":
            doc["autotune"] = True
        else:
            src.errors.append(FieldError("Autotune.Mode", f"unknown value {mode!r}; Enabled"))
    warm = src.child("WarmStartConfig")
    if warm.present:
        parents = [p.pop("HyperParameterTuningJobName", None) for p in warm.take("ParentHyperParameterTuningJobs", [])]
        doc["warm_start"] = {"type": _enum(warm, "WarmStartType", _WARM_START), "parents": parents}
    tags = _tags(src.take("Tags", []), out)
    if tags:
        doc["tags"] = tags
    src.finish()
    if src.errors:
        raise NotExpressible(src.errors)
    return out


def study_name(job_name: str) -> str:
    """A valid study name from a tuning job name: lower case, '-' for anything else, short enough for rounds."""
    text = re.sub(r"[^a-z0-9]+", "-", job_name.lower()).strip("-")
    return text[: max_study_name_length()].rstrip("-") or "imported"


def sdk_quoted(request_definition: dict[str, Any]) -> bool:
    """True when the SageMaker SDK wrote the definition's hyperparameters as JSON (framework estimators)."""
    statics = request_definition.get("StaticHyperParameters") or {}
    return any(_json_text(statics.get(k)) is not None for k in ("sagemaker_program", *SDK_BOOKKEEPING[1:]))


def unquote(value: str) -> str:
    """The spec's text for an SDK-written value. The SageMaker training toolkit JSON-decodes every
    hyperparameter (sagemaker_training.environment.read_hyperparameters) and passes str() of the result to
    the script, so `"\\"rgcn\\""` and `rgcn` both arrive as rgcn: the quotes go. `"\\"1.10\\""` arrives as
    the text 1.10 but `1.10` would arrive as 1.1 (and `"\\"false\\""` as false, `false` as False): such
    values keep the SDK's quotes."""
    text = _json_text(value)
    if text is None or toolkit_value(text) != text:
        return value
    return text


def toolkit_value(value: str) -> Any:
    """What the SageMaker training toolkit makes of a hyperparameter value: JSON if it parses, else the text."""
    try:
        return json.loads(value)
    except ValueError:
        return value


# --- the parts --------------------------------------------------------------------------------

def _definition(src: _Source, doc: dict[str, Any], resources: dict[str, Any], out: Imported) -> None:
    src.take("RoleArn")
    out.notes.append(f"{src.path}.RoleArn: not imported; the stack's SageMaker execution role is used")
    quoted = sdk_quoted(src.data)
    statics = dict(src.take("StaticHyperParameters", {}))
    algo = src.child("AlgorithmSpecification")
    image = algo.take("TrainingImage")
    instance = _instance(src, resources)
    algorithm: dict[str, Any] = _algorithm(image, instance, out) if image else {}
    _put(algorithm, "name", algo.take("AlgorithmName"))
    mode = algo.take("TrainingInputMode")
    if mode and mode != "File":
        algorithm["input_mode"] = mode
    metrics = algo.take("MetricDefinitions", [])
    if metrics:
        algorithm["metrics"] = [{"name": m.pop("Name", None), "regex": m.pop("Regex", None)} for m in metrics]
    doc["hyperparameters"] = _static(statics, quoted, src.path, out, algorithm)
    doc["algorithm"] = algorithm
    if quoted:
        for r in doc["ranges"].values():
            if r["type"] == "categorical":
                r["values"] = [unquote(v) for v in r["values"]]
    doc["data"] = _channels(src.take("InputDataConfig", []), src.path, src.errors)
    _code_channel(doc, algorithm, src)
    output = src.child("OutputDataConfig")
    _put(doc, "output_uri", output.take("S3OutputPath"))
    compression = output.take("CompressionType")
    if compression is not None:
        doc["output_compression"] = compression.lower()
    checkpoint = src.child("CheckpointConfig")
    if checkpoint.present:
        doc["checkpoint"] = _pruned({"uri": checkpoint.take("S3Uri"), "local_path": checkpoint.take("LocalPath")})
    retry = src.child("RetryStrategy").take("MaximumRetryAttempts")
    if retry is not None:
        doc["retry"] = {"max_attempts": retry}
    _kms(output.take("KmsKeyId"), instance, doc, src)
    stopping = src.child("StoppingCondition")
    resources["max_runtime_per_job"] = stopping.take("MaxRuntimeInSeconds")
    _put(resources, "max_pending", stopping.take("MaxPendingTimeInSeconds"))
    spot = bool(src.take("EnableManagedSpotTraining", False))
    wait = stopping.take("MaxWaitTimeInSeconds")
    if spot:
        doc["spot"] = _pruned({"enabled": True, "max_wait": wait})
    elif wait is not None:
        src.errors.append(FieldError(f"{stopping.path}.MaxWaitTimeInSeconds", "only with EnableManagedSpotTraining"))
    network = _pruned({
        "subnets": src.data.get("VpcConfig", {}).pop("Subnets", None),
        "security_groups": src.data.get("VpcConfig", {}).pop("SecurityGroupIds", None),
        "isolation": src.take("EnableNetworkIsolation") or None,
        "encrypt_inter_container_traffic": src.take("EnableInterContainerTrafficEncryption") or None,
    })
    if network:
        doc["network"] = network
    env = src.take("Environment", {})
    if env:
        doc["environment"] = env
    src.finish()


def _code_channel(doc: dict[str, Any], algorithm: dict[str, Any], src: _Source) -> None:
    """Under network isolation the SDK passes the code archive as a `code` channel and points
    sagemaker_submit_directory at its local copy; amt does the same from algorithm.source."""
    from amt.scriptmode import CODE_CHANNEL, CODE_CHANNEL_ARCHIVE

    if algorithm.get("source") != CODE_CHANNEL_ARCHIVE:
        return
    channel = doc["data"].get(CODE_CHANNEL, {})
    if set(channel) != {"uri"}:
        src.errors.append(FieldError(f"{src.path}.StaticHyperParameters.sagemaker_submit_directory",
                                     f"points into a {CODE_CHANNEL!r} channel, but the request has no plain S3 "
                                     f"channel {CODE_CHANNEL!r} with the code archive"))
        return
    algorithm["source"] = doc["data"].pop(CODE_CHANNEL)["uri"]


def _instance(src: _Source, resources: dict[str, Any]) -> dict[str, Any]:
    """ResourceConfig, or HyperParameterTuningResourceConfig: instance choices, or (as SDK v2 sends it) one type."""
    res = src.child("ResourceConfig")
    if not res.present:
        res = src.child("HyperParameterTuningResourceConfig")
    if not res.present:
        src.errors.append(FieldError(f"{src.path}.ResourceConfig", "required: the instance type of the jobs"))
        return {}
    choices = res.take("InstanceConfigs")
    if choices:
        strategy = res.take("AllocationStrategy", "Prioritized")
        if strategy != "Prioritized":
            src.errors.append(FieldError(f"{res.path}.AllocationStrategy", f"unknown value {strategy!r}"))
        resources["instance_configs"] = [
            _pruned({"instance_type": c.pop("InstanceType", None), "instance_count": c.pop("InstanceCount", None),
                     "volume_size_gb": c.pop("VolumeSizeInGB", None)}) for c in choices]
        first = resources["instance_configs"][0].get("instance_type")
    else:
        resources["instance_type"] = first = res.take("InstanceType")
        _put(resources, "instance_count", res.take("InstanceCount"))
        _put(resources, "volume_size_gb", res.take("VolumeSizeInGB"))
    types = [c.get("instance_type") for c in resources.get("instance_configs", [])] or [first]
    return {"type": first, "types": [x for x in types if x], "volume_kms": res.take("VolumeKmsKeyId")}


def _algorithm(image: str, instance: dict[str, Any], out: Imported) -> dict[str, Any]:
    found = _builtin(image, instance.get("type") or "ml.m5.xlarge")
    if found is None:
        return {"image": image}
    builtin, version, py_version, region = found
    if out.region not in (None, region):
        return {"image": image}  # one spec renders in one region: keep the URI when definitions disagree
    out.region = region
    out.notes.append(f"algorithm: {image} is the built-in {builtin} {version}; render in {region} for this image")
    return _pruned({"builtin": builtin, "version": version, "py_version": py_version})


def _builtin(image: str, instance_type: str) -> tuple[str, str, str | None, str] | None:
    """(builtin, version, py_version, region) whose catalog image in that region is exactly `image`."""
    from amt.images import ImageError, _catalog, resolve_image

    match = _ECR.match(image)
    if not match:
        return None
    region = match[1]
    repository = image[match.end():].split(":")[0].split("@")[0]
    for name, algo in _catalog()["algorithms"].items():
        entries = [leaf for v in algo["versions"].values() for leaf in [v, *v.get("by_py", {}).values()]]
        if not any(leaf.get("repository") == repository for leaf in entries):
            continue
        for version in algo["known"]:
            for py in (None, *sorted({p for v in algo["versions"].values() for p in _py_versions(v)})):
                try:
                    if resolve_image(name, version, region, instance_type=instance_type, py_version=py) == image:
                        return name, version, py, region
                except ImageError:
                    continue
    return None


def _py_versions(entry: dict[str, Any]) -> list[str]:
    return list(entry.get("by_py", {})) or list(entry.get("py_versions", []))


def _builtin_algorithm_image(image: str) -> bool:
    from amt.images import _catalog

    found = _builtin(image, "ml.m5.xlarge") or _builtin(image, "ml.p3.2xlarge")
    return found is not None and _catalog()["algorithms"][found[0]]["kind"] == "algorithm"


def _static(statics: dict[str, str], quoted: bool, where: str, out: Imported,
            algorithm: dict[str, Any]) -> dict[str, str]:
    path = f"{where}.StaticHyperParameters"
    dropped = [k for k in SDK_BOOKKEEPING if k in statics]
    for key in dropped:
        del statics[key]
    if dropped:
        out.notes.append(f"{path}: dropped the SageMaker SDK's bookkeeping {', '.join(dropped)} "
                         "(only its attach() reads them)")
    if any(k in statics for k in SDK_SCRIPT_MODE):
        _script_mode(statics, path, out, algorithm)
    if quoted:
        out.notes.append(f"{path}: values the SageMaker SDK wrote as JSON strings are imported as the text the "
                         "training script receives (quotes kept where the toolkit would otherwise read a number, "
                         "boolean or null)")
        return {k: unquote(v) for k, v in statics.items()}
    return statics


def _script_mode(statics: dict[str, str], path: str, out: Imported, algorithm: dict[str, Any]) -> None:
    """The SDK's script-mode hyperparameters -> algorithm.entry_point and algorithm.source."""
    from amt.model import Algorithm

    if "entry_point" not in Algorithm.model_fields:
        raise NotExpressible([FieldError(f"{path}.{next(k for k in SDK_SCRIPT_MODE if k in statics)}",
                                         "script mode (algorithm.entry_point, algorithm.source) is not in the "
                                         "spec yet")])
    errors = [FieldError(f"{path}.{k}", "script mode needs both sagemaker_program and sagemaker_submit_directory")
              for k in ("sagemaker_program", "sagemaker_submit_directory") if k not in statics]
    level = statics.pop("sagemaker_container_log_level", None)
    if level is not None and toolkit_value(level) != SDK_LOG_LEVEL:
        errors.append(FieldError(f"{path}.sagemaker_container_log_level", f"amt sends {SDK_LOG_LEVEL} (INFO, the "
                                 f"SDK's default); the source has {level!r}"))
    if errors:
        raise NotExpressible(errors)
    algorithm["entry_point"] = _decoded(statics.pop("sagemaker_program"))
    algorithm["source"] = _decoded(statics.pop("sagemaker_submit_directory"))
    region = statics.pop("sagemaker_region", None)
    if region is not None:
        out.notes.append(f"{path}.sagemaker_region: amt sends the region it renders for (the source has "
                         f"{_decoded(region)})")


def _ranges(src: _Source, out: Imported) -> dict[str, Any]:
    ranges: dict[str, Any] = {}
    for kind, key in (("integer", "IntegerParameterRanges"), ("continuous", "ContinuousParameterRanges")):
        for i, r in enumerate(src.take(key, [])):
            where = f"{src.path}.{key}.{i}"
            spec = {"type": kind, "min": _number(r.pop("MinValue", None), kind, f"{where}.MinValue"),
                    "max": _number(r.pop("MaxValue", None), kind, f"{where}.MaxValue")}
            scaling = r.pop("ScalingType", "Auto")
            if scaling not in _SCALING:
                src.errors.append(FieldError(f"{where}.ScalingType", f"unknown value {scaling!r}"))
            elif scaling != "Auto":
                spec["scaling"] = _SCALING[scaling]
            ranges[r.pop("Name")] = spec
            _leftover(r, where, src.errors)
    for i, r in enumerate(src.take("CategoricalParameterRanges", [])):
        ranges[r.pop("Name")] = {"type": "categorical", "values": list(r.pop("Values"))}
        _leftover(r, f"{src.path}.CategoricalParameterRanges.{i}", src.errors)
    for i, r in enumerate(src.take("AutoParameters", [])):
        if not _has_autotune():
            src.errors.append(FieldError(f"{src.path}.AutoParameters", "Autotune's AutoParameters (ranges of type "
                                                                        "auto) are not in the spec yet"))
            break
        ranges[r.pop("Name")] = {"type": "auto", "hint": r.pop("ValueHint")}
        _leftover(r, f"{src.path}.AutoParameters.{i}", src.errors)
    src.finish()
    return ranges


def _has_autotune() -> bool:
    from amt.model import Spec

    return "autotune" in Spec.model_fields


def _number(text: Any, kind: str, where: str) -> int | float:
    """A range bound as the number SageMaker reads from its text."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise NotExpressible([FieldError(where, f"{text!r} is not a number")]) from None
    if kind == "integer" or (value.is_integer() and re.fullmatch(r"-?\d+", str(text))):
        return int(value)
    return value


def _completion(src: _Source) -> dict[str, Any]:
    if not src.present:
        return {}
    out: dict[str, Any] = {}
    _put(out, "target", src.take("TargetObjectiveMetricValue"))
    _put(out, "max_jobs_not_improving",
         src.child("BestObjectiveNotImproving").take("MaxNumberOfTrainingJobsNotImproving"))
    if src.child("ConvergenceDetected").take("CompleteOnConvergence") == "Enabled":
        out["stop_on_convergence"] = True
    src.finish()
    return out


def _channels(channels: list[dict[str, Any]], where: str, errors: list[FieldError]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for i, raw in enumerate(channels):
        ch = _Source(raw, f"{where}.InputDataConfig.{i}", errors)
        name = ch.take("ChannelName")
        source = ch.child("DataSource")
        s3 = source.child("S3DataSource")
        fs = source.child("FileSystemDataSource")
        spec: dict[str, Any] = {}
        if s3.present:
            spec["uri"] = s3.take("S3Uri")
            kind = s3.take("S3DataType", "S3Prefix")
            if kind != "S3Prefix":
                spec["s3_data_type"] = kind
            dist = s3.take("S3DataDistributionType", "FullyReplicated")
            if dist != "FullyReplicated":
                spec["distribution"] = dist
            _put(spec, "attribute_names", s3.take("AttributeNames"))
        if fs.present:
            fs_type = fs.take("FileSystemType")
            spec["file_system"] = _pruned({
                "type": _FILE_SYSTEM.get(fs_type, fs_type), "id": fs.take("FileSystemId"),
                "path": fs.take("DirectoryPath"), "access_mode": fs.take("FileSystemAccessMode")})
        _put(spec, "content_type", ch.take("ContentType"))
        _put(spec, "compression", ch.take("CompressionType"))
        _put(spec, "record_wrapper", ch.take("RecordWrapperType"))
        _put(spec, "input_mode", ch.take("InputMode"))
        _put(spec, "shuffle_seed", ch.child("ShuffleConfig").take("Seed"))
        ch.finish()
        data[name] = spec
    return data


def _kms(key: str | None, instance: dict[str, Any], doc: dict[str, Any], src: _Source) -> None:
    from amt.instances import has_local_storage

    volume = instance.get("volume_kms")
    if key is None and volume is None:
        return
    # On local NVMe storage SageMaker refuses a volume key and amt sends only the output key.
    local = any(has_local_storage(x) for x in instance.get("types", []))
    if key != volume and not (local and volume is None):
        src.errors.append(FieldError(f"{src.path}.OutputDataConfig.KmsKeyId", "the spec's kms_key_id encrypts both "
                                     "the output and the volume with one key (the source has "
                                     f"output {key!r}, volume {volume!r})"))
        return
    doc["kms_key_id"] = key


def _tags(tags: list[dict[str, str]], out: Imported) -> dict[str, str]:
    kept = {t["Key"]: t.get("Value", "") for t in tags if not t["Key"].startswith(AMT_TAG_PREFIX)}
    if len(kept) < len(tags):
        out.notes.append("Tags: the amt: tags are left out (amt adds them to every job)")
    return kept


def _enum(src: _Source, key: str, mapping: dict[str, str]) -> str | None:
    value = src.take(key)
    if value is None:
        return None
    if value not in mapping:
        src.errors.append(FieldError(f"{src.path}.{key}", f"unknown value {value!r}; one of {', '.join(mapping)}"))
        return None
    return mapping[value]


# --- helpers ----------------------------------------------------------------------------------

class _Source:
    """A part of the request being imported; `take` removes a field, `finish` reports what is left."""

    def __init__(self, data: Any, path: str = "", errors: list[FieldError] | None = None) -> None:
        self.data: dict[str, Any] = data if isinstance(data, dict) else {}
        self.present = isinstance(data, dict)
        self.path = path
        self.errors: list[FieldError] = [] if errors is None else errors
        self._children: list[_Source] = []

    def take(self, key: str, default: Any = None) -> Any:
        return self.data.pop(key, default)

    def child(self, key: str) -> _Source:
        node = _Source(self.data.get(key), f"{self.path}.{key}" if self.path else key, self.errors)
        self._children.append(node)
        return node

    def refuse_if_present(self, key: str, message: str) -> None:
        if key in self.data:
            self.data.pop(key)
            self.errors.append(FieldError(f"{self.path}.{key}" if self.path else key, message))

    def finish(self) -> None:
        """Every field nobody took is an error: the spec cannot express it."""
        for node in self._children:
            node.finish()
            parent_key = node.path.rsplit(".", 1)[-1]
            if node.present and not node.data and self.data.get(parent_key) == {}:
                del self.data[parent_key]
        for key, value in list(self.data.items()):
            if value in ({}, [], None):
                continue  # an empty list or map says nothing
            where = f"{self.path}.{key}" if self.path else key
            if not any(e.path.startswith(where) for e in self.errors):
                self.errors.append(FieldError(where, "the spec has no field for this; not imported"))
        self.data.clear()


def _definitions(request: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    if isinstance(request.get("TrainingJobDefinition"), dict):
        found.append(("TrainingJobDefinition", request["TrainingJobDefinition"]))
    for i, d in enumerate(request.get("TrainingJobDefinitions") or []):
        found.append((f"TrainingJobDefinitions.{i}", d))
    return found


def _leftover(data: dict[str, Any], where: str, errors: list[FieldError]) -> None:
    for key, value in data.items():
        if value not in ({}, [], None):
            errors.append(FieldError(f"{where}.{key}", "the spec has no field for this; not imported"))


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def _json_text(value: Any) -> str | None:
    if not isinstance(value, str) or not value.startswith('"'):
        return None
    try:
        decoded = json.loads(value)
    except ValueError:
        return None
    return decoded if isinstance(decoded, str) else None


def _decoded(value: str) -> str:
    text = _json_text(value)
    return value if text is None else text


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        target[key] = value


def _pruned(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}
