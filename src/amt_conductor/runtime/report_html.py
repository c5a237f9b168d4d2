"""The report as one self-contained HTML page: summary, the run's chain of rounds, the model-registry
verdict, the convergence chart inline (SVG) and a leaderboard sortable by any column (inline script).

Nothing is fetched: no external script, style, font or image, and a Content-Security-Policy that forbids
them, so the page opens straight from S3 (a presigned URL) or from disk.
"""

from __future__ import annotations

from html import escape
from typing import Any

CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1100px;
color:#222;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid #ddd;padding:.25rem .6rem;text-align:left}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
table.sortable th{cursor:pointer;user-select:none;background:#f4f4f4}
table.sortable th[aria-sort=ascending]::after{content:" \\25B2"}
table.sortable th[aria-sort=descending]::after{content:" \\25BC"}
code{font-size:.9em}.verdict{font-weight:600}
"""

# Sort the table body by the clicked column: numbers by value (empty last), text alphabetically.
SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, col) {
    th.addEventListener("click", function () {
      var asc = th.getAttribute("aria-sort") !== "ascending";
      table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var num = th.dataset.type === "number", body = table.tBodies[0];
      var key = function (row) {
        var cell = row.cells[col], v = cell.dataset.value !== undefined ? cell.dataset.value : cell.textContent;
        return num ? (v === "" ? NaN : parseFloat(v)) : v;
      };
      Array.prototype.slice.call(body.rows).sort(function (a, b) {
        var x = key(a), y = key(b);
        if (num) { if (isNaN(x)) return 1; if (isNaN(y)) return -1; return asc ? x - y : y - x; }
        return asc ? x.localeCompare(y) : y.localeCompare(x);
      }).forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


def _num(v: Any) -> str:
    return "-" if v is None else f"{v:.6g}" if isinstance(v, float) else str(v)


def _kv(rows: list[tuple[str, str]]) -> str:
    return "<table>" + "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in rows) + "</table>"


def _chain(report: dict[str, Any]) -> str:
    chain = report.get("chain") or []
    if not chain:
        return ""
    head = ("<tr><th class=num>round</th><th>tuning job</th><th class=num>round best</th>"
            "<th class=num>improvement</th><th class=num>instance-hours</th></tr>")
    rows = "".join(
        f"<tr><td class=num>{c['round']}</td><td><code>{escape(str(c.get('job_name')))}</code></td>"
        f"<td class=num>{_num(c.get('best_objective'))}</td><td class=num>{_num(c.get('improvement'))}</td>"
        f"<td class=num>{_num(c.get('instance_hours'))}</td></tr>" for c in chain)
    total = (f"<tr><th colspan=4>total</th><td class=num>{_num(report.get('chain_instance_hours'))}</td></tr>")
    return f"<h2>Rounds of this run</h2><table id=chain>{head}{rows}{total}</table>"


def _promotion(report: dict[str, Any]) -> str:
    outcome = report.get("promotion")
    if not outcome:
        return ""
    cand, cur = outcome.get("candidate") or {}, outcome.get("current") or {}
    rows = [
        ("registered", escape(str(outcome.get("package_arn"))) if outcome.get("registered") else "no"),
        ("candidate training job", f"<code>{escape(str(cand.get('training_job', '-')))}</code>"),
        ("candidate objective", _num(cand.get("objective"))),
        ("current model", escape(str(cur.get("arn") or "none"))
         + (f" ({escape(str(cur.get('status')))})" if cur.get("status") else "")),
        ("current objective", _num(cur.get("objective"))),
    ]
    return (f"<h2>Model registry: <code>{escape(str(outcome.get('group')))}</code></h2>{_kv(rows)}"
            f"<p class=verdict id=verdict>{escape(str(outcome.get('reason')))}</p>")


def _leaderboard(report: dict[str, Any]) -> str:
    board = report["leaderboard"]
    tuned = sorted({k for row in board for k in row["hyperparameters"]})
    numeric = {t for t in tuned if all(_is_number(r["hyperparameters"].get(t, "")) for r in board)}
    head = "".join(
        [f"<th data-type=number class=num>#</th><th>training job</th>"
         f"<th data-type=number class=num>{escape(report['objective']['metric'])}</th><th>status</th>"]
        + [f"<th{' data-type=number class=num' if t in numeric else ''}>{escape(t)}</th>" for t in tuned])
    rows = []
    for r in board:
        obj = r.get("objective")
        cells = [f"<td class=num data-value={r['rank']}>{r['rank']}</td>", f"<td><code>{escape(r['name'])}</code></td>",
                 f"<td class=num data-value=\"{'' if obj is None else repr(obj)}\">{_num(obj)}</td>",
                 f"<td>{escape(str(r['status']))}</td>"]
        for t in tuned:
            v = str(r["hyperparameters"].get(t, ""))
            cells.append(f"<td class=num data-value=\"{escape(v)}\">{escape(v)}</td>" if t in numeric
                         else f"<td>{escape(v)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f"<h2>Leaderboard ({len(board)} training jobs, best first; click a column to sort)</h2>"
            f"<table class=sortable id=leaderboard><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def _is_number(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return v != ""


def render_html(report: dict[str, Any], svg: str, *, study_best: dict[str, Any] | None = None) -> str:
    """The page for one round's report (the dict `build_report` makes, plus chain and promotion if present)."""
    best, obj = report["best"], report["objective"]
    title = f"{report['study']}: round {report['round']}"
    summary = [
        ("tuning job", f"<code>{escape(report['job_name'])}</code> ({escape(report['status'])})"),
        ("objective", f"<code>{escape(obj['metric'])}</code> ({escape(obj['goal'])})"),
        ("best objective (this round)", _num(best["objective"]) if best else "-"),
        ("best training job", f"<code>{escape(best['training_job'])}</code>" if best else "-"),
    ]
    if study_best and study_best.get("objective") is not None:
        summary.append(("best objective (study)", f"{_num(study_best['objective'])} "
                                                  f"(round {escape(str(study_best.get('round', '?')))})"))
    summary += [("billable instance-hours", _num(report["billable_instance_hours"])),
                ("warm-start parents", escape(", ".join(report["parents"]) or "none"))]
    hps = ""
    if best:
        hps = "<h2>Best hyperparameters</h2>" + _kv([(k, escape(str(v))) for k, v in best["hyperparameters"].items()])
    chart = svg[svg.index("<svg"):] if "<svg" in svg else svg  # inline: no XML declaration inside HTML
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
            f"<meta http-equiv=Content-Security-Policy content=\"{CSP}\">"
            f"<meta name=viewport content=\"width=device-width,initial-scale=1\">"
            f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
            f"<h1>{escape(title)}</h1>{_kv(summary)}{_chain(report)}{_promotion(report)}{hps}"
            f"<h2>Convergence</h2><figure id=chart>{chart}</figure>{_leaderboard(report)}"
            f"<script>{SCRIPT}</script></body></html>\n")
