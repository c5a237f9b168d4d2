"""Synth-time gates: bad specs and missing build output stop the synth readably; cdk-nag and cfn-lint pass."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.conftest import ROOT, stub_layer

pytestmark = pytest.mark.infra

BAD_SPEC = """\
name: churn-bad
objective: {metric: "validation:auc", goal: maximize}
strategy: bayesian
algorithm: {builtin: xgboost, version: "1.7-1"}
ranges:
  eta: {type: continuous, min: 0.01, max: 0.3, scaling: log}
data:
  train: {uri: "s3://example-ml-data/churn/train/"}
resources:
  instance_type: ml.m5.xlarge
  max_jobs: 20
  max_parallel_jobs: 0
  max_runtime_per_job: 1h
"""


def _run_app(tmp_path: Path, context: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
           "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": str(tmp_path / "cdk.out")}
    return subprocess.run([sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def test_a_bad_spec_fails_synth_naming_file_and_field(tmp_path: Path) -> None:
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "churn-bad.yaml").write_text(BAD_SPEC)
    result = _run_app(tmp_path, {"amt:configsDir": str(configs), "amt:layerDir": str(stub_layer(tmp_path / "l"))})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{configs / 'churn-bad.yaml'}: resources.max_parallel_jobs: " in result.stderr, result.stderr


def test_a_missing_layer_fails_synth_saying_to_run_make_install(tmp_path: Path) -> None:
    result = _run_app(tmp_path, {"amt:configsDir": str(tmp_path / "none"), "amt:layerDir": str(tmp_path / "no")})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "make install" in result.stderr


@pytest.mark.parametrize(("context", "message"), [
    ({"amt:env": "staging"}, "amt:env: must be one of dev, prod"),
    ({"amt:studyPrefixes": "*"}, "amt:studyPrefixes"),
    ({"amt:dataPrefixes": "bucket/prefix"}, "amt:dataPrefixes"),
])
def test_bad_context_fails_synth_readably(synth_factory: Any, context: dict[str, Any], message: str) -> None:
    from amt_conductor.cdk.config import SynthError

    with pytest.raises(SynthError, match=message):
        synth_factory({"amt:configsDir": "/none", **context}, nag=False)


def test_cdk_nag_has_no_unacknowledged_findings(synth: Any) -> None:
    assert synth.nag_error is None, synth.nag_error


def test_cdk_nag_gate_catches_a_new_wildcard(synth_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """An IAM wildcard nobody explained fails the synth (the gate is live, not a blanket suppression)."""
    from aws_cdk import aws_iam as iam

    from amt_conductor.cdk import functions

    original = functions.write_logs_statement

    def with_extra(arn: str) -> iam.PolicyStatement:
        st = original(arn)
        st.add_resources("arn:aws:s3:::someone-elses-bucket/*")
        return st

    monkeypatch.setattr(functions, "write_logs_statement", with_extra)
    synth = synth_factory({"amt:configsDir": "/none"})
    assert synth.nag_error is not None and "AwsSolutions-IAM5" in synth.nag_error


def test_cfn_lint_reports_no_errors(synth: Any, tmp_path: Path) -> None:
    path = tmp_path / "AmtConductor.template.json"
    path.write_text(json.dumps(synth.json))
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run([str(cfn_lint), "--format", "parseable", str(path)], capture_output=True, text=True,
                            timeout=120, check=False)
    # The exit code is a bit mask: 2 = errors (4 = warnings, e.g. CDK's redundant DependsOn, 8 = info).
    errors = [line for line in result.stdout.splitlines() if ":E" in line]
    assert not result.returncode & 2 and errors == [], result.stdout + result.stderr


def test_synth_without_configs_works(synth_factory: Any) -> None:
    synth = synth_factory({"amt:configsDir": "/nonexistent"})
    assert synth.nag_error is None, synth.nag_error
    assert not synth.resources("Custom::CDKBucketDeployment")


def test_a_study_inside_another_studys_job_prefix_fails_synth(tmp_path: Path) -> None:
    # `churn-r*` (IAM scope, spec controls, event rule) would also cover `churn-rare-r1-...` jobs.
    import app
    from amt_conductor.cdk.config import SynthError

    source = (ROOT / "configs" / "churn-xgb.yaml").read_text()
    for name in ("churn", "churn-rare"):
        (tmp_path / f"{name}.yaml").write_text(source.replace("name: churn-xgb", f"name: {name}", 1))
    with pytest.raises(SynthError) as exc:
        app.load_configs(tmp_path)
    assert str(exc.value).startswith(f"{tmp_path / 'churn-rare.yaml'}: name: 'churn-rare' starts with 'churn-r'")
    (tmp_path / "churn-rare.yaml").rename(tmp_path / "churn-xgb.yaml")
    (tmp_path / "churn-xgb.yaml").write_text(source)
    assert sorted(s.name for s in app.load_configs(tmp_path)) == ["churn", "churn-xgb"]


def test_an_explicit_account_and_region_synthesize_nag_clean(synth_factory: Any) -> None:
    # docs/operations.md documents amt:account/amt:region; the acknowledgements must not hard-code the
    # placeholder account and region of an environment-agnostic synth.
    synth = synth_factory({"amt:account": "111122223333", "amt:region": "eu-west-1",
                           "amt:kmsKeyAccounts": "123456789012"})
    assert synth.nag_error is None, synth.nag_error
    assert "111122223333" in json.dumps(synth.nested)  # the study roles were built for that account
