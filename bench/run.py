"""`make bench`: runs every benchmark, prints a table, writes bench/results.json and docs/benchmarks.md.

`python -m bench.run [--skip suite,synth,...]`: the test-suite timing takes minutes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
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
        line(worst_tr <= t["transitions_per_round"], f"{worst_tr} state transitions per round "
             f"(target <= {t['transitions_per_round']}, whatever the duration)")
        line(worst_inv <= t["invocations_per_round"], f"{worst_inv} Lambda invocations per round "
             f"(target <= {t['invocations_per_round']})")
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
    for n, runs in sorted(((r.get("scale") or {}).get("runs") or {}).items(), key=lambda kv: int(kv[0])):
        ratio = runs["makespan_h"] / max(runs["ideal_makespan_h"], 1e-9)
        line(runs["failed"] == 0 and ratio <= t["makespan_over_ideal"],
             f"{n} studies at once under a quota of {scale_runs.QUOTA}: {runs['failed']} failed, makespan "
             f"{runs['makespan_h']} h = {ratio:.2f}x the ideal {runs['ideal_makespan_h']} h (target 0 failed, "
             f"<= {t['makespan_over_ideal']}x); {runs['transitions_per_round']} transitions and "
             f"{runs['lambda_invocations_per_round']} invocations per round; at most "
             f"{runs['registry_reads_per_reconcile_tick_max']} registry reads per reconcile tick")
    su = r.get("suite")
    if su:
        line(su["make_test_s"] < t["make_test_s"], f"make test {su['make_test_s']} s (target < {t['make_test_s']} s)")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench")
    parser.add_argument("--skip", default="", help=f"comma-separated sections to skip: {', '.join(SECTIONS)}")
    args = parser.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    results: dict[str, Any] = {"machine": report.machine(), "date": dt.date.today().isoformat()}
    previous = ROOT / "bench" / "results.json"
    if skip and previous.exists():
        # A partial run keeps the skipped sections' figures from the last run (their own dates are in git).
        kept = json.loads(previous.read_text())
        results.update({k: v for k, v in kept.items() if k in skip or (k == "make_test_s" and "suite" in skip)})
    for name, fn in SECTIONS.items():
        if name in skip:
            continue
        progress(f"benchmark: {name}")
        data = fn()
        if name == "suite":
            results["make_test_s"] = data["make_test_s"]
        if name == "scale_runs":  # under `scale`, beside the synth figures: scale.runs.<N>
            results.setdefault("scale", {}).update(data)
            continue
        if name == "scale" and "scale_runs" in skip and "runs" in (results.get("scale") or {}):
            data = {**data, "runs": results["scale"]["runs"]}
        results[name] = data
    results["verdicts"] = verdicts(results)
    report.write(results)
    print("\n".join(results["verdicts"]))
    print("wrote bench/results.json and docs/benchmarks.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
