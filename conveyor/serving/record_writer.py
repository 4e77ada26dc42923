"""Inference records written to the Table by a process of their own.

In the server's process, turning records into items and inserting them would compete with
request handling for the GIL; here the server only serialises each record (its values as
JSON, then the request's bytes as they came: ``records.record_frame``) and appends it to its
record log (``conveyor.serving.record_log``), which makes it survive a
``kill -9``. The writer process tails the log into the Table, first writing what crashed
servers left in theirs; when the server closes the pipe between them, it writes the rest and
reports how many it wrote. Given an object store, it also writes the
requests' rows as data capture (``conveyor.inference.capture``), flushed at the latest at stop.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.serving.record_log import LogTail, RecordLog, hold_lock, orphans

if TYPE_CHECKING:
    from conveyor.config import Settings
    from conveyor.inference.records import PendingRecord
    from conveyor.inference.request_json import Cut
    from conveyor.serving.capture import CaptureWriter

log = logging.getLogger("conveyor.serving")
_TABLE_URI_VARIABLE = "CONVEYOR_RECORD_WRITER_TABLE_URI"
_STORE_URI_VARIABLE = "CONVEYOR_RECORD_WRITER_OBJECT_STORE_URI"
_LOG_VARIABLE = "CONVEYOR_RECORD_WRITER_LOG"
_POLL_SECONDS = 0.05
_BATCH_RECORDS = 20_000  # one transaction each
_CAPTURE_TICK_SECONDS = 1.0
# In the log's folder: the writer's counts so far (the log's segments are *.log files).
PROGRESS_FILE = "written.json"


class RecordWriterProcess:
    """The server's side: open the record log, start the writer, append records, and at the
    end learn how many it wrote. The writer is ``python -m conveyor.serving.record_writer``,
    a fresh interpreter that imports only the Table (tens of MB, where a forked or spawned
    copy of the server would hold every library the server loaded)."""

    def __init__(
        self, table_uri: str, object_store_uri: str | None = None, *, log_root: Path
    ) -> None:
        self.table_uri = table_uri
        self.object_store_uri = object_store_uri  # None: no data capture
        self.log_root = log_root
        self._log: RecordLog | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._log = RecordLog(self.log_root)
        self._process = subprocess.Popen(
            [sys.executable, "-m", "conveyor.serving.record_writer"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={
                **os.environ,
                _TABLE_URI_VARIABLE: self.table_uri,
                _STORE_URI_VARIABLE: self.object_store_uri or "",
                _LOG_VARIABLE: str(self._log.directory),
            },
            # Its own session: a Ctrl-C to the server's process group must not reach it. The
            # server decides when writing stops (after its last record).
            start_new_session=True,
        )

    @property
    def log(self) -> RecordLog:
        """The log to append records to (each a ``records.record_frame``)."""
        assert self._log is not None, "start() the writer first"
        return self._log

    def progress(self) -> tuple[int, int]:
        """(written, failed) so far, as the writer last reported them."""
        if self._log is None:
            return 0, 0
        try:
            counts = json.loads((self._log.directory / PROGRESS_FILE).read_bytes())
        except (FileNotFoundError, ValueError):
            return 0, 0
        return int(counts["written"]), int(counts["failed"])

    def close(self) -> tuple[int, int]:
        """Wait until every record logged is written; returns (written, failed)."""
        process, self._process = self._process, None
        if self._log is not None:
            self._log.close()
        if process is None or process.stdin is None or process.stdout is None:
            return 0, 0
        try:
            process.stdin.close()  # the end of the pipe: drain the log, then stop
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


class _Counts:
    def __init__(self) -> None:
        self.written = 0
        self.failed = 0


def _write_forever(table_uri: str, object_store_uri: str, log_directory: Path) -> int:
    from conveyor.config import Settings
    from conveyor.wiring import build_table

    # The server's URIs; the rest (the AWS settings) from the environment it passed down.
    settings = Settings(table_uri=table_uri, object_store_uri=object_store_uri)

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # Behind the server for a core: a record can wait in the log, a request cannot.
    os.nice(5)
    # Held with the server's: while either lives, no other writer takes this log for a crash's.
    own_lock = hold_lock(log_directory)
    table = build_table(settings)
    capture = _start_capture(settings) if object_store_uri else None
    # What the start made lives as long as the writer: out of the collector's sight, a full
    # collection (the records' outputs lists make one every few hundred records) no longer
    # walks every module's objects. Again once the capture's first flush imported polars.
    gc.freeze()
    frozen_with_polars = False
    counts = _Counts()
    _replay_crashed(log_directory.parent, table, capture)
    tail = LogTail(log_directory)
    stdin = sys.stdin.fileno()
    stop = False
    while not stop:
        # The server's end of the pipe closing (a goodbye or its death) is the signal to stop;
        # meanwhile the log is read every poll.
        readable, _, _ = select.select([stdin], [], [], _POLL_SECONDS)
        if readable and not os.read(stdin, 4096):
            stop = True
        before = counts.written, counts.failed
        _write(table, capture, tail.take(), counts)
        tail.release()
        if (counts.written, counts.failed) != before:
            _report(log_directory, counts)
        if not frozen_with_polars and "polars" in sys.modules:
            gc.freeze()
            frozen_with_polars = True
    tail.remove()
    if own_lock is not None:
        os.close(own_lock)
    if capture is not None:
        capture.close()
    sys.stdout.write(json.dumps({"written": counts.written, "failed": counts.failed}) + "\n")
    sys.stdout.flush()
    return 0


def _report(log_directory: Path, counts: _Counts) -> None:
    """The counts so far, where the server reads them for ``/health`` (replaced whole, so a
    reader never sees half a file)."""
    partial = log_directory / f"{PROGRESS_FILE}.tmp"
    partial.write_text(json.dumps({"written": counts.written, "failed": counts.failed}))
    os.replace(partial, log_directory / PROGRESS_FILE)


def _replay_crashed(root: Path, table: Any, capture: CaptureWriter | None) -> None:
    """Write the records of logs whose server and writer died (``kill -9``, a crash)."""
    for directory, lock in orphans(root):
        try:
            counts = _Counts()
            tail = LogTail(directory)
            _write(table, capture, tail.take(), counts)
            tail.remove()
            log.warning(
                "wrote %d inference records a stopped server had logged (%s)",
                counts.written,
                directory,
            )
        finally:
            os.close(lock)


def _write(table: Any, capture: CaptureWriter | None, frames: list[bytes], counts: _Counts) -> None:
    from conveyor.inference.records import pending_item, read_frame, request_cut

    for start in range(0, len(frames), _BATCH_RECORDS):
        batch = [read_frame(frame) for frame in frames[start : start + _BATCH_RECORDS]]
        # Each request's rows cut out of its bytes once, for the item and the capture.
        cuts = [request_cut(record) for record in batch]
        items = [pending_item(record, cut) for record, cut in zip(batch, cuts, strict=True)]
        try:
            counts.written += table.put_many(items, from_json=True)
        except Exception:  # the table is down: the server keeps serving; say what was lost
            counts.failed += len(items)
            log.exception("could not write %d inference records", len(items))
            continue
        # Only records the Table holds: a capture whose count of a window's records equals
        # the Table's then holds exactly the Table's records.
        if capture is not None:
            _capture(capture, batch, cuts)


def _start_capture(settings: Settings) -> CaptureWriter | None:
    """The capture writer, flushed by a timer thread while batches are few; None (and the
    reason logged) when the store cannot be opened: records are written all the same."""
    from conveyor.serving.capture import CaptureWriter
    from conveyor.wiring import build_object_store

    try:
        capture = CaptureWriter(build_object_store(settings))
    except Exception:
        log.exception("data capture is off: could not open %s", settings.object_store_uri)
        return None

    def tick() -> None:
        while True:
            time.sleep(_CAPTURE_TICK_SECONDS)
            capture.flush_due()

    threading.Thread(target=tick, name="capture-flush", daemon=True).start()
    return capture


def _capture(capture: CaptureWriter, batch: list[PendingRecord], cuts: list[Cut | None]) -> None:
    try:
        for record, cut in zip(batch, cuts, strict=True):
            capture.add(record, cut)
    except Exception:  # a record the capture cannot take must not stop record writing
        log.exception("could not capture %d inference records", len(batch))


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    sys.exit(
        _write_forever(
            os.environ[_TABLE_URI_VARIABLE],
            os.environ.get(_STORE_URI_VARIABLE, ""),
            Path(os.environ[_LOG_VARIABLE]),
        )
    )
