"""``conveyor worker``: the event loop and the raw/ watch, until interrupted."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING

import typer

from conveyor.cli._context import CliState
from conveyor.cli._output import console
from conveyor.pipeline.worker import Worker
from conveyor.storage import FolderBacked

if TYPE_CHECKING:
    from conveyor.pipeline.monitor import Monitor, MonitorTask


def start_pipeline_threads(state: CliState, stop: threading.Event) -> list[threading.Thread]:
    """The worker loop and, on the folder store, the raw/ watch, as daemon threads."""
    threads = []
    ports = state.ports
    if isinstance(ports.store, FolderBacked):
        from conveyor.events.watch import RawWatch

        watch = RawWatch(ports.store, ports.events, state.settings.home / "watch.db")
        threads.append(
            threading.Thread(target=watch.run, args=(stop,), name="raw-watch", daemon=True)
        )
    worker = Worker(
        state.pipeline(), daemon=True, heartbeat_seconds=state.settings.worker_heartbeat_seconds
    )
    threads.append(threading.Thread(target=worker.run, args=(stop,), name="worker", daemon=True))
    monitor = _monitor(state)
    threads.append(threading.Thread(target=monitor.run, args=(stop,), name="monitor", daemon=True))
    for thread in threads:
        thread.start()
    return threads


def _monitor(state: CliState) -> Monitor:
    """The monitor with the whole loop wired: scheduled drift checks, and alarms whose
    ``retrain`` action starts a run."""
    from conveyor.pipeline.drift_schedule import ScheduledDriftCheck
    from conveyor.pipeline.monitor import Monitor
    from conveyor.pipeline.retrain import retrain_on_alarm
    from conveyor.pipeline.retrain_schedule import ScheduledRetrain

    settings = state.settings
    drift = ScheduledDriftCheck(
        every_seconds=settings.drift_check_seconds, window_seconds=settings.drift_window_seconds
    )
    cooldown = settings.retrain_cooldown_seconds
    tasks: list[MonitorTask] = [drift]
    if settings.retrain_every_seconds > 0:
        tasks.append(
            ScheduledRetrain(
                every_seconds=settings.retrain_every_seconds, cooldown_seconds=cooldown
            )
        )
    on_retrain = retrain_on_alarm(state.ports, cooldown_seconds=cooldown)
    return Monitor(state.ports, settings, on_retrain=on_retrain, extra_tasks=tasks)


def worker(ctx: typer.Context) -> None:
    """Process uploads: run the event loop and watch raw/ for files copied in by any tool."""
    state: CliState = ctx.obj
    logging.getLogger("conveyor").setLevel(logging.INFO)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    threads = start_pipeline_threads(state, stop)
    console.print(f"worker running on {state.settings.home} (Ctrl-C to stop)")
    while not stop.wait(0.5):
        if not all(t.is_alive() for t in threads):
            stop.set()
    for thread in threads:
        thread.join(timeout=30)
    console.print("worker stopped")
