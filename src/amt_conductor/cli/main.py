"""`amt`: validate, render, plan, diff, import and run tuning specs.

Exit codes: 0 success, 1 invalid input (one line per problem: `FILE: field.path: message`),
2 usage error. Bad input never ends in a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from amt_conductor.cli import check_metrics, importer
from amt_conductor.cli.args import bucket_name, positive_int, region_name, role_arn
from amt_conductor.spec.errors import FieldError, SpecError
from amt_conductor.spec.loader import load_spec, load_specs

PLACEHOLDER_ROLE = "arn:aws:iam::123456789012:role/amt-sagemaker-execution"
PLACEHOLDER_BUCKET = "amt-artifacts-123456789012"


def _default_region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def _print_errors(errors: list[SpecError]) -> None:
    for err in errors:
        for line in err.lines():
            print(line, file=sys.stderr)


def cmd_validate(args: argparse.Namespace) -> int:
    good, bad = load_specs(args.paths)
    _print_errors(bad)
    from amt_conductor.spec.metrics import metric_warnings

    for path, spec in good:
        print(f"{path}: ok ({spec.name}, {spec.strategy}, {sum(len(v.ranges) for v in spec.definitions())} ranges)")
        for warning in metric_warnings(spec):
            print(f"{path}: warning: {warning}", file=sys.stderr)
    total = len(good) + len(bad)
    print(f"{len(good)} of {total} spec(s) valid", file=sys.stderr)
    return 1 if bad else 0


def cmd_render(args: argparse.Namespace) -> int:
    from amt_conductor.spec.images import ImageError
    from amt_conductor.spec.render import render_request

    spec = load_spec(args.path)
    parents = args.parents
    if args.role_arn == PLACEHOLDER_ROLE or args.output_bucket == PLACEHOLDER_BUCKET:
        print("note: placeholder role ARN / output bucket; pass --role-arn and --output-bucket for the real "
              "values", file=sys.stderr)
    try:
        request = render_request(spec, region=args.region, role_arn=args.role_arn,
                                 output_bucket=args.output_bucket, round_no=args.round, parents=parents)
    except ImageError as exc:
        raise SpecError(args.path, [_field("algorithm", str(exc))]) from None
    except ValueError as exc:  # a round whose job name no longer fits
        raise SpecError(args.path, [_field("name", f"round {args.round}: {exc}")]) from None
    print(json.dumps(request, indent=2))
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    from amt_conductor.spec.plan import make_plan

    good, bad = load_specs(args.paths)
    _print_errors(bad)
    if args.format == "markdown":
        from amt_conductor.cli.review import plan_markdown

        if good:  # only invalid specs: their errors are the whole answer
            print(plan_markdown(good))
        return 1 if bad else 0
    for path, spec in good:
        print(f"== {path}")
        print("\n".join(make_plan(spec).lines()))
    return 1 if bad else 0


def cmd_schema(args: argparse.Namespace) -> int:
    from amt_conductor.spec.model import json_schema

    print(json.dumps(json_schema(), indent=2))
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from amt_conductor.cli.review import diff_markdown, load_sides, pair_studies
    from amt_conductor.spec.warmstart import compatibility_problems, describe_changes

    old, new, bad = load_sides(args.parent, args.child)
    if bad:
        _print_errors(bad)
        return 1
    changes = pair_studies(old, new, args.type)
    if args.format == "markdown":
        print(diff_markdown(changes))
        return 1 if any(c.refused for c in changes) else 0
    refused = False
    for change in changes:
        if change.old is None or change.new is None:
            side = change.new or change.old
            assert side is not None  # pair_studies never pairs nothing with nothing
            path, _ = side
            print(f"{change.name}: {'added' if change.old is None else 'removed'} ({path})")
            continue
        (_, parent), (child_path, child) = change.old, change.new
        kind = args.type or (child.warm_start.type if child.warm_start else "identical_data_and_algorithm")
        lines = describe_changes(child, parent)
        print(f"warm start {child.name} from {parent.name} ({kind})")
        print("changes:" if lines else "changes: none")
        for line in lines:
            print(f"  {line}")
        problems = compatibility_problems(child, [parent], kind)
        if not problems:
            print("verdict: compatible: SageMaker accepts this warm start")
            continue
        refused = True
        print("verdict: SageMaker would refuse this warm start:")
        for p in problems:
            print(f"  {child_path}: {p.field}: {p.message}")
    return 1 if refused else 0


def _parents(text: str) -> list[str]:
    from amt_conductor.spec.naming import JOB_NAME_RE
    from amt_conductor.spec.warmstart import MAX_PARENTS

    names = [p.strip() for p in text.split(",") if p.strip()]
    if not 1 <= len(names) <= MAX_PARENTS:
        raise argparse.ArgumentTypeError(f"1 to {MAX_PARENTS} parent tuning jobs (got {len(names)})")
    bad = [n for n in names if not JOB_NAME_RE.match(n)]
    if bad:
        raise argparse.ArgumentTypeError(f"not a tuning job name: {', '.join(bad)}")
    return names


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("amt-conductor")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def _field(path: str, message: str) -> FieldError:
    return FieldError(path, message)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="amt", description="Declarative SageMaker Automatic Model Tuning.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="check specs offline against every rule SageMaker enforces")
    p.add_argument("paths", nargs="+", metavar="PATH", help="spec files or folders")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("render", help="print the CreateHyperParameterTuningJob request as JSON")
    p.add_argument("path", metavar="PATH")
    p.add_argument("--region", type=region_name, default=_default_region())
    p.add_argument("--role-arn", type=role_arn, default=PLACEHOLDER_ROLE, help="the SageMaker execution role")
    p.add_argument("--output-bucket", type=bucket_name, default=PLACEHOLDER_BUCKET,
                   help="where outputs go when the spec has no output_uri")
    p.add_argument("--round", type=positive_int, default=1, help="round number (1-based)")
    p.add_argument("--parents", type=_parents, help="comma-separated parent tuning job names (warm start), 1 to 5")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("plan", help="summarize search space, worst-case cost and warnings")
    p.add_argument("paths", nargs="+", metavar="PATH", help="spec files or folders")
    p.add_argument("--format", choices=["text", "markdown"], default="text",
                   help="markdown: a pull request comment")
    p.set_defaults(func=cmd_plan)

    check_metrics.add_parser(sub)

    p = sub.add_parser("schema", help="print the spec's JSON Schema")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("diff", help="what changes from PARENT to CHILD, and would SageMaker accept the warm start?")
    p.add_argument("parent", metavar="PARENT", help="a spec, or a folder of specs (matched by study name)")
    p.add_argument("child", metavar="CHILD", help="a spec, or a folder of specs")
    p.add_argument("--type", choices=["identical_data_and_algorithm", "transfer_learning"])
    p.add_argument("--format", choices=["text", "markdown"], default="text",
                   help="markdown: a pull request comment (cost, warm start, request fields that change)")
    p.set_defaults(func=cmd_diff)

    importer.add_parser(sub)
    _add_optional(sub)
    return parser


def _add_optional(sub: argparse._SubParsersAction) -> None:
    """Commands that need more than the spec library (AWS, or the simulator's dev dependencies)."""
    from amt_conductor.cli import remote

    remote.add_parsers(sub)
    try:
        from amt_conductor.cli.simulate import command as simulate
    except ImportError:
        return
    p = simulate.add_parser(sub)
    p.set_defaults(func=simulate.run)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except SpecError as exc:
        _print_errors([exc])
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
