"""Cold start: a fresh interpreter's import time of each handler module, next to the SageMaker SDK's.

Each figure is the median over repeated runs of `python -c` measuring only the import
(interpreter start-up excluded), so handlers and the SDK are compared on the same footing.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from bench.common import PYTHON, ROOT, env, median, progress

RUNS = 7
# What a handler would import to resolve images and describe tuning jobs with the SDK instead.
SDK_MODULES = ("sagemaker.core.image_uris", "sagemaker.core.resources")
_PROBE = "import time; t = time.perf_counter(); import {mod}; print(time.perf_counter() - t)"


def import_seconds(module: str, runs: int = RUNS) -> float:
    """Median seconds to import `module` in a fresh interpreter."""
    samples = []
    for _ in range(runs):
        out = subprocess.run([PYTHON, "-c", _PROBE.format(mod=module)], cwd=ROOT, env=env(),
                             capture_output=True, text=True, check=True).stdout
        samples.append(float(out.strip().splitlines()[-1]))
    return median(samples)


def handler_modules() -> list[str]:
    return sorted(f"handlers.{p.stem}" for p in (ROOT / "lambda" / "handlers").glob("*.py") if p.stem != "__init__")


def dir_bytes(path: Path, exclude: tuple[str, ...] = ("__pycache__",)) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not any(x in f.parts for x in exclude))


def run() -> dict[str, object]:
    handlers: dict[str, float] = {}
    for mod in handler_modules():
        progress(f"cold start: importing {mod} ({RUNS} fresh interpreters)")
        handlers[mod.split(".", 1)[1]] = import_seconds(mod)
    progress(f"cold start: importing {' + '.join(SDK_MODULES)}")
    sdk = import_seconds("; import ".join(SDK_MODULES), runs=3)
    progress("cold start: importing boto3 alone (every handler needs it; so would the SDK)")
    boto3_s = import_seconds("boto3")
    layer = ROOT / "build" / "layer"
    return {
        "handlers_s": handlers,
        "sagemaker_sdk_import_s": sdk,
        "boto3_import_s": boto3_s,
        "sdk_modules": list(SDK_MODULES),
        "asset_bytes": dir_bytes(ROOT / "lambda"),
        "layer_bytes": dir_bytes(layer) if layer.is_dir() else None,
    }
