"""Logs and metrics shared by the handlers: one Powertools Logger (study and job name on every
line once bound) and EMF metrics in the project's namespace."""

from __future__ import annotations

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import Metrics, MetricUnit

from amt_conductor.contract import METRICS_NAMESPACE

logger = Logger()
metrics = Metrics(namespace=METRICS_NAMESPACE)


def bind(**keys: object) -> None:
    """Append correlation keys (study, job_name, run_id, round) to every following log line."""
    logger.append_keys(**{k: v for k, v in keys.items() if v is not None})


def count(name: str, value: float = 1, *, study: str | None = None) -> None:
    """Add a count metric; `study` becomes the `study` dimension of this invocation's metrics."""
    if study:
        metrics.add_dimension(name="study", value=study)
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def gauge(name: str, value: float, *, study: str | None = None) -> None:
    """Add a unitless value metric (e.g. BestObjective)."""
    if study:
        metrics.add_dimension(name="study", value=study)
    metrics.add_metric(name=name, unit=MetricUnit.NoUnit, value=value)
