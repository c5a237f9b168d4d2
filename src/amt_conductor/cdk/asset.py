"""The Lambda functions' code asset and their PyYAML layer, both staged at synth time from what is installed.

The code asset is the handlers and exactly the modules of `amt_conductor` they import. The closure is read
from the source (every `import` the handlers can execute, including imports inside functions;
`if TYPE_CHECKING:` blocks excluded), so the CDK constructs and the CLI never ship to Lambda, and the same
code works from a checkout (editable install) and from an installed wheel.

The layer is PyYAML's pure-Python modules, copied from the installed `yaml` package (pydantic comes from
the Powertools layer). The spec loader uses `yaml.SafeLoader`, never libyaml's C extension, so the layer
needs no platform wheel, no Docker and no build step: it is the same on every machine that has the same
PyYAML version.
"""

from __future__ import annotations

import ast
import atexit
import compileall
import contextlib
import functools
import importlib.metadata
import importlib.util
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from amt_conductor.cdk import ids

PACKAGE = "amt_conductor"
HANDLERS_PACKAGE = f"{PACKAGE}.handlers"
# Data files read at run time, shipped with the package that reads them.
DATA_DIRS = {f"{PACKAGE}.spec": "data"}


@functools.cache
def _package_dirs(package: str) -> tuple[Path, ...]:
    """Where a package's modules are; () when `package` is not a package. Imports only packages' __init__."""
    parent, _, name = package.rpartition(".")
    if parent and any((d / f"{name}.py").is_file() for d in _package_dirs(parent)):
        return ()  # a module, not a package: do not import it
    try:
        spec = importlib.util.find_spec(package)
    except ImportError:
        return ()
    if spec is None or spec.submodule_search_locations is None:
        return ()
    return tuple(Path(p) for p in spec.submodule_search_locations)


def _source(module: str) -> Path | None:
    """The module's file (a package's __init__.py), without importing the module itself."""
    for d in _package_dirs(module):
        if (d / "__init__.py").is_file():
            return d / "__init__.py"
    parent, _, name = module.rpartition(".")
    for d in _package_dirs(parent):
        for candidate in (d / name / "__init__.py", d / f"{name}.py"):
            if candidate.is_file():
                return candidate
    return None


def _is_package(module: str) -> bool:
    path = _source(module)
    return path is not None and path.name == "__init__.py"


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _imports(module: str, path: Path) -> Iterable[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    skip = _type_checking_lines(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            yield base
            # `from pkg import name`: name may be a submodule.
            yield from (f"{base}.{alias.name}" for alias in node.names)


def import_closure(roots: Iterable[str]) -> set[str]:
    """Every `amt_conductor` module reachable from `roots` by imports, with the packages that hold them."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        module = todo.pop()
        if module in seen or not (module == PACKAGE or module.startswith(PACKAGE + ".")):
            continue
        path = _source(module)
        if path is None:
            continue
        seen.add(module)
        parent = module.rpartition(".")[0]
        if parent:
            todo.append(parent)
        todo.extend(_imports(module, path))
    return seen


def handler_modules() -> list[str]:
    return [f"{HANDLERS_PACKAGE}.{h}" for h in ids.HANDLERS]


def stage(dest: Path) -> Path:
    """Copy the handlers' import closure into `dest` (laid out as the package) and return `dest`."""
    for module in sorted(import_closure(handler_modules())):
        src = _source(module)
        assert src is not None
        rel = Path(*module.split("."))
        target = dest / rel / "__init__.py" if _is_package(module) else dest / rel.with_suffix(".py")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
        if module in DATA_DIRS:
            shutil.copytree(src.parent / DATA_DIRS[module], target.parent / DATA_DIRS[module], dirs_exist_ok=True)
    return dest


def _staged(prefix: str, build: Callable[[Path], Path]) -> Path:
    """`build` into a fresh temporary folder removed at exit (CDK hashes an asset's content, not its path)."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return build(root)


@functools.cache
def lambda_code_dir() -> Path:
    """The staged asset directory, built once per process."""
    return _staged("amt-conductor-lambda-", stage)


YAML_DISTRIBUTION = "PyYAML"
# Bytecode of the synthesizing interpreter is no use to Lambda's, and would make the asset differ per machine.
LAYER_EXCLUDE = ["**/__pycache__"]


def stage_yaml_layer(dest: Path) -> Path:
    """PyYAML's pure-Python modules (and its licence) as a Lambda layer in `dest` (`python/yaml/`).

    The staged folder also holds bytecode for this interpreter, as a pip-installed PyYAML would, for whatever
    imports from it here (bench/cold_start.py); the Lambda asset leaves `__pycache__` out (`LAYER_EXCLUDE`)."""
    import yaml

    from amt_conductor.cdk.config import SynthError

    source = Path(yaml.__file__).parent
    modules = sorted(source.glob("*.py"))
    if not (source / "__init__.py").is_file():
        raise SynthError(f"{source}: the installed PyYAML is not a folder of modules; reinstall it (pip install "
                         "pyyaml) to build the functions' layer")
    target = dest / "python" / "yaml"
    target.mkdir(parents=True, exist_ok=True)
    for module in modules:
        shutil.copyfile(module, target / module.name)
    compileall.compile_dir(str(target), quiet=1)
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        for f in importlib.metadata.distribution(YAML_DISTRIBUTION).files or []:
            if f.name.upper().startswith("LICENSE"):
                shutil.copyfile(Path(str(f.locate())), dest / "python" / f"{YAML_DISTRIBUTION}-{f.name}")
    return dest


@functools.cache
def yaml_layer_dir() -> Path:
    """The staged layer directory, built once per process."""
    return _staged("amt-conductor-layer-", stage_yaml_layer)
