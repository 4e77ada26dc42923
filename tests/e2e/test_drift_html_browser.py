"""The drift report in a real browser: headless Chromium draws a plot per feature, and not one
request leaves the machine while it does."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from conveyor.monitoring.drift.check import DriftReport
from conveyor.monitoring.drift.compute import compute_drift
from conveyor.monitoring.drift.html import render_html
from conveyor.monitoring.profile import build_profile, prediction_profile
from conveyor.types import Task
from tests.unit.monitoring.drift import synthetic

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() and shutil.which("chromium") is None,
    reason="Chromium is not installed (make test installs it)",
)


def _report() -> DriftReport:
    profile = build_profile(synthetic.frame(5000, seed=1), synthetic.schema())
    live = synthetic.frame(800, seed=9)
    dominant = pl.Series(np.where(np.arange(800) % 10 < 7, "brand-new", live["c5"]))
    live = live.with_columns(pl.col("n0") * 3, c5=dominant)
    rng = np.random.default_rng(2)
    p = rng.beta(2, 5, 2000)
    result = compute_drift(
        profile,
        live,
        live_predictions=rng.beta(2.5, 5, 800),
        prediction_profile=prediction_profile(np.column_stack([1 - p, p]), Task.BINARY),
    )
    end = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    return DriftReport(
        project="churn",
        checked_at=end,
        window_start=end - timedelta(hours=1),
        window_end=end,
        model_version=3,
        records=800,
        rows=result.rows,
        status=result.status,
        features=result.features,
        prediction=result.prediction,
        evidently=result.evidently,
        thresholds=result.thresholds.to_dict(),
    )


def test_the_html_report_draws_every_plot_offline_in_chromium(tmp_path: Path) -> None:
    report = _report()
    page_path = tmp_path / "drift.html"
    page_path.write_text(render_html(report), encoding="utf-8")
    screenshot = tmp_path / "drift.png"
    requests: list[str] = []

    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")),
            args=ARGS,
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})

            def refuse_remote(route: playwright.Route) -> None:
                requests.append(route.request.url)
                if route.request.url.startswith("file://"):
                    route.continue_()
                else:
                    route.abort()

            page.route("**/*", refuse_remote)
            page.goto(page_path.as_uri())
            cards = page.locator("section.card")
            bars = page.evaluate(
                """() => [...document.querySelectorAll('section.card')].map(card => {
                    const rects = [...card.querySelectorAll('svg rect')];
                    const drawn = rects.filter(r => {
                        const box = r.getBoundingClientRect();
                        return box.width > 0 && box.height > 0;
                    });
                    return [card.dataset.feature, drawn.length];
                })"""
            )
            status = page.locator(".status").inner_text()
            first = cards.first.get_attribute("data-feature")
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()

    print(f"\nscreenshot: {screenshot}")
    assert status == "DRIFT"
    assert len(bars) == 30 + 1  # every feature, and the predictions
    assert all(drawn >= 2 for _, drawn in bars), bars  # bars of nonzero size in each plot
    assert first == "predictions" and [name for name, _ in bars[1:3]] == report.drifted
    assert requests == [page_path.as_uri()], requests  # the page itself, nothing else
    assert screenshot.stat().st_size > 20_000
