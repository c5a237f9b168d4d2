"""The Lambda functions: one per handler, each with its own role and log group, and the same invariants."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from amt_conductor.cdk import ids
from amt_conductor.cdk.nag import flatten
from amt_conductor.contract import METRICS_NAMESPACE, EnvKeys
from infra.conftest import throwaway_stack
from infra.invariants import function_violations

pytestmark = pytest.mark.infra

# A deployed stack names each study's role (ROLE_ARN_BASE); the single-role key is for tests and the CLI.
ALL_KEYS = {v for k, v in vars(EnvKeys).items() if k.isupper()} - {EnvKeys.EXECUTION_ROLE_ARN}


def _handlers(synth: Any) -> dict[str, dict[str, Any]]:
    out = {}
    for lid, fn in synth.resources("AWS::Lambda::Function").items():
        handler = fn["Properties"].get("Handler", "")
        if handler.startswith("amt_conductor.handlers."):
            out[handler.split(".")[2]] = fn | {"LogicalId": lid}
    return out


def test_one_function_per_handler_named_after_it(synth: Any) -> None:
    fns = _handlers(synth)
    assert set(fns) == set(ids.HANDLERS)
    for handler, fn in fns.items():
        # The simulator finds functions by the handler's construct id in the logical id.
        assert ids.function_id(handler) in fn["LogicalId"]
        assert fn["Properties"]["Handler"] == ids.handler_string(handler)


def test_function_invariants_hold_for_every_handler(synth: Any) -> None:
    assert function_violations(synth.json) == []


def test_function_check_catches_a_function_without_tracing_or_log_group() -> None:
    stack = throwaway_stack()
    lambda_.Function(stack, "Fn", runtime=lambda_.Runtime.PYTHON_3_13, handler="amt_conductor.handlers.x.handler",
                     code=lambda_.Code.from_inline("def handler(e, c): pass"))
    found = function_violations(Template.from_stack(stack).to_json())
    assert any("runtime" in v for v in found)
    assert any("tracing" in v for v in found)
    assert any("log group" in v for v in found)
    assert any("memory" in v for v in found)


def test_every_function_has_its_own_role(synth: Any) -> None:
    roles = [fn["Properties"]["Role"]["Fn::GetAtt"][0] for fn in _handlers(synth).values()]
    assert len(set(roles)) == len(ids.HANDLERS)


def test_environment_is_exactly_the_shared_keys(synth: Any) -> None:
    for handler, fn in _handlers(synth).items():
        env = fn["Properties"]["Environment"]["Variables"]
        assert set(env) <= ALL_KEYS, handler
        expected = ALL_KEYS if handler not in ids.WORKFLOW_HANDLERS else ALL_KEYS - {EnvKeys.STATE_MACHINE_ARN}
        assert set(env) == expected, handler
        assert env[EnvKeys.METRICS_NAMESPACE] == METRICS_NAMESPACE
        assert env[EnvKeys.CONFIGS_PREFIX] == "configs/"
        assert env[EnvKeys.REGISTRY_TABLE]["Ref"].startswith("RegistryTable")
        # Nothing in the environment grows with the studies (Lambda allows 4 KB): the context's prefixes only,
        # and the base every study role's ARN is computed from (amt_conductor.spec.access).
        assert env[EnvKeys.STUDY_PREFIXES] == ""
        base = "arn:<AWS::Partition>:iam::<AWS::AccountId>:role/amt/AmtConductor/"
        assert flatten(env[EnvKeys.ROLE_ARN_BASE]) == base
        # Grows with the distinct model package groups of promote: (a few), not with the studies.
        assert env[EnvKeys.MODEL_PACKAGE_GROUPS] == "churn-xgb"


def test_layers_are_powertools_by_region_and_the_project_layer(synth: Any) -> None:
    for handler, fn in _handlers(synth).items():
        powertools, deps = fn["Properties"]["Layers"]
        parts = powertools["Fn::Join"][1]
        assert {"Ref": "AWS::Partition"} in parts and {"Ref": "AWS::Region"} in parts, handler
        assert any("017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:" in str(p) for p in parts)
        assert deps["Ref"].startswith("FunctionsDepsLayer"), handler
    synth.template.has_resource_properties("AWS::Lambda::LayerVersion", {"CompatibleRuntimes": ["python3.12"]})


def test_log_retention_follows_the_environment(synth: Any, synth_factory: Any) -> None:
    dev = {g["Properties"]["RetentionInDays"] for g in synth.resources("AWS::Logs::LogGroup").values()}
    assert dev == {14}
    prod = synth_factory({"amt:env": "prod", "amt:configsDir": "/none"}, nag=False)
    groups = prod.resources("AWS::Logs::LogGroup").values()
    assert {g["Properties"]["RetentionInDays"] for g in groups} == {365}
    assert {g["DeletionPolicy"] for g in groups} == {"Retain"}
    assert {g["DeletionPolicy"] for g in synth.resources("AWS::Logs::LogGroup").values()} == {"Delete"}
