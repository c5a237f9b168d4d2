"""One training job definition of a request -> the spec's algorithm, hyperparameters, ranges, data, resources."""

from __future__ import annotations

import re
from typing import Any

from amt_conductor.spec.errors import FieldError
from amt_conductor.spec.importing.sdk import code_channel, sdk_quoted, static_hyperparameters, unquote
from amt_conductor.spec.importing.source import Imported, NotExpressible, Source, leftover, pruned, put

_ECR = re.compile(r"^\d{12}\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com/")
_SCALING = {"Auto": "auto", "Linear": "linear", "Logarithmic": "log", "ReverseLogarithmic": "reverse_log"}
_FILE_SYSTEM = {"EFS": "efs", "FSxLustre": "fsx_lustre"}


def import_definition(src: Source, doc: dict[str, Any], resources: dict[str, Any], out: Imported) -> None:
    """Carry one HyperParameterTrainingJobDefinition into `doc` (algorithm, hyperparameters, data, output, ...)
    and `resources` (instances, time per job); what the spec cannot express goes to `src.errors`."""
    src.take("RoleArn")
    out.notes.append(f"{src.path}.RoleArn: not imported; the stack's SageMaker execution role is used")
    quoted = sdk_quoted(src.data)
    statics = dict(src.take("StaticHyperParameters", {}))
    algo = src.child("AlgorithmSpecification")
    image = algo.take("TrainingImage")
    instance = _instance(src, resources)
    algorithm: dict[str, Any] = _algorithm(image, instance, out) if image else {}
    put(algorithm, "name", algo.take("AlgorithmName"))
    mode = algo.take("TrainingInputMode")
    if mode and mode != "File":
        algorithm["input_mode"] = mode
    metrics = algo.take("MetricDefinitions", [])
    if metrics:
        algorithm["metrics"] = [{"name": m.pop("Name", None), "regex": m.pop("Regex", None)} for m in metrics]
        for i, m in enumerate(metrics):
            leftover(m, f"{algo.path}.MetricDefinitions.{i}", src.errors)
    doc["hyperparameters"] = static_hyperparameters(statics, quoted, src.path, out, algorithm)
    doc["algorithm"] = algorithm
    if quoted:
        for r in doc.get("ranges", {}).values():
            if r["type"] == "categorical":
                r["values"] = [unquote(v) for v in r["values"]]
    doc["data"] = _channels(src.take("InputDataConfig", []), src.path, src.errors, out.notes)
    code_channel(doc, algorithm, src)
    output = src.child("OutputDataConfig")
    put(doc, "output_uri", output.take("S3OutputPath"))
    compression = output.take("CompressionType")
    if compression is not None:
        doc["output_compression"] = compression.lower()
    checkpoint = src.child("CheckpointConfig")
    if checkpoint.present:
        doc["checkpoint"] = pruned({"uri": checkpoint.take("S3Uri"), "local_path": checkpoint.take("LocalPath")})
    retry = src.child("RetryStrategy").take("MaximumRetryAttempts")
    if retry is not None:
        doc["retry"] = {"max_attempts": retry}
    _kms(output.take("KmsKeyId"), instance, doc, src)
    stopping = src.child("StoppingCondition")
    resources["max_runtime_per_job"] = stopping.take("MaxRuntimeInSeconds")
    put(resources, "max_pending", stopping.take("MaxPendingTimeInSeconds"))
    spot = bool(src.take("EnableManagedSpotTraining", False))
    wait = stopping.take("MaxWaitTimeInSeconds")
    if spot:
        doc["spot"] = pruned({"enabled": True, "max_wait": wait})
    elif wait is not None:
        src.errors.append(FieldError(f"{stopping.path}.MaxWaitTimeInSeconds", "only with EnableManagedSpotTraining"))
    network = pruned({
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


def _instance(src: Source, resources: dict[str, Any]) -> dict[str, Any]:
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
            pruned({"instance_type": c.pop("InstanceType", None), "instance_count": c.pop("InstanceCount", None),
                     "volume_size_gb": c.pop("VolumeSizeInGB", None)}) for c in choices]
        first = resources["instance_configs"][0].get("instance_type")
    else:
        resources["instance_type"] = first = res.take("InstanceType")
        put(resources, "instance_count", res.take("InstanceCount"))
        put(resources, "volume_size_gb", res.take("VolumeSizeInGB"))
    types = [c.get("instance_type") for c in resources.get("instance_configs", [])] or [first]
    return {"type": first, "types": [x for x in types if x], "volume_kms": res.take("VolumeKmsKeyId")}


def _algorithm(image: str, instance: dict[str, Any], out: Imported) -> dict[str, Any]:
    found = _builtin(image, instance.get("type") or "ml.m5.xlarge")
    if found is None:
        return {"image": image}
    if out.region not in (None, found["region"]):
        return {"image": image}  # one spec renders in one region: keep the URI when definitions disagree
    out.region = found.pop("region")
    out.notes.append(f"algorithm: {image} is the built-in {found['builtin']} {found['version']}; render in "
                     f"{out.region} for this image")
    return pruned(found)


def _builtin(image: str, instance_type: str) -> dict[str, Any] | None:
    """builtin, version, py_version, base_framework and region whose catalog image is exactly `image`."""
    from amt_conductor.spec.images import ImageError, _catalog, resolve_image

    match = _ECR.match(image)
    if not match:
        return None
    region = match[1]
    repository = image[match.end():].split(":")[0].split("@")[0]
    for name, algo in _catalog()["algorithms"].items():
        entries = [leaf for v in algo["versions"].values()
                   for leaf in [v, *v.get("by_py", {}).values(), *v.get("by_base", {}).values()]]
        if not any(leaf.get("repository") == repository for leaf in entries):
            continue
        pys = sorted({p for leaf in entries for p in _py_versions(leaf)})
        for version in algo["known"]:
            entry = algo["versions"].get(algo.get("aliases", {}).get(version, version), {})
            # Each base by its short alias first (pytorch2.1), as a person writes it, then its full name.
            bases = [*entry.get("base_aliases", {}), *entry.get("by_base", {})] or [None]
            for base in bases:
                for py in (None, *pys):
                    try:
                        uri = resolve_image(name, version, region, instance_type=instance_type, py_version=py,
                                            base_framework=base)
                    except ImageError:
                        continue
                    if uri == image:
                        return {"builtin": name, "version": version, "py_version": py, "base_framework": base,
                                "region": region}
    return None


def _py_versions(entry: dict[str, Any]) -> list[str]:
    return list(entry.get("by_py", {})) or list(entry.get("py_versions", []))


def builtin_algorithm_image(image: str) -> bool:
    from amt_conductor.spec.images import _catalog

    found = _builtin(image, "ml.m5.xlarge") or _builtin(image, "ml.p3.2xlarge")
    return found is not None and _catalog()["algorithms"][found["builtin"]]["kind"] == "algorithm"


def import_ranges(src: Source, out: Imported) -> dict[str, Any]:
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
            leftover(r, where, src.errors)
    for i, r in enumerate(src.take("CategoricalParameterRanges", [])):
        ranges[r.pop("Name")] = {"type": "categorical", "values": list(r.pop("Values"))}
        leftover(r, f"{src.path}.CategoricalParameterRanges.{i}", src.errors)
    for i, r in enumerate(src.take("AutoParameters", [])):
        ranges[r.pop("Name")] = {"type": "auto", "hint": r.pop("ValueHint")}
        leftover(r, f"{src.path}.AutoParameters.{i}", src.errors)
    src.finish()
    return ranges


def _number(text: Any, kind: str, where: str) -> int | float:
    """A range bound as the number SageMaker reads from its text."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise NotExpressible([FieldError(where, f"{text!r} is not a number")]) from None
    if kind == "integer" or (value.is_integer() and re.fullmatch(r"-?\d+", str(text))):
        return int(value)
    return value


def _channels(channels: list[dict[str, Any]], where: str, errors: list[FieldError],
              notes: list[str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for i, raw in enumerate(channels):
        ch = Source(raw, f"{where}.InputDataConfig.{i}", errors)
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
            dist = s3.take("S3DataDistributionType")
            if dist is None:
                notes.append(f"{s3.path}.S3DataDistributionType: not given; amt sends FullyReplicated")
            elif dist != "FullyReplicated":
                spec["distribution"] = dist
            put(spec, "attribute_names", s3.take("AttributeNames"))
        if fs.present:
            fs_type = fs.take("FileSystemType")
            spec["file_system"] = pruned({
                "type": _FILE_SYSTEM.get(fs_type, fs_type), "id": fs.take("FileSystemId"),
                "path": fs.take("DirectoryPath"), "access_mode": fs.take("FileSystemAccessMode")})
        put(spec, "content_type", ch.take("ContentType"))
        put(spec, "compression", ch.take("CompressionType"))
        put(spec, "record_wrapper", ch.take("RecordWrapperType"))
        put(spec, "input_mode", ch.take("InputMode"))
        put(spec, "shuffle_seed", ch.child("ShuffleConfig").take("Seed"))
        ch.finish()
        data[name] = spec
    return data


def _kms(key: str | None, instance: dict[str, Any], doc: dict[str, Any], src: Source) -> None:
    from amt_conductor.spec.instances import has_local_storage

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

