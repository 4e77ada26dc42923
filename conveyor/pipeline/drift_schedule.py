"""Drift checks on a schedule, as a monitor task: every ``every`` seconds per project, over
the last ``window`` of traffic, saved where the drift alarm and ``/metrics`` read them."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from conveyor.errors import NotFound
from conveyor.monitoring.drift.check import run_drift_check, save_drift_check
from conveyor.monitoring.drift.store import latest_drift_check
from conveyor.ports import Ports
from conveyor.types import from_iso

log = logging.getLogger("conveyor.monitor")


class ScheduledDriftCheck:
    """A ``MonitorTask``: checks a project when its last saved check is ``every`` old."""

    __name__ = "drift check"

    def __init__(self, *, every_seconds: float, window_seconds: float) -> None:
        self.every = timedelta(seconds=every_seconds)
        self.window = timedelta(seconds=window_seconds)

    def __call__(self, ports: Ports, project: str, now: datetime) -> object:
        last = latest_drift_check(ports.table, project)
        if last is not None and now - from_iso(last["checked_at"]) < self.every:
            return None
        try:
            report = run_drift_check(ports, project, since=now - self.window, until=now)
        except NotFound as exc:  # undeployed meanwhile, or a version without a profile
            log.info("drift check of %s skipped: %s", project, exc.message)
            return None
        save_drift_check(ports.table, report)
        drifted = [name for name, f in report.features.items() if f.get("verdict") == "drift"]
        log.info(
            "drift check of %s v%d: %s over %d rows%s",
            project,
            report.model_version,
            report.status,
            report.rows,
            f"; drifted: {', '.join(drifted)}" if drifted else "",
        )
        return report
