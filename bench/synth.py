"""Synth: `cdk synth` time with 1, 10 and 50 specs, next to an empty-stack app (the floor),
and the template's size and resource count against CloudFormation's limits."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from bench.common import PYTHON, ROOT, median, progress, timed

RUNS = 3
CFN_MAX_RESOURCES = 500
CFN_MAX_TEMPLATE_BYTES = 1_000_000  # via S3; 51,200 bytes inline
EMPTY_APP = """
from aws_cdk import App, Stack
app = App()
Stack(app, "Empty")
app.synth()
"""


def _cdk() -> list[str]:
    return [str(ROOT / "node_modules" / ".bin" / "cdk"), "synth", "--quiet"]


def make_specs(folder: Path, count: int) -> None:
    """`count` valid, distinct specs derived from configs/churn-xgb.yaml."""
    source = (ROOT / "configs" / "churn-xgb.yaml").read_text()
    for i in range(count):
        (folder / f"study-{i:02d}.yaml").write_text(source.replace("name: churn-xgb", f"name: study-{i:02d}", 1))


def synth_seconds(configs: Path, out: Path) -> float:
    samples = []
    for _ in range(RUNS):
        shutil.rmtree(out, ignore_errors=True)
        seconds, _ = timed([*_cdk(), "-o", str(out), "-c", f"amt:configsDir={configs}"])
        samples.append(seconds)
    return median(samples)


def template_stats(out: Path) -> dict[str, object]:
    templates = sorted(out.glob("*.template.json"))
    stats = {}
    for t in templates:
        body = json.loads(t.read_text())
        stats[t.name] = {"bytes": t.stat().st_size, "resources": len(body.get("Resources", {})),
                         "max_resources": CFN_MAX_RESOURCES, "max_bytes": CFN_MAX_TEMPLATE_BYTES}
    return stats


def run() -> dict[str, object]:
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        (base / "empty.py").write_text(EMPTY_APP)
        progress(f"synth: empty-stack app ({RUNS} runs)")
        samples = []
        for _ in range(RUNS):
            seconds, _ = timed([*_cdk(), "--app", f"{PYTHON} {base / 'empty.py'}", "-o", str(base / "out-empty")])
            samples.append(seconds)
        results["empty_app_s"] = median(samples)
        for count in (1, 10, 50):
            configs = base / f"configs-{count}"
            configs.mkdir()
            make_specs(configs, count)
            progress(f"synth: {count} spec(s) ({RUNS} runs)")
            results[f"specs_{count}_s"] = synth_seconds(configs, base / f"out-{count}")
            results[f"templates_{count}"] = template_stats(base / f"out-{count}")
    return results
