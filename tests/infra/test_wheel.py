"""The wheel works without this repository: `python -m build` makes it, a fresh virtual environment outside the
repository installs it (a plain install, from the wheels `make install` collected in build/wheelhouse: no
network), and there `amt` validates and renders a spec and a copy of examples/existing-app/ synthesizes
nag-clean with the CDK CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from infra.conftest import ROOT

pytestmark = pytest.mark.infra

WHEELHOUSE = ROOT / "build" / "wheelhouse"
CDK_CLI = ROOT / "node_modules" / ".bin" / "cdk"
EXAMPLE = ROOT / "examples" / "existing-app"
SPEC = EXAMPLE / "configs" / "churn.yaml"


@dataclass
class Installed:
    wheel: Path
    venv: Path
    env: dict[str, str]  # no PYTHONPATH, no pip configuration but the wheelhouse
    work: Path  # outside the repository

    def run(self, *args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(a) for a in args], cwd=cwd or self.work, env=self.env, capture_output=True,
                              text=True, timeout=600, check=False)


def _offline_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON", "VIRTUAL_ENV"))}
    env.update({"PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(WHEELHOUSE),
                "PIP_DISABLE_PIP_VERSION_CHECK": "1", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"})
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    missing = [p for p in (WHEELHOUSE / ".downloaded", CDK_CLI) if not p.exists()]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{', '.join(map(str, missing))} missing on CI: `make install` provides them")
        pytest.skip(f"{', '.join(map(str, missing))} missing (`make install` provides them); CI is not set")
    work = tmp_path_factory.mktemp("wheel")
    assert ROOT not in work.parents
    env = _offline_env()
    dist = work / "dist"
    built = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)], env=env,
                           capture_output=True, text=True, timeout=600, check=False)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (wheel,) = dist.glob("*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    # This pip installs into the fresh venv (--python): a plain install of the wheel, as the example's
    # requirements.txt names it (`amt-conductor[cdk]`, found in dist/), and nothing from this repository.
    pip = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
                          "--no-compile", "--find-links", str(dist), "-r", str(EXAMPLE / "requirements.txt")],
                         env=env, capture_output=True, text=True, timeout=600, check=False)
    assert pip.returncode == 0, pip.stdout[-3000:] + pip.stderr[-3000:]
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    return Installed(wheel=wheel, venv=venv, env=env, work=work)


def test_the_wheel_holds_one_package_and_no_tests_or_configs(installed: Installed) -> None:
    names = zipfile.ZipFile(installed.wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"amt_conductor", f"{installed.wheel.name.rsplit('-', 3)[0]}.dist-info"}
    assert not [n for n in names if "/tests/" in n or "/configs/" in n or n.endswith(".yaml")]
    # What the handlers and the spec library read at run time is in it.
    assert {"amt_conductor/handlers/start.py", "amt_conductor/spec/data/image_catalog.json",
            "amt_conductor/cdk/tuning_studies.py"} <= set(names)


def test_the_installed_package_is_the_wheel_not_the_repository(installed: Installed) -> None:
    where = installed.run("python", "-c", "import amt_conductor; print(amt_conductor.__file__)")
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(installed.venv)
    version = installed.run("amt", "--version")
    assert version.stdout.split() == ["amt", installed.wheel.name.split("-")[1]]


def test_amt_validates_and_renders_a_spec_outside_the_repository(installed: Installed) -> None:
    spec = installed.work / "specs" / SPEC.name
    spec.parent.mkdir()
    shutil.copyfile(SPEC, spec)
    validated = installed.run("amt", "validate", spec.parent)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert f"{spec}: ok" in validated.stdout
    rendered = installed.run("amt", "render", spec, "--round", "1")
    assert rendered.returncode == 0, rendered.stderr
    # The installed wheel renders exactly what this repository's code renders.
    here = subprocess.run([sys.executable, "-m", "amt_conductor.cli.main", "render", str(spec), "--round", "1"],
                          capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(rendered.stdout) == json.loads(here.stdout)


def test_the_example_app_synthesizes_nag_clean_from_the_wheel(installed: Installed) -> None:
    app = installed.work / "existing-app"
    shutil.copytree(EXAMPLE, app)
    # The CDK CLI runs the app with the venv's python (cdk.json says `python3 app.py`) and runs cdk-nag;
    # a finding fails the synth.
    out = app / "cdk.out"
    synth = installed.run(CDK_CLI, "synth", "--quiet", "--no-notices", "--output", out,
                          "--app", f"{installed.venv / 'bin' / 'python'} app.py", cwd=app)
    assert synth.returncode == 0, synth.stdout[-5000:] + synth.stderr[-5000:]
    template = json.loads((out / "MlPlatform.template.json").read_text())
    assert "StateMachineArn" in template["Outputs"]
    # The Lambda assets came from the installed package: the handlers' code (no CDK constructs, no CLI), and
    # PyYAML's pure-Python modules as the layer (no compiled extension).
    assets = [d for d in out.iterdir() if d.is_dir() and d.name.startswith("asset.")]
    (code,) = [d for d in assets if (d / "amt_conductor" / "handlers" / "start.py").is_file()]
    assert not (code / "amt_conductor" / "cdk").exists() and not (code / "amt_conductor" / "cli").exists()
    (layer,) = [d for d in assets if (d / "python" / "yaml" / "__init__.py").is_file()]
    assert [p.name for p in (layer / "python" / "yaml").iterdir() if p.suffix != ".py"] == []
