"""Metrics checked before launch: SageMaker's log matching run locally, and built-in algorithms' objectives.

How SageMaker reads a metric from a training log (what this module reproduces):
- It parses the algorithm's stdout and stderr, the log CloudWatch shows, with each metric's regex
  (AWS, "Define metrics and environment variables": https://docs.aws.amazon.com/sagemaker/latest/dg/
  automatic-model-tuning-define-metrics-variables.html). That page writes the regexes "in Python", so
  Python's `re` syntax is the one checked here.
- The value is what the regex's first capture group takes (same page: `Loss = (.*?);` "will capture"
  16.020744 from `... Loss = 16.020744; ...`), and it must be a number: a capture of text yields no
  metric (aws/sagemaker-python-sdk#3208: `cat=dog;` gave nothing where `canary=1.01;` gave 1.01).
- Not documented, and assumed here: the regex is searched (not anchored) in each log line on its own,
  the first match in a line counts, a group that matched nothing yields no value, and a number is
  decimal with an optional sign, fraction and exponent (`-1.5e-05`; not `nan` or `inf`).
Built-in algorithms emit their own metrics; `data/builtin_metrics.json` lists each one's tunable
objective metrics and documented direction, with the AWS page it comes from.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from amt_conductor.spec.errors import FieldError
from amt_conductor.spec.model import MetricDefinition, Spec

NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
# Input channels the built-in algorithms compute `<channel>:<metric>` objectives on.
CHANNEL_PREFIXES = ("train", "validation", "test")


def capture(pattern: re.Pattern[str], line: str) -> re.Match[str] | None:
    """The match SageMaker would take from one log line: the first, searched anywhere in the line."""
    return pattern.search(line)


def as_number(text: str | None) -> float | None:
    """The captured text as SageMaker's metric value, or None when it is not a number."""
    if text is None:
        return None
    stripped = text.strip()
    return float(stripped) if NUMBER.fullmatch(stripped) else None


def example_value(metric: MetricDefinition) -> float | None:
    """The number SageMaker would read from `metric.example`, or None (no example, or it gives none)."""
    if metric.example is None:
        return None
    match = capture(re.compile(metric.regex), metric.example)
    return as_number(match.group(1)) if match else None


def example_problem(metric: MetricDefinition) -> str | None:
    """Why `metric.regex` would not give a number from `metric.example`, or None when it does (or no example)."""
    if metric.example is None:
        return None
    line = metric.example
    match = capture(re.compile(metric.regex), line)
    if match is None:
        return f"does not match its example {_short(line)}"
    text = match.group(1)
    if not text:
        return (f"matches its example but its first group captures nothing from {_short(line)}; put the group "
                "around the number, e.g. ([-+0-9.eE]+)")
    if as_number(text) is None:
        return f"captures {_short(text)} from its example, not a number"
    whole = NUMBER.match(line, match.start(1))
    if whole is not None and whole.end() > match.end(1):
        return (f"captures {_short(text)} from its example but the number goes on ({_short(whole.group())}); "
                "widen the group, e.g. ([-+0-9.eE]+)")
    return None


@dataclass
class Series:
    """What one metric's regex found in a log: the values in order, and matches that were no number."""

    name: str
    values: list[float] = field(default_factory=list)
    not_numbers: list[str] = field(default_factory=list)

    @property
    def first(self) -> float | None:
        return self.values[0] if self.values else None

    @property
    def last(self) -> float | None:
        return self.values[-1] if self.values else None


def scan(metrics: Iterable[MetricDefinition], lines: Iterable[str]) -> list[Series]:
    """Apply every metric's regex to each line, as SageMaker does; one Series per metric, in spec order."""
    compiled = [(re.compile(m.regex), Series(m.name)) for m in metrics]
    for line in lines:
        for pattern, series in compiled:
            match = capture(pattern, line)
            if match is None:
                continue
            value = as_number(match.group(1))
            if value is None:
                series.not_numbers.append(match.group(1) or "")
            else:
                series.values.append(value)
    return [series for _, series in compiled]


def log_lines(path: Path) -> Iterator[str]:
    """Lines of a training log: plain text (a local run, an S3 export of CloudWatch Logs), or the JSON that
    `aws logs get-log-events` / `filter-log-events` print (each event's message)."""
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        head = fh.read(1)
        fh.seek(0)
        if head == "{":
            events = _cloudwatch_events(fh.read())
            if events is not None:
                for message in events:
                    yield from message.splitlines()
                return
            fh.seek(0)
        for line in fh:
            yield line.rstrip("\n")


def _cloudwatch_events(text: str) -> list[str] | None:
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    events = doc.get("events") if isinstance(doc, dict) else None
    if not isinstance(events, list):
        return None
    return [str(e.get("message", "")) for e in events if isinstance(e, dict)]


# --- built-in algorithms ----------------------------------------------------------------------

@functools.cache
def _catalog() -> dict[str, Any]:
    from importlib import resources

    data = resources.files(__package__ or "amt").joinpath("data").joinpath("builtin_metrics.json")
    catalog: dict[str, Any] = json.loads(data.read_text(encoding="utf-8"))
    return catalog


def builtin_objectives(builtin: str) -> dict[str, str] | None:
    """Tunable objective metric -> documented direction for a built-in algorithm; None when it has no such list."""
    entry = _catalog()["algorithms"].get(builtin)
    if entry is None:
        return None
    return {**entry.get("container_metrics", {}).get("metrics", {}), **entry["metrics"]}


def builtin_source(builtin: str) -> str:
    """The AWS page the algorithm's metrics come from."""
    return str(_catalog()["algorithms"][builtin]["source"])


def objective_source(builtin: str, metric: str) -> str:
    """Where `metric` is listed as a tunable metric of `builtin`: its AWS page, or the container's source."""
    entry = _catalog()["algorithms"][builtin]
    if metric in entry["metrics"]:
        return f"documented at {entry['source']}"
    return f"registered by its container: {entry['container_metrics']['source']}"


def metrics_rule(spec: Spec) -> Iterator[FieldError]:
    """Each metric's example must give a number; a built-in's objective must be one it emits for tuning.

    Runs on a single-algorithm spec or view (check_rules gives each definition of a multi-algorithm one)."""
    algo = spec.algo
    for i, metric in enumerate(algo.metrics):
        problem = example_problem(metric)
        if problem:
            yield FieldError(f"algorithm.metrics.{i}.regex", f"{metric.name!r} {problem}")
    builtin = algo.builtin
    if builtin is None or algo.image is not None or algo.entry_point is not None:
        return  # script mode runs the user's code: the script-mode rule wants declared metrics instead
    from amt_conductor.spec.images import check_builtin

    if check_builtin(builtin, algo.version):
        return  # the algorithm rule reports the name or version; its metrics would only repeat it
    reason = _catalog()["no_tuning_metrics"].get(builtin)
    if reason:
        yield FieldError("algorithm.builtin", f"{builtin} cannot be tuned: {reason}")
        return
    objectives = builtin_objectives(builtin)
    if objectives is None or spec.objective.metric in objectives:
        return
    wanted = spec.objective.metric
    close = difflib.get_close_matches(wanted, list(objectives), n=1, cutoff=0.6)
    documented = list(_catalog()["algorithms"][builtin]["metrics"])
    hint = f"did you mean {close[0]!r}? " if close else ""
    yield FieldError("objective.metric", f"{wanted!r} is not a tunable metric of {builtin}; {hint}"
                                         f"documented: {', '.join(documented)} ({builtin_source(builtin)})")


def metric_warnings(spec: Spec) -> list[str]:
    """Advice on a built-in's objective: a goal against its documented direction, or a channel it needs
    (for each algorithm of a multi-algorithm spec, once per distinct piece of advice)."""
    if spec.algorithms:
        return list(dict.fromkeys(w for view in spec.definitions() for w in metric_warnings(view)))
    algo = spec.algo
    builtin = algo.builtin
    user_code = algo.image is not None or algo.entry_point is not None
    objectives = builtin_objectives(builtin) if builtin and not user_code else None
    if not objectives or spec.objective.metric not in objectives:
        return []
    out = []
    metric, direction = spec.objective.metric, objectives[spec.objective.metric]
    if spec.objective.goal != direction:
        out.append(f"objective.goal: {spec.objective.goal} {metric}, but AWS documents it as a metric to "
                   f"{direction} ({builtin_source(str(builtin))})")
    channel = metric.split(":", 1)[0]
    if channel in CHANNEL_PREFIXES and channel not in spec.data:
        out.append(f"objective.metric: {builtin} computes {metric} on the {channel!r} channel, and data has none: "
                   "no training job would report the objective")
    return out


def _short(text: str, limit: int = 80) -> str:
    return repr(text) if len(text) <= limit else repr(text[:limit - 3] + "...")
