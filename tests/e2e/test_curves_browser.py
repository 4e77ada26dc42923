"""Curves, compare and the drift panel's labels in a real browser, against `conveyor serve`
on one trained project shared by the module: the version page draws its ROC and
precision-recall curves with the decision threshold's dot, its reliability and learning
curves (the early-stopping round marked), and says when a version has none; the compare page,
linked from the project page, sets picked versions side by side with their curves overlaid;
the drift panel's histograms have a percent axis and a label under every bin. Each test
writes a screenshot (build/screenshots/ too with CONVEYOR_SCREENSHOTS set)."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bench.browser import CHROMIUM_ARGS, chromium_path
from conveyor.config import Settings
from conveyor.pipeline.details import details_key
from conveyor.storage import REPORTS
from conveyor.types import ApprovalStatus
from conveyor.wiring import build_ports
from tests.e2e.ui_helpers import conveyor_up, request_rows, screenshot, send_traffic

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(
    chromium_path() is None, reason="Chromium is not installed (make test installs it)"
)

SAMPLE = Path(__file__).parents[2] / "conveyor" / "samples" / "churn.csv"
CHART_DRAWN = """id => {
    const chart = window.conveyor.charts[id];
    if (!chart || chart.series.length < 2) return false;
    return chart.data.slice(1).every(s => s[0].length > 1);  // mode 2: [xs, ys] per line
}"""
LEGEND = "id => [...document.querySelectorAll(`#${id} .u-legend .u-label`)].map(n => n.textContent)"


@pytest.fixture(scope="module")
def home(trained_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The trained churn project (v1 deployed, with curves) and two copies of v1 registered
    beside it: v2 trained with num_leaves 7 (its details v1's), and v3 whose details were
    recorded before curves were (none)."""
    home = tmp_path_factory.mktemp("curves") / "home"
    shutil.copytree(trained_home, home)
    ports = build_ports(Settings(home=home))
    first = ports.registry.get_version("churn", 1)
    details = json.loads(ports.store.get(REPORTS, details_key("churn", first.run_id)))
    older = {key: value for key, value in details.items() if key != "curves"}
    for run_id, hyperparameters, kept in (
        ("r-copy-2", {**first.hyperparameters, "num_leaves": 7}, details),
        ("r-copy-3", first.hyperparameters, older),
    ):
        draft = replace(
            first,
            version=0,
            run_id=run_id,
            hyperparameters=hyperparameters,
            approval_status=ApprovalStatus.PENDING,
            gate=None,
        )
        ports.registry.create_version(draft)
        ports.store.put(REPORTS, details_key("churn", run_id), json.dumps(kept).encode())
    return home


@pytest.fixture(scope="module")
def base(home: Path) -> Iterator[str]:
    with conveyor_up(home, command="serve") as url:
        yield url


@pytest.fixture(scope="module")
def page(base: str) -> Iterator[Any]:
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1280, "height": 900})
        finally:
            browser.close()


def test_the_version_page_draws_its_curves_with_the_threshold_and_early_stop_marked(
    page: Any, base: str, home: Path, tmp_path: Path
) -> None:
    ports = build_ports(Settings(home=home))
    v1 = ports.registry.get_version("churn", 1)
    curves = json.loads(ports.store.get(REPORTS, details_key("churn", v1.run_id)))["curves"]

    page.goto(f"{base}/ui/projects/churn/versions/1")
    for chart in ("curve-roc", "curve-pr", "curve-calibration", "curve-learning"):
        page.wait_for_function(CHART_DRAWN, arg=chart, timeout=20_000)
    assert page.locator("#curve-residuals").count() == 0  # a classifier has none
    # The threshold's dot where the model answers: 0.5 without a chosen one.
    marks = page.evaluate("() => window.conveyor.charts['curve-roc'].marks")
    assert marks == [
        {
            "x": curves["roc"]["threshold"]["fpr"],
            "y": curves["roc"]["threshold"]["tpr"],
            "stroke": marks[0]["stroke"],
            "text": "threshold 0.50",
        }
    ]
    assert page.evaluate(LEGEND, "curve-roc")[0] == f"v1 (AUC {v1.metrics['test']['roc_auc']:.3f})"
    # The learning curve runs past the round early stopping chose, which is marked.
    learning = curves["learning"]
    rules = page.evaluate("() => window.conveyor.charts['curve-learning'].rules")
    assert [r["x"] for r in rules] == [learning["best_iteration"]]
    assert learning["rounds"] > learning["best_iteration"]
    assert "early stop: round" in rules[0]["text"]
    screenshot(page, tmp_path, "version-curves.png", "#curves")

    page.goto(f"{base}/ui/projects/churn/versions/3")
    missing = page.locator("#curves-plot .curves-missing")
    missing.wait_for()
    assert "No curves for v3: it was trained before conveyor kept them" in missing.inner_text()
    assert page.locator("#importance-plot svg rect").count() > 0  # its other details stay


def test_the_compare_page_sets_picked_versions_side_by_side(
    page: Any, base: str, tmp_path: Path
) -> None:
    page.goto(f"{base}/ui/projects/churn")
    page.click("#compare-link")
    # The two newest are picked at first; one has curves, one does not.
    page.wait_for_selector("body[data-loaded=true]", timeout=20_000)
    assert page.url.endswith("/ui/projects/churn/compare")
    assert (
        page.locator("#compare-curves-plot .curves-missing")
        .inner_text()
        .startswith("No curves for v3")
    )

    page.uncheck("#compare-form input[value='3']")
    page.check("#compare-form input[value='1']")
    page.click("#compare-form button[type=submit]")
    page.wait_for_selector("body[data-loaded=true]", timeout=20_000)
    assert page.url.endswith("/compare?versions=2&versions=1")
    heads = page.locator("#training-table thead th").all_inner_texts()
    assert [h.strip() for h in heads[1:]] == ["v1", "v2"]
    differs = page.locator("#hyperparameters-table tr.differs th").all_inner_texts()
    assert differs == ["num_leaves"]
    assert "num_leaves: 31 / 7" in page.locator("#differences").inner_text()
    assert page.locator("#metrics-table tbody tr").count() >= 8  # test, validation, baseline
    assert page.locator("#importance-table tbody tr").count() >= 5
    for chart in ("compare-roc", "compare-pr", "compare-calibration", "compare-learning"):
        page.wait_for_function(CHART_DRAWN, arg=chart)
    legend = page.evaluate(LEGEND, "compare-roc")
    assert [label.split(" ")[0] for label in legend] == ["v1", "v2", "chance"]
    screenshot(page, tmp_path, "compare.png")

    page.goto(f"{base}/ui/projects/churn/compare?versions=1")
    assert page.locator("#compare-problem").inner_text() == "Pick two or more versions to compare."


def test_the_drift_panels_histograms_have_a_percent_axis_and_a_label_under_every_bin(
    page: Any, base: str, tmp_path: Path
) -> None:
    assert send_traffic(base, "churn", request_rows(SAMPLE, "churned", 100)) == 20
    page.goto(f"{base}/ui/projects/churn")
    page.click("#drift-check")
    page.wait_for_selector(".drift-card svg.drift-bars", timeout=20_000)
    drawn = page.evaluate(
        """() => [...document.querySelectorAll('.drift-card')].map(card => ({
            feature: card.dataset.feature,
            ticks: [...card.querySelectorAll('text.tick')].map(t => t.textContent),
            bins: [...card.querySelectorAll('text.bin')].map(t => t.textContent),
            axis: card.querySelector('text.axis-title')?.textContent,
        }))"""
    )
    report = page.evaluate("() => window.conveyor.drift")
    # Fresh, and saying so: the rows just sent are counted (a stale panel said "0 rows" after
    # 400 requests), when it was checked, and how often the monitor checks by itself.
    summary = page.locator("#drift-summary").inner_text()
    counted = re.search(r"(\d+) rows answered by v\d+ from .* · checked ", summary)
    assert counted is not None and int(counted.group(1)) >= 100, summary
    assert "checks every 10.0 min" in page.locator("#drift-schedule").inner_text()
    assert len(drawn) >= 7
    for card in drawn:
        plot = report["features"][card["feature"]]["plot"]
        assert card["ticks"][0] == "0%" and all(t.endswith("%") for t in card["ticks"]), card
        assert card["axis"] == "share of rows"
        assert len(card["bins"]) == min(12, len(plot["labels"])) and all(card["bins"]), card
    dates = next(card["bins"] for card in drawn if card["feature"] == "signup date")
    assert all(label[:4].isdigit() or label[2:6].isdigit() for label in dates), dates
    screenshot(page, tmp_path, "drift-panel.png", "#drift")
