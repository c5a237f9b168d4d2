"""`make bench`: runs every benchmark, prints a table, writes bench/results.json and docs/benchmarks.md.

`python -m bench.run --only orchestration,cold_start` (or `make bench SECTIONS=orchestration,cold_start`, or
AMT_BENCH_SECTIONS) runs some sections and keeps the others' figures from the last run; `--skip` is the
reverse. Each section's date is recorded (`dates`) and shown in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from bench import cold_start, orchestration, report, scale, scale_runs, suite, synth
from bench.common import ROOT, progress

SECTIONS = {"orchestration": orchestration.run, "cold_start": cold_start.run, "synth": synth.run,
            "scale": scale.run, "scale_runs": scale_runs.run, "suite": suite.run}


def verdicts(r: dict[str, Any]) -> list[str]:
    """Each target, the measured figure, and whether it was met."""
    t = report.TARGETS
    out: list[str] = []

    def line(ok: bool, text: str) -> None:
        out.append(f"{'met' if ok else 'MISSED'}: {text}")

    o = r.get("orchestration")
    if o:
        worst_tr = max(o["ours"][d]["transitions"] for d in ("1h", "24h"))
        worst_inv = max(o["ours"][d]["lambda_invocations"] for d in ("1h", "24h"))
        nxt = o.get("ours_next_round")
        line(worst_tr <= t["transitions_per_round"], f"{worst_tr} state transitions for a run of one round, whether "
             f"its job runs 1 h or 24 h (target <= {t['transitions_per_round']}, whatever the duration)"
             + (f"; each further round {nxt['transitions']}" if nxt else ""))
        allowed = t["invocations_per_round"] + t["admission_invocations"]
        line(worst_inv <= allowed, f"{worst_inv} Lambda invocations for a run of one round (target <= "
             f"{t['invocations_per_round']}, plus {t['admission_invocations']} for quota admission: the admit "
             "function)" + (f"; each further round {nxt['lambda_invocations']}" if nxt else ""))
        ratio = o["poll_loop"]["24h"]["transitions"] / max(o["ours"]["24h"]["transitions"], 1)
        line(ratio >= t["poll_ratio_24h"], f"{ratio:.0f}x fewer transitions than the poll loop on a 24 h job "
             f"(target >= {t['poll_ratio_24h']}x)")
    c = r.get("cold_start")
    if c:
        sdk = c["sagemaker_sdk_import_s"]
        worst = max(c["handlers_s"].items(), key=lambda kv: kv[1]) if c["handlers_s"] else ("-", 0.0)
        own = max(c.get("handlers_beyond_boto3_s", {}).values(), default=0.0)
        line(worst[1] <= sdk * t["import_share_of_sdk"], f"slowest handler import {worst[0]} {worst[1]:.3f} s = "
             f"{worst[1] / sdk:.1%} of the SDK's {sdk:.3f} s (target < {t['import_share_of_sdk']:.0%}); "
             f"beyond boto3, which any handler needs, at most {own:.3f} s = {own / sdk:.1%}")
        base = c.get("baselines")
        # Judged against the tree before the package move only (the first of BASELINES), even when this clone
        # lacks it and holds only the older tree: that one shows what features cost, not what the move did.
        judged = next(iter(cold_start.BASELINES))
        first = next((x for x in (base or {}).get("revs", []) if x["rev"] == judged), None)
        if base and base["handlers"] and first is not None:
            rev = first["rev"]
            summary = cold_start.ratio_summary(base["handlers"], rev)
            if summary:
                line(summary["geomean"] <= t["import_over_baseline"] and c["asset_bytes"] <= first["asset_bytes"],
                     f"against the tree {first['label']} ({rev}), alternating in this run, {base.get('clock', 'wall')} "
                     f"time: geometric mean of the handlers' ratios {summary['geomean']:.2f}x (target <= "
                     f"{t['import_over_baseline']}x; the largest single ratio {summary['max']:.2f}x, and the same tree "
                     f"against itself differed by up to {summary['aa_max']:.2f}x); asset {c['asset_bytes']:,} bytes "
                     f"against {first['asset_bytes']:,} (target: no larger)")
    s = r.get("synth")
    if s:
        ratio = s["specs_50_s"] / s["specs_1_s"]
        line(ratio < t["synth_50_over_1"], f"synth with 50 specs is {ratio:.2f}x synth with 1 "
             f"(target < {t['synth_50_over_1']}x)")
    sc = (r.get("scale") or {}).get("synth", {}).get("1000")
    if sc:
        worst = max(sc["max_template_fraction"], sc["max_policy_fraction"], sc["max_pattern_fraction"])
        line(worst < t["scale_fraction_1000"], f"1,000 studies: the largest template, policy and pattern are at "
             f"{worst:.0%} of their limits (target < {t['scale_fraction_1000']:.0%}), in {sc['templates']} templates")
    runs = (r.get("scale") or {}).get("runs")
    if runs:
        _scale_run_verdicts(runs, line)
    su = r.get("suite")
    if su:
        when = (r.get("dates") or {}).get("suite", r.get("date"))
        line(su["make_test_s"] < t["make_test_s"], f"make test {su['make_test_s']} s (target < {t['make_test_s']} s)"
             + ("" if when == r.get("date") else f"; figure from {when}"))
    return out


def _studies(n: int | str) -> str:
    return "1 study" if int(n) == 1 else f"{int(n):,} studies"


def _scale_run_verdicts(runs: dict[str, Any], line: Callable[[bool, str], None]) -> None:
    """Issue 10's targets for many studies at once: none failed, makespan near the ideal, the per-round cost of one
    study plus a constant for queueing, and reconciler reads per tick that do not grow with history."""
    t = report.TARGETS
    items = sorted(runs.items(), key=lambda kv: int(kv[0]))
    for n, fig in items:
        ratio = fig["makespan_h"] / max(fig["ideal_makespan_h"], 1e-9)
        line(fig["failed"] == 0 and ratio <= t["makespan_over_ideal"],
             f"{_studies(n)} at once under a quota of {scale_runs.QUOTA}: {fig['failed']} failed, makespan "
             f"{fig['makespan_h']} h = {ratio:.2f}x the ideal {fig['ideal_makespan_h']} h (target 0 failed, "
             f"<= {t['makespan_over_ideal']}x)")
    base_n, base = items[0]
    one = base.get("transitions_per_round_admitted_at_once") or base["transitions_per_round"]
    one_inv = base["lambda_invocations_per_round"]
    steady = all((fig.get("transitions_per_round_admitted_at_once") or one) == one
                 and (fig.get("transitions_per_round_queued") or one) - one <= t["queue_transitions"]
                 and fig["lambda_invocations_per_round"] <= one_inv + t["queue_invocations"] * fig.get(
                     "queued_rounds", 0) / max(fig.get("rounds", fig["submitted"]), 1) + 0.005 for _, fig in items)
    line(steady, f"cost per round against {_studies(base_n)}: a round admitted at once costs "
         + ", ".join(f"{fig.get('transitions_per_round_admitted_at_once') or '-'}" for _, fig in items)
         + " transitions and a round that queued "
         + ", ".join(f"{fig.get('transitions_per_round_queued') or '-'}" for _, fig in items)
         + f" at {', '.join(f'{int(n):,}' for n, _ in items)} studies (target: {one} as for one study alone, plus "
         f"at most {t['queue_transitions']} for queueing); invocations per round "
         + ", ".join(str(fig["lambda_invocations_per_round"]) for _, fig in items)
         + f" (one study's {one_inv}, plus {t['queue_invocations']} for each round that queued)")
    reads = [(int(n), fig["registry_reads_per_reconcile_tick_max"], fig.get("registry_items_at_end", 0))
             for n, fig in items]
    full = [rd for n, rd, _ in reads if n >= scale_runs.QUOTA]  # the quota's worth of jobs in flight, or more
    line(len(set(full)) <= 1, "registry reads per reconcile tick (max): "
         + ", ".join(f"{rd} at {_studies(n)} (registry {items_:,} items)" for n, rd, items_ in reads)
         + "; target: growing with what is in flight (at most the quota's jobs run at once), never with history")


_SCALE_PART = {"scale": "synth", "scale_runs": "runs"}  # the two share `scale` in results.json


def _get(results: dict[str, Any], name: str) -> dict[str, Any] | None:
    """A section's figures from results.json, as its `run()` returns them (None if absent)."""
    if name in _SCALE_PART:
        part = (results.get("scale") or {}).get(_SCALE_PART[name])
        return {_SCALE_PART[name]: part} if part else None
    found: dict[str, Any] | None = results.get(name)
    return found


def _put(results: dict[str, Any], name: str, data: dict[str, Any]) -> None:
    if name in _SCALE_PART:
        results.setdefault("scale", {}).update(data)
        return
    results[name] = data
    if name == "suite":
        results["make_test_s"] = data["make_test_s"]


def _names(text: str, parser: argparse.ArgumentParser, flag: str) -> set[str]:
    names = {n.strip() for n in text.split(",") if n.strip()}
    if names - set(SECTIONS):
        parser.error(f"{flag}: unknown section(s) {', '.join(sorted(names - set(SECTIONS)))}; "
                     f"the sections are {', '.join(SECTIONS)}")
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench")
    parser.add_argument("--only", default=os.environ.get("AMT_BENCH_SECTIONS", ""),
                        help=f"comma-separated sections to run (default: all): {', '.join(SECTIONS)}")
    parser.add_argument("--skip", default="", help="comma-separated sections not to run")
    args = parser.parse_args(argv)
    only, skip = _names(args.only, parser, "--only"), _names(args.skip, parser, "--skip")
    selected = [n for n in SECTIONS if (not only or n in only) and n not in skip]
    today = dt.date.today().isoformat()
    results: dict[str, Any] = {"machine": report.machine(), "date": today}
    previous_file = ROOT / "bench" / "results.json"
    previous = json.loads(previous_file.read_text()) if previous_file.exists() else {}
    dates: dict[str, str] = {}
    for name in SECTIONS:  # a partial run keeps the other sections' figures, with their dates
        kept = _get(previous, name)
        if name not in selected and kept:
            _put(results, name, kept)
            dates[name] = (previous.get("dates") or {}).get(name) or str(previous.get("date", "?"))
    for name in selected:
        progress(f"benchmark: {name}")
        _put(results, name, SECTIONS[name]())
        dates[name] = today
    results["dates"] = {n: dates[n] for n in SECTIONS if n in dates}
    results["verdicts"] = verdicts(results)
    report.write(results)
    print("\n".join(results["verdicts"]))
    print("wrote bench/results.json and docs/benchmarks.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
