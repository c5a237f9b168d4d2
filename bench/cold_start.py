"""Cold start: a fresh interpreter's import time of each handler, next to the SageMaker SDK's.

Handlers defer some imports to their first call, so each handler is measured twice: its module
alone, and its module plus every module the Lambda asset ships (the handlers' import closure,
`amt_conductor.cdk.asset`), an upper bound of what a first invocation imports. Imports come from the
staged asset, as in Lambda. Each figure is the median over repeated runs of `python -c` measuring
only the imports (interpreter start-up excluded), so handlers and the SDK are compared alike.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from bench.common import PYTHON, ROOT, env, median, progress

RUNS = 7
# What a handler would import to resolve images and describe tuning jobs with the SDK instead.
SDK_MODULES = ("sagemaker.core.image_uris", "sagemaker.core.resources")
_PROBE = "{pre}import time; t = time.perf_counter(); import {mod}; print(time.perf_counter() - t)"


def _asset_env() -> dict[str, str]:
    from amt_conductor.cdk.asset import lambda_code_dir

    e = env()
    e["PYTHONPATH"] = os.pathsep.join([str(lambda_code_dir()), str(ROOT / "build" / "layer" / "python")])
    return e


def import_seconds(module: str, runs: int = RUNS, preload: str = "") -> float:
    """Median seconds to import `module` in a fresh interpreter (after `preload`, untimed, if given),
    with the staged Lambda asset first on the path."""
    samples = []
    pre = f"import {preload}; " if preload else ""
    for _ in range(runs):
        out = subprocess.run([PYTHON, "-c", _PROBE.format(pre=pre, mod=module)], cwd=ROOT, env=_asset_env(),
                             capture_output=True, text=True, check=True).stdout
        samples.append(float(out.strip().splitlines()[-1]))
    return median(samples)


def library_modules() -> list[str]:
    """What the asset ships besides the handlers."""
    from amt_conductor.cdk import asset

    return sorted(m for m in asset.import_closure(asset.handler_modules())
                  if not m.startswith(asset.HANDLERS_PACKAGE))


def handler_modules() -> list[str]:
    from amt_conductor.cdk import asset

    return sorted(asset.handler_modules())


def dir_bytes(path: Path, exclude: tuple[str, ...] = ("__pycache__",)) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not any(x in f.parts for x in exclude))


def run() -> dict[str, object]:
    handlers: dict[str, float] = {}
    modules_only: dict[str, float] = {}
    beyond_boto3: dict[str, float] = {}
    library = "; import ".join(library_modules())
    for mod in handler_modules():
        progress(f"cold start: importing {mod}: alone, with the spec library, and after boto3 ({RUNS} runs each)")
        modules_only[mod.rsplit(".", 1)[1]] = import_seconds(mod)
        handlers[mod.rsplit(".", 1)[1]] = import_seconds(f"{mod}; import {library}")
        # Measured, not subtracted: the same imports in an interpreter that already has boto3.
        beyond_boto3[mod.rsplit(".", 1)[1]] = import_seconds(f"{mod}; import {library}", preload="boto3")
    progress(f"cold start: importing {' + '.join(SDK_MODULES)}")
    sdk = import_seconds("; import ".join(SDK_MODULES), runs=3)
    progress("cold start: importing boto3 alone (every handler needs it; so would the SDK)")
    boto3_s = import_seconds("boto3")
    layer = ROOT / "build" / "layer"
    from amt_conductor.cdk.asset import lambda_code_dir

    return {
        "handlers_s": handlers,  # module + the whole spec library: an upper bound of a first invocation
        "handler_modules_only_s": modules_only,
        "handlers_beyond_boto3_s": beyond_boto3,  # the same, after boto3 is imported: the handler's own cost
        "sagemaker_sdk_import_s": sdk,
        "boto3_import_s": boto3_s,
        "sdk_modules": list(SDK_MODULES),
        "asset_bytes": dir_bytes(lambda_code_dir()),
        "layer_bytes": dir_bytes(layer) if layer.is_dir() else None,
    }
