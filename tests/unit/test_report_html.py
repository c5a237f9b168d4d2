"""The HTML report: self-contained (nothing fetched), the run's chain and the promotion verdict on it, and in a
real headless Chromium (Debian's package, driven by Playwright): it renders, the chart is visible, and a click
on a column header sorts the leaderboard."""

from __future__ import annotations

import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from amt_conductor.runtime.reports import build_report, render_all, run_chain

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "report-html.png"

DESC = {"name": "churn-r2-abc123", "status": "Completed", "objective": {"metric": "validation:auc", "type": "Maximize"},
        "parents": ["churn-r1-abc123"], "consumed_seconds": 3723, "training_job_counters": {"Completed": 12},
        "objective_counters": {"Succeeded": 11, "Failed": 1}, "static_hyperparameters": {"num_round": "100"},
        "instance_count": 1, "best_training_job": None}


def _jobs() -> list[dict[str, Any]]:
    values = [0.81, 0.9, None, 0.85, 0.93, 0.7, 0.88, 0.91, 0.79, 0.86, 0.92, 0.84]
    return [{"name": f"churn-r2-abc123-{i:03d}-deadbeef", "tuning_job": "churn-r2-abc123",
             "status": "Completed" if v is not None else "Failed", "objective": v,
             "created": f"2026-01-01T00:{i:02d}:00", "billable_seconds": 1800 + 60 * i,
             "hyperparameters": {"eta": f"{0.01 * (i + 1):.2f}", "max_depth": str(3 + i % 7),
                                 "booster": "gbtree" if i % 2 else "dart"}} for i, v in enumerate(values, 1)]


def report() -> dict[str, Any]:
    doc = build_report(study="churn", round_no=2, run_id="run-1", goal="maximize", desc=DESC, jobs=_jobs(),
                       parent_jobs=[{"name": "churn-r1-abc123-001-aa", "tuning_job": "churn-r1-abc123",
                                     "objective": 0.8, "created": "2025-12-31T23:00:00"}])
    prior = [{"round": 1, "job_name": "churn-r1-abc123", "best_objective": 0.9, "best_before": None,
              "instance_hours": 5.5}]
    doc["chain"] = run_chain(prior, doc, "maximize", 0.9)
    doc["chain_instance_hours"] = sum(c["instance_hours"] for c in doc["chain"])
    doc["promotion"] = {"group": "churn", "registered": True,
                        "package_arn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/3",
                        "candidate": {"training_job": doc["best"]["training_job"], "objective": 0.93},
                        "current": {"arn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/2",
                                    "status": "Approved", "objective": 0.9},
                        "reason": "validation:auc 0.93 beats the Approved version 2 (0.9)"}
    return doc


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "xlink:href", "srcset", "action") and value:
                self.refs.append(f"{tag} {name}={value}")
        if tag == "link":
            self.refs.append("link")


def test_the_page_fetches_nothing() -> None:
    html = render_all(report())["report.html"][0].decode()
    parser = _Refs()
    parser.feed(html)
    assert parser.refs == []
    assert "url(" not in html and "@import" not in html and "@font-face" not in html
    assert "default-src 'none'" in html  # and the browser is told to refuse anything else


def test_the_page_shows_the_chain_and_the_verdict() -> None:
    doc = report()
    html = render_all(doc)["report.html"][0].decode()
    chain = re.search(r"<table id=chain>(.*?)</table>", html)
    assert chain is not None
    rows = re.findall(r"<tr>(.*?)</tr>", chain.group(1))
    assert len(rows) == 4  # header, two rounds, total
    assert ">0.03<" in rows[2]  # round 2: 0.93 against the study's 0.9 before it
    total = 5.5 + sum(1800 + 60 * i for i in range(1, 13)) / 3600
    assert f"{total:.6g}" in rows[3]
    assert "model-package/churn/3" in html and "beats the Approved version 2" in html


browser_available = os.path.exists(CHROMIUM) and shutil.which("chromium") is not None


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Any:
    if not browser_available:
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing on CI: `make test` installs it (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is not installed (make test installs it: apt-get install chromium); CI is not set")
    from playwright.sync_api import sync_playwright

    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_bytes(render_all(report())["report.html"][0])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_page(viewport={"width": 1200, "height": 900})
        requests: list[str] = []
        pg.on("request", lambda r: requests.append(r.url))
        pg.goto(path.as_uri())
        yield pg, requests
        browser.close()


def _objectives(pg: Any) -> list[str]:
    return list(pg.locator("#leaderboard tbody tr td:nth-child(3)").all_inner_texts())


def test_browser_renders_the_chart_and_fetches_nothing_else(page: Any) -> None:
    pg, requests = page
    assert pg.title() == "churn: round 2"
    chart = pg.locator("#chart svg")
    assert chart.is_visible()
    box = chart.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 200
    assert pg.locator("#chart svg circle.job").count() == 11  # one mark per scored training job
    assert [u for u in requests if not u.startswith("file:")] == []
    if os.environ.get("AMT_UPDATE_SCREENSHOT"):  # `make screenshot` refreshes the README's picture
        pg.screenshot(path=str(SCREENSHOT), full_page=True)


def test_clicking_a_header_sorts_the_leaderboard(page: Any) -> None:
    pg, _ = page
    first = _objectives(pg)
    scored = [float(v) for v in first if v != "-"]
    assert scored == sorted(scored, reverse=True)  # best first as written
    header = pg.locator("#leaderboard th", has_text="validation:auc")
    header.click()
    ascending = [float(v) for v in _objectives(pg) if v != "-"]
    assert ascending == sorted(scored) and _objectives(pg)[-1] == "-"  # no value: last
    assert header.get_attribute("aria-sort") == "ascending"
    header.click()
    assert [float(v) for v in _objectives(pg) if v != "-"] == sorted(scored, reverse=True)
    pg.locator("#leaderboard th", has_text="max_depth").click()
    depths = [int(v) for v in pg.locator("#leaderboard tbody tr td:nth-child(7)").all_inner_texts()]
    assert depths == sorted(depths)
