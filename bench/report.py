"""Writes bench/results.json and docs/benchmarks.md (table, cost chart, machine) from one run."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

from bench.common import ROOT

TARGETS = {
    "transitions_per_round": 15,
    "invocations_per_round": 5,
    "poll_ratio_24h": 100,
    "import_share_of_sdk": 0.05,
    "synth_50_over_1": 2.0,
    "make_test_s": 180,
    "scale_fraction_1000": 0.8,
    "makespan_over_ideal": 1.1,
}


def machine() -> str:
    mem = ""
    try:
        kb = int(next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal")).split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores{mem}, Python {platform.python_version()}"


def _row(cells: list[object]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def chart_svg(orchestration: dict[str, Any]) -> str:
    """State transitions per round against job duration (log scales), ours vs the poll loop."""
    import math

    series = {name: [(h, orchestration[name][f"{h}h"]["transitions"]) for h in (1, 24)]
              for name in ("ours", "poll_loop") if name in orchestration}
    width, height, left, right, top, bottom = 600, 320, 80, 90, 60, 50
    ymax = max([v for pts in series.values() for _, v in pts] + [10])
    decades = math.ceil(math.log10(ymax))

    def x(h: float) -> float:
        return left + (math.log10(h) / math.log10(24)) * (width - left - right)

    def y(v: float) -> float:
        return height - bottom - (math.log10(max(v, 1)) / decades) * (height - bottom - top)

    colors = {"ours": "#1b7f3b", "poll_loop": "#b23b3b"}
    labels = {"ours": "amt-conductor (waits on events)", "poll_loop": "poll loop (every 60 s)"}
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
           'font-size="12">', f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14">State transitions per tuning round '
           'against the job\'s duration</text>',
           f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="black"/>',
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="black"/>',
           f'<text x="{(left + width - right) / 2}" y="{height - 12}" text-anchor="middle">tuning job duration '
           '(log scale)</text>',
           f'<text transform="translate(18,{(top + height - bottom) / 2}) rotate(-90)" text-anchor="middle">'
           'transitions per round (log scale)</text>']
    for h in (1, 24):
        out.append(f'<text x="{x(h):.1f}" y="{height - bottom + 16}" text-anchor="middle">{h} h</text>')
    for d in range(decades + 1):
        v = 10 ** d
        out.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:,}</text>')
        out.append(f'<line x1="{left}" y1="{y(v):.1f}" x2="{width - right}" y2="{y(v):.1f}" stroke="#e5e5e5"/>')
    for i, (name, pts) in enumerate(series.items()):
        path = " ".join(f"{'M' if j == 0 else 'L'}{x(h):.1f},{y(v):.1f}" for j, (h, v) in enumerate(pts))
        out.append(f'<path d="{path}" stroke="{colors[name]}" stroke-width="2" fill="none"/>')
        for h, v in pts:
            out.append(f'<circle cx="{x(h):.1f}" cy="{y(v):.1f}" r="4" fill="{colors[name]}"/>')
            dy = -8 if h == 1 else 4  # above the line's start, beside its end
            out.append(f'<text x="{x(h) + 8:.1f}" y="{y(v) + dy:.1f}" fill="{colors[name]}">{v:,}</text>')
        out.append(f'<rect x="{left + 14}" y="{top + 4 + 18 * i}" width="12" height="3" fill="{colors[name]}"/>')
        out.append(f'<text x="{left + 32}" y="{top + 10 + 18 * i}">{labels[name]}</text>')
    out.append("</svg>")
    return "\n".join(out)


def missed_notes(results: dict[str, Any]) -> list[str]:
    """An explanation, from this run's figures, for each missed target."""
    notes: list[str] = []
    cold = results.get("cold_start")
    if cold and cold["handlers_s"]:
        sdk, b3 = cold["sagemaker_sdk_import_s"], cold.get("boto3_import_s") or 0.0
        worst = max(cold["handlers_s"].values())
        if worst > sdk * TARGETS["import_share_of_sdk"]:
            notes.append(
                f"Cold start: boto3 alone takes {b3:.3f} s, {b3 / sdk:.0%} of the SDK's {sdk:.3f} s, and every handler "
                "(like the SDK) needs it, so 5% is out of reach for any boto3 handler; the rest is Powertools' logger "
                "and metrics and, for handlers that read specs, building the pydantic model (counted here for every "
                "handler, as an upper bound). What would fix it: Lambda SnapStart for Python (3.12+) restores an "
                "initialized snapshot, taking imports out of cold starts altogether (it needs published versions and "
                "costs per restore); short of that, importing Powertools' metrics only where a handler emits one and "
                "keeping pydantic out of start/resume/stop/reconcile trims tens of milliseconds, not the boto3 floor.")
    return notes


def runs_svg(runs: dict[str, Any]) -> str:
    """Makespan against the ideal for each fleet size (bars, hours on a linear scale)."""
    items = sorted(runs.items(), key=lambda kv: int(kv[0]))
    top = max(max(r["makespan_h"], r["ideal_makespan_h"]) for _, r in items) or 1.0
    width, height, left, bottom = 520, 260, 60, 40
    slot = (width - left - 20) / max(len(items), 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
             'font-size="11">',
             f'<text x="{left}" y="14">makespan (dark) and ideal (light), hours; quota 10 concurrent jobs</text>']
    for i, (n, r) in enumerate(items):
        x = left + i * slot + 10
        for j, (key, colour) in enumerate((("makespan_h", "#1f4e79"), ("ideal_makespan_h", "#9dc3e6"))):
            h = (height - bottom - 30) * r[key] / top
            parts.append(f'<rect x="{x + j * slot * 0.35:.1f}" y="{height - bottom - h:.1f}" '
                         f'width="{slot * 0.3:.1f}" height="{h:.1f}" fill="{colour}"/>')
            parts.append(f'<text x="{x + j * slot * 0.35:.1f}" y="{height - bottom - h - 3:.1f}">{r[key]:g}</text>')
        parts.append(f'<text x="{x:.1f}" y="{height - bottom + 16}">{n} studies</text>')
    parts.append(f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" stroke="#333"/>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def write(results: dict[str, Any]) -> None:
    (ROOT / "bench" / "results.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    docs = ROOT / "docs"
    lines = ["# Benchmarks", "", f"Written by `make bench` on {results['date']}; machine: {results['machine']}.",
             "Every figure below comes from that one run (`bench/results.json`). Targets are aims, not test asserts.",
             ""]
    orch = results.get("orchestration")
    if orch:
        (docs / "benchmarks-cost.svg").write_text(chart_svg(orch))
        lines += ["## Orchestration cost per round", "",
                  "One tuning round in the local simulator with simulated time (no real waiting). "
                  "`sdk_wait` is computed from the SDK's 5 s Describe interval.", "",
                  _row(["pattern", "job", "state transitions", "Lambda invocations", "SageMaker API calls"]),
                  _row(["---"] * 5)]
        for name in ("ours", "poll_loop", "sdk_wait"):
            for dur in ("1h", "24h"):
                r = orch.get(name, {}).get(dur, {})
                lines.append(_row([name, dur, r.get("transitions", "-"), r.get("lambda_invocations", "-"),
                                   r.get("sagemaker_calls", "-")]))
        lines += ["", "![transitions per round against job duration](benchmarks-cost.svg)", ""]
    cold = results.get("cold_start")
    if cold:
        sdk = cold["sagemaker_sdk_import_s"]
        lines += ["## Cold start", "", f"Median import time in a fresh interpreter; the SageMaker SDK modules a "
                  f"handler would otherwise need ({', '.join(cold['sdk_modules'])}) take {sdk:.3f} s. Handlers "
                  "import some modules on first call, so the second column adds every module the Lambda asset "
                  "ships: an upper bound of a first invocation's imports.", "",
                  _row(["handler", "module (s)", "module + asset (s)", "share of SDK import",
                        "the same after boto3 (s)"]),
                  _row(["---"] * 5)]
        alone = cold.get("handler_modules_only_s", {})
        beyond = cold.get("handlers_beyond_boto3_s", {})
        for name, s in sorted(cold["handlers_s"].items()):
            lines.append(_row([name, f"{alone[name]:.3f}" if name in alone else "-", f"{s:.3f}",
                               f"{s / sdk:.1%}" if sdk else "-", f"{beyond[name]:.3f}" if name in beyond else "-"]))
        if cold.get("boto3_import_s"):
            b3 = cold["boto3_import_s"]
            lines += ["", f"boto3 alone imports in {b3:.3f} s ({b3 / sdk:.1%} of the SDK); every handler needs it, "
                      "and so does the SDK. The last column is a handler's own cost: the same imports, timed in an "
                      "interpreter that has already imported boto3 (medians of separate runs, so columns need not add "
                      "up exactly)."]
        lines += ["", f"Lambda asset (the handlers' import closure): {cold['asset_bytes']:,} bytes; "
                  f"project layer (PyYAML): {cold['layer_bytes'] or 0:,} bytes.", ""]
    synth = results.get("synth")
    if synth:
        lines += ["## Synth", "", _row(["app", "cdk synth (s)"]), _row(["---"] * 2),
                  _row(["empty stack (floor)", synth["empty_app_s"]])]
        for n in (1, 10, 50):
            lines.append(_row([f"{n} spec(s)", synth[f"specs_{n}_s"]]))
        for name, t in synth.get("templates_50", {}).items():
            lines += ["", f"With 50 specs, `{name}` is {t['bytes']:,} bytes (limit {t['max_bytes']:,} via S3) and "
                      f"has {t['resources']} resources (limit {t['max_resources']})."]
        lines.append("")
    scale = (results.get("scale") or {}).get("synth")
    if scale:
        lines += ["## Scale: templates and policies against AWS's limits", "",
                  "Generated studies (every 5th with a KMS key and a VPC, every 3rd scheduled, every 7th a custom "
                  "image), synthesized with cdk-nag on; each figure is the largest over every template, role and "
                  "rule, with references resolved to their deployed length, as a fraction of AWS's limit "
                  "(`bench/scale.py`).", "",
                  _row(["studies", "synth (s)", "templates", "template (1 MB / 500 resources)",
                        "policy (inline 10,240 / managed / trust 2,048)", "event pattern (2,048)"]),
                  _row(["---"] * 6)]
        for n, r in sorted(scale.items(), key=lambda kv: int(kv[0])):
            lines.append(_row([n, r["seconds"], r["templates"], f"{r['max_template_fraction']:.0%}",
                               f"{r['max_policy_fraction']:.0%}", f"{r['max_pattern_fraction']:.0%}"]))
        lines.append("")
    runs = (results.get("scale") or {}).get("runs")
    if runs:
        (docs / "benchmarks-scale.svg").write_text(runs_svg(runs))
        lines += ["## Scale: many studies at once under a quota", "",
                  "N studies (one round of a 1 h tuning job each) submitted at the same moment to one stack whose "
                  "admission quota, like the simulated account's, is 10 concurrent tuning jobs. The simulator's "
                  "fleet mode runs every execution of the synthesized state machine at once with the real "
                  "handlers, on simulated time (`bench/scale_runs.py`); ideal = total job hours / 10. "
                  "Per-round figures exclude the reconciler, which is per tick.", "",
                  "![makespan against the ideal](benchmarks-scale.svg)", "",
                  _row(["studies", "succeeded", "failed", "makespan (h)", "ideal (h)", "transitions / round",
                        "invocations / round", "registry reads / reconcile tick (max)", "refused launches",
                        "wall (s)"]),
                  _row(["---"] * 10)]
        for n, r in sorted(runs.items(), key=lambda kv: int(kv[0])):
            lines.append(_row([n, r["succeeded"], r["failed"], r["makespan_h"], r["ideal_makespan_h"],
                               r["transitions_per_round"], r["lambda_invocations_per_round"],
                               r["registry_reads_per_reconcile_tick_max"], r["refused_creates"], r["wall_s"]]))
        if "1000" not in runs:
            lines += ["", "1,000 studies were not run here: fleet mode spends about 6 s of wall time per study on "
                      "this shared machine (one moto execution each, every state on its own thread), so 1,000 take "
                      "well over an hour; `AMT_BENCH_RUNS=10,100,1000 make bench` runs them."]
        lines.append("")
    suite = results.get("suite")
    if suite:
        lines += ["## Test suite", "", f"`make test`: {suite['make_test_s']} s wall time. Slowest steps:", "",
                  _row(["seconds", "phase", "test"]), _row(["---"] * 3)]
        lines += [_row([s["seconds"], s["phase"], f"`{s['test']}`"]) for s in suite["slowest"]]
        lines.append("")
    lines += ["## Against the targets", ""] + [f"- {line}" for line in results.get("verdicts", [])]
    notes = missed_notes(results)
    if notes:
        lines += ["", "### Why targets were missed, and what would fix them", ""] + [f"- {n}" for n in notes]
    (docs / "benchmarks.md").write_text("\n".join(lines) + "\n")
