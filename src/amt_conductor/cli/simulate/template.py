"""The synthesized CloudFormation template: synthesis, and resolving its tokens to simulated resources.

Every resource gets a physical name derived from its logical id (or its explicit name property),
so `Ref`/`Fn::GetAtt` in the state machine definition and in the functions' environments resolve
to the resources the simulator creates in moto.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
PARTITION = "aws"
STACK_NAME = "AmtSimulated"
# The CDK app `amt simulate` synthesizes: the one in the directory it runs in, as for `cdk synth`.
PROJECT_ROOT = Path.cwd()

_NAME_PROPS = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::DynamoDB::GlobalTable": "TableName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::IAM::Role": "RoleName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::Events::Rule": "Name",
}


class TemplateError(Exception):
    """The template cannot be simulated (missing state machine, unsupported token, failed synth)."""


# The app's context key for the folder of specs it builds the stack for (src/amt_conductor/cdk/config.py ContextKeys).
CONFIGS_DIR_KEY = "amt:configsDir"


def synthesize(project_root: Path = PROJECT_ROOT, *, spec: Path | None = None,
               context: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run the project's `app.py` into a temporary cloud assembly (with `context` over cdk.json's);
    returns the workflow's template.

    With `spec`, the stack is built for that spec alone (wherever it is), as it would be if it were the
    only file in configs/: its study is one the stack may run, with the IAM scope and controls it needs."""
    app = project_root / "app.py"
    if not app.exists():
        raise TemplateError(f"{app}: no CDK app to synthesize")
    extra = context
    with tempfile.TemporaryDirectory(prefix="amt-sim-cdk-") as out:
        extra = context
        context = {**_context(project_root, Path(out)), **(extra or {})}
        if spec is not None:
            configs = Path(out) / "sim-configs"
            configs.mkdir()
            (configs / spec.name).write_bytes(spec.read_bytes())
            context[CONFIGS_DIR_KEY] = str(configs)
        env = {**os.environ, "CDK_OUTDIR": out, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
               # The built-in CloudFormation validation costs ~3 s and `amt validate`/tests cover it.
               "CDK_VALIDATION": "false",
               "CDK_CONTEXT_JSON": json.dumps({**context, **(extra or {})})}
        proc = subprocess.run([sys.executable, str(app)], cwd=project_root, env=env, capture_output=True,
                              text=True, check=False)
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise TemplateError(f"synthesis failed: {tail}")
        return pick_workflow_template(Path(out))


def _context(project_root: Path, out: Path) -> dict[str, Any]:
    """cdk.json's context (the CDK CLI would pass it), with a stand-in dependency layer when none is built:
    the simulator runs the handlers in-process with this environment's packages, never the asset."""
    cdk_json = project_root / "cdk.json"
    context: dict[str, Any] = json.loads(cdk_json.read_text()).get("context", {}) if cdk_json.exists() else {}
    if not (project_root / "build" / "layer" / "python" / "yaml").is_dir():
        (out / "sim-layer" / "python" / "yaml").mkdir(parents=True)
        context["amt:layerDir"] = str(out / "sim-layer")
    return context


def pick_workflow_template(assembly: Path) -> dict[str, Any]:
    """The template (in a cloud assembly folder) that holds the state machine, with the event rules of its
    nested stacks (the studies' schedules and new-data rules) folded in, their parameters resolved to
    what the parent passes."""
    for path in sorted(assembly.glob("*.template.json")):
        template: dict[str, Any] = json.loads(path.read_text())
        if any(r.get("Type") == "AWS::StepFunctions::StateMachine"
               for r in template.get("Resources", {}).values()):
            for nested in sorted(assembly.glob("*.nested.template.json")):
                _fold_rules(template, json.loads(nested.read_text()))
            return template
    raise TemplateError(f"{assembly}: no template with an AWS::StepFunctions::StateMachine")


def _fold_rules(parent: dict[str, Any], nested: dict[str, Any]) -> None:
    params = next((r["Properties"].get("Parameters") or {} for r in parent["Resources"].values()
                   if r.get("Type") == "AWS::CloudFormation::Stack"
                   and set(nested.get("Parameters") or {}) <= set(r["Properties"].get("Parameters") or {})), {})

    def sub(value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"Ref"} and value["Ref"] in params:
                return params[value["Ref"]]
            return {k: sub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [sub(v) for v in value]
        return value

    for lid, res in (nested.get("Resources") or {}).items():
        if res.get("Type") == "AWS::Events::Rule":
            parent["Resources"].setdefault(lid, sub(res))


@dataclass(frozen=True)
class Resource:
    logical_id: str
    type: str
    props: dict[str, Any]


class Resolver:
    """Physical names and ARNs for a template's resources, and token resolution against them."""

    def __init__(self, template: dict[str, Any], *, account: str = ACCOUNT, region: str = REGION) -> None:
        self.template = template
        self.account, self.region = account, region
        self.resources = {lid: Resource(lid, r.get("Type", ""), r.get("Properties") or {})
                          for lid, r in template.get("Resources", {}).items()}
        self.names: dict[str, str] = {}
        for lid, res in self.resources.items():
            explicit = res.props.get(_NAME_PROPS.get(res.type, ""))
            self.names[lid] = explicit if isinstance(explicit, str) else self._derive_name(res)

    def of_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources.values() if r.type == type_]

    def _derive_name(self, res: Resource) -> str:
        if res.type == "AWS::S3::Bucket":
            name = re.sub(r"[^a-z0-9-]", "", f"sim-{res.logical_id.lower()}")
            return name[:63].rstrip("-")
        return res.logical_id[:64]

    def arn(self, lid: str) -> str:
        res, name = self.resources[lid], self.names[lid]
        a, r = self.account, self.region
        return {
            "AWS::Lambda::Function": f"arn:aws:lambda:{r}:{a}:function:{name}",
            "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{r}:{a}:table/{name}",
            "AWS::DynamoDB::GlobalTable": f"arn:aws:dynamodb:{r}:{a}:table/{name}",
            "AWS::SNS::Topic": f"arn:aws:sns:{r}:{a}:{name}",
            "AWS::StepFunctions::StateMachine": f"arn:aws:states:{r}:{a}:stateMachine:{name}",
            "AWS::IAM::Role": f"arn:aws:iam::{a}:role/{name}",
            "AWS::SQS::Queue": f"arn:aws:sqs:{r}:{a}:{name}",
            "AWS::Events::Rule": f"arn:aws:events:{r}:{a}:rule/{name}",
            "AWS::KMS::Key": f"arn:aws:kms:{r}:{a}:key/{name}",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{r}:{a}:log-group:{name}:*",
        }.get(res.type, f"arn:aws:cloudformation:{r}:{a}:simulated/{res.type}/{name}")

    def ref(self, lid: str) -> Any:
        pseudo = {"AWS::Partition": PARTITION, "AWS::Region": self.region, "AWS::AccountId": self.account,
                  "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": STACK_NAME,
                  "AWS::StackId": f"arn:aws:cloudformation:{self.region}:{self.account}:stack/{STACK_NAME}/sim"}
        if lid in pseudo:
            return pseudo[lid]
        if lid not in self.resources:
            params = self.template.get("Parameters", {})
            if lid in params and "Default" in params[lid]:
                return params[lid]["Default"]
            raise TemplateError(f"unresolvable Ref {lid!r}")
        if self.resources[lid].type in {"AWS::SNS::Topic", "AWS::StepFunctions::StateMachine"}:
            return self.arn(lid)
        if self.resources[lid].type == "AWS::SQS::Queue":
            return f"https://sqs.{self.region}.amazonaws.com/{self.account}/{self.names[lid]}"
        return self.names[lid]

    def get_att(self, lid: str, attr: str) -> Any:
        if lid not in self.resources:
            raise TemplateError(f"unresolvable Fn::GetAtt {lid}.{attr}")
        name = self.names[lid]
        if attr in {"Arn", "TopicArn", "StreamArn"}:
            return self.arn(lid) + ("/stream/sim" if attr == "StreamArn" else "")
        if attr in {"Name", "TopicName", "QueueName"}:
            return name
        if attr == "QueueUrl":
            return self.ref(lid)
        if attr in {"DomainName", "RegionalDomainName"}:
            return f"{name}.s3.amazonaws.com" if attr == "DomainName" else f"{name}.s3.{self.region}.amazonaws.com"
        return f"{name}.{attr}"

    def resolve(self, value: Any) -> Any:
        """`value` with every intrinsic function replaced by its simulated value."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value if v != {"Ref": "AWS::NoValue"}]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                lid, attr = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(lid, attr)
            if key == "Fn::Join":
                sep, parts = arg
                return sep.join(str(p) for p in self.resolve(parts))
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Split":
                sep, text = arg
                return str(self.resolve(text)).split(sep)
            if key.startswith("Fn::"):
                raise TemplateError(f"unsupported intrinsic {key}")
        return {k: self.resolve(v) for k, v in value.items() if v != {"Ref": "AWS::NoValue"}}

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        values = {k: self.resolve(v) for k, v in variables.items()}

        def one(match: re.Match[str]) -> str:
            token = match.group(1)
            if token.startswith("!"):
                return "${" + token[1:] + "}"
            if token in values:
                return str(values[token])
            if "." in token:
                lid, attr = token.split(".", 1)
                return str(self.get_att(lid, attr))
            return str(self.ref(token))

        return re.sub(r"\$\{([^}]+)\}", one, text)
