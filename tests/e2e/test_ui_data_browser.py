"""The data view in Chromium: from a version's lineage to its data set's page, which lists every
raw column with its kind, parse rule and missing share, and draws each one's distribution with
uPlot (a histogram with a real x axis for numbers and dates, the top values of the rest)."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bench.browser import CHROMIUM_ARGS, chromium_path
from tests.e2e.ui_helpers import conveyor_up

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(
    chromium_path() is None, reason="Chromium is not installed (make test installs it)"
)

# Per chart: its column, how many bars it holds data for, and the bars' shares' sum (percent).
CHARTS = """() => [...document.querySelectorAll('.dist-card')].map(card => {
    const chart = window.conveyor.charts[card.id];
    const shares = chart ? chart.data[1] : [];
    return [card.dataset.column, shares.length, shares.reduce((a, b) => a + b, 0),
            card.querySelectorAll('.u-axis').length];
})"""


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_the_data_view_shows_each_columns_schema_and_distribution(
    trained_home: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    shutil.copytree(trained_home, home)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    print(f"\nscreenshots: {shots}")
    requested: list[str] = []

    with conveyor_up(home, command="serve") as base, playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda request: requested.append(request.url))
            page.goto(f"{base}/ui/projects/churn/versions/1")
            with page.expect_navigation():
                page.click("#data-link")
            page.wait_for_function("() => document.body.dataset.drawn === 'true'")
            data_url = page.url
            rows = {
                row.get_attribute("data-column"): row.locator("td").all_inner_texts()
                for row in page.locator("tr.data-column").all()
            }
            charts = page.evaluate(CHARTS)
            page.screenshot(path=str(shots / "data.png"), full_page=True)
            trained_links = page.locator("#data-versions a").count()
            page.goto(f"{base}/ui/projects/churn/versions/1")
            page.click("#lineage a[href^='/ui/runs/']")
            page.wait_for_selector("#data-link")
            assert page.locator("#data-link").get_attribute("href") == data_url.removeprefix(base)
        finally:
            browser.close()
        dataset_id = data_url.rsplit("/", 1)[1]
        status, body = _get(f"{base}/api/v1/projects/churn/datasets/{dataset_id}")
        view = json.loads(body)
        bad, _ = _get(f"{base}/api/v1/projects/churn/datasets/not-an-id")
        gone, _ = _get(f"{base}/api/v1/projects/churn/datasets/{'0' * 64}")

    assert status == 200 and (bad, gone) == (400, 404)
    assert trained_links == 1  # the page names the version trained on the data set
    # Every raw column: the id column dropped (with why), the target, the features.
    assert set(rows) == {c["name"] for c in view["columns"]} and len(rows) == 10
    _, role, kind, rule, parsed, missing, _ = rows["age"]
    assert (role, kind, rule, parsed) == ("feature", "numeric", "number", "100.0%")
    age = next(c for c in view["columns"] if c["name"] == "age")
    assert missing == f"{100 * age['missing_share']:.1f}%" and age["missing_share"] > 0.05
    assert rows["customer id"][1] == "dropped" and "id" in rows["customer id"][3]
    assert rows["signup date"][2] == "datetime" and "%Y-%m-%d" in rows["signup date"][3]
    assert rows["churned"][1] == "target"
    # A chart per profiled column, each with bars whose shares add up to all the values, and
    # both axes drawn.
    drawn = {name: (bars, round(total), axes) for name, bars, total, axes in charts}
    assert set(drawn) == set(rows) - {"customer id"}
    assert all(bars >= 2 and total == 100 and axes == 2 for bars, total, axes in drawn.values())
    assert drawn["support calls"][0] == 8  # one bar per count of calls, 0 to 7
    plan = next(c for c in view["columns"] if c["name"] == "plan")["distribution"]
    assert plan["type"] == "top_values" and plan["values"][0]["value"] == "basic"
    outside = [url for url in requested if not url.startswith(f"{base}/")]
    assert outside == [], outside
