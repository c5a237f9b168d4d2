"""The reconciler on its schedule, in simulated time: the backstop for SageMaker events that never arrive.

With `lose_events`, the simulator delivers no state-change event; the template's reconcile function runs
at the rate of the template's schedule rule, and must find the ended job and resume the run itself.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from amt_conductor.cli.simulate.runtime import FunctionError
from amt_conductor.cli.simulate.template import TemplateError

if TYPE_CHECKING:
    from amt_conductor.cli.simulate.engine import Simulation

RECONCILE_HANDLER = "amt_conductor.handlers.reconcile.handler"
_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_UNIT_S = {"minute": 60, "hour": 3600, "day": 86400}


def reconcile_schedule(template: dict[str, Any]) -> tuple[str, float]:
    """(logical id of the reconcile function, seconds between runs) from the template's schedule rule."""
    resources = template.get("Resources", {})
    functions = [lid for lid, r in resources.items() if r.get("Type") == "AWS::Lambda::Function"
                 and r.get("Properties", {}).get("Handler") == RECONCILE_HANDLER]
    for rule in resources.values():
        props = rule.get("Properties", {})
        if rule.get("Type") != "AWS::Events::Rule" or "ScheduleExpression" not in props:
            continue
        for lid in functions:
            if any(lid in json.dumps(t.get("Arn")) for t in props.get("Targets", [])):
                match = _RATE.fullmatch(props["ScheduleExpression"])
                if match is None:
                    raise TemplateError(f"reconcile schedule {props['ScheduleExpression']!r} is not a rate()")
                return lid, int(match.group(1)) * _UNIT_S[match.group(2).rstrip("s")]
    raise TemplateError("the template has no schedule rule targeting the reconcile function")


def start_reconciler(sim: Simulation, function_name: str, period_s: float, running: Callable[[], bool]) -> None:
    """Invoke the reconcile function every `period_s` simulated seconds while `running()` holds."""

    def tick() -> None:
        if not running():
            return
        event = {"source": "aws.events", "detail-type": "Scheduled Event",
                 "time": sim.clock.datetime().strftime("%Y-%m-%dT%H:%M:%SZ"), "detail": {}}
        # A failed run is recorded in runtime.errors; the next tick tries again, as the schedule would.
        with contextlib.suppress(FunctionError):
            sim.runtime.invoke(function_name, event)
        sim.clock.schedule(period_s, tick, "reconcile")

    sim.clock.schedule(period_s, tick, "reconcile")
