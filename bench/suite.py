"""The test suite: wall time of `make test`, and what dominates it (pytest's slowest tests)."""

from __future__ import annotations

import re

from bench.common import progress, timed

SLOWEST = 8
_DURATION = re.compile(r"^\s*([\d.]+)s\s+(call|setup|teardown)\s+(\S+)", re.M)


def run() -> dict[str, object]:
    progress("test suite: make test (this takes a few minutes)")
    seconds, output = timed(["make", "--no-print-directory", "test"],
                            extra_env={"PYTEST_ADDOPTS": f"--durations={SLOWEST}"})
    slowest = [{"seconds": float(s), "phase": phase, "test": test} for s, phase, test in _DURATION.findall(output)]
    return {"make_test_s": round(seconds, 1), "slowest": slowest[:SLOWEST]}
