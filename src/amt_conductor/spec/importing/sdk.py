"""What the SageMaker Python SDK writes into a request, read back as a spec says it.

Framework estimators (SDK v2) write every hyperparameter as JSON and add bookkeeping for their `attach()`;
script mode is four hyperparameters the SageMaker training toolkit reads; under network isolation the code
archive arrives as a channel. The spec has `algorithm.entry_point` and `algorithm.source` for script mode.
"""

from __future__ import annotations

import json
from typing import Any

from amt_conductor.spec.errors import FieldError
from amt_conductor.spec.importing.source import Imported, NotExpressible, Source

# What the SageMaker Python SDK adds for its own `attach()`; the training container never reads them.
SDK_BOOKKEEPING = ("sagemaker_job_name", "sagemaker_estimator_class_name", "sagemaker_estimator_module")
# Script-mode hyperparameters the SDK sets for framework containers (the training toolkit reads them).
SDK_SCRIPT_MODE = ("sagemaker_program", "sagemaker_submit_directory", "sagemaker_region",
                   "sagemaker_container_log_level")
SDK_LOG_LEVEL = 20  # logging.INFO, the SDK's default container_log_level


def sdk_quoted(request_definition: dict[str, Any]) -> bool:
    """True when the SageMaker SDK wrote the definition's hyperparameters as JSON (framework estimators)."""
    statics = request_definition.get("StaticHyperParameters") or {}
    return any(json_text(statics.get(k)) is not None for k in ("sagemaker_program", *SDK_BOOKKEEPING[1:]))


def unquote(value: str) -> str:
    """The spec's text for an SDK-written value. The SageMaker training toolkit JSON-decodes every
    hyperparameter (sagemaker_training.environment.read_hyperparameters) and passes str() of the result to
    the script, so `"\\"rgcn\\""` and `rgcn` both arrive as rgcn: the quotes go. `"\\"1.10\\""` arrives as
    the text 1.10 but `1.10` would arrive as 1.1 (and `"\\"false\\""` as false, `false` as False): such
    values keep the SDK's quotes."""
    text = json_text(value)
    if text is None or toolkit_value(text) != text:
        return value
    return text


def toolkit_value(value: str) -> Any:
    """What the SageMaker training toolkit makes of a hyperparameter value: JSON if it parses, else the text."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def static_hyperparameters(statics: dict[str, str], quoted: bool, where: str, out: Imported,
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
    errors = [FieldError(f"{path}.{k}", "script mode needs both sagemaker_program and sagemaker_submit_directory")
              for k in ("sagemaker_program", "sagemaker_submit_directory") if k not in statics]
    level = statics.pop("sagemaker_container_log_level", None)
    if level is not None and toolkit_value(level) != SDK_LOG_LEVEL:
        errors.append(FieldError(f"{path}.sagemaker_container_log_level", f"amt sends {SDK_LOG_LEVEL} (INFO, the "
                                 f"SDK's default); the source has {level!r}"))
    if errors:
        raise NotExpressible(errors)
    algorithm["entry_point"] = decoded(statics.pop("sagemaker_program"))
    algorithm["source"] = decoded(statics.pop("sagemaker_submit_directory"))
    region = statics.pop("sagemaker_region", None)
    if region is not None:
        out.notes.append(f"{path}.sagemaker_region: amt sends the region it renders for (the source has "
                         f"{decoded(region)})")


def code_channel(doc: dict[str, Any], algorithm: dict[str, Any], src: Source) -> None:
    """Under network isolation the SDK passes the code archive as a `code` channel and points
    sagemaker_submit_directory at its local copy; amt does the same from algorithm.source."""
    from amt_conductor.spec.scriptmode import CODE_CHANNEL, CODE_CHANNEL_ARCHIVE

    if algorithm.get("source") != CODE_CHANNEL_ARCHIVE:
        return
    channel = doc["data"].get(CODE_CHANNEL, {})
    if set(channel) != {"uri"}:
        src.errors.append(FieldError(f"{src.path}.StaticHyperParameters.sagemaker_submit_directory",
                                     f"points into a {CODE_CHANNEL!r} channel, but the request has no plain S3 "
                                     f"channel {CODE_CHANNEL!r} with the code archive"))
        return
    algorithm["source"] = doc["data"].pop(CODE_CHANNEL)["uri"]


def json_text(value: Any) -> str | None:
    if not isinstance(value, str) or not value.startswith('"'):
        return None
    try:
        decoded = json.loads(value)
    except ValueError:
        return None
    return decoded if isinstance(decoded, str) else None


def decoded(value: str) -> str:
    text = json_text(value)
    return value if text is None else text

