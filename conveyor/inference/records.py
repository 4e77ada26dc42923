"""Inference records: one Table item per request, the DynamoDB item shape on both backends.

Partition ``inference#<project>``, sort key ``<ISO timestamp>#<request id>``, so a time
window is one key-range query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from conveyor.tables import Item, Table
from conveyor.types import from_iso, to_iso


def partition(project: str) -> str:
    return f"inference#{project}"


class PendingRecord(NamedTuple):
    """What the request path hands the recorder: plain values, the request as its JSON bytes
    (an ``orjson.Fragment``, embedded without re-encoding), so that making the Table item
    happens in the record writer's process, not on the server's busy core."""

    project: str
    unix_time: float
    request_id: str
    model_version: int | None
    latency_ms: float
    request: Any  # {"instances": [...]}, as JSON bytes or objects; None when not captured
    outputs: dict[str, Any] | None
    status: int
    error: str | None


def pending_item(values: Sequence[Any]) -> Item:
    """The Table item of a PendingRecord as it arrives decoded from JSON (a list)."""
    project, unix_time, request_id, version, latency_ms, request, outputs, status, error = values
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
        "inputs": request["instances"] if request is not None else None,
        "outputs": outputs,
        "status": status,
        "error": error,
    }


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
