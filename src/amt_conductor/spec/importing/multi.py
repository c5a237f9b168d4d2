"""TrainingJobDefinitions (multi-algorithm tuning) -> the spec's `algorithms:` list.

A spec shares everything but each definition's algorithm, hyperparameters and ranges, and optionally its
objective, data and some resources. The first definition gives the study's objective, data and resources;
later ones carry only what differs from it. What differs where the spec shares it is an error naming the field.
"""

from __future__ import annotations

from typing import Any

from amt_conductor.spec.errors import FieldError
from amt_conductor.spec.importing.definition import import_definition, import_ranges
from amt_conductor.spec.importing.source import Imported, Source

# Spec fields every definition shares, and the request fields they come from (for the error message).
SHARED = {
    "output_uri": "OutputDataConfig.S3OutputPath", "output_compression": "OutputDataConfig.CompressionType",
    "kms_key_id": "OutputDataConfig.KmsKeyId", "checkpoint": "CheckpointConfig", "retry": "RetryStrategy",
    "spot": "EnableManagedSpotTraining / StoppingCondition.MaxWaitTimeInSeconds",
    "network": "VpcConfig / EnableNetworkIsolation / EnableInterContainerTrafficEncryption",
    "environment": "Environment",
}
# Resources a definition may override (amt_conductor.spec.model.DefinitionResources), with the model's defaults.
OVERRIDABLE = {"instance_type": None, "instance_count": 1, "volume_size_gb": 30, "instance_configs": None,
               "max_runtime_per_job": None, "max_pending": None}
_GOAL = {"Maximize": "maximize", "Minimize": "minimize"}


def import_definitions(src: Source, doc: dict[str, Any], resources: dict[str, Any], out: Imported) -> None:
    """Fill `doc["algorithms"]` (and the study's objective, data and resources) from TrainingJobDefinitions."""
    items = src.take("TrainingJobDefinitions", [])
    if doc.get("ranges"):
        src.errors.append(FieldError("HyperParameterTuningJobConfig.ParameterRanges", "with TrainingJobDefinitions "
                                     "each definition has its own HyperParameterRanges"))
    doc.pop("ranges", None)
    views: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = []
    for i, raw in enumerate(items):
        part = Source(raw, f"TrainingJobDefinitions.{i}", src.errors)
        name = part.take("DefinitionName")
        objective = part.child("TuningObjective")
        goal = objective.take("Type")
        metric = objective.take("MetricName")
        view: dict[str, Any] = {"ranges": import_ranges(part.child("HyperParameterRanges"), out)}
        own: dict[str, Any] = {}
        import_definition(part, view, own, out)
        definition = {"name": name, "algorithm": view.pop("algorithm"),
                      "hyperparameters": view.pop("hyperparameters"), "ranges": view.pop("ranges")}
        if objective.present:
            definition["objective"] = {"metric": metric, "goal": _GOAL.get(goal, goal)}
        views.append((definition, view, own))
    if not views:
        return
    first_def, first_view, first_own = views[0]
    doc.setdefault("objective", first_def.get("objective"))
    doc["data"] = first_view.pop("data")
    resources.update(first_own)
    for key in SHARED:
        if key in first_view:
            doc[key] = first_view[key]
    doc["algorithms"] = []
    for i, (definition, view, own) in enumerate(views):
        if definition.get("objective") == doc.get("objective"):
            definition.pop("objective", None)
        if i and view.get("data") != doc["data"]:
            definition["data"] = view["data"]
        override = {k: v for k, v in own.items() if k in OVERRIDABLE and v != resources.get(k, OVERRIDABLE[k])}
        if override:
            definition["resources"] = override
        for key, field in SHARED.items():
            if view.get(key) != doc.get(key):
                src.errors.append(FieldError(f"TrainingJobDefinitions.{i}.{field.split(' / ')[0]}",
                                             f"differs from TrainingJobDefinitions.0; a spec shares {key} across "
                                             f"its algorithms ({field})"))
        doc["algorithms"].append(definition)
