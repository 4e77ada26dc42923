"""The local worker: drains the event queue, watches training jobs, and heartbeats.

``conveyor worker`` (and later ``conveyor up``) runs it as a daemon; ``conveyor upload --wait``
runs it in the foreground until its run ends when no daemon is alive.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from functools import cached_property

from conveyor._process import pid_exists
from conveyor.errors import Conflict
from conveyor.events import EventQueue, EventType, Message, queue_of
from conveyor.jobs import cool, warm
from conveyor.logs import log_context
from conveyor.pipeline.handlers import (
    HANDLERS,
    parse_raw_key,
    poll_training_jobs,
    resume_interrupted,
)
from conveyor.ports import PipelineContext
from conveyor.tables import Table
from conveyor.types import Run, from_iso, to_iso, utcnow

log = logging.getLogger("conveyor.worker")

_WORKER_PK = "worker"
# A message whose handler crashed is retried this many times before it is dropped.
MAX_ATTEMPTS = 3
VISIBILITY_TIMEOUT = 600.0


def live_workers(
    table: Table, *, max_age: float, daemon_only: bool = True
) -> list[dict[str, object]]:
    """Workers with a fresh heartbeat; one on this host whose process is gone is dead."""
    now = utcnow()
    host = socket.gethostname()
    alive = []
    for item in table.query(_WORKER_PK):
        age = (now - from_iso(item["heartbeat_at"])).total_seconds()
        if item.get("host") == host and not pid_exists(int(item["pid"])):
            table.delete(_WORKER_PK, item["sk"])
            continue
        if age <= max_age and (item.get("daemon") or not daemon_only):
            alive.append(item)
    return alive


class Worker:
    def __init__(
        self,
        ctx: PipelineContext,
        *,
        daemon: bool,
        heartbeat_seconds: float = 10.0,
        poll_interval: float = 0.2,
    ) -> None:
        self.ctx = ctx
        self.daemon = daemon
        self.heartbeat_seconds = heartbeat_seconds
        self.poll_interval = poll_interval
        self.worker_id = f"{socket.gethostname()}-{os.getpid()}-{threading.get_ident()}"
        self._announced: set[str] = set()
        self._last_beat = 0.0
        self._jobs_running = 0

    def start(self) -> None:
        """Announce this worker and pick up runs left mid-way, if nobody else can."""
        # Evaluation needs scikit-learn, whose import takes most of a second: paid now, while
        # the worker waits, instead of in the first run.
        threading.Thread(target=_import_metrics, name="warm-imports", daemon=True).start()
        if self.daemon:  # a daemon waits for uploads: its first training job starts warm
            warm(self.ctx.ports.jobs)
        others = [
            w
            for w in live_workers(
                self.ctx.ports.table, max_age=self.heartbeat_seconds * 2, daemon_only=False
            )
            if w["sk"] != self.worker_id
        ]
        self._beat(force=True)
        if not others:
            resumed = resume_interrupted(self.ctx)
            if resumed:
                log.info("resuming interrupted runs: %s", ", ".join(resumed))

    @cached_property
    def _queue(self) -> EventQueue:
        return queue_of(self.ctx.ports.events)

    def stop(self) -> None:
        cool(self.ctx.ports.jobs)
        self.ctx.ports.table.delete(_WORKER_PK, self.worker_id)

    def step(self) -> int:
        """Handle due events and announce finished jobs; returns how much was done."""
        self._beat()
        done, self._jobs_running = poll_training_jobs(self.ctx, self._announced)
        for message in self._queue.receive(max_messages=10, visibility_timeout=VISIBILITY_TIMEOUT):
            self._handle(message)
            done += 1
        return done

    def run(self, stop: threading.Event, until: Callable[[], bool] | None = None) -> None:
        self.start()
        try:
            while not stop.is_set():
                if until is not None and until():
                    return
                if self.step() == 0:
                    stop.wait(self._idle_seconds())
        finally:
            self.stop()

    def _idle_seconds(self) -> float:
        if not self._jobs_running:
            return self.poll_interval
        # While a job runs, its end is waited for as closely as its runner says checking is
        # cheap (a local job: a few small file reads); a remote API is asked no more often.
        return min(self.poll_interval, getattr(self.ctx.ports.jobs, "poll_seconds", 1e9))

    def _handle(self, message: Message) -> None:
        # Every line logged while handling carries the run and project, once they are known:
        # the handler binds the run id as soon as it has created or loaded the run.
        detail = message.event.detail
        with log_context(run_id=detail.get("run_id"), project=_project_of(detail)):
            self._handle_in_context(message)

    def _handle_in_context(self, message: Message) -> None:
        kind = message.event.type
        handler = HANDLERS.get(kind)
        if handler is None:
            log.warning("no handler for %s events; dropping", kind, extra={"event_type": kind})
            self._queue.ack(message)
            return
        try:
            run = handler(self.ctx, message.event.detail)
        except Conflict as exc:
            log.info("%s: %s", kind, exc.message, extra={"event_type": kind})
        except Exception:
            if message.attempts < MAX_ATTEMPTS:
                log.exception("handling %s failed; will retry", kind, extra={"event_type": kind})
                self._queue.release(message, delay=2.0 * message.attempts)
                return
            log.exception(
                "handling %s failed %d times; dropping it",
                kind,
                message.attempts,
                extra={"event_type": kind},
            )
        else:
            if run is not None:
                _log_run(kind, run)
        self._queue.ack(message)

    def _beat(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_beat < self.heartbeat_seconds / 2:
            return
        self._last_beat = now
        self.ctx.ports.table.put(
            {
                "pk": _WORKER_PK,
                "sk": self.worker_id,
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "daemon": self.daemon,
                "heartbeat_at": to_iso(utcnow()),
            }
        )


def _project_of(detail: dict[str, object]) -> str | None:
    key = detail.get("key")
    parsed = parse_raw_key(key) if isinstance(key, str) else None
    return parsed[0] if parsed else None


def _log_run(kind: str, run: Run) -> None:
    stages = {name: t.seconds for name, t in run.stages.items() if t.seconds is not None}
    log.log(
        logging.WARNING if run.failure_reason else logging.INFO,
        "%s handled: run %s is %s%s",
        kind,
        run.run_id,
        run.state.value,
        f" ({run.failure_reason})" if run.failure_reason else "",
        extra={
            "event_type": kind,
            "run_id": run.run_id,
            "project": run.project,
            "state": run.state.value,
            "version": run.model_version,
            "stage_seconds": stages,
        },
    )


__all__ = ["EventType", "Worker", "live_workers"]


def _import_metrics() -> None:
    import sklearn.metrics  # noqa: F401
