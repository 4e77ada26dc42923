"""Debian's Chromium, as the dashboard's browser tests and its page-load benchmark launch it
through Playwright (`playwright install` cannot download here)."""

from __future__ import annotations

import shutil
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    return str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")
