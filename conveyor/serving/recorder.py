"""Record every inference without slowing a request.

With a record writer process (the server), the request path appends each record to the
writer's log, which survives ``kill -9`` (``conveyor.serving.record_log``), before the
response is sent; the writer group-commits the log into the Table. Without one (a table
written in-process), the request path appends to a queue that a background thread
group-commits. Closing writes what is left either way."""

from __future__ import annotations

import logging
import random
import threading
from collections import deque
from collections.abc import Callable

from conveyor.inference.records import PendingRecord, pending_item, read_frame, record_frame
from conveyor.serving.record_writer import RecordWriterProcess
from conveyor.tables import Table

log = logging.getLogger("conveyor.serving")

BATCH_SIZE = 256  # one batch holds the GIL while it is encoded: keep that short
FLUSH_SECONDS = 0.05
# From this many rows a request's matrix goes to the data capture beside its JSON: typing a
# hundred rows from JSON cost the record writer ~170 us of the cores the server needs, the
# matrix's check and copy cost the server a few. A few rows save less than that costs.
MATRIX_ROWS = 16


class InferenceRecorder:
    def __init__(
        self,
        table: Table,
        *,
        capture_rate: float = 1.0,
        enabled: bool = True,
        writer: RecordWriterProcess | None = None,
    ) -> None:
        self.table = table
        self.writer = writer
        self.capture_rate = capture_rate
        self.enabled = enabled
        self.written = 0
        self.failed = 0
        self._queue: deque[PendingRecord] = deque()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._log_append: Callable[[bytes], None] | None = None  # set when there is a writer

    def start(self) -> None:
        if self.writer is not None and self.enabled:
            self.writer.start()
            self._log_append = self.writer.log.append  # one call less on every request
            return
        self._thread = threading.Thread(target=self._run, name="inference-recorder", daemon=True)
        self._thread.start()

    def takes_matrix(self, rows: int) -> bool:
        """Whether a request of ``rows`` rows should be recorded with its matrix
        (``PendingRecord.matrix``): only the record writer's data capture reads it."""
        return (
            self.enabled
            and rows >= MATRIX_ROWS
            and self._log_append is not None
            and self.writer is not None
            and bool(self.writer.object_store_uri)
        )

    def record(self, record: PendingRecord) -> None:
        """Log a record, or queue it (safe from any thread; a log append takes microseconds)."""
        if not self.enabled:
            return
        if self.capture_rate < 1.0 and random.random() >= self.capture_rate:
            record = record._replace(request=None, columns=(), matrix=b"")
        if self._log_append is not None:
            try:
                # The request's bytes follow its values as they came: copied, not encoded.
                self._log_append(record_frame(record))
            except OSError:  # the disk is full, or recording stopped: keep serving, say so
                self.failed += 1
                log.exception("could not log the inference record of %s", record.request_id)
            return
        self._queue.append(record)
        if len(self._queue) >= BATCH_SIZE:
            self._wake.set()

    def counts(self) -> tuple[int, int]:
        """Records (written to the Table, failed) so far."""
        if self.writer is not None and self.enabled and self._log_append is not None:
            written, failed = self.writer.progress()
            return written, failed + self.failed
        return self.written, self.failed

    def close(self) -> None:
        """Stop after writing every queued record."""
        self._closing.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        self._flush()
        if self.writer is not None and self.enabled:
            written, failed = self.writer.close()
            self.written, self.failed = written, self.failed + failed

    def _run(self) -> None:
        while not self._closing.is_set():
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()
            self._flush()

    def _flush(self) -> None:
        while self._queue:
            batch: list[PendingRecord] = []
            while self._queue and len(batch) < BATCH_SIZE:
                batch.append(self._queue.popleft())
            try:
                # As the record writer's: the values through JSON, so that they round-trip.
                records = [read_frame(record_frame(record)) for record in batch]
                self.written += self.table.put_many(map(pending_item, records), from_json=True)
            except Exception:  # the table is down: keep serving, say what was lost
                self.failed += len(batch)
                log.exception("could not write %d inference records", len(batch))
