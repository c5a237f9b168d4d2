"""Rendering, report files and execution names are the same in every process (issue 14: a value compared
with itself recomputed in one process cannot catch the hash-seed dependence these names are about)."""

from __future__ import annotations

import pytest
from determinism import digests, digests_in_subprocess

# Two seeds, so at least one differs from this process's own (random unless PYTHONHASHSEED is set).
SEEDS = (1, 2)


@pytest.fixture(scope="module")
def across_processes() -> list[dict[str, str]]:
    return [digests(), *(digests_in_subprocess(seed) for seed in SEEDS)]


@pytest.mark.parametrize("output", ["request_json", "report_files", "execution_names"])
def test_the_output_does_not_depend_on_the_process(across_processes: list[dict[str, str]], output: str) -> None:
    values = {d[output] for d in across_processes}
    assert len(values) == 1, f"{output} differs between processes with other hash seeds"
