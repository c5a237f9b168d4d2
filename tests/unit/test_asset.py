"""The Lambda asset (amt_conductor.cdk.asset): the handlers and exactly what they import, and nothing of the
CDK constructs or the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from amt_conductor.cdk import asset, ids


def _modules(staged: Path) -> set[str]:
    out = set()
    for path in staged.rglob("*.py"):
        parts = path.relative_to(staged).with_suffix("").parts
        out.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return out


def test_the_asset_holds_every_handler_and_no_cdk_or_cli_code(tmp_path: Path) -> None:
    modules = _modules(asset.stage(tmp_path))
    assert {f"amt_conductor.handlers.{h}" for h in ids.HANDLERS} <= modules
    assert not {m for m in modules if m.startswith(("amt_conductor.cdk", "amt_conductor.cli"))}
    # Modules no handler imports stay out (the importer is for the CLI only).
    assert "amt_conductor.spec.importing.request" not in modules
    assert (tmp_path / "amt_conductor" / "spec" / "data" / "image_catalog.json").is_file()


def test_the_closure_follows_imports_inside_functions_and_skips_type_checking_ones(tmp_path: Path) -> None:
    source = tmp_path / "mod.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "import amt_conductor.contract\n"
        "if TYPE_CHECKING:\n"
        "    from amt_conductor.cdk import ids\n"
        "def later():\n"
        "    from amt_conductor.spec import naming\n"
        "    from . import sibling\n"
    )
    found = set(asset._imports("amt_conductor.runtime.mod", source))
    assert {"amt_conductor.contract", "amt_conductor.spec.naming", "amt_conductor.runtime.sibling"} <= found
    assert not {m for m in found if m.startswith("amt_conductor.cdk")}
    # On the real handlers: rounds imports the loader inside a function, so it ships.
    assert "amt_conductor.spec.loader" in asset.import_closure(asset.handler_modules())


def test_every_handler_imports_from_the_staged_asset_alone(tmp_path: Path) -> None:
    # As in Lambda: the asset first on the path; every amt_conductor module a handler imports must come from it
    # (a module missing from the closure would be found in the checkout instead, and this test says which).
    staged = asset.stage(tmp_path / "asset")
    probe = (
        "import importlib, json, sys\n"
        f"for h in {list(ids.HANDLERS)!r}:\n"
        "    importlib.import_module('amt_conductor.handlers.' + h)\n"
        "print(json.dumps({m: getattr(mod, '__file__', None) for m, mod in sys.modules.items()"
        " if m.startswith('amt_conductor')}))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(staged), str(asset.yaml_layer_dir() / "python")]),
           "AWS_DEFAULT_REGION": "us-east-1"}
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True,
                         check=True).stdout
    loaded = json.loads(out.strip().splitlines()[-1])
    outside = {m: f for m, f in loaded.items() if f is None or not Path(f).resolve().is_relative_to(staged.resolve())}
    assert not outside, f"imported from outside the asset: {outside}"
    assert {f"amt_conductor.handlers.{h}" for h in ids.HANDLERS} <= set(loaded)
