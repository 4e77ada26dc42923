"""The project page in a real browser: its settings form changes the project (a refused value
shows the server's message and changes nothing), and its delete button, once confirmed,
deletes a serving project and returns to the project list."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from bench.browser import CHROMIUM_ARGS, chromium_path
from tests.e2e.conftest import get
from tests.e2e.ui_helpers import conveyor_up

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(
    chromium_path() is None, reason="Chromium is not installed (make test installs it)"
)


def test_the_project_page_edits_settings_and_deletes_the_project(
    trained_home: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    shutil.copytree(trained_home, home)
    dialogs: list[str] = []
    with conveyor_up(home, command="serve") as base, playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})

            def accept(dialog: Any) -> None:
                dialogs.append(dialog.message)
                dialog.accept()

            page.on("dialog", accept)
            port = int(base.rsplit(":", 1)[1])
            page.goto(f"{base}/ui/projects/churn")
            assert page.locator("#settings-form [name=target]").is_disabled()  # v1 exists

            page.fill("#settings-form [name=hyperparameters]", '{"num_leavs": 3}')
            page.click("#settings-form button[type=submit]")
            flash = page.locator("#flash")
            flash.wait_for(state="visible")
            assert "did you mean 'num_leaves'?" in flash.inner_text()
            assert get(port, "/api/v1/projects/churn")[1]["project"]["hyperparameters"] == {}

            page.select_option("#settings-form [name=algorithm]", "sklearn")
            page.fill("#settings-form [name=hyperparameters]", '{"max_iter": 50}')
            page.fill("#settings-form [name=metric_floor]", "0.6")
            page.check("#settings-form [name=manual_deploy]")
            page.click("#settings-form button[type=submit]")
            page.wait_for_function(
                "() => document.getElementById('flash').textContent.startsWith('Settings saved')"
            )
            project = get(port, "/api/v1/projects/churn")[1]["project"]
            assert project["algorithm"] == "sklearn"
            assert project["hyperparameters"] == {"max_iter": 50}
            assert (project["metric_floor"], project["manual_deploy"]) == (0.6, True)
            page.reload()
            assert page.locator("#settings-form [name=algorithm]").input_value() == "sklearn"
            assert page.locator("#settings-form [name=manual_deploy]").is_checked()

            with page.expect_navigation():
                page.click("#delete-project")
            assert "It serves version 1" in dialogs[-1]
            assert page.url.rstrip("/").endswith("/ui")
            assert 'href="/ui/projects/churn"' not in page.content()
            assert get(port, "/api/v1/projects/churn")[0] == 404
        finally:
            browser.close()
