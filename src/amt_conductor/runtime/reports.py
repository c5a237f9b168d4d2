"""The Report step: a round's JSON report (for tools), Markdown report (for people) and
convergence chart, written under `<reports prefix><study>/<job name>/` in the artifacts
bucket; and the decision whether the run goes on to another round."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from amt_conductor.runtime.chart import Point, convergence_svg
from amt_conductor.runtime.notify import success_message
from amt_conductor.runtime.observability import bind, count, gauge, logger
from amt_conductor.runtime.report_html import render_html

if TYPE_CHECKING:
    from amt_conductor.runtime.workflow import Runtime
    from amt_conductor.spec.model import Spec

LEADERBOARD_ROWS = 50


def clean_hyperparameters(params: dict[str, Any]) -> dict[str, str]:
    """Drop the hyperparameters SageMaker sets itself (`_tuning_objective_metric`); values as strings.

    Other `_` names are the algorithm's own (`_num_gpus`) and part of the configuration."""
    from amt_conductor.spec.rules import SAGEMAKER_HYPERPARAMETERS

    return {str(k): str(v) for k, v in sorted(params.items()) if str(k) not in SAGEMAKER_HYPERPARAMETERS}


def rank_jobs(jobs: Sequence[dict[str, Any]], goal: str) -> list[dict[str, Any]]:
    """Training jobs best first; jobs without an objective last, in creation order."""
    scored = [j for j in jobs if j.get("objective") is not None]
    rest = [j for j in jobs if j.get("objective") is None]
    scored = sorted(scored, key=lambda j: (-j["objective"] if goal == "maximize" else j["objective"],
                                           j.get("created") or "", j["name"]))
    return scored + rest


def round_best(desc: dict[str, Any], jobs: Sequence[dict[str, Any]], goal: str) -> dict[str, Any] | None:
    """This round's best training job: the best of its listed jobs, else SageMaker's BestTrainingJob."""
    ranked = rank_jobs(jobs, goal)
    if ranked and ranked[0].get("objective") is not None:
        return ranked[0]
    best = desc.get("best_training_job")
    return best if best and best.get("objective") is not None else None


def build_report(*, study: str, round_no: int, run_id: str, goal: str, desc: dict[str, Any],
                 jobs: Sequence[dict[str, Any]], parent_jobs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The JSON report of one round; `jobs` are the round's training jobs, `parent_jobs` its parents'."""
    best = round_best(desc, jobs, goal)
    definitions = desc.get("definitions") or {}
    best_params = None
    if best is not None:
        static = definitions.get(best.get("definition", ""), {}).get("static_hyperparameters") \
            if definitions else desc.get("static_hyperparameters", {})
        best_params = clean_hyperparameters({**(static or {}), **best["hyperparameters"]})
    def instances(job: dict[str, Any]) -> int:
        own = definitions.get(job.get("definition", ""), {}).get("instance_count")
        return int(own or desc.get("instance_count", 1))

    billable = sum(float(j.get("billable_seconds") or 0) * instances(j) for j in jobs)
    return {
        "study": study,
        "round": round_no,
        "run_id": run_id,
        "job_name": desc["name"],
        "status": desc["status"],
        "objective": {"metric": desc["objective"]["metric"], "goal": goal},
        "parents": desc.get("parents", []),
        "warm_start_type": desc.get("warm_start_type", ""),
        "created": desc.get("created"),
        "ended": desc.get("ended"),
        "consumed_seconds": desc.get("consumed_seconds", 0),
        "billable_instance_hours": round(billable / 3600, 4),
        "training_job_counters": desc.get("training_job_counters", {}),
        "objective_counters": desc.get("objective_counters", {}),
        "best": None if best is None else {
            "training_job": best["name"], "objective": best["objective"], "hyperparameters": best_params,
            **({"definition": best.get("definition", "")} if definitions else {}),
        },
        "definitions": sorted(definitions),
        "leaderboard": [
            {"rank": i, "name": j["name"], "objective": j["objective"], "status": j["status"],
             "created": j.get("created"), **({"definition": j.get("definition", "")} if definitions else {}),
             "hyperparameters": clean_hyperparameters(j.get("hyperparameters", {}))}
            for i, j in enumerate(rank_jobs(jobs, goal), start=1)
        ],
        "parent_training_jobs": [{"name": j["name"], "tuning_job": j.get("tuning_job", ""),
                                  "objective": j.get("objective"), "created": j.get("created")}
                                 for j in parent_jobs],
    }


def chart_points(report: dict[str, Any]) -> list[Point]:
    """Parents' jobs first (they ran earlier), then this round's, each in creation order."""
    def order(j: dict[str, Any]) -> tuple[str, str]:
        return j.get("created") or "", j["name"]

    parents = sorted(report["parent_training_jobs"], key=order)
    own = sorted(report["leaderboard"], key=order)
    return [Point(j["name"], j.get("objective"), parent=True) for j in parents] + [
        Point(j["name"], j.get("objective")) for j in own
    ]


def _num(v: Any) -> str:
    return "-" if v is None else f"{v:.6g}" if isinstance(v, float) else str(v)


def _duration(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}h {s % 3600 // 60:02d}m {s % 60:02d}s"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(report: dict[str, Any], *, study_best: dict[str, Any] | None = None) -> str:
    """The Markdown report: summary, best hyperparameters, counters, leaderboard (best first), chart."""
    obj = report["objective"]
    best = report["best"]
    tc, oc = report["training_job_counters"], report["objective_counters"]
    lines = [
        f"# {report['study']}: round {report['round']}",
        "",
        f"Tuning job `{report['job_name']}` ({report['status']}), objective `{obj['metric']}` ({obj['goal']}).",
        "",
        "| | |",
        "|---|---|",
        f"| best objective (this round) | {_num(best['objective']) if best else '-'} |",
        f"| best training job | {('`' + best['training_job'] + '`') if best else '-'} |",
    ]
    if study_best and study_best.get("objective") is not None:
        lines.append(f"| best objective (study) | {_num(study_best['objective'])} "
                     f"(round {study_best.get('round', '?')}) |")
    lines += [
        f"| training jobs | {sum(int(v) for v in tc.values())} ("
        + ", ".join(f"{k} {v}" for k, v in sorted(tc.items())) + ") |",
        "| objective | " + ", ".join(f"{k} {v}" for k, v in sorted(oc.items())) + " |",
        f"| tuning time | {_duration(report['consumed_seconds'])} |",
        f"| billable instance-hours | {report['billable_instance_hours']:g} |",
        f"| warm-start parents | {', '.join('`' + p + '`' for p in report['parents']) or 'none'} |",
        "",
    ]
    if report.get("chain"):
        lines += [render_chain(report), ""]
    lines += [
        "## Best hyperparameters",
        "",
    ]
    if best:
        lines += ["| name | value |", "|---|---|"]
        lines += [f"| {_cell(k)} | {_cell(v)} |" for k, v in best["hyperparameters"].items()]
    else:
        lines.append("No training job reported the objective metric.")
    board = report["leaderboard"]
    lines += ["", f"## Leaderboard ({len(board)} training jobs, best first)", ""]
    if report.get("definitions"):
        # Multi-algorithm: one table per definition (each has its own hyperparameters), ranks stay overall.
        for name in report["definitions"]:
            rows = [r for r in board if r.get("definition") == name]
            lines += [f"### {name} ({len(rows)} training jobs)", "", *_leaderboard(rows), ""]
    else:
        lines += _leaderboard(board)
    if len(board) > LEADERBOARD_ROWS:
        lines.append(f"\nAt most {LEADERBOARD_ROWS} rows a table; all {len(board)} are in report.json.")
    lines += ["", "## Convergence", "", "![convergence](convergence.svg)", ""]
    return "\n".join(lines)


def _leaderboard(board: list[dict[str, Any]]) -> list[str]:
    tuned = sorted({k for row in board for k in row["hyperparameters"]})
    lines = ["| # | training job | objective | status | " + " | ".join(_cell(t) for t in tuned) + " |",
             "|---:|---|---:|---|" + "---|" * len(tuned)]
    for row in board[:LEADERBOARD_ROWS]:
        lines.append(f"| {row['rank']} | `{row['name']}` | {_num(row['objective'])} | {row['status']} | "
                     + " | ".join(_cell(row["hyperparameters"].get(t, "")) for t in tuned) + " |")
    return lines


def run_chain(prior_rounds: Sequence[dict[str, Any]], report: dict[str, Any], goal: str,
              best_before: float | None) -> list[dict[str, Any]]:
    """This run's rounds so far (registry items of the earlier ones, then this report): each round's best,
    its improvement on the study's best before it (negative: worse), and its billable instance-hours."""
    chain = [{"round": int(r["round"]), "job_name": r.get("job_name"), "best_objective": r.get("best_objective"),
              "improvement": improvement(goal, r.get("best_before"), r.get("best_objective")),
              "instance_hours": r.get("instance_hours")} for r in sorted(prior_rounds, key=lambda r: int(r["round"]))]
    best = report["best"]
    chain.append({"round": report["round"], "job_name": report["job_name"],
                  "best_objective": best["objective"] if best else None,
                  "improvement": improvement(goal, best_before, best["objective"] if best else None),
                  "instance_hours": report["billable_instance_hours"]})
    return chain


def render_chain(report: dict[str, Any]) -> str:
    """The Markdown table of the run's rounds: best, improvement and instance-hours per round, and the total."""
    chain = report.get("chain") or []
    lines = ["## Rounds of this run", "", "| round | tuning job | round best | improvement | instance-hours |",
             "|---:|---|---:|---:|---:|"]
    lines += [f"| {c['round']} | `{c['job_name']}` | {_num(c.get('best_objective'))} | {_num(c.get('improvement'))} "
              f"| {_num(c.get('instance_hours'))} |" for c in chain]
    lines.append(f"| **total** | | | | {_num(report.get('chain_instance_hours'))} |")
    return "\n".join(lines)


def render_promotion(outcome: dict[str, Any]) -> str:
    """The report's model-registry section: the candidate against the group's current model, and the verdict."""
    cand, cur = outcome.get("candidate") or {}, outcome.get("current") or {}
    lines = [f"## Model registry: `{outcome.get('group')}`", "",
             "| | candidate (study best) | current model |", "|---|---|---|",
             f"| package | {('`' + str(outcome['package_arn']) + '`') if outcome.get('registered') else '-'} | "
             f"{('`' + str(cur['arn']) + '`') if cur.get('arn') else 'none'} |",
             f"| approval | {'registered' if outcome.get('registered') else 'not registered'} | "
             f"{cur.get('status') or '-'} |",
             f"| training job | {('`' + str(cand['training_job']) + '`') if cand.get('training_job') else '-'} | "
             f"{('`' + str(cur['training_job']) + '`') if cur.get('training_job') else '-'} |",
             f"| objective | {_num(cand.get('objective'))} | {_num(cur.get('objective'))} |",
             "", f"Verdict: {outcome.get('reason')}."]
    return "\n".join(lines)


def report_prefix(reports_prefix: str, study: str, job_name: str) -> str:
    """Key prefix of a round's reports: `<prefix><study>/<job name>/`."""
    base = reports_prefix if reports_prefix.endswith("/") or not reports_prefix else reports_prefix + "/"
    return f"{base}{study}/{job_name}/"


def render_all(report: dict[str, Any], *, study_best: dict[str, Any] | None = None) -> dict[str, tuple[bytes, str]]:
    """The four files (JSON, Markdown, SVG chart, HTML page) as {name: (body, content type)}; deterministic
    for the same report."""
    svg = report_svg(report)
    return {
        "report.json": (json.dumps(report, indent=2, sort_keys=True).encode(), "application/json"),
        "report.md": (render_markdown(report, study_best=study_best).encode(), "text/markdown; charset=utf-8"),
        "convergence.svg": (svg.encode(), "image/svg+xml"),
        "report.html": (render_html(report, svg, study_best=study_best).encode(), "text/html; charset=utf-8"),
    }


def report_svg(report: dict[str, Any]) -> str:
    """The convergence chart of a report (what render_all writes as convergence.svg)."""
    title = f"{report['study']}: round {report['round']} ({report['job_name']})"
    return convergence_svg(chart_points(report), goal=report["objective"]["goal"],
                           metric=report["objective"]["metric"], title=title)


def write_reports(s3: Any, bucket: str, prefix: str, files: dict[str, tuple[bytes, str]]) -> str:
    """Upload the files under `prefix`; returns the Markdown report's s3:// URI."""
    for name, (body, content_type) in files.items():
        s3.put_object(Bucket=bucket, Key=prefix + name, Body=body, ContentType=content_type)
    return f"s3://{bucket}/{prefix}report.md"


# -- the Report step -----------------------------------------------------------------------------


def improvement(goal: str, before: float | None, now: float | None) -> float | None:
    """How much `now` beats `before` (positive = better for `goal`); None without a baseline."""
    if before is None or now is None:
        return None
    return now - before if goal == "maximize" else before - now


def target_reached(goal: str, best: float | None, target: float | None) -> bool:
    if best is None or target is None:
        return False
    return best >= target if goal == "maximize" else best <= target


def decide_next(spec: Spec, *, round_no: int, base_round: int, round_best: float | None,
                study_best: float | None, gain: float | None, spent_hours: float,
                next_worst_hours: float) -> tuple[bool, str]:
    """(continue?, reason): rounds remain in this run, the target is not reached, the round improved
    by at least rounds.min_improvement (a run's first round always counts), the budget allows."""
    done, most = round_no - base_round + 1, spec.rounds.max
    target = spec.completion.target if spec.completion else None
    if done >= most:
        return False, f"ran rounds.max ({most}) round(s) in this run"
    if target_reached(spec.objective.goal, study_best, target):
        return False, f"target {target:g} reached (best {study_best:g})"
    if round_best is None:
        return False, f"round {round_no}: no training job reported {spec.objective.metric}"
    if round_no > base_round and gain is not None and gain < spec.rounds.min_improvement:
        return False, (f"round {round_no} improved the best by {gain:g}, less than rounds.min_improvement "
                       f"({spec.rounds.min_improvement:g})")
    if spec.budget is not None and spent_hours + next_worst_hours > spec.budget.max_instance_hours:
        return False, (f"budget: {spent_hours:g} of {spec.budget.max_instance_hours:g} instance-hours committed; "
                       f"the next round may need {next_worst_hours:g}")
    gained = "first round of the run" if round_no == base_round or gain is None else f"improved by {gain:g}"
    return True, f"round {done} of {most} done ({gained}); continuing with round {round_no + 1}"


def _list_parent_jobs(sm: Any, parents: Sequence[str]) -> list[dict[str, Any]]:
    from amt_conductor.runtime.sagemaker_ops import error_code, list_training_jobs

    out: list[dict[str, Any]] = []
    for parent in parents:
        try:
            out.extend(list_training_jobs(sm, parent))
        except ClientError as err:  # a deleted parent only costs its points on the chart
            logger.warning("cannot list the parent's training jobs", extra={"parent": parent,
                                                                             "code": error_code(err)})
    return out


def report_round(rt: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    """The Report step: describe the job, list its training jobs, write the three reports, update
    the round and the study's best, and decide whether the run continues."""
    from amt_conductor.runtime.registry import RoundStatus, RunStatus, better
    from amt_conductor.runtime.rounds import load_spec
    from amt_conductor.runtime.sagemaker_ops import describe, list_training_jobs
    from amt_conductor.spec.budget import worst_case_instance_hours

    p = event["prepared"]
    study, round_no, run_id, job = p["study"], int(p["round"]), p["run_id"], p["job_name"]
    bind(study=study, job_name=job, round=round_no, run_id=run_id)
    spec = load_spec(rt, p["spec_location"])
    goal = spec.objective.goal
    desc = describe(rt.sagemaker, job)
    jobs = list_training_jobs(rt.sagemaker, job)
    report = build_report(study=study, round_no=round_no, run_id=run_id, goal=goal, desc=desc, jobs=jobs,
                          parent_jobs=_list_parent_jobs(rt.sagemaker, p.get("parents") or []))
    reg = rt.registry
    before = (reg.round(study, round_no) or {}).get("best_before")
    meta = reg.study(study) or {}
    rb = report["best"]
    if rb is not None and better(goal, rb["objective"], meta.get("best_objective")):
        best = {"objective": rb["objective"], "training_job": rb["training_job"],
                "hyperparameters": rb["hyperparameters"], "round": round_no}
    else:
        best = {"objective": meta.get("best_objective"), "training_job": meta.get("best_training_job"),
                "hyperparameters": meta.get("best_hyperparameters"), "round": meta.get("best_round")}
    prior = [r for r in reg.rounds(study) if r.get("run_id") == run_id and int(r["round"]) < round_no]
    report["chain"] = run_chain(prior, report, goal, before)
    report["chain_instance_hours"] = round(sum(float(c.get("instance_hours") or 0) for c in report["chain"]), 4)
    report["study_best"] = best
    prefix = report_prefix(rt.settings.reports_prefix, study, job)
    uri = write_reports(rt.s3, rt.settings.artifacts_bucket, prefix, render_all(report, study_best=best))
    reg.set_round(study, round_no, RoundStatus.COMPLETED, report_uri=uri,
                  instance_hours=report["billable_instance_hours"],
                  best_objective=rb["objective"] if rb else None,
                  best_training_job=rb["training_job"] if rb else None,
                  best_hyperparameters=rb["hyperparameters"] if rb else None)
    if rb is not None:
        reg.update_study_best(study, goal=goal, objective=rb["objective"], training_job=rb["training_job"],
                              hyperparameters=rb["hyperparameters"], round_no=round_no, report_uri=uri)
    run_rounds = [r for r in reg.rounds(study) if r.get("run_id") == run_id]
    spent = sum(float(r.get("worst_case_hours") or 0) for r in run_rounds if int(r["round"]) <= round_no)
    gain = improvement(goal, before, rb["objective"] if rb else None)
    go_on, reason = decide_next(spec, round_no=round_no, base_round=int(p.get("base_round") or round_no),
                                round_best=rb["objective"] if rb else None, study_best=best["objective"],
                                gain=gain, spent_hours=spent, next_worst_hours=worst_case_instance_hours(spec))
    subject, message = success_message(
        study=study, metric=spec.objective.metric, goal=goal,
        rounds=[r for r in run_rounds if int(r["round"]) <= round_no], best_objective=best["objective"],
        best_training_job=best["training_job"], best_hyperparameters=best["hyperparameters"],
        report_uri=uri, reason=reason)
    promote = not go_on and spec.promote is not None
    if not go_on and not promote:  # with promote, the Promote step ends the run
        reg.finish_run(run_id, RunStatus.SUCCEEDED, reason=reason)
    count("RoundsCompleted", study=study)
    if best["objective"] is not None:
        gauge("BestObjective", float(best["objective"]), study=study)
    logger.info("round reported", extra={"continue": go_on, "reason": reason, "report_uri": uri})
    return {
        "best_objective": best["objective"], "best_training_job": best["training_job"],
        "best_hyperparameters": best["hyperparameters"], "round_best_objective": rb["objective"] if rb else None,
        "report_uri": uri, "improvement": gain, "continue": go_on, "promote": promote, "reason": reason,
        "subject": subject, "message": message,
        # The next Prepare's input, so the state machine needs no arithmetic.
        "next": {"study": study, "round": round_no + 1, "run_id": run_id, "source": p["spec_location"],
                 "trigger": p.get("trigger", "s3")},
    }
