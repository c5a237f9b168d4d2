"""Promote state: register the study's best training job as a model package version when it beats the current one."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from amt_conductor.runtime.observability import logger, metrics
from amt_conductor.runtime.promote import promote_step
from amt_conductor.runtime.workflow import Runtime

RUNTIME = Runtime.from_env()  # settings now, clients on first use; reused while the container lives


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return promote_step(RUNTIME, event)
