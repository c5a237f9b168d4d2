"""Importing: a CreateHyperParameterTuningJob request (or a Describe response) -> a spec document.

The inverse of `amt_conductor.spec.render`. Every field of the source is either carried into the spec, or named in
an error because the spec cannot express it: `take` removes what it reads, and whatever is left at
the end is an error (`FieldError` with the request's own field path). Nothing is dropped silently;
what is dropped on purpose (the role ARN, the SDK's bookkeeping, what SageMaker adds in Describe) is
reported as a note.
"""

from __future__ import annotations

import json
import re
from typing import Any

from amt_conductor.spec.errors import FieldError
from amt_conductor.spec.importing.definition import builtin_algorithm_image, import_definition, import_ranges
from amt_conductor.spec.importing.multi import import_definitions
from amt_conductor.spec.importing.sdk import SDK_BOOKKEEPING, sdk_quoted, toolkit_value, unquote
from amt_conductor.spec.importing.source import Imported, NotExpressible, Source, enum_value, pruned, put
from amt_conductor.spec.naming import max_study_name_length

__all__ = ["SDK_BOOKKEEPING", "Imported", "NotExpressible", "request_from_describe", "sdk_quoted",
           "spec_from_request", "study_name", "toolkit_value", "unquote"]

# SageMaker adds this to every training job of a tuning job; Describe lists it, a request never has it.
TUNING_OBJECTIVE_HP = "_tuning_objective_metric"
REQUEST_FIELDS = ("HyperParameterTuningJobName", "HyperParameterTuningJobConfig", "TrainingJobDefinition",
                  "TrainingJobDefinitions", "WarmStartConfig", "Tags", "Autotune")
AMT_TAG_PREFIX = "amt:"
_STRATEGY = {"Bayesian": "bayesian", "Random": "random", "Grid": "grid", "Hyperband": "hyperband"}
_WARM_START = {"IdenticalDataAndAlgorithm": "identical_data_and_algorithm", "TransferLearning": "transfer_learning"}


def request_from_describe(response: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """The request fields of a DescribeHyperParameterTuningJob response, without what SageMaker added."""
    request = {k: _drop_nulls(v) for k, v in response.items() if k in REQUEST_FIELDS and v is not None}
    for where, definition in _definitions(request):
        statics = definition.get("StaticHyperParameters", {})
        if TUNING_OBJECTIVE_HP in statics:
            del statics[TUNING_OBJECTIVE_HP]
        algo = definition.get("AlgorithmSpecification", {})
        if algo.get("MetricDefinitions") and builtin_algorithm_image(algo.get("TrainingImage", "")):
            # A built-in algorithm's metrics are SageMaker's own: Describe lists them, the request had none
            # (Terraform's provider drops them on import too: NormalizeHyperParameterTuningAlgorithmSpecification).
            del algo["MetricDefinitions"]
            notes.append(f"{where}.AlgorithmSpecification.MetricDefinitions: the built-in algorithm's own metrics "
                         "(listed by Describe, not part of the request) are left out")
    return request


def spec_from_request(request: dict[str, Any], *, name: str | None = None) -> Imported:
    """The spec document for `request`; raises NotExpressible naming every field the spec cannot express."""
    if not isinstance(request, dict) or "HyperParameterTuningJobConfig" not in request:
        raise NotExpressible([FieldError("", "not a CreateHyperParameterTuningJob request or Describe response "
                                             "(no HyperParameterTuningJobConfig)")])
    src = Source(json.loads(json.dumps(request)))  # a private copy: taking fields removes them
    out = Imported(doc={})
    doc = out.doc
    job_name = src.take("HyperParameterTuningJobName")
    doc["name"] = name if name is not None else study_name(job_name or "")

    config = src.child("HyperParameterTuningJobConfig")
    doc["strategy"] = enum_value(config, "Strategy", _STRATEGY)
    objective = config.child("HyperParameterTuningJobObjective")
    if objective.present:
        doc["objective"] = {"metric": objective.take("MetricName"), "goal": objective.take("Type", "").lower()}
    hyperband = config.child("StrategyConfig").child("HyperbandStrategyConfig")
    if hyperband.present:
        doc["hyperband"] = pruned({"min_resource": hyperband.take("MinResource"),
                                    "max_resource": hyperband.take("MaxResource")})
    limits = config.child("ResourceLimits")
    resources: dict[str, Any] = {"max_parallel_jobs": limits.take("MaxParallelTrainingJobs")}
    put(resources, "max_jobs", limits.take("MaxNumberOfTrainingJobs"))
    put(resources, "max_tuning_runtime", limits.take("MaxRuntimeInSeconds"))
    doc["ranges"] = import_ranges(config.child("ParameterRanges"), out)
    early = enum_value(config, "TrainingJobEarlyStoppingType", {"Off": "off", "Auto": "auto"})
    if early == "auto":
        doc["early_stopping"] = "auto"
    completion = _completion(config.child("TuningJobCompletionCriteria"))
    if completion:
        doc["completion"] = completion
    put(doc, "random_seed", config.take("RandomSeed"))

    definition = src.child("TrainingJobDefinition")
    if definition.present:
        import_definition(definition, doc, resources, out)
    elif src.data.get("TrainingJobDefinitions"):
        import_definitions(src, doc, resources, out)
    else:
        raise NotExpressible([FieldError("TrainingJobDefinition", "required: the job's training job definition")])
    doc["resources"] = resources

    autotune = src.child("Autotune")
    if autotune.present:
        mode = autotune.take("Mode")
        if mode == "Enabled":
            doc["autotune"] = True
        else:
            src.errors.append(FieldError("Autotune.Mode", f"unknown value {mode!r}; Enabled"))
    warm = src.child("WarmStartConfig")
    if warm.present:
        parents = [p.pop("HyperParameterTuningJobName", None) for p in warm.take("ParentHyperParameterTuningJobs", [])]
        doc["warm_start"] = {"type": enum_value(warm, "WarmStartType", _WARM_START), "parents": parents}
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


def _completion(src: Source) -> dict[str, Any]:
    if not src.present:
        return {}
    out: dict[str, Any] = {}
    put(out, "target", src.take("TargetObjectiveMetricValue"))
    put(out, "max_jobs_not_improving",
         src.child("BestObjectiveNotImproving").take("MaxNumberOfTrainingJobsNotImproving"))
    convergence = src.child("ConvergenceDetected")
    value = convergence.take("CompleteOnConvergence")
    if value == "Enabled":
        out["stop_on_convergence"] = True
    elif value is not None:
        # amt sends ConvergenceDetected only to enable it; an explicit Disabled (which keeps Autotune from
        # choosing it) has no spec field, and neither has anything else.
        src.errors.append(FieldError(f"{convergence.path}.CompleteOnConvergence",
                                     f"the spec can only enable it (stop_on_convergence: true); got {value!r}"))
    src.finish()
    return out


def _tags(tags: list[dict[str, str]], out: Imported) -> dict[str, str]:
    kept = {t["Key"]: t.get("Value", "") for t in tags if not t["Key"].startswith(AMT_TAG_PREFIX)}
    if len(kept) < len(tags):
        out.notes.append("Tags: the amt: tags are left out (amt adds them to every job)")
    return kept


def _definitions(request: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    if isinstance(request.get("TrainingJobDefinition"), dict):
        found.append(("TrainingJobDefinition", request["TrainingJobDefinition"]))
    for i, d in enumerate(request.get("TrainingJobDefinitions") or []):
        found.append((f"TrainingJobDefinitions.{i}", d))
    return found


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value

