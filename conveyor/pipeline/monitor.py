"""The monitor loop: for every deployed project, bake its deploy, run extra checks, and
evaluate its alarms, every ``monitor_seconds``.

One project's failure (a check raising, a table busy) is logged and the loop goes on with the
next project and the next round.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from conveyor.metrics.alarm_store import AlarmTransition
from conveyor.pipeline.alarms import RetrainCallback, evaluate_alarms
from conveyor.pipeline.guardrail import GuardrailPolicy, guard_deployment
from conveyor.types import utcnow

if TYPE_CHECKING:
    from conveyor.config import Settings
    from conveyor.ports import Ports

log = logging.getLogger("conveyor.monitor")

# An extra per-project check run before the alarms (e.g. a drift check), so the alarms see
# what it wrote: called as task(ports, project, now).
MonitorTask = Callable[["Ports", str, datetime], object]


def log_retrain(project: str, trigger: dict[str, Any]) -> None:
    """The ``retrain`` action when nothing starts runs: say what would have been retrained."""
    log.warning(
        "alarm %s asks to retrain %s (no retraining is wired here): %s",
        trigger.get("alarm"),
        project,
        trigger.get("reason"),
    )


class Monitor:
    def __init__(
        self,
        ports: Ports,
        settings: Settings,
        on_retrain: RetrainCallback = log_retrain,
        extra_tasks: Sequence[MonitorTask] = (),
    ) -> None:
        self.ports = ports
        self.interval = settings.monitor_seconds
        self.policy = GuardrailPolicy(
            baking_seconds=settings.baking_seconds,
            period_seconds=settings.guardrail_period_seconds,
        )
        self.on_retrain = on_retrain
        self.extra_tasks = list(extra_tasks)

    def step(self, now: datetime | None = None) -> list[AlarmTransition]:
        """One round over every project with a deployment; returns the alarm transitions."""
        now = now or utcnow()
        try:
            projects = [d.project for d in self.ports.endpoint.list_endpoints()]
        except Exception:
            log.exception("monitor: could not list the deployments")
            return []
        transitions: list[AlarmTransition] = []
        for project in projects:
            self._attempt("guardrail", project, guard_deployment, now=now, policy=self.policy)
            for task in self.extra_tasks:
                self._attempt(getattr(task, "__name__", "task"), project, _call(task), now=now)
            found = self._attempt(
                "alarms", project, evaluate_alarms, now=now, on_retrain=self.on_retrain
            )
            transitions.extend(found or [])
        return transitions

    def run(self, stop: threading.Event) -> None:
        """Step every ``interval`` seconds until ``stop`` is set."""
        log.info(
            "monitor: every %.1fs; deploys bake %.0fs", self.interval, self.policy.baking_seconds
        )
        while not stop.wait(self.interval):
            try:
                self.step()
            except Exception:  # the loop outlives any one round
                log.exception("monitor: a round failed; going on")

    def _attempt(self, what: str, project: str, func: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return func(self.ports, project, **kwargs)
        except Exception:
            log.exception("monitor: %s of %s failed; going on", what, project)
            return None


def _call(task: MonitorTask) -> Callable[..., object]:
    def call(ports: Ports, project: str, *, now: datetime) -> object:
        return task(ports, project, now)

    return call
