"""Record every inference without slowing a request: the request path appends to a queue;
a background thread group-commits batches to the Table; closing flushes what is left."""

from __future__ import annotations

import logging
import random
import threading
from collections import deque

import orjson

from conveyor.serving.record_writer import RecordWriterProcess
from conveyor.serving.records import PendingRecord, pending_item
from conveyor.tables import Table

log = logging.getLogger("conveyor.serving")

BATCH_SIZE = 256  # one batch holds the GIL while it is encoded: keep that short
FLUSH_SECONDS = 0.05


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

    def start(self) -> None:
        if self.writer is not None and self.enabled:
            self.writer.start()
        self._thread = threading.Thread(target=self._run, name="inference-recorder", daemon=True)
        self._thread.start()

    def record(self, record: PendingRecord) -> None:
        """Queue a record (a deque append: safe from any thread, never blocks)."""
        if not self.enabled:
            return
        if self.capture_rate < 1.0 and random.random() >= self.capture_rate:
            record = record._replace(request=None)
        self._queue.append(record)
        if len(self._queue) >= BATCH_SIZE:
            self._wake.set()

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
            batch = []
            while self._queue and len(batch) < BATCH_SIZE:
                batch.append(self._queue.popleft())
            try:
                # Plain tuples and fragments: orjson copies them, little else.
                data = orjson.dumps([tuple(record) for record in batch])
                if self.writer is not None:
                    self.writer.write(data)
                else:
                    items = map(pending_item, orjson.loads(data))
                    self.written += self.table.put_many(items, from_json=True)
            except Exception:  # the table is down: keep serving, say what was lost
                self.failed += len(batch)
                log.exception("could not write %d inference records", len(batch))
