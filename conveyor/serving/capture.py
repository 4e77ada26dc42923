"""The capture writer: buffers the capture lines of the requests a server answers and writes
them to the ``capture`` bucket, one Parquet object per project per flush. The lines and the
object keys are the shapes in :mod:`conveyor.inference.capture`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field

from conveyor.inference.capture import Captured, captured, hour_prefix, meta_columns, stamp
from conveyor.inference.records import PendingRecord
from conveyor.inference.request_json import Cut
from conveyor.storage import CAPTURE, ObjectStore

log = logging.getLogger("conveyor.serving")


@dataclass
class _Buffer:
    started: float  # monotonic time of the first line: its age decides a timed flush
    earliest: int
    latest: int
    records: list[Captured] = field(default_factory=list)
    lines: int = 0
    keys: set[str] = field(default_factory=set)  # of the JSON lines: their columns
    shapes: set[tuple[str, ...]] = field(default_factory=set)  # records' keys already seen


class CaptureWriter:
    """Buffers each project's capture lines and writes them as one object per project per
    flush: when a project holds ``flush_rows`` lines, when its oldest line is
    ``flush_seconds`` old (``flush_due``, called by a timer), and at ``close``.

    A failed write is logged and its lines dropped: the capture of that window is then
    incomplete, which readers detect (its record count falls short of the Table's) and
    read the Table instead.
    """

    def __init__(
        self, store: ObjectStore, *, flush_rows: int = 50_000, flush_seconds: float = 10.0
    ) -> None:
        self.store = store
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self.objects = 0
        self._buffers: dict[str, _Buffer] = {}
        self._lock = threading.Lock()
        self._sequence = 0
        self._pid = os.getpid()

    def add(self, record: PendingRecord, cut: Cut | None = None) -> None:
        """Buffer one record's rows (``cut``: its rows, ``records.request_cut``, when made
        already)."""
        project = record.project
        capture = captured(record, cut)
        at = capture.at
        with self._lock:
            buffer = self._buffers.get(project)
            if buffer is None:
                buffer = self._buffers[project] = _Buffer(time.monotonic(), at, at)
            buffer.earliest = min(buffer.earliest, at)
            buffer.latest = max(buffer.latest, at)
            buffer.records.append(capture)
            buffer.lines += capture.lines
            # Requests of one client carry the same keys: a tuple lookup per record, not a
            # set update per key. A matrix's columns are its own.
            if not capture.matrix and (keys := capture.keys) not in buffer.shapes:
                buffer.shapes.add(keys)
                buffer.keys.update(keys)
            full = buffer.lines >= self.flush_rows
        if full:
            self._flush({project})

    def flush_due(self) -> None:
        """Write the projects whose oldest buffered line is ``flush_seconds`` old."""
        now = time.monotonic()
        with self._lock:
            due = {p for p, b in self._buffers.items() if now - b.started >= self.flush_seconds}
        if due:
            self._flush(due)

    def flush(self) -> None:
        """Write every buffered line."""
        with self._lock:
            projects = set(self._buffers)
        self._flush(projects)

    def close(self) -> None:
        self.flush()

    def _flush(self, projects: set[str]) -> None:
        taken: list[tuple[str, _Buffer, int]] = []
        with self._lock:
            for project in projects:
                buffer = self._buffers.pop(project, None)
                if buffer is not None:
                    self._sequence += 1
                    taken.append((project, buffer, self._sequence))
        if not taken:
            return
        # Here, not at the top: the record writer holds polars only once it captures a row.
        from conveyor.inference.capture_format import PARQUET

        for project, buffer, sequence in taken:
            key = (
                f"{hour_prefix(project, buffer.earliest)}{stamp(buffer.earliest)}_"
                f"{stamp(buffer.latest)}_{self._pid}-{sequence}{PARQUET}"
            )
            try:
                data = _encoded(buffer)
                self.store.put(CAPTURE, key, data)
                self.objects += 1
            except Exception:  # the store is down: the Table still has every record
                log.exception("could not write %d capture lines to %s", buffer.lines, key)


def _encoded(buffer: _Buffer) -> bytes:
    """The Parquet object of a buffer's records: their JSON lines, and their matrices, those
    of the same columns as one (``capture_format.encode``)."""
    from conveyor.inference.capture_format import Matrix, encode

    lines: list[Captured] = []
    by_columns: dict[tuple[str, ...], list[Captured]] = {}
    for record in buffer.records:
        if record.matrix:
            by_columns.setdefault(record.keys, []).append(record)
        else:
            lines.append(record)
    matrices = [
        Matrix(columns, b"".join(r.matrix for r in records), meta_columns(records))
        for columns, records in by_columns.items()
    ]
    rows = b"".join(record.rows for record in lines)
    return encode(rows, meta_columns(lines), buffer.keys, matrices)
