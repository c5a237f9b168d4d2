"""Helpers shared by the benchmarks: timing subprocesses, medians, progress lines."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = "20"
    e["AWS_EC2_METADATA_DISABLED"] = "true"
    e["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    return e


def progress(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


def timed(cmd: list[str], *, cwd: Path = ROOT, extra_env: dict[str, str] | None = None) -> tuple[float, str]:
    """Wall seconds of `cmd` and its combined output; raises with the output if it fails."""
    e = env()
    e.update(extra_env or {})
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=e, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return elapsed, proc.stdout + proc.stderr


def median(values: list[float]) -> float:
    return round(statistics.median(values), 4)
