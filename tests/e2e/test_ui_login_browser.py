"""The dashboard of a server with an API key, in a real browser: a page leads to the login
form, a wrong key is refused there, the right one opens the page asked for, and the page's own
calls to /api/v1 then pass with a cookie its scripts cannot read."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.browser import CHROMIUM_ARGS, chromium_path
from conveyor.config import API_KEY_FILE
from tests.e2e.ui_helpers import conveyor_up

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(
    chromium_path() is None, reason="Chromium is not installed (make test installs it)"
)

KEY = "browser-test-key-5f0c2a"
API_STATUS = "() => fetch('/api/v1/projects').then(r => r.status)"


def test_the_dashboard_asks_for_the_key_once_and_then_works(
    trained_home: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    shutil.copytree(trained_home, home)
    (home / API_KEY_FILE).write_text(KEY + "\n")
    with conveyor_up(home, command="serve") as base, playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{base}/ui/projects/churn")
            assert page.url == f"{base}/ui/login?next=%2Fui%2Fprojects%2Fchurn"
            assert page.evaluate(API_STATUS) == 401

            page.fill("#api-key", "not-the-key")
            page.click("#login-submit")
            assert "not valid" in page.locator("#login-error").inner_text()

            page.fill("#api-key", KEY)
            with page.expect_navigation():
                page.click("#login-submit")
            assert page.url == f"{base}/ui/projects/churn"
            assert page.locator("h1").first.inner_text().strip().startswith("churn")
            assert page.evaluate(API_STATUS) == 200
            assert page.evaluate("() => document.cookie") == ""  # HttpOnly: out of scripts' reach
        finally:
            browser.close()
