"""Scale of the synthesized templates: N generated studies, every template, role, policy and event pattern
measured against AWS's limits, with references resolved to the length they have once deployed.

Limits (AWS documentation: CloudFormation quotas, IAM and STS quotas, EventBridge quotas):
- template: 1 MB uploaded through S3, 500 resources;
- role: inline policies 10,240 characters together, each managed policy 6,144, 10 managed policies,
  trust policy 2,048 (the default quota), name 64;
- event pattern: 2,048 characters.
IAM counts a policy's characters without whitespace; CloudFormation counts the template's bytes.

`make bench` runs `run()` at 1, 100 and 1,000 studies; tests/infra/test_scale.py runs 300.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import ROOT, progress

LIMITS = {
    "template_bytes": 1_000_000,
    "template_resources": 500,
    "role_inline_chars": 10_240,
    "managed_policy_chars": 6_144,
    "managed_policies_per_role": 10,
    "trust_policy_chars": 2_048,
    "role_name_chars": 64,
    "event_pattern_chars": 2_048,
}
TARGET = 0.8  # issue 10: every figure under 80% of its limit at 1,000 studies

# The longest value each reference can take once deployed (partition aws-us-gov, region ap-southeast-4).
PSEUDO = {"AWS::Partition": "aws-us-gov", "AWS::Region": "ap-southeast-4", "AWS::AccountId": "123456789012",
          "AWS::URLSuffix": "amazonaws.com.cn", "AWS::StackName": "x" * 128, "AWS::NoValue": ""}
REF_LENGTH = 128   # a resource's name or a parameter's value (ARNs of our buckets, key, functions, roles)
ATTR_LENGTH = 160  # an attribute (ARNs)
MAPPING_LENGTH = 12  # an account id from the image registry mappings

KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def generate_specs(folder: Path, count: int) -> None:
    """`count` valid, distinct studies from configs/churn-xgb.yaml: every 5th with a KMS key and a VPC
    (guarded: a launcher role too), every 3rd with a schedule, every 7th a custom image; three channels."""
    import yaml

    base = yaml.safe_load((ROOT / "configs" / "churn-xgb.yaml").read_text())
    vision = yaml.safe_load((ROOT / "configs" / "vision-hyperband.yaml").read_text())
    for i in range(count):
        spec = json.loads(json.dumps(base))
        spec["name"] = f"study-{i:04d}"
        spec["data"] = {ch: {"uri": f"s3://example-ml-data-{i % 17}/study-{i:04d}/{ch}/",
                             "content_type": "text/csv"} for ch in ("train", "validation", "test")}
        if i % 7 == 6:
            spec["algorithm"] = {"image": f"123456789012.dkr.ecr.us-east-1.amazonaws.com/team-{i}/train:1.0",
                                 "metrics": [*vision["algorithm"]["metrics"][:1],
                                             {"name": "validation:auc", "regex": "auc=([0-9.]+)"}]}
        if i % 5 == 4:
            spec["kms_key_id"] = KMS_KEY
            spec["network"] = {"subnets": [f"subnet-{i:017x}", f"subnet-{i + 1:017x}"],
                               "security_groups": [f"sg-{i:017x}"], "isolation": True,
                               "encrypt_inter_container_traffic": True}
            spec["output_uri"] = f"s3://example-ml-output/study-{i:04d}/"
        if i % 3 == 2:
            spec["schedule"] = "cron(0 3 ? * MON *)"
        (folder / f"study-{i:04d}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))


def deployed(value: Any) -> Any:
    """`value` with every CloudFormation intrinsic replaced by a string of its deployed (worst-case) length."""
    if isinstance(value, list):
        return [deployed(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (fn, arg), = value.items()
        if fn == "Ref":
            return PSEUDO.get(arg, "r" * REF_LENGTH)
        if fn == "Fn::GetAtt":
            return "a" * ATTR_LENGTH
        if fn == "Fn::FindInMap":
            return "m" * MAPPING_LENGTH
        if fn == "Fn::Join":
            delimiter, parts = arg
            return delimiter.join(str(deployed(p)) for p in parts)
        if fn == "Fn::Sub":
            import re

            text = arg if isinstance(arg, str) else arg[0]
            return re.sub(r"\$\{[^}]+\}", lambda m: PSEUDO.get(m[0][2:-1], "s" * REF_LENGTH), text)
        if fn == "Fn::ImportValue" or fn.startswith("Fn::"):
            return "i" * REF_LENGTH
    return {k: deployed(v) for k, v in value.items()}


def chars(document: Any) -> int:
    """A policy's or pattern's length as IAM and EventBridge count it (no whitespace), once deployed."""
    return len(json.dumps(deployed(document), separators=(",", ":")))


def measure(templates: dict[str, Path]) -> dict[str, Any]:
    """Every figure of every template against its limit: {"max": {figure: (value, where)}, "fractions": ...}."""
    worst: dict[str, tuple[float, str]] = {}

    def note(figure: str, value: float, where: str) -> None:
        if value > worst.get(figure, (-1.0, ""))[0]:
            worst[figure] = (value, where)

    for name, path in templates.items():
        body = json.loads(path.read_text())
        resources = body.get("Resources", {})
        note("template_bytes", path.stat().st_size, name)
        note("template_resources", len(resources), name)
        inline: dict[str, int] = {}
        managed: dict[str, int] = {}
        for lid, res in resources.items():
            props = res.get("Properties", {})
            kind = res["Type"]
            if kind == "AWS::IAM::Role":
                inline[lid] = inline.get(lid, 0) + sum(chars(p["PolicyDocument"]) for p in props.get("Policies", []))
                managed[lid] = managed.get(lid, 0) + len(props.get("ManagedPolicyArns", []))
                note("trust_policy_chars", chars(props["AssumeRolePolicyDocument"]), f"{name}:{lid}")
                if "RoleName" in props:
                    note("role_name_chars", len(str(deployed(props["RoleName"]))), f"{name}:{lid}")
            elif kind == "AWS::IAM::Policy":
                for role in props.get("Roles", []):
                    rid = role.get("Ref", str(role)) if isinstance(role, dict) else role
                    inline[rid] = inline.get(rid, 0) + chars(props["PolicyDocument"])
            elif kind == "AWS::IAM::ManagedPolicy":
                note("managed_policy_chars", chars(props["PolicyDocument"]), f"{name}:{lid}")
                for role in props.get("Roles", []):
                    rid = role.get("Ref", str(role)) if isinstance(role, dict) else role
                    managed[rid] = managed.get(rid, 0) + 1
            elif kind == "AWS::Events::Rule" and "EventPattern" in props:
                note("event_pattern_chars", chars(props["EventPattern"]), f"{name}:{lid}")
        for rid, size in inline.items():
            note("role_inline_chars", size, f"{name}:{rid}")
        for rid, count in managed.items():
            note("managed_policies_per_role", count, f"{name}:{rid}")
    fractions = {figure: value / LIMITS[figure] for figure, (value, _) in worst.items()}
    return {"max": {f: {"value": v, "where": w} for f, (v, w) in worst.items()}, "fractions": fractions,
            "templates": len(templates)}


def synth_templates(configs: Path, out: Path, synthesize: Callable[..., Any] | None = None) -> dict[str, Path]:
    """Synthesize the app (cdk-nag on) for `configs` into `out`; the templates by file name."""
    import sys

    for path in (str(ROOT / "tests"),):
        if path not in sys.path:
            sys.path.insert(0, path)
    from infra.conftest import synthesize as default

    synth = (synthesize or default)({"amt:configsDir": str(configs)})
    if synth.nag_error:
        raise RuntimeError(synth.nag_error[:4000])
    directory = synth.outdir / "cdk.out"
    return {p.name: p for p in directory.glob("*.template.json")}


def run(counts: tuple[int, ...] = (1, 100, 1000)) -> dict[str, Any]:
    """`scale.synth.<N>` = {seconds, max_template_fraction, max_policy_fraction, max_pattern_fraction, templates}."""
    out: dict[str, Any] = {}
    for count in counts:
        with tempfile.TemporaryDirectory() as tmp:
            configs = Path(tmp) / "configs"
            configs.mkdir()
            generate_specs(configs, count)
            progress(f"scale: synthesizing {count} studies (cdk-nag on)")
            start = time.perf_counter()
            templates = synth_templates(configs, Path(tmp))
            seconds = round(time.perf_counter() - start, 2)
            m = measure(templates)
            f = m["fractions"]
            out[str(count)] = {
                "seconds": seconds,
                "max_template_fraction": round(max(f["template_bytes"], f["template_resources"]), 4),
                "max_policy_fraction": round(max(f.get(k, 0.0) for k in (
                    "role_inline_chars", "managed_policy_chars", "managed_policies_per_role", "trust_policy_chars")),
                    4),
                "max_pattern_fraction": round(f.get("event_pattern_chars", 0.0), 4),
                "templates": m["templates"],
                "worst": m["max"],
            }
    return {"synth": out}
