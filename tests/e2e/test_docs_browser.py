"""The API documents in Chromium on a machine without internet: `/docs` (Swagger UI) draws
every route from the server's own scripts, with every request outside the server refused as it
would fail offline; `/` leads to the dashboard."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.browser import CHROMIUM_ARGS, chromium_path
from tests.e2e.ui_helpers import conveyor_up, screenshot

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(
    chromium_path() is None, reason="Chromium is not installed (make test installs it)"
)


def test_the_api_documents_draw_offline_and_the_root_leads_to_the_dashboard(
    trained_home: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    shutil.copytree(trained_home, home)
    shots = tmp_path / "screenshots"
    refused: list[str] = []

    with conveyor_up(home) as base, playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})

            def offline(route: object) -> None:
                url = route.request.url  # type: ignore[attr-defined]
                if url.startswith(base):
                    route.continue_()  # type: ignore[attr-defined]
                else:
                    refused.append(url)
                    route.abort()  # type: ignore[attr-defined]

            page.route("**/*", offline)
            page.goto(f"{base}/docs")
            page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
            title = page.locator(".swagger-ui .info .title").inner_text()
            paths = page.locator(".swagger-ui .opblock-summary-path").all_inner_texts()
            screenshot(page, shots, "docs.png")
            page.goto(f"{base}/")
            root = page.url
        finally:
            browser.close()

    assert title.startswith("conveyor")
    assert any(path.startswith("/predict/") for path in paths), paths
    assert any(path.startswith("/feedback/") for path in paths), paths
    assert root.rstrip("/").endswith("/ui")
    # Nothing the documents need lives outside the server (a CDN would be refused here).
    assert refused == []
