"""Synthesizes the app once per session (configs/ of the repo, dev settings, cdk-nag on) for most tests."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import assertions

import app as cdk_app
from amt_conductor.cdk.ids import STACK_ID

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Synth:
    """One synthesized app: the template as a dict and as a CDK `Template`, and cdk-nag's verdict."""

    json: dict[str, Any]
    template: assertions.Template
    nag_error: str | None
    outdir: Path
    nested: dict[str, dict[str, Any]]  # nested stack templates by file name (the studies' roles, schedules)

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.json["Resources"].items() if v["Type"] == type_}

    def all_templates(self) -> list[dict[str, Any]]:
        return [self.json, *self.nested.values()]

    def all_resources(self, type_: str) -> dict[str, dict[str, Any]]:
        """Resources of a type in the parent and every nested template (ids prefixed by the file name)."""
        out = {k: v for k, v in self.json["Resources"].items() if v["Type"] == type_}
        for name, body in self.nested.items():
            out.update({f"{name}/{k}": v for k, v in body.get("Resources", {}).items() if v["Type"] == type_})
        return out


def stub_layer(root: Path) -> Path:
    """A stand-in for build/layer (only its shape matters to the synth)."""
    (root / "python" / "yaml").mkdir(parents=True, exist_ok=True)
    (root / "python" / "yaml" / "__init__.py").write_text("")
    return root


def synthesize(context: dict[str, Any] | None = None, *, nag: bool = True) -> Synth:
    outdir = Path(tempfile.mkdtemp(prefix="amt-cdk-"))
    ctx = {"amt:layerDir": str(stub_layer(outdir / "layer")), **(context or {})}
    app = cdk_app.build(ctx, nag=nag, outdir=str(outdir / "cdk.out"), builtin_cloud_formation_validation=False)
    nag_error: str | None = None
    try:
        assembly = app.synth()
    except Exception as exc:  # cdk-nag findings make synth raise; the gate test reports them
        nag_error = str(exc)
        app2 = cdk_app.build(ctx, nag=False, outdir=str(outdir / "cdk.out2"),
                             builtin_cloud_formation_validation=False)
        assembly = app2.synth()
    template = assembly.get_stack_by_name(STACK_ID).template
    nested = {f.name: json.loads(f.read_text()) for f in Path(assembly.directory).glob("*.nested.template.json")}
    return Synth(json=template, template=assertions.Template.from_json(template), nag_error=nag_error,
                 outdir=outdir, nested=nested)


def throwaway_stack() -> Any:
    """An empty stack in its own app, for building one resource that breaks one control."""
    from aws_cdk import App, Stack

    return Stack(App(builtin_cloud_formation_validation=False), "Throwaway")


@pytest.fixture(scope="session")
def synth() -> Synth:
    """The app as `cdk synth` builds it from this repository's configs/ (dev)."""
    return synthesize()


@pytest.fixture(scope="session")
def synth_factory() -> Callable[..., Synth]:
    return synthesize


def definition_of(synth: Synth) -> dict[str, Any]:
    """The state machine's ASL, with every CloudFormation reference in it replaced by a placeholder."""
    (sm,) = synth.resources("AWS::StepFunctions::StateMachine").values()
    body = sm["Properties"]["DefinitionString"]
    if isinstance(body, dict):
        delimiter, parts = body["Fn::Join"]
        body = delimiter.join(p if isinstance(p, str) else "REF" for p in parts)
    return json.loads(body)


@pytest.fixture(scope="session")
def asl(synth: Synth) -> dict[str, Any]:
    return definition_of(synth)
