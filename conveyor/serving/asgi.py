"""The ASGI factory uvicorn imports (``conveyor.serving.asgi:app``), settings from CONVEYOR_*."""

from __future__ import annotations

import os

from conveyor.config import load_settings
from conveyor.logs import setup_logging
from conveyor.serving.app import create_app
from conveyor.serving.fastpath import PredictFastPath
from conveyor.wiring import build_ports


def app() -> PredictFastPath:
    settings = load_settings()
    # In `conveyor serve` and `up` the CLI set logging up already; a --workers child did not.
    setup_logging(settings.home)
    return create_app(
        build_ports(settings),
        settings,
        capture_rate=settings.capture_rate,
        record=settings.record_inferences,
        serve_project=os.environ.get("CONVEYOR_SERVE_PROJECT") or None,
    )
