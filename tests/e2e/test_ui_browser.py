"""The dashboard in a real browser, against `conveyor up`: a CSV uploaded through the page is
trained and deployed, traffic and drift draw with data, a version is approved, deployed and
rolled back by its buttons, a refused action shows the server's message, and the page asks
nothing of any host but the server's own. Also: the project page's load time with 50 versions
and 10,000 recorded inferences (printed), and a run page that follows its run."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path
from typing import Any

import pytest

from bench.browser import CHROMIUM_ARGS, chromium_path
from bench.project_history import fill_history
from conveyor.config import Settings
from conveyor.pipeline.runs import RunStore
from conveyor.samples.generate import write_churn_csv
from conveyor.types import ObjectRef
from conveyor.wiring import build_ports
from tests.e2e.conftest import Cli, json_of, post
from tests.e2e.ui_helpers import conveyor_up, request_rows, send_traffic
from tests.rows import CHURN_ROW
from tests.workbooks import DATA_SHEET, two_sheet_workbook

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(
    chromium_path() is None, reason="Chromium is not installed (make test installs it)"
)

SAMPLE = Path(__file__).parents[2] / "conveyor" / "samples" / "churn.csv"
RUN_TIMEOUT_MS = 60_000

# Every series drawn in a uPlot chart has at least one positive point.
CHART_HAS_DATA = """id => {
    const chart = window.conveyor.charts[id];
    if (!chart || chart.data[0].length === 0) return false;
    return chart.data.slice(1).every(s => s.some(v => v !== null && v > 0));
}"""
DRAWN_DRIFT_BARS = """() => [...document.querySelectorAll('.drift-card')].map(card => [
    card.dataset.feature,
    [...card.querySelectorAll('svg rect')].filter(r => {
        const box = r.getBoundingClientRect();
        return box.width > 0 && box.height > 0;
    }).length,
])"""


# Each bar's "column = value" label (the labels left of the zero line).
BAR_LABELS = """() => [...document.querySelectorAll('#explanation svg text')]
    .map(t => t.textContent).filter(t => t.includes(' = '))"""


DROP_FILE = """([name, encoded]) => {
    const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([bytes], name));
    return transfer;
}"""


def _upload_through_the_page(
    page: Any, data: Path, *, drop: bool = False, sheet: str | None = None
) -> str:
    """Choose ``data`` in the upload form (or drop it on the form), with ``sheet`` typed in
    its field, submit, and wait for the run to end; its state."""
    if drop:
        encoded = base64.b64encode(data.read_bytes()).decode()
        transfer = page.evaluate_handle(DROP_FILE, [data.name, encoded])
        page.dispatch_event("#drop-zone", "drop", {"dataTransfer": transfer})
        assert page.locator("#drop-label").inner_text() == data.name
    else:
        page.set_input_files("#upload-file", str(data))
    page.fill("#upload-sheet", sheet or "")
    page.click("#upload-form button[type=submit]")
    page.wait_for_function(
        "() => document.body.dataset.lastRun !== undefined", timeout=RUN_TIMEOUT_MS
    )
    state: str = page.locator("#upload-state").inner_text()
    page.evaluate("() => { delete document.body.dataset.lastRun; }")
    return state


def _click_confirmed(page: Any, selector: str) -> None:
    """Click an action button, accept its confirmation, and wait for the page to reload."""
    with page.expect_navigation():
        page.click(selector)


def test_the_dashboard_drives_a_project_from_upload_to_rollback_in_chromium(
    cli: Cli, tmp_path: Path
) -> None:
    home: Path = cli.home  # type: ignore[attr-defined]
    json_of(cli("project", "create", "churn", "--target", "churned", "--json"))
    # Fewer rows and another seed: v2 does not beat v1, so the gate leaves it pending. It
    # comes as a workbook whose data is on its second sheet.
    second_csv = write_churn_csv(tmp_path / "second.csv", rows=600, seed=11)
    workbook = two_sheet_workbook(tmp_path / "second.xlsx", second_csv)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    print(f"\nscreenshots: {shots}")
    requested: list[str] = []
    dialogs: list[str] = []

    with conveyor_up(home) as base, playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda request: requested.append(request.url))

            def accept(dialog: Any) -> None:
                dialogs.append(dialog.message)
                dialog.accept()

            page.on("dialog", accept)
            project_url = f"{base}/ui/projects/churn"

            # Upload through the page: the run shows its progress until it is deployed.
            page.goto(project_url)
            assert _upload_through_the_page(page, SAMPLE) == "DEPLOYED"
            page.reload()
            assert page.locator("#deployed-version").inner_text() == "1"
            assert page.locator("#runs tr[data-run] .state").first.inner_text() == "DEPLOYED"

            # Nothing to roll back to yet: the server's 409 message is shown as it said it.
            page.click("#deployment button[data-action=rollback]")
            flash = page.locator("#flash")
            flash.wait_for(state="visible")
            assert "no earlier deployment to roll back to" in flash.inner_text()
            assert dialogs[-1].startswith("Roll churn back")

            # Traffic: requests sent to /predict draw in every chart.
            rows = request_rows(SAMPLE, "churned", 300)
            assert send_traffic(base, "churn", rows) == 60
            page.reload()
            for chart in ("chart-rps", "chart-latency"):
                page.wait_for_function(CHART_HAS_DATA, arg=chart, timeout=20_000)
            # No request failed: the error rate is drawn, at zero, where there was traffic.
            errors = page.evaluate("() => window.conveyor.charts['chart-errors'].data[1]")
            assert [v for v in errors if v is not None] and all(v in (0, None) for v in errors)

            # Drift: a check run from the page draws baseline against live for each feature.
            page.click("#drift-check")
            page.wait_for_selector(".drift-card svg rect", timeout=20_000)
            bars = page.evaluate(DRAWN_DRIFT_BARS)
            assert len(bars) >= 7, bars
            assert sum(drawn >= 2 for _, drawn in bars) >= 5, bars
            assert "rows" in page.locator("#drift-summary").inner_text()
            page.screenshot(path=str(shots / "project.png"), full_page=True)

            # A second version, a workbook dropped on the form with its data sheet named, left
            # pending by the gate, then approved and deployed by its buttons.
            uploaded = _upload_through_the_page(page, workbook, drop=True, sheet=DATA_SHEET)
            assert uploaded == "REGISTERED"
            page.reload()
            assert "churn/second.xlsx" in page.locator("#runs tr[data-run]").first.inner_text()
            v2 = page.locator("#versions tr[data-version='2']")
            assert v2.locator("[data-field=approval]").inner_text() == "PendingManualApproval"
            _click_confirmed(page, "#versions tr[data-version='2'] button[data-action=approve]")
            assert v2.locator("[data-field=approval]").inner_text() == "Approved"
            _click_confirmed(page, "#versions tr[data-version='2'] button[data-action=deploy]")
            assert page.locator("#deployed-version").inner_text() == "2"
            _click_confirmed(page, "#deployment button[data-action=rollback]")
            assert page.locator("#deployed-version").inner_text() == "1"
            # The live panels, fetched after the page is drawn, before its picture is taken.
            page.wait_for_function(CHART_HAS_DATA, arg="chart-rps", timeout=20_000)
            page.wait_for_selector(".drift-card svg rect")
            page.wait_for_selector("#alarm-states .badge")
            page.screenshot(path=str(shots / "project-after-rollback.png"), full_page=True)
            assert dialogs[-3:] == [
                "Approve v2?",
                "Deploy v2 to churn?",
                "Roll churn back to the version it served before?",
            ]

            # The other pages, each drawn with its data.
            page.goto(f"{base}/ui")
            row = page.locator("#projects tr[data-project=churn]")
            row.locator("[data-field=requests_last_hour]").filter(has_text="60").wait_for()
            page.screenshot(path=str(shots / "projects.png"), full_page=True)

            page.goto(f"{base}/ui/projects/churn/versions/1")
            page.wait_for_selector("#evaluation-plot table.matrix")
            page.wait_for_selector("#importance-plot svg rect")
            assert page.locator("#lineage").inner_text().count("churn/churn.csv") == 1
            page.screenshot(path=str(shots / "version.png"), full_page=True)

            page.click("#lineage a[href^='/ui/runs/']")
            page.wait_for_function(
                "() => !document.getElementById('run-log').textContent.startsWith('Loading')"
            )
            assert page.locator(".stage-row").count() == 3
            assert page.locator("#run-log").inner_text().strip() not in ("", "(empty)")
            page.screenshot(path=str(shots / "run.png"), full_page=True)
        finally:
            browser.close()

    outside = [url for url in requested if not url.startswith(f"{base}/")]
    assert outside == [], outside  # scripts, styles and data all come from the server itself
    assert all((shots / f"{name}.png").stat().st_size > 20_000 for name in ("project", "run"))


def test_the_project_page_draws_50_versions_and_10000_inferences_and_explains_one(
    trained_home: Path, tmp_path: Path
) -> None:
    """The page with a long history: every version in the table, the charts drawn from the
    recorded traffic, nothing asked of another host. Its load time is measured by
    bench/ui_load.py (make bench), not here. Then a request of two rows, recorded newest:
    Explain draws its second row's bar per column, and states the score /predict's
    ?explain=true computed for it (on this test's server: one start for both checks)."""
    home = tmp_path / "home"
    shutil.copytree(trained_home, home)
    fill_history(home, "churn", versions=50, inferences=10_000)
    requested: list[str] = []
    shot = tmp_path / "explanation.png"
    print(f"\nscreenshot: {shot}")
    two = [CHURN_ROW, {**CHURN_ROW, "age": 23, "support calls": 9, "plan": "basic"}]

    with conveyor_up(home) as base, playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda request: requested.append(request.url))
            page.goto(f"{base}/ui/projects/churn")
            for chart in ("chart-rps", "chart-latency"):
                page.wait_for_function(CHART_HAS_DATA, arg=chart, timeout=20_000)
            rows = page.locator("#versions tr[data-version]").count()
            # 10,000 requests over the last hour: about 170 a minute, one in a hundred a 500.
            per_second = page.evaluate("() => window.conveyor.charts['chart-rps'].data[1]")
            errors = page.evaluate("() => window.conveyor.charts['chart-errors'].data[1]")
            page.screenshot(path=str(tmp_path / "project-50-versions.png"), full_page=True)
            explained, bars, stated = _explain_in_the_page(page, base, two, shot)
        finally:
            browser.close()

    assert sorted(label.split(" = ")[0] for label in bars) == sorted(CHURN_ROW)
    assert any(label.startswith("support calls = 9") for label in bars), bars
    score = explained["rows"][1]["score"]
    assert f"{score:.4g}" in stated, (stated, score)
    assert rows == 50
    assert 9_000 <= round(60 * sum(per_second)) <= 10_000
    assert any(v is not None and 0 < v < 0.05 for v in errors), errors
    outside = [url for url in requested if not url.startswith(f"{base}/")]
    assert outside == [], outside


def _explain_in_the_page(
    page: Any, base: str, rows: list[dict[str, Any]], shot: Path
) -> tuple[dict[str, Any], list[str], str]:
    """Predict ``rows`` with ?explain=true, then explain the request's last row in the page:
    the API's explanation, the bars' labels and the sentence stating the score."""
    port = int(base.rsplit(":", 1)[1])
    status, answer = post(port, "/predict/churn?explain=true", {"instances": rows})
    assert status == 200, answer
    # The server's writer process records it: refresh the list until it leads with it.
    newest = page.locator("#inference-rows tr").first
    for _ in range(100):
        page.click("#inferences-refresh")
        page.wait_for_timeout(100)
        if newest.get_attribute("data-request") == answer["request_id"]:
            break
    newest.locator("button.explain").click()
    first = page.locator("#explanation-sum").inner_text()
    page.select_option("#explanation-row", str(len(rows) - 1))
    page.wait_for_function(
        "first => document.querySelector('#explanation-sum').textContent !== first", arg=first
    )
    page.locator("#inferences").screenshot(path=str(shot))
    labels = page.evaluate(BAR_LABELS)
    return answer["explanation"], labels, page.locator("#explanation-sum").inner_text()


def test_a_run_page_in_progress_redraws_itself_when_the_run_moves_on(
    trained_home: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    shutil.copytree(trained_home, home)
    runs = RunStore(build_ports(Settings(home=home)).table)
    run, _ = runs.create("churn", ObjectRef("raw", "churn/late.csv"), "late-dataset")

    with conveyor_up(home, command="serve") as base, playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{base}/ui/runs/{run.run_id}")
            assert page.locator("h1 .state").inner_text() == "QUEUED"
            runs.fail(runs.get(run.run_id), "the file has no rows")
            page.wait_for_function("() => document.body.dataset.state === 'FAILED'")
            assert page.locator("#failure-reason").inner_text() == "the file has no rows"
        finally:
            browser.close()
