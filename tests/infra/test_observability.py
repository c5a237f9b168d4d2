"""Dashboard and alarms (issue 4, items 3 and 4): what operators see and what pages them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Capture, Match

from amt_conductor.cdk import ids
from amt_conductor.contract import METRICS_NAMESPACE

pytestmark = pytest.mark.infra


def _alarms(synth: Any) -> dict[str, dict[str, Any]]:
    return synth.resources("AWS::CloudWatch::Alarm")


def test_every_alarm_notifies_the_topic_on_alarm_and_recovery(synth: Any) -> None:
    alarms = _alarms(synth)
    assert len(alarms) == 2 + len(ids.HANDLERS) + 2
    for lid, alarm in alarms.items():
        p = alarm["Properties"]
        assert [a["Ref"][:len("NotificationsTopic")] for a in p["AlarmActions"]] == ["NotificationsTopic"], lid
        assert p["OKActions"] == p["AlarmActions"], lid
        assert p["TreatMissingData"] == "notBreaching", lid
        assert len(p["AlarmDescription"]) > 40, lid


def test_failed_and_timed_out_executions_alarm(synth: Any) -> None:
    for metric in ("ExecutionsFailed", "ExecutionsTimedOut"):
        synth.template.has_resource_properties("AWS::CloudWatch::Alarm", {
            "Namespace": "AWS/States", "MetricName": metric, "Statistic": "Sum",
            "Dimensions": [{"Name": "StateMachineArn", "Value": {"Ref": Match.string_like_regexp("StateMachine")}}],
        })


def test_each_handler_has_an_errors_alarm_and_throttles_alarm_covers_all(synth: Any) -> None:
    errors = [a for a in _alarms(synth).values() if a["Properties"].get("MetricName") == "Errors"]
    fns = {a["Properties"]["Dimensions"][0]["Value"]["Ref"] for a in errors}
    assert len(fns) == len(ids.HANDLERS)
    throttles = Capture()
    synth.template.has_resource_properties("AWS::CloudWatch::Alarm", {"Metrics": throttles})
    names = [m["MetricStat"]["Metric"]["MetricName"] for m in throttles.as_array() if "MetricStat" in m]
    assert names == ["Throttles"] * len(ids.HANDLERS)


def test_alarm_thresholds_follow_the_environment(synth: Any, synth_factory: Any) -> None:
    def failed_threshold(s: Any) -> int:
        (a,) = [a for a in _alarms(s).values() if a["Properties"].get("MetricName") == "ExecutionsFailed"]
        return int(a["Properties"]["Threshold"])

    prod = synth_factory({"amt:env": "prod", "amt:configsDir": "/none"}, nag=False)
    assert failed_threshold(prod) == 1 < failed_threshold(synth)


def test_dashboard_shows_runs_jobs_in_flight_best_objective_and_handler_health(synth: Any) -> None:
    (dash,) = synth.resources("AWS::CloudWatch::Dashboard").values()
    body = dash["Properties"]["DashboardBody"]
    text = "".join(p if isinstance(p, str) else json.dumps(p) for p in body["Fn::Join"][1])
    for needle in ("ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut",
                   f'"{METRICS_NAMESPACE}","TuningJobsInFlight"', "BestObjective", "Errors",
                   "Duration", "Throttles"):
        assert needle in text, needle
    assert f"SEARCH('{{{METRICS_NAMESPACE},service,study}} MetricName=" in text


def _emitted_metric_names() -> set[str]:
    """Names the runtime emits through amt_conductor.runtime.observability's count()/gauge() (read from the source)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    files = [*(root / "src" / "amt_conductor" / "runtime").rglob("*.py"), *(root / "lambda").rglob("*.py")]
    source = "\n".join(p.read_text() for p in files)
    return set(re.findall(r'\b(?:count|gauge)\(\s*"([A-Za-z]+)"', source))


def test_the_dashboard_graphs_only_metrics_the_handlers_emit(synth: Any) -> None:
    # A renamed metric would leave an empty graph that nobody notices until an incident.
    import re

    (dash,) = synth.resources("AWS::CloudWatch::Dashboard").values()
    parts = dash["Properties"]["DashboardBody"]["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else json.dumps(p) for p in parts)
    graphed = set(re.findall(rf'"{METRICS_NAMESPACE}","([A-Za-z]+)"', text))
    graphed |= set(re.findall(r"MetricName=\\\\?\"?([A-Za-z]+)", text))
    emitted = _emitted_metric_names()
    assert {"TuningJobsInFlight", "BestObjective", "RoundsCompleted", "RunsFailed", "TuningJobsLaunched"} <= graphed
    assert graphed <= emitted, f"graphed but never emitted: {sorted(graphed - emitted)}"
