"""`amt simulate PATH`: run a study through the synthesized workflow offline (a test harness, not AWS)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from amt_conductor.cli.args import positive_int
from amt_conductor.cli.tables import format_table
from amt_conductor.spec.errors import SpecError
from amt_conductor.spec.loader import load_spec


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "simulate", help="run a spec through the synthesized workflow offline (test harness, not AWS)",
        description="Synthesizes the CDK app and runs its state machine in moto with the real handlers "
                    "and a simulated SageMaker, on simulated time. A test harness: nothing touches AWS.")
    p.add_argument("path", metavar="PATH", help="spec file (YAML or JSON)")
    p.add_argument("--rounds", type=positive_int, metavar="N", help="override the spec's rounds.max")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout (progress on stderr)")
    p.add_argument("--duplicate-events", action="store_true",
                   help="deliver every SageMaker state-change event twice (resume must dedupe)")
    p.add_argument("--fail-round", type=positive_int, metavar="N", help="make round N's tuning job fail")
    p.add_argument("--job-hours", type=float, default=1.0, metavar="H",
                   help="simulated duration of each tuning job (default 1)")
    p.add_argument("--lose-events", action="store_true",
                   help="deliver no SageMaker event: the scheduled reconciler must notice each job's end")
    p.add_argument("--out", metavar="DIR", help="copy the reports (JSON, Markdown, SVG chart) into DIR")
    return p


def run(args: argparse.Namespace) -> int:
    out: TextIO = sys.stdout
    progress_stream: TextIO = sys.stderr if args.json else sys.stdout
    try:
        load_spec(args.path)  # bad input: one line per problem, before any heavy import
    except SpecError as exc:
        for line in exc.lines():
            print(line, file=sys.stderr)
        return 1
    if args.job_hours <= 0:
        print(f"{args.path}: --job-hours must be > 0 (got {args.job_hours:g})", file=sys.stderr)
        return 1

    from amt_conductor.cli.simulate.engine import run_simulation
    from amt_conductor.cli.simulate.template import TemplateError

    def progress(line: str) -> None:
        print(line, file=progress_stream, flush=True)

    try:
        result = run_simulation(args.path, rounds=args.rounds, duplicate_events=args.duplicate_events,
                                fail_round=args.fail_round, job_duration_s=args.job_hours * 3600,
                                progress=progress, artifacts_dir=args.out, lose_events=args.lose_events)
    except TemplateError as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return 1
    if args.json:
        doc = result.to_json()
        doc.pop("history")
        doc["rounds"] = [{k: r[k] for k in ("round", "job_name", "parents", "status", "best_objective",
                                            "training_jobs", "target_reached")} for r in doc["rounds"]]
        doc["harness"] = "amt simulate: a test harness (moto + simulated SageMaker), not AWS"
        print(json.dumps(doc, indent=2, default=str), file=out)
    else:
        print_summary(result, out)
    if args.out:
        print(f"reports copied to {args.out}/ (reports/<study>/<job>/report.html, report.md, "
              "convergence.svg; `amt report STUDY --local DIR` finds the latest)", file=progress_stream)
    expected = result.status == "SUCCEEDED" or (args.fail_round is not None and result.status == "FAILED")
    if not expected:
        print(f"simulate: the run ended {result.status}: {result.error or ''} {result.cause or ''}".rstrip(),
              file=sys.stderr)
    return 0 if expected else 1


def print_summary(result: Any, out: TextIO) -> None:
    """Rounds as a table, then what the run cost in transitions, invocations and API calls."""
    rows = [(r.round, r.job_name, ", ".join(r.parents) or "-", r.status,
             "-" if r.best_objective is None else f"{r.best_objective:g}", r.training_jobs) for r in result.rounds]
    print("", file=out)
    print(format_table(("round", "tuning job", "parents", "status", "best", "training jobs"), rows), file=out)
    by_fn = ", ".join(f"{k} {v}" for k, v in sorted(result.lambda_invocations_by_function.items()))
    by_op = ", ".join(f"{k} {v}" for k, v in sorted(result.sagemaker_calls_by_operation.items()))
    facts = [
        ("status", result.status + (f" ({result.error})" if result.error else "")),
        ("report", result.report_uri or "-"),
        ("state transitions", str(result.state_transitions)),
        ("lambda invocations", f"{result.lambda_invocations} ({by_fn})" if by_fn else "0"),
        ("sagemaker api calls", f"{result.sagemaker_calls} ({by_op})" if by_op else "0"),
        ("notifications", str(len(result.notifications))),
        *[("model package", f"{p['arn']} ({p['status']}; training job {p['metadata'].get('amt:training-job')}, "
                            f"{p['metadata'].get('amt:objective-metric')} {p['metadata'].get('amt:objective-value')})")
          for p in getattr(result, "model_packages", [])],
        ("simulated time", f"{result.simulated_seconds / 3600:.2f} h in {result.wall_seconds:.1f} s of wall time"),
    ]
    print("", file=out)
    width = max(len(k) for k, _ in facts)
    for key, value in facts:
        print(f"{key.ljust(width)}  {value}", file=out)
    print("(simulated by amt simulate, a test harness: no AWS resources were used)", file=out)
