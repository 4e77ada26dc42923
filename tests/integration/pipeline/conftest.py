"""The loops that act (alarms, guardrail, retrain) run on the monitoring tests' real SQLite home."""

from __future__ import annotations

from tests.integration.monitoring.conftest import (  # noqa: F401 (the shared fixtures)
    ports,
    write_records,
)
