"""Retraining on a schedule, as a monitor task: a project whose newest run is older than
``every`` gets a retraining run (latest upload plus feedback), whatever its alarms say."""

from __future__ import annotations

from datetime import datetime, timedelta

from conveyor.pipeline.retrain import RetrainOutcome, request_retrain
from conveyor.pipeline.runs import RunStore
from conveyor.ports import Ports
from conveyor.types import to_iso


class ScheduledRetrain:
    """A ``MonitorTask``; the retrain loop guard (cooldown, busy run) still applies."""

    __name__ = "scheduled retrain"

    def __init__(self, *, every_seconds: float, cooldown_seconds: float) -> None:
        self.every = timedelta(seconds=every_seconds)
        self.cooldown_seconds = cooldown_seconds

    def __call__(self, ports: Ports, project: str, now: datetime) -> RetrainOutcome | None:
        newest = RunStore(ports.table).list_runs(project, limit=1)
        if newest and now - newest[0].created_at < self.every:
            return None
        trigger = {
            "type": "schedule",
            "reason": f"no run for {self.every.total_seconds():.0f} s (since "
            f"{to_iso(newest[0].created_at) if newest else 'ever'})",
        }
        return request_retrain(
            ports, project, trigger, cooldown_seconds=self.cooldown_seconds, now=now
        )
