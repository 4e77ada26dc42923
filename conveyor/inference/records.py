"""Inference records: one Table item per request, the DynamoDB item shape on both backends.

Partition ``inference#<project>``, sort key ``<ISO timestamp>#<request id>``, so a time
window is one key-range query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson

from conveyor.inference.request_json import Cut, cut, decoded_rows, row_keys
from conveyor.tables import Item, Table
from conveyor.types import from_iso, to_iso


def partition(project: str) -> str:
    return f"inference#{project}"


class PendingRecord(NamedTuple):
    """What the request path hands the recorder: plain values, and the request as the JSON
    bytes it came in (``{"instances": [...]}`` and no other key), so that making the Table
    item and the capture lines happens in the record writer's process, not on the server's
    busy core, and without decoding the rows there either (``request_json``)."""

    project: str
    unix_time: float
    request_id: str
    model_version: int | None
    latency_ms: float
    outputs: dict[str, Any] | None
    status: int
    error: str | None
    request: bytes | None  # None when not captured
    rows: int = 0  # how many rows ``request`` holds
    # The keys the rows carry, every one, when the server knows them (the capture's columns;
    # empty: unknown, the writer finds them itself).
    columns: tuple[str, ...] = ()
    # The rows' values as float64, row after row in ``columns``' order, when the server had
    # them so (``Prediction.matrix``): the capture stores them without parsing ``request``.
    matrix: bytes = b""


def has_matrix(record: PendingRecord) -> bool:
    """Whether the record carries a matrix of its rows and columns (a matrix of any other size,
    never the server's, is ignored: the rows are read from the JSON)."""
    return bool(record.matrix) and len(record.matrix) == 8 * record.rows * len(record.columns)


def request_cut(record: PendingRecord) -> Cut | None:
    """The record's request rows cut out of its bytes (``request_json.cut``); None when
    there are none, or they must be decoded. A record with a matrix is captured from it: its
    rows are not cut one by one (``Cut.rows`` empty)."""
    if record.request is None or record.rows < 1:
        return None
    return cut(record.request, record.rows, rows=not has_matrix(record))


def pending_item(record: PendingRecord, rows: Cut | None = None) -> Item:
    """The Table item of a record; its inputs are the request's rows as they came, copied
    without being decoded when they can be cut out (``rows``: ``request_cut(record)``, made
    here when not given)."""
    project, unix_time, request_id, version, latency_ms, outputs, status, error = record[:8]
    # Already UTC: to_iso's conversion would be a second datetime per record for nothing.
    stamp = datetime.fromtimestamp(unix_time, UTC).isoformat(timespec="microseconds")
    return {
        "pk": partition(project),
        "sk": f"{stamp}#{request_id}",
        "project": project,
        "timestamp": stamp,
        "request_id": request_id,
        "model_version": version,
        "latency_ms": latency_ms,
        "inputs": _inputs(record, rows),
        "outputs": outputs,
        "status": status,
        "error": error,
    }


def _inputs(record: PendingRecord, rows: Cut | None) -> Any:
    if record.request is None:
        return None
    rows = rows or request_cut(record)
    # The rows' text embedded as it is, else decoded (and encoded again with the item).
    return orjson.Fragment(rows.span) if rows is not None else decoded_rows(record.request)


# A record in the record log: its values but the request and the matrix as JSON, with the
# matrix's length, a newline (a compact JSON array never holds a raw one), the matrix's
# bytes, then the request's as they came. The request last: a frame ends as JSON does, never
# with a zero byte (``record_log``'s check of a frame's end), where a matrix may.
_FRAME = 3  # the first value: logs of older versions began with 2 (no matrix) or the project
_FRAME_2 = 2


def record_frame(record: PendingRecord) -> bytes:
    """The record as the record log holds it (``read_frame`` reads it back)."""
    matrix = record.matrix
    head = orjson.dumps((_FRAME, *record[:8], record.rows, record.columns, len(matrix)))
    if record.request is None:
        return head
    return (
        b"".join((head, b"\n", matrix, record.request)) if matrix else head + b"\n" + record.request
    )


def read_frame(frame: bytes) -> PendingRecord:
    """The record of a ``record_frame``, or of an older version's log entry (without a
    matrix; before, one JSON array, the request decoded inside it)."""
    if not frame.startswith((b"[%d," % _FRAME, b"[%d," % _FRAME_2)):
        return from_values(orjson.loads(frame))
    end = frame.find(b"\n")
    values = orjson.loads(frame if end < 0 else frame[:end])
    size = values[11] if values[0] == _FRAME else 0  # the matrix's bytes
    request = None if end < 0 else frame[end + 1 + size :]
    matrix = frame[end + 1 : end + 1 + size] if size else b""
    return PendingRecord._make([*values[1:9], request, values[9], tuple(values[10]), matrix])


def from_values(values: Sequence[Any]) -> PendingRecord:
    """The record of an older version's log entry, decoded: ``[project, time, id, version,
    latency, request, outputs, status, error]``, the request a ``{"instances": [...]}``
    object or null."""
    request, outputs, status, error = values[5:9]
    rows = request.get("instances") if isinstance(request, dict) else None
    body = orjson.dumps({"instances": rows}) if request is not None else None
    rows = rows if isinstance(rows, list) else []
    rest = [outputs, status, error, body, len(rows), row_keys(rows), b""]
    return PendingRecord._make([*values[:5], *rest])


@dataclass(frozen=True)
class InferenceRecord:
    project: str
    timestamp: datetime
    request_id: str
    model_version: int | None
    latency_ms: float
    inputs: list[dict[str, Any]] | None
    outputs: dict[str, Any] | None
    status: int
    error: str | None = None

    def to_item(self) -> Item:
        stamp = to_iso(self.timestamp)
        return {
            "pk": partition(self.project),
            "sk": f"{stamp}#{self.request_id}",
            "project": self.project,
            "timestamp": stamp,
            "request_id": self.request_id,
            "model_version": self.model_version,
            "latency_ms": self.latency_ms,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "status": self.status,
            "error": self.error,
        }

    @classmethod
    def from_item(cls, item: Item) -> InferenceRecord:
        return cls(
            project=item["project"],
            timestamp=from_iso(item["timestamp"]),
            request_id=item["request_id"],
            model_version=item.get("model_version"),
            latency_ms=float(item["latency_ms"]),
            inputs=item.get("inputs"),
            outputs=item.get("outputs"),
            status=int(item["status"]),
            error=item.get("error"),
        )


def list_inferences(
    table: Table, project: str, *, since: datetime | None = None, limit: int | None = None
) -> list[InferenceRecord]:
    """A project's records, newest first, optionally only those at or after ``since``."""
    items = table.query(
        partition(project), sk_gte=to_iso(since) if since else None, descending=True, limit=limit
    )
    return [InferenceRecord.from_item(item) for item in items]
