"""`amt check-metrics SPEC LOGFILE...`: the spec's metric regexes applied to training logs, as SageMaker does."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from amt_conductor.cli.tables import format_table
from amt_conductor.spec.errors import FieldError, SpecError
from amt_conductor.spec.loader import load_spec


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check-metrics", help="apply the spec's metric regexes to training logs, as SageMaker does")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("logs", nargs="+", metavar="LOGFILE",
                   help="a training log: text (a local run, a CloudWatch export) or `aws logs get-log-events` JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from amt_conductor.spec.metrics import log_lines, scan

    spec = load_spec(args.spec)
    # Every algorithm's metrics (a multi-algorithm study's definitions may share names: the first regex counts).
    metrics = list({m.name: m for view in reversed(spec.definitions()) for m in view.algo.metrics}.values())
    if not metrics:
        raise SpecError(args.spec, [FieldError("algorithm.metrics", "no metric definitions to apply (a built-in "
                                                                    "algorithm's metrics are SageMaker's own)")])
    lines: list[str] = []
    for name in args.logs:
        try:
            lines.extend(log_lines(Path(name)))
        except OSError as exc:
            raise SpecError(name, [FieldError("", f"cannot read: {exc.strerror or exc}")]) from None
    found = scan(metrics, lines)
    objective = spec.objective.metric
    rows = [(s.name + (" (objective)" if s.name == objective else ""), len(s.values), _num(s.first), _num(s.last),
             _not_numbers(s.not_numbers)) for s in found]
    print(f"{len(lines)} log lines from {len(args.logs)} file(s)")
    print(format_table(["metric", "found", "first", "last", "matched, not a number"], rows))
    series = next((s for s in found if s.name == objective), None)
    if series is None or not series.values:
        print(f"{args.spec}: objective.metric: {objective!r} is never found in the log(s): SageMaker would record "
              "no objective for such a training job", file=sys.stderr)
        return 1
    return 0


def _num(value: float | None) -> str | None:
    return None if value is None else f"{value:g}"


def _not_numbers(texts: list[str]) -> str | None:
    if not texts:
        return None
    return f"{len(texts)} (e.g. {texts[0]!r})"
