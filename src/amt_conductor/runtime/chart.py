"""The convergence chart: objective per training job, best-so-far line, parents' jobs marked.

Pure string building (no plotting library in the Lambda package) and deterministic: the
same jobs give byte-identical SVG, so reports can be diffed and tested.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 760, 420
LEFT, RIGHT, TOP, BOTTOM = 78, 24, 56, 58
CHILD_COLOR = "#1f77b4"
PARENT_COLOR = "#8c8c8c"
BEST_COLOR = "#d62728"


@dataclass(frozen=True)
class Point:
    """One training job: `objective` None when it reported none; `parent` for warm-start parents' jobs."""

    name: str
    objective: float | None
    parent: bool = False


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (1-2-2.5-5 steps) from at most `lo` to at least `hi`."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    scale = max(abs(lo), abs(hi))
    if not hi - lo > scale * 1e-9:  # one value (or noise): give it some room
        pad = scale * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(1, count)
    if not raw > 1e-300:  # too close to the smallest floats to subdivide
        return [lo, hi]
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first, last = math.floor(lo / step), math.ceil(hi / step)
    return [k * step for k in range(first, last + 1)]


def _fmt(v: float) -> str:
    return f"{v:.1f}"


def _label(v: float) -> str:
    return f"{v:.6g}"


def best_so_far(values: Sequence[float | None], goal: str) -> list[float | None]:
    """Running best of `values` for `goal` (None until the first value)."""
    out: list[float | None] = []
    best: float | None = None
    for v in values:
        if v is not None and (best is None or (v > best if goal == "maximize" else v < best)):
            best = v
        out.append(best)
    return out


def convergence_svg(points: Sequence[Point], *, goal: str, metric: str, title: str) -> str:
    """An SVG document: x = training job in creation order (parents first), y = objective."""
    scored = [p.objective for p in points if p.objective is not None]
    lo, hi = (min(scored), max(scored)) if scored else (0.0, 1.0)
    yticks = nice_ticks(lo, hi)
    y0, y1 = yticks[0], yticks[-1]
    n = max(1, len(points))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(i: int) -> float:  # i is 1-based
        return LEFT + (plot_w * (i - 0.5) / n)

    def y_of(v: float) -> float:
        return TOP + plot_h * (1 - (v - y0) / ((y1 - y0) or 1.0))

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="Helvetica, Arial, sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<text x="{WIDTH // 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">'
        f"{escape(title)}</text>",
    ]
    # Axes, grid and ticks.
    out.append('<g stroke="#e5e5e5">' + "".join(
        f'<line x1="{LEFT}" y1="{_fmt(y_of(t))}" x2="{WIDTH - RIGHT}" y2="{_fmt(y_of(t))}"/>' for t in yticks
    ) + "</g>")
    out.append(f'<g stroke="#333333"><line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" '
               f'y2="{TOP + plot_h}"/><line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}"/></g>')
    out.append('<g text-anchor="end">' + "".join(
        f'<text x="{LEFT - 6}" y="{_fmt(y_of(t) + 4)}">{escape(_label(t))}</text>' for t in yticks
    ) + "</g>")
    out.append('<g text-anchor="middle">' + "".join(
        f'<line x1="{_fmt(x_of(i))}" y1="{TOP + plot_h}" x2="{_fmt(x_of(i))}" y2="{TOP + plot_h + 5}" '
        f'stroke="#333333"/><text x="{_fmt(x_of(i))}" y="{TOP + plot_h + 18}">{i}</text>'
        for i in _x_ticks(len(points))
    ) + "</g>")
    out.append(f'<text x="{LEFT + plot_w // 2}" y="{HEIGHT - 16}" text-anchor="middle">'
               f"training job (creation order)</text>")
    out.append(f'<text x="18" y="{TOP + plot_h // 2}" text-anchor="middle" '
               f'transform="rotate(-90 18 {TOP + plot_h // 2})">{escape(metric)} ({goal})</text>')
    # Best-so-far as a step line: it only changes where a job beats every earlier one.
    best = best_so_far([p.objective for p in points], goal)
    path: list[str] = []
    prev: float | None = None
    for i, b in enumerate(best, start=1):
        if b is None:
            continue
        if prev is None:
            path.append(f"M{_fmt(x_of(i))},{_fmt(y_of(b))}")
        elif b != prev:
            path.append(f"H{_fmt(x_of(i))}V{_fmt(y_of(b))}")
        prev = b
    if path:
        path.append(f"H{_fmt(x_of(len(best)))}")
        out.append(f'<path d="{"".join(path)}" fill="none" stroke="{BEST_COLOR}" stroke-width="2"/>')
    # Points: parents' jobs as hollow grey squares, this round's as filled circles.
    for i, p in enumerate(points, start=1):
        if p.objective is None:
            continue
        x, y = x_of(i), y_of(p.objective)
        tip = f"<title>{escape(p.name)}: {_label(p.objective)}</title>"
        if p.parent:
            out.append(f'<rect class="parent" x="{_fmt(x - 4)}" y="{_fmt(y - 4)}" width="8" height="8" '
                       f'fill="none" stroke="{PARENT_COLOR}" stroke-width="1.5">{tip}</rect>')
        else:
            out.append(f'<circle class="job" cx="{_fmt(x)}" cy="{_fmt(y)}" r="4" fill="{CHILD_COLOR}">'
                       f"{tip}</circle>")
    out.append(_legend(any(p.parent for p in points)))
    if not scored:
        out.append(f'<text x="{LEFT + plot_w // 2}" y="{TOP + plot_h // 2}" text-anchor="middle" '
                   f'fill="#666666">no training job reported an objective</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _x_ticks(n: int) -> list[int]:
    if n <= 0:
        return []
    step = max(1, math.ceil(n / 12))
    ticks = list(range(1, n + 1, step))
    if ticks[-1] != n:
        ticks.append(n)
    return ticks


def _legend(with_parents: bool) -> str:
    x, y = LEFT + 8, TOP - 14
    items = [
        f'<circle cx="{x}" cy="{y}" r="4" fill="{CHILD_COLOR}"/><text x="{x + 8}" y="{y + 4}">this round</text>',
        f'<line x1="{x + 90}" y1="{y}" x2="{x + 110}" y2="{y}" stroke="{BEST_COLOR}" stroke-width="2"/>'
        f'<text x="{x + 114}" y="{y + 4}">best so far</text>',
    ]
    if with_parents:
        items.append(f'<rect x="{x + 196}" y="{y - 4}" width="8" height="8" fill="none" stroke="{PARENT_COLOR}" '
                     f'stroke-width="1.5"/><text x="{x + 208}" y="{y + 4}">warm-start parents</text>')
    return '<g class="legend">' + "".join(items) + "</g>"
