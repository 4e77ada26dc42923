"""The events ports (publisher and queue) as a durable SQS-like queue in SQLite, shared by
threads and processes."""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING

from conveyor._schemes import path_of
from conveyor._sqlite import SqliteDatabase, dumps_json
from conveyor.errors import InvalidInput
from conveyor.events import Event, EventType, Message
from conveyor.types import from_iso, to_iso

if TYPE_CHECKING:
    from conveyor.config import Settings
    from conveyor.ports import PortsSoFar

log = logging.getLogger("conveyor.events")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    type TEXT NOT NULL,
    detail TEXT NOT NULL,
    time TEXT NOT NULL,
    visible_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    receipt TEXT
);
CREATE INDEX IF NOT EXISTS events_due ON events (visible_at, id);
"""


class SqliteEventBus:
    """Events in the SQL table ``events`` of ``path`` (it may share the file with the table).

    ``receive`` leases messages in a ``BEGIN IMMEDIATE`` transaction: a leased message is
    invisible to every other receiver, in any process, until its visibility timeout ends,
    and then it is delivered again unless it was acknowledged.
    """

    scheme = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = SqliteDatabase(path, _SCHEMA)

    @classmethod
    def from_settings(
        cls, uri: str, settings: Settings, ports_so_far: PortsSoFar
    ) -> SqliteEventBus:
        """The queue in the database file of ``sqlite:///<path>``."""
        return cls(path=Path(path_of(uri)))

    def __reduce__(self) -> tuple[type[SqliteEventBus], tuple[Path]]:
        return (SqliteEventBus, (self.path,))

    def publish(self, event: Event) -> str:
        detail = dumps_json(event.detail, field="detail")
        try:
            kind = EventType(event.type).value
        except ValueError as exc:
            valid = ", ".join(t.value for t in EventType)
            raise InvalidInput(
                f"unknown event type {event.type!r}; valid types: {valid}", field="type"
            ) from exc
        with self._db.connection("publish an event") as conn:
            cursor = conn.execute(
                "INSERT INTO events (type, detail, time, visible_at) VALUES (?, ?, ?, ?)",
                (kind, detail, to_iso(event.time), time.time()),
            )
        return str(cursor.lastrowid)

    def receive(
        self, *, max_messages: int = 10, visibility_timeout: float = 300.0
    ) -> list[Message]:
        if max_messages < 1:
            raise InvalidInput(
                f"max_messages must be 1 or more, not {max_messages}", field="max_messages"
            )
        if visibility_timeout < 0:
            raise InvalidInput(
                f"visibility_timeout must be 0 or more seconds, not {visibility_timeout}",
                field="visibility_timeout",
            )
        messages: list[Message] = []
        with self._db.transaction("receive events") as conn:
            now = time.time()
            rows = conn.execute(
                "SELECT id, type, detail, time, attempts FROM events "
                "WHERE visible_at <= ? ORDER BY id LIMIT ?",
                (now, max_messages),
            ).fetchall()
            for event_id, kind, detail, published, attempts in rows:
                event = _event_or_none(conn, event_id, kind, detail, published)
                if event is None:
                    continue
                receipt = f"{event_id}.{secrets.token_hex(12)}"
                conn.execute(
                    "UPDATE events SET visible_at = ?, attempts = attempts + 1, receipt = ? "
                    "WHERE id = ?",
                    (now + visibility_timeout, receipt, event_id),
                )
                messages.append(Message(event=event, receipt=receipt, attempts=attempts + 1))
        return messages

    def ack(self, message: Message) -> None:
        event_id = _id_of(message.receipt)
        with self._db.connection("acknowledge an event") as conn:
            conn.execute(
                "DELETE FROM events WHERE id = ? AND receipt = ?", (event_id, message.receipt)
            )

    def release(self, message: Message, *, delay: float = 0.0) -> None:
        event_id = _id_of(message.receipt)
        if delay < 0:
            raise InvalidInput(f"delay must be 0 or more seconds, not {delay}", field="delay")
        with self._db.connection("release an event") as conn:
            # The receipt is cleared, so the lease's holder can no longer ack or release it.
            conn.execute(
                "UPDATE events SET visible_at = ?, receipt = NULL WHERE id = ? AND receipt = ?",
                (time.time() + delay, event_id, message.receipt),
            )

    def depth(self) -> int:
        with self._db.connection("count events") as conn:
            row = conn.execute("SELECT COUNT(*) FROM events").fetchone()
        return int(row[0])

    def close(self) -> None:
        """Close this queue's connections (later use reopens them)."""
        self._db.close()


def _event_or_none(
    conn: sqlite3.Connection, event_id: int, kind: str, detail: str, published: str
) -> Event | None:
    try:
        return Event(type=EventType(kind), detail=json.loads(detail), time=from_iso(published))
    except ValueError:
        # A row no handler could ever take would otherwise come back forever.
        log.warning("dropping unreadable event %s (type %r, detail %.200s)", event_id, kind, detail)
        conn.execute("DELETE FROM events WHERE id = ?", (event_id,))
        return None


def _id_of(receipt: str) -> int:
    head, _, token = receipt.partition(".")
    if not head.isdigit() or not token:
        raise InvalidInput(
            f"{receipt!r} is not a receipt from this queue; pass the Message that receive returned",
            field="receipt",
        )
    return int(head)
