"""`amt import`: a spec (YAML on stdout) from an existing tuning job, its request or its Describe response."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from amt_conductor.cli.args import region_name
from amt_conductor.spec.errors import FieldError, SpecError

# The order a person reads a spec in; fields not listed keep their place after these.
FIELD_ORDER = ("name", "strategy", "objective", "hyperband", "algorithm", "algorithms", "hyperparameters", "ranges",
               "autotune", "data", "output_uri", "output_compression", "checkpoint", "resources", "spot", "retry",
               "early_stopping", "completion", "random_seed", "warm_start", "network", "kms_key_id", "environment",
               "tags")
RESOURCES_ORDER = ("instance_type", "instance_count", "volume_size_gb", "instance_configs", "max_jobs",
                   "max_parallel_jobs", "max_runtime_per_job", "max_pending", "max_tuning_runtime")
MAX_SOURCE_BYTES = 5_000_000


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "import", help="print a spec (YAML) for an existing tuning job, its request or its Describe response",
        description="Print a spec (YAML, on stdout) for a CreateHyperParameterTuningJob request saved as JSON "
                    "(as boto3 takes it), a DescribeHyperParameterTuningJob response saved as JSON, or, with "
                    "--job, a tuning job in the account. Exits 1 naming each field the spec cannot express; "
                    "notes on what was left out on purpose go to stderr.")
    p.add_argument("source", nargs="?", metavar="SOURCE", help="a JSON file ('-' for stdin)")
    p.add_argument("--job", metavar="NAME", help="import the tuning job NAME from the account instead of a file")
    p.add_argument("--region", type=region_name, help="region of --job (default: your AWS configuration)")
    p.add_argument("--name", help="study name (default: the tuning job's name, made valid)")
    p.set_defaults(func=cmd_import)
    return p


def cmd_import(args: argparse.Namespace) -> int:
    from amt_conductor.spec.importing.request import NotExpressible, request_from_describe, spec_from_request
    from amt_conductor.spec.loader import validate_document

    if (args.source is None) == (args.job is None):
        print("amt import: give exactly one of SOURCE or --job NAME", file=sys.stderr)
        return 2
    where = f"job {args.job}" if args.job else ("stdin" if args.source == "-" else args.source)
    data = describe_job(args.job, args.region) if args.job else read_json(args.source, where)
    notes: list[str] = []
    if "HyperParameterTuningJobArn" in data or "HyperParameterTuningJobStatus" in data:
        data = request_from_describe(data, notes)
    try:
        imported = spec_from_request(data, name=args.name)
    except NotExpressible as exc:
        raise SpecError(where, exc.errors) from None
    validate_document(imported.doc, f"{where} (imported spec)")
    for note in notes + imported.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"# Imported by `amt import` from {where}.")
    if imported.region:
        print(f"# Its built-in images are the source's in {imported.region}: render there for the same request.")
    print(to_yaml(ordered(imported.doc)), end="")
    return 0


def read_json(source: str, where: str) -> dict[str, Any]:
    """The JSON object in the file `source` ('-': stdin); errors name it as `where`."""
    try:
        if source == "-":
            text = sys.stdin.read(MAX_SOURCE_BYTES + 1)
        else:
            with Path(source).open(encoding="utf-8") as fh:
                text = fh.read(MAX_SOURCE_BYTES + 1)
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(where, [FieldError("", f"cannot read: {getattr(exc, 'strerror', None) or exc}")]) from None
    if len(text) > MAX_SOURCE_BYTES:
        raise SpecError(where, [FieldError("", f"more than {MAX_SOURCE_BYTES:,} characters")])
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(where, [FieldError("", f"invalid JSON at line {exc.lineno}, column {exc.colno}: "
                                                f"{exc.msg}")]) from None
    if not isinstance(data, dict):
        raise SpecError(where, [FieldError("", "expected a JSON object (a request or a Describe response)")])
    return data


def describe_job(name: str, region: str | None) -> dict[str, Any]:
    """DescribeHyperParameterTuningJob of `name`, with its tags (Describe does not return them)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client = boto3.client("sagemaker", region_name=region)
        response: dict[str, Any] = client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        tags = client.list_tags(ResourceArn=response["HyperParameterTuningJobArn"]).get("Tags", [])
    except (ClientError, BotoCoreError) as exc:
        raise SpecError(f"job {name}", [FieldError("", f"cannot describe the tuning job: {exc}")]) from None
    response.pop("ResponseMetadata", None)
    if tags:
        response["Tags"] = tags
    return response


def ordered(doc: dict[str, Any], order: tuple[str, ...] = FIELD_ORDER) -> dict[str, Any]:
    """`doc` with its fields in reading order."""
    known = {k: doc[k] for k in order if k in doc}
    out = known | {k: v for k, v in doc.items() if k not in known}
    if isinstance(out.get("resources"), dict):
        out["resources"] = ordered(out["resources"], RESOURCES_ORDER)
    return out


class _SpecDumper(yaml.SafeDumper):
    """Writes text so that the spec loader reads back exactly the same text."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    node = dumper.represent_scalar("tag:yaml.org,2002:str", value)
    if not _reads_back(value):
        node.style = '"'  # "1.10", "True", "0o17", "": plain, each would be read as something else
    return node


def _reads_back(text: str) -> bool:
    from amt_conductor.spec.yamlsafe import SpecLoader

    try:
        return bool(yaml.load(text, Loader=SpecLoader) == text) and bool(yaml.safe_load(text) == text)
    except yaml.YAMLError:
        return False


_SpecDumper.add_representer(str, _represent_str)


def to_yaml(doc: dict[str, Any]) -> str:
    """YAML for `doc` that the spec loader reads back as exactly `doc` (checked)."""
    from amt_conductor.spec.yamlsafe import SpecLoader

    text = yaml.dump(doc, Dumper=_SpecDumper, sort_keys=False, allow_unicode=True, width=120,
                     default_flow_style=False)
    if yaml.load(text, Loader=SpecLoader) != doc:  # a guard: never print a spec that reads back differently
        raise SpecError("amt import", [FieldError("", "internal error: the YAML does not read back as imported")])
    return text
