"""``conveyor worker``: the event loop and the raw/ watch, until interrupted."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import typer

from conveyor.cli._context import CliState
from conveyor.cli._output import console
from conveyor.errors import ConfigError
from conveyor.pipeline.worker import Worker


def worker(ctx: typer.Context) -> None:
    """Process uploads: run the event loop and watch raw/ for files copied in by any tool."""
    state: CliState = ctx.obj
    logging.getLogger("conveyor").setLevel(logging.INFO)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    ports = state.ports
    watch_thread = None
    if state.settings.object_store_uri.startswith("file://"):
        from conveyor.events.watch import RawWatch
        from conveyor.storage.local import LocalObjectStore

        if not isinstance(ports.store, LocalObjectStore):
            raise ConfigError("the raw/ watch needs the folder object store")
        watch = RawWatch(ports.store, ports.events, state.settings.home / "watch.db")
        watch_thread = threading.Thread(
            target=watch.run, args=(stop,), name="raw-watch", daemon=True
        )
        watch_thread.start()
    console.print(f"worker running on {state.settings.home} (Ctrl-C to stop)")
    Worker(
        state.pipeline(), daemon=True, heartbeat_seconds=state.settings.worker_heartbeat_seconds
    ).run(stop)
    if watch_thread is not None:
        watch_thread.join(timeout=10)
    console.print("worker stopped")
