"""Cold start: a fresh interpreter's import time of each handler, next to the SageMaker SDK's.

Handlers defer some imports to their first call, so each handler is measured twice: its module
alone, and its module plus every module the Lambda asset ships (the handlers' import closure,
`amt_conductor.cdk.asset`), an upper bound of what a first invocation imports. Imports come from the
staged asset, as in Lambda. Each figure is the median over repeated runs of `python -c` measuring
only the imports (interpreter start-up excluded), so handlers and the SDK are compared alike.

Against earlier trees (issue 13: "no worse than before"): the same handlers of each of BASELINES are
extracted from git (`git archive`, its lambda/ folder, which was then the whole asset) and imported alike,
each sample alternating between the trees so that the machine's load weighs on all; the ratios (now /
before) are the comparison, not the absolute seconds. They time the CPU the import costs
(`time.process_time()` in the child), not the wall clock: on a shared host, wall time adds whatever the
child waited for a core (wall medians of the same imports differed 2x from one handler to the next in one
run, and their spread within nine samples was about 40% against 8% for CPU time, measured with a
mutation run on the other core). The tree of now is sampled twice (an A/A control): the ratio of its two
medians shows what noise alone does to a ratio in the same run. Every handler is imported with everything
its asset ships, so the ten handlers are ten repeats of nearly one comparison: the target is judged on
their geometric mean, with the largest single ratio and the A/A spread beside it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

from bench.common import PYTHON, ROOT, env, median, progress

RUNS = 7
COMPARE_RUNS = 9  # each tree's samples per handler, alternating
# What a handler would import to resolve images and describe tuning jobs with the SDK instead.
SDK_MODULES = ("sagemaker.core.image_uris", "sagemaker.core.resources")
_PROBE = ("{pre}import time; t, c = time.perf_counter(), time.process_time(); import {mod}; "
          "print(time.perf_counter() - t, time.process_time() - c)")
# Trees to compare with, both on the old layout (handlers in lambda/handlers, the library in lambda/amt, the
# Lambda asset the whole lambda/ folder less tests and caches). The first is the one issue 13's "no worse
# than before" is judged against; the second shows what this release's features cost.
BASELINES = {
    "ba71369": "before the package move",
    "bcd7819": "the previous release's benchmark run",
}


def _asset_env() -> dict[str, str]:
    from amt_conductor.cdk.asset import lambda_code_dir, yaml_layer_dir

    e = env()
    e["PYTHONPATH"] = os.pathsep.join([str(lambda_code_dir()), str(yaml_layer_dir() / "python")])
    return e


def _sample(module: str, environ: dict[str, str], preload: str = "", cpu: bool = False) -> float:
    """Seconds one fresh interpreter takes to import `module`: wall clock, or with `cpu` the CPU it used."""
    pre = f"import {preload}; " if preload else ""
    out = subprocess.run([PYTHON, "-c", _PROBE.format(pre=pre, mod=module)], cwd=ROOT, env=environ,
                         capture_output=True, text=True, check=True).stdout
    wall, used = out.strip().splitlines()[-1].split()
    return float(used if cpu else wall)


def import_seconds(module: str, runs: int = RUNS, preload: str = "") -> float:
    """Median seconds to import `module` in a fresh interpreter (after `preload`, untimed, if given),
    with the staged Lambda asset first on the path."""
    environ = _asset_env()
    return median([_sample(module, environ, preload) for _ in range(runs)])


def alternating_seconds(probes: list[tuple[str, dict[str, str]]], runs: int = COMPARE_RUNS) -> list[float]:
    """Median CPU seconds each (module, environment) takes to import, one sample of each in turn, `runs`
    times."""
    samples: list[list[float]] = [[] for _ in probes]
    for _ in range(runs):
        for got, (module, environ) in zip(samples, probes, strict=True):
            got.append(_sample(module, environ, cpu=True))
    return [median(got) for got in samples]


def baseline_tree(rev: str) -> Path | None:
    """`rev`'s lambda/ folder extracted into a temporary directory, or None when this clone lacks `rev`."""
    proc = subprocess.run(["git", "archive", "--format=tar", rev, "lambda"], cwd=ROOT, capture_output=True,
                          check=False)
    if proc.returncode != 0:
        return None
    where = Path(tempfile.mkdtemp(prefix="amt-bench-baseline-"))
    with tarfile.open(fileobj=BytesIO(proc.stdout)) as tar:
        tar.extractall(where, filter="data")
    return where / "lambda"


def baseline_env(tree: Path) -> dict[str, str]:
    from amt_conductor.cdk.asset import yaml_layer_dir

    e = env()
    e["PYTHONPATH"] = os.pathsep.join([str(tree), str(yaml_layer_dir() / "python")])
    return e


def compare_with_baselines() -> dict[str, object] | None:
    """Each handler, imported with everything its asset ships, now and in each baseline tree that has it,
    the trees' samples alternating."""
    trees = {rev: baseline_tree(rev) for rev in BASELINES}
    for rev, tree in trees.items():
        if tree is None:
            progress(f"cold start: {rev} is not in this clone (a shallow clone?): not compared")
    try:
        found = {rev: tree for rev, tree in trees.items() if tree is not None}
        return _compare(found) if found else None
    finally:
        for tree in trees.values():
            if tree is not None:
                shutil.rmtree(tree.parent, ignore_errors=True)


def _compare(trees: dict[str, Path]) -> dict[str, object]:
    now_env = _asset_env()
    now_lib = "; import ".join(library_modules())
    ours = {m.rsplit(".", 1)[1]: m for m in handler_modules()}
    rows: dict[str, dict[str, float]] = {}
    for name in sorted(ours):
        probes = [(f"{ours[name]}; import {now_lib}", now_env)]
        revs = []
        for rev, tree in trees.items():
            if (tree / "handlers" / f"{name}.py").exists():
                lib = "; import ".join(sorted(f"amt.{p.stem}" for p in (tree / "amt").glob("*.py")
                                              if p.stem != "__init__"))
                probes.append((f"handlers.{name}; import {lib}", baseline_env(tree)))
                revs.append(rev)
        if not revs:
            continue
        progress(f"cold start: {name} now (twice) and in {', '.join(revs)}, alternating, {COMPARE_RUNS} runs each "
                 "(CPU time)")
        # The same tree a second time (an A/A control): how far two medians of identical imports differ here.
        now, again, *before = alternating_seconds([probes[0], *probes])
        rows[name] = {"now": now, "now_again": again, **dict(zip(revs, before, strict=True))}
    return {"clock": "cpu", "runs": COMPARE_RUNS,
            "revs": [{"rev": rev, "label": BASELINES[rev],
                      "asset_bytes": dir_bytes(tree, exclude=("__pycache__", "tests"))}
                     for rev, tree in trees.items()],
            "handlers": rows}


def ratio_summary(rows: dict[str, dict[str, float]], rev: str) -> dict[str, float] | None:
    """Over the handlers a tree has: the geometric mean and the largest of now / `rev`; and over every handler,
    the A/A control's largest deviation from 1 (now / now again, either way round)."""
    import math

    mine = [v for v in rows.values() if rev in v]
    if not mine:
        return None
    ratios = [v["now"] / v[rev] for v in mine]
    aa = [max(v["now"] / v["now_again"], v["now_again"] / v["now"]) for v in rows.values() if "now_again" in v]
    return {"geomean": math.exp(sum(math.log(r) for r in ratios) / len(ratios)), "max": max(ratios),
            "aa_max": max(aa) if aa else float("nan")}


def library_modules() -> list[str]:
    """What the asset ships besides the handlers."""
    from amt_conductor.cdk import asset

    return sorted(m for m in asset.import_closure(asset.handler_modules())
                  if not m.startswith(asset.HANDLERS_PACKAGE))


def own_closure(handler: str) -> list[str]:
    """What `handler` can import at all, on first call included (its import closure, less itself)."""
    from amt_conductor.cdk import asset

    return sorted(m for m in asset.import_closure([handler]) if m != handler)


def handler_modules() -> list[str]:
    from amt_conductor.cdk import asset

    return sorted(asset.handler_modules())


def dir_bytes(path: Path, exclude: tuple[str, ...] = ("__pycache__",)) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not any(x in f.parts for x in exclude))


def run() -> dict[str, object]:
    handlers: dict[str, float] = {}
    modules_only: dict[str, float] = {}
    beyond_boto3: dict[str, float] = {}
    own: dict[str, float] = {}
    library = "; import ".join(library_modules())
    for mod in handler_modules():
        progress(f"cold start: importing {mod}: alone, with its own closure, with the whole asset, and after boto3 "
                 f"({RUNS} runs each)")
        modules_only[mod.rsplit(".", 1)[1]] = import_seconds(mod)
        handlers[mod.rsplit(".", 1)[1]] = import_seconds(f"{mod}; import {library}")
        own[mod.rsplit(".", 1)[1]] = import_seconds(f"{mod}; import {'; import '.join(own_closure(mod))}")
        # Measured, not subtracted: the same imports in an interpreter that already has boto3.
        beyond_boto3[mod.rsplit(".", 1)[1]] = import_seconds(f"{mod}; import {library}", preload="boto3")
    progress(f"cold start: importing {' + '.join(SDK_MODULES)}")
    sdk = import_seconds("; import ".join(SDK_MODULES), runs=3)
    progress("cold start: importing boto3 alone (every handler needs it; so would the SDK)")
    boto3_s = import_seconds("boto3")
    from amt_conductor.cdk.asset import lambda_code_dir, yaml_layer_dir

    return {
        "handlers_s": handlers,  # module + the whole spec library: an upper bound of a first invocation
        "handler_modules_only_s": modules_only,
        "handlers_own_closure_s": own,  # module + what it can import at all: its first invocation's bound
        # The handlers that can build the spec model at all (pydantic and PyYAML come with it).
        "handlers_with_spec_model": sorted(m.rsplit(".", 1)[1] for m in handler_modules()
                                           if "amt_conductor.spec.model" in own_closure(m)),
        "handlers_beyond_boto3_s": beyond_boto3,  # the same, after boto3 is imported: the handler's own cost
        "sagemaker_sdk_import_s": sdk,
        "boto3_import_s": boto3_s,
        "sdk_modules": list(SDK_MODULES),
        "asset_bytes": dir_bytes(lambda_code_dir()),
        "layer_bytes": dir_bytes(yaml_layer_dir()),
        "baselines": compare_with_baselines(),
    }
