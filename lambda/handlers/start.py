"""Start a run: S3 spec upload (via EventBridge) or schedule tick -> StartExecution, once per object version or tick."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from amt_conductor.runtime.observability import logger, metrics
from amt_conductor.runtime.workflow import Runtime, start_run

RUNTIME = Runtime.from_env()  # settings now, clients on first use; reused while the container lives


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return start_run(RUNTIME, event)
