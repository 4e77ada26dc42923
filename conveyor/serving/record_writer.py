"""Inference records written to the Table by a process of their own.

In the server's process, turning records into items and inserting them would compete with
request handling for the GIL; here the server only serialises each batch (orjson) and sends
the bytes down a pipe. The writer process inserts them and, when told to stop, reports how
many it wrote after writing everything it was sent. Given an object store, it also writes the
requests' rows as data capture (``conveyor.serving.capture``), flushed at the latest at stop.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import struct
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from conveyor.serving.capture import CaptureWriter

log = logging.getLogger("conveyor.serving")
_LENGTH = struct.Struct("<I")
_READ_BYTES = 1 << 20
_TABLE_URI_VARIABLE = "CONVEYOR_RECORD_WRITER_TABLE_URI"
_STORE_URI_VARIABLE = "CONVEYOR_RECORD_WRITER_OBJECT_STORE_URI"
_CAPTURE_TICK_SECONDS = 1.0


class RecordWriterProcess:
    """The server's side: start the writer, send it batches, and at the end learn how many
    it wrote. The writer is ``python -m conveyor.serving.record_writer``, a fresh interpreter
    that imports only the Table (tens of MB, where a forked or spawned copy of the server
    would hold every library the server loaded)."""

    def __init__(self, table_uri: str, object_store_uri: str | None = None) -> None:
        self.table_uri = table_uri
        self.object_store_uri = object_store_uri  # None: no data capture
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "conveyor.serving.record_writer"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={
                **os.environ,
                _TABLE_URI_VARIABLE: self.table_uri,
                _STORE_URI_VARIABLE: self.object_store_uri or "",
            },
            # Its own session: a Ctrl-C to the server's process group must not reach it. The
            # server decides when writing stops (after its last batch).
            start_new_session=True,
        )

    def write(self, data: bytes) -> None:
        """Send one batch: a JSON array of PendingRecord values."""
        assert self._process is not None and self._process.stdin, "start() the writer first"
        self._process.stdin.write(_LENGTH.pack(len(data)) + data)
        self._process.stdin.flush()

    def close(self) -> tuple[int, int]:
        """Wait until every batch sent is written; returns (written, failed)."""
        process, self._process = self._process, None
        if process is None or process.stdin is None or process.stdout is None:
            return 0, 0
        try:
            process.stdin.write(_LENGTH.pack(0))
            process.stdin.close()
            reply = process.stdout.readline()
        finally:
            process.stdout.close()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        counts = json.loads(reply) if reply else {"written": 0, "failed": 0}
        return int(counts["written"]), int(counts["failed"])


class _Frames:
    """Length-prefixed batches off a pipe, as many at a time as have arrived: under load the
    writer takes every waiting batch into one transaction instead of one commit per batch."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = bytearray()

    def take(self) -> tuple[list[bytes], bool]:
        """(the complete batches available, waiting for at least one; whether to stop).

        Stop is a zero-length batch (the server's goodbye) or the end of the pipe (the server
        went away); the batches before it are still returned.
        """
        while True:
            batches, stop = self._complete()
            if batches or stop:
                return batches, stop
            chunk = os.read(self.fd, _READ_BYTES)
            if not chunk:
                return [], True
            self.buffer += chunk

    def _complete(self) -> tuple[list[bytes], bool]:
        batches: list[bytes] = []
        at = 0
        while len(self.buffer) - at >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(self.buffer, at)
            if length == 0:
                del self.buffer[: at + _LENGTH.size]
                return batches, True
            end = at + _LENGTH.size + length
            if end > len(self.buffer):
                break
            batches.append(bytes(self.buffer[at + _LENGTH.size : end]))
            at = end
        del self.buffer[:at]
        return batches, False


def _write_forever(table_uri: str, object_store_uri: str = "") -> int:
    from conveyor.serving.records import pending_item
    from conveyor.wiring import build_table

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # Behind the server for a core: a record can wait in the pipe, a request cannot.
    os.nice(5)
    table = build_table(table_uri)
    capture = _start_capture(object_store_uri) if object_store_uri else None
    written = failed = 0
    frames = _Frames(sys.stdin.fileno())
    stop = False
    while not stop:
        data, stop = frames.take()
        batch = [values for frame in data for values in orjson.loads(frame)]
        if not batch:
            continue
        items = [pending_item(values) for values in batch]
        try:
            written += table.put_many(items, from_json=True)
        except Exception:  # the table is down: the server keeps serving; say what was lost
            failed += len(items)
            log.exception("could not write %d inference records", len(items))
            continue
        # Only records the Table holds: a capture whose count of a window's records equals
        # the Table's then holds exactly the Table's records.
        if capture is not None:
            _capture(capture, batch)
    if capture is not None:
        capture.close()
    sys.stdout.write(json.dumps({"written": written, "failed": failed}) + "\n")
    sys.stdout.flush()
    return 0


def _start_capture(object_store_uri: str) -> CaptureWriter | None:
    """The capture writer, flushed by a timer thread while batches are few; None (and the
    reason logged) when the store cannot be opened: records are written all the same."""
    from conveyor.serving.capture import CaptureWriter
    from conveyor.wiring import build_object_store

    try:
        capture = CaptureWriter(build_object_store(object_store_uri))
    except Exception:
        log.exception("data capture is off: could not open %s", object_store_uri)
        return None

    def tick() -> None:
        while True:
            time.sleep(_CAPTURE_TICK_SECONDS)
            capture.flush_due()

    threading.Thread(target=tick, name="capture-flush", daemon=True).start()
    return capture


def _capture(capture: CaptureWriter, batch: list[list[Any]]) -> None:
    try:
        for values in batch:
            capture.add(values)
    except Exception:  # a record the capture cannot take must not stop record writing
        log.exception("could not capture %d inference records", len(batch))


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    sys.exit(
        _write_forever(os.environ[_TABLE_URI_VARIABLE], os.environ.get(_STORE_URI_VARIABLE, ""))
    )
