"""Scheduled backstop: resume executions whose tuning job ended but whose event was lost."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from amt_conductor.runtime.observability import logger, metrics
from amt_conductor.runtime.workflow import Runtime, reconcile

RUNTIME = Runtime.from_env()  # settings now, clients on first use; reused while the container lives


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    return reconcile(RUNTIME)
