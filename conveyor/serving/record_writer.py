"""Inference records written to the Table by a process of their own.

In the server's process, turning records into items and inserting them would compete with
request handling for the GIL; here the server only serialises each batch (orjson) and sends
the bytes down a pipe. The writer process inserts them and, when told to stop, reports how
many it wrote after writing everything it was sent.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from typing import Any

import orjson

from conveyor.config import Settings
from conveyor.tables import Item

log = logging.getLogger("conveyor.serving")


class RecordWriterProcess:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._conn: Connection | None = None
        self._process: Any = None

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        self._process = context.Process(
            target=_write_forever,
            args=(self.settings, child),
            name="conveyor-record-writer",
            daemon=True,
        )
        with _interrupts_ignored():
            self._process.start()
        child.close()
        self._conn = parent

    def write(self, items: list[Item]) -> int:
        assert self._conn is not None, "start() the writer first"
        self._conn.send_bytes(orjson.dumps(items))
        return len(items)

    def close(self) -> tuple[int, int]:
        """Wait until every batch sent is written; returns (written, failed)."""
        if self._conn is None:
            return 0, 0
        self._conn.send_bytes(b"")
        written, failed = self._conn.recv()
        self._process.join(timeout=30)
        self._conn.close()
        self._conn = None
        return int(written), int(failed)


@contextmanager
def _interrupts_ignored() -> Iterator[None]:
    """Start the writer with SIGINT/SIGTERM ignored: the new interpreter inherits that from its
    first instruction, so a Ctrl-C sent to the whole process group while it is still starting
    cannot kill it (only the main thread may change signal handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _write_forever(settings: Settings, conn: Connection) -> None:
    from conveyor.wiring import build_table

    # Ctrl-C reaches the whole process group; the server decides when writing stops (after
    # its last batch), so the writer must not die first and lose what is in the pipe.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    table = build_table(settings)
    written = failed = 0
    while True:
        try:
            data = conn.recv_bytes()
        except EOFError:  # the server died without saying goodbye
            return
        if not data:
            break
        items = orjson.loads(data)
        try:
            written += table.put_many(items)
        except Exception:  # the table is down: the server keeps serving; say what was lost
            failed += len(items)
            log.exception("could not write %d inference records", len(items))
    conn.send((written, failed))
    conn.close()
