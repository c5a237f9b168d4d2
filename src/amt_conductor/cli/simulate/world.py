"""The simulated stack: the template's buckets, table, topics, functions, rules and state machine, in moto.

`functions_from_template` needs no moto; `World.build` must run inside `mock_aws`.
"""

from __future__ import annotations

import io
import json
import logging
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
from moto.events.models import EventPattern

from amt_conductor.cli.simulate.runtime import Function, FunctionError, Runtime
from amt_conductor.cli.simulate.template import REGION, Resolver, TemplateError
from amt_conductor.contract import EnvKeys

log = logging.getLogger(__name__)
CAPTURE_QUEUE = "amt-sim-notifications"
LAMBDA_ROLE = "amt-sim-lambda"
HANDLER_PREFIX = "amt_conductor.handlers."


@dataclass
class Rule:
    name: str
    pattern: Any  # moto EventPattern
    targets: list[dict[str, Any]]


@dataclass
class Delivery:
    rule: str
    target: str
    output: Any = None
    error: str | None = None


def functions_from_template(resolver: Resolver, extra: Mapping[str, Callable[[Any, Any], Any]]) -> list[Function]:
    """The project's functions (Handler `handlers.*`) with resolved environments, plus in-process extras."""
    out: list[Function] = []
    for res in resolver.of_type("AWS::Lambda::Function"):
        handler = res.props.get("Handler", "")
        if not isinstance(handler, str) or not handler.startswith(HANDLER_PREFIX):
            continue  # CDK's own custom-resource providers: nothing to simulate
        env = resolver.resolve((res.props.get("Environment") or {}).get("Variables") or {})
        label = handler[len(HANDLER_PREFIX):].rsplit(".", 1)[0]
        out.append(Function(resolver.names[res.logical_id], label, resolver.arn(res.logical_id), handler,
                            {k: str(v) for k, v in env.items()}))
    for key, call in extra.items():
        arn = f"arn:aws:lambda:{resolver.region}:{resolver.account}:function:amt-sim-{key}"
        out.append(Function(f"amt-sim-{key}", key, arn, call=call))
    return out


@dataclass
class World:
    resolver: Resolver
    runtime: Runtime
    definition: str | dict[str, Any] | None = None
    rules: list[Rule] = field(default_factory=list)
    state_machine_arn: str = ""
    capture_queue_url: str = ""
    deliveries: list[Delivery] = field(default_factory=list)
    event_targets: frozenset[str] | None = None  # labels rules may invoke; None: all
    _clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = boto3.client(service, region_name=REGION)
        return self._clients[service]

    def env_value(self, key: str) -> str:
        for fn in self.runtime.by_name.values():
            if fn.env.get(key):
                return fn.env[key]
        return ""

    def build(self) -> None:
        self._buckets()
        self._tables()
        self._model_package_groups()
        self._topics()
        self._functions()
        self._state_machine()
        self._rules()

    def _buckets(self) -> None:
        s3 = self.client("s3")
        for res in self.resolver.of_type("AWS::S3::Bucket"):
            name = self.resolver.names[res.logical_id]
            s3.create_bucket(Bucket=name)
            versioning = (res.props.get("VersioningConfiguration") or {}).get("Status")
            if versioning == "Enabled" or name == self.env_value(EnvKeys.CONFIGS_BUCKET):
                s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})

    def _tables(self) -> None:
        ddb = self.client("dynamodb")
        for kind in ("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable"):
            for res in self.resolver.of_type(kind):
                p = self.resolver.resolve(res.props)
                gsis = [{"IndexName": g["IndexName"], "KeySchema": g["KeySchema"],
                         "Projection": g.get("Projection", {"ProjectionType": "ALL"})}
                        for g in p.get("GlobalSecondaryIndexes") or []]
                ddb.create_table(TableName=self.resolver.names[res.logical_id], KeySchema=p["KeySchema"],
                                 AttributeDefinitions=p["AttributeDefinitions"], BillingMode="PAY_PER_REQUEST",
                                 **({"GlobalSecondaryIndexes": gsis} if gsis else {}))

    def _model_package_groups(self) -> None:
        """The template's model package groups, in moto's model registry (what Promote registers in)."""
        sm = self.client("sagemaker")
        for res in self.resolver.of_type("AWS::SageMaker::ModelPackageGroup"):
            p = self.resolver.resolve(res.props)
            sm.create_model_package_group(ModelPackageGroupName=p["ModelPackageGroupName"],
                                          ModelPackageGroupDescription=p.get("ModelPackageGroupDescription", ""))

    def _topics(self) -> None:
        sns, sqs = self.client("sns"), self.client("sqs")
        self.capture_queue_url = sqs.create_queue(QueueName=CAPTURE_QUEUE)["QueueUrl"]
        queue_arn = f"arn:aws:sqs:{REGION}:{self.resolver.account}:{CAPTURE_QUEUE}"
        for res in self.resolver.of_type("AWS::SNS::Topic"):
            arn = sns.create_topic(Name=self.resolver.names[res.logical_id])["TopicArn"]
            # Subscribers would get e-mail; the simulator reads the same messages from a queue.
            sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)

    def _functions(self) -> None:
        iam, lam = self.client("iam"), self.client("lambda")
        role = iam.create_role(RoleName=LAMBDA_ROLE, AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "lambda.amazonaws.com"}}]}))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:  # never run: invocations are routed in-process
            zf.writestr("placeholder.py", "def handler(event, context):\n    return None\n")
        for fn in {f.name: f for f in self.runtime.by_name.values()}.values():
            lam.create_function(FunctionName=fn.name, Runtime="python3.12", Role=role["Role"]["Arn"],
                                Handler=fn.handler or "placeholder.handler", Code={"ZipFile": buf.getvalue()},
                                Environment={"Variables": fn.env})

    def _state_machine(self) -> None:
        machines = self.resolver.of_type("AWS::StepFunctions::StateMachine")
        if not machines:
            raise TemplateError("the template has no AWS::StepFunctions::StateMachine")
        res = machines[0]
        if self.definition is not None:
            definition = self._custom_definition(self.definition)
        elif "DefinitionString" in res.props:
            definition = str(self.resolver.resolve(res.props["DefinitionString"]))
        elif "Definition" in res.props:
            definition = json.dumps(self.resolver.resolve(res.props["Definition"]))
        else:
            raise TemplateError("the state machine has no inline definition (DefinitionS3Location?)")
        for key, value in (self.resolver.resolve(res.props.get("DefinitionSubstitutions") or {})).items():
            definition = definition.replace("${" + key + "}", str(value))
        sfn = self.client("stepfunctions")
        self.state_machine_arn = sfn.create_state_machine(
            name=self.resolver.names[res.logical_id], definition=definition,
            roleArn=f"arn:aws:iam::{self.resolver.account}:role/amt-sim-states")["stateMachineArn"]

    def _custom_definition(self, definition: str | dict[str, Any]) -> str:
        """A caller's definition: `${fn:LABEL}` is the ARN of the function labelled LABEL
        (prepare, launch, ... or an extra function's key); `${topic}` is the first topic's ARN."""
        text = json.dumps(self.resolver.resolve(definition)) if isinstance(definition, dict) else definition
        for fn in self.runtime.by_name.values():
            text = text.replace("${fn:" + fn.label + "}", fn.arn)
        topics = self.resolver.of_type("AWS::SNS::Topic")
        if topics:
            text = text.replace("${topic}", self.resolver.arn(topics[0].logical_id))
        return text

    def _rules(self) -> None:
        for res in self.resolver.of_type("AWS::Events::Rule"):
            p = self.resolver.resolve(res.props)
            if "EventPattern" not in p or p.get("State", "ENABLED") != "ENABLED":
                continue  # schedules are not simulated
            pattern = EventPattern.load(json.dumps(p["EventPattern"]))
            self.rules.append(Rule(self.resolver.names[res.logical_id], pattern, p.get("Targets") or []))

    def put_event(self, event: dict[str, Any]) -> list[Delivery]:
        """EventBridge: every enabled rule whose pattern matches delivers to its Lambda targets."""
        done: list[Delivery] = []
        for rule in self.rules:
            if not rule.pattern.matches_event(event):
                continue
            for target in rule.targets:
                arn = str(target.get("Arn", ""))
                if ":lambda:" not in arn:
                    log.warning("simulator: rule %s target %s is not a Lambda function; skipped", rule.name, arn)
                    continue
                fn = self.runtime.find(arn)
                if self.event_targets is not None and (fn is None or fn.label not in self.event_targets):
                    continue
                payload = json.loads(target["Input"]) if "Input" in target else \
                    transform(target["InputTransformer"], event) if "InputTransformer" in target else event
                delivery = Delivery(rule.name, arn)
                try:
                    delivery.output = self.runtime.invoke(arn, payload)
                except FunctionError as err:
                    delivery.error = f"{err.payload.get('errorType')}: {err.payload.get('errorMessage')}"
                done.append(delivery)
        self.deliveries.extend(done)
        return done


def _path(doc: Any, path: str) -> Any:
    for part in path.removeprefix("$").strip(".").split("."):
        doc = doc.get(part) if isinstance(doc, dict) and part else doc
    return doc


def transform(transformer: dict[str, Any], event: dict[str, Any]) -> Any:
    """EventBridge's input transformer: `<name>` in the template becomes the event's value at the path (JSON
    outside quotes, raw text inside them)."""
    text = str(transformer["InputTemplate"])
    for name, path in (transformer.get("InputPathsMap") or {}).items():
        value = _path(event, str(path))
        text = text.replace(f'"<{name}>"', json.dumps(value)).replace(f"<{name}>", json.dumps(value))
    return json.loads(text)
