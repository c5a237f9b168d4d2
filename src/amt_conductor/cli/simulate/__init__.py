"""Local simulator: runs the synthesized state machine in moto with the real handlers.

`run_simulation(spec_path, ...) -> SimulationResult` is the API (see `engine`); the poll-loop
baseline for comparisons is in `baseline`. Imported lazily: `amt` loads this package for every
command, and moto is only needed when a simulation runs.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RoundResult", "SimulationResult", "run_simulation"]


def __getattr__(name: str) -> Any:
    if name == "run_simulation":
        from amt_conductor.cli.simulate.engine import run_simulation

        return run_simulation
    if name in {"SimulationResult", "RoundResult"}:
        from amt_conductor.cli.simulate import results

        return getattr(results, name)
    raise AttributeError(name)
