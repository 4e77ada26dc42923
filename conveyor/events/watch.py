"""Watch the raw bucket's folder so that a file copied there by any tool starts a run.

The local stand-in for S3's ObjectCreated notification: a file that appears under
``<store root>/raw/<project>/<file>`` (by ``cp``, an editor, a sync client) is published
once, after it stops changing, and again only if its content changes. What was published
is remembered in a small SQLite file, so a restart does not publish it again while files
added when nothing was running are published by the first scan.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import watchfiles

from conveyor._sqlite import SqliteDatabase
from conveyor.errors import ConfigError, ConveyorError, NotFound
from conveyor.events import Event, EventPublisher, EventType
from conveyor.events.sqlite import SqliteEventBus
from conveyor.storage import RAW, FolderBacked, LocalFile
from conveyor.types import to_iso

log = logging.getLogger("conveyor.events.watch")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS published (
    key TEXT NOT NULL,
    etag TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    published_at REAL NOT NULL,
    PRIMARY KEY (key, etag)
) WITHOUT ROWID;
"""

# Names that download managers and editors give files that are not finished yet.
_PARTIAL_SUFFIXES = ("~", ".part", ".partial", ".crdownload", ".download", ".tmp", ".swp")


@dataclass
class _Sighting:
    size: int
    mtime_ns: int
    since: float  # time.monotonic() when this size and mtime were first seen


class RawWatch:
    """Publish ``ObjectCreated`` for files that appear in the folder store's ``raw`` bucket.

    Args:
        store: the folder object store whose ``raw/`` folder is watched.
        bus: where the events go.
        state_path: SQLite file remembering what was published (not the bus's own file).
        settle_seconds: a file is published only once its size and mtime have not changed
            for this long, so a file still being copied is never read half-written.
        rescan_seconds: the longest time between two scans when no change is reported.
    """

    def __init__(
        self,
        store: FolderBacked,
        bus: EventPublisher,
        state_path: Path,
        *,
        settle_seconds: float = 1.0,
        rescan_seconds: float = 2.0,
    ) -> None:
        if isinstance(bus, SqliteEventBus) and bus.path.resolve() == state_path.resolve():
            # Publishing while holding the state file's write lock would wait on itself.
            raise ConfigError(
                f"the raw/ watch state {state_path} must not be the event queue's database; "
                "give it its own file (e.g. watch.db)"
            )
        self.store = store
        self.bus = bus
        self.state_path = state_path
        self.settle_seconds = settle_seconds
        self.rescan_seconds = rescan_seconds
        self._db = SqliteDatabase(state_path, _SCHEMA)
        self._sightings: dict[str, _Sighting] = {}
        self._warned: set[str] = set()

    @property
    def folder(self) -> Path:
        """The watched folder, ``<store root>/raw``."""
        return self.store.root / RAW

    def scan_once(self) -> list[Event]:
        """Publish every settled file not published before; returns the events published.

        Raises:
            BackendUnavailable: the state file or the bus could not be written.
        """
        files = [
            found
            for found in self.store.files(RAW)
            if self._is_upload(found.key) and self._inside_bucket(found)
        ]
        published: list[Event] = []
        now = time.monotonic()
        for found in files:
            if self._settled(found, now):
                event = self._publish_if_new(found)
                if event is not None:
                    published.append(event)
        present = {found.key for found in files}
        self._sightings = {k: v for k, v in self._sightings.items() if k in present}
        self._forget_deleted(present)
        return published

    def run(self, stop: threading.Event) -> None:
        """Scan now, then on every change under ``raw/`` and at least every few seconds,
        until ``stop`` is set. Errors are logged, never raised: the watch keeps going."""
        self._scan_logged()
        # Wake up at least this often: a file seen unsettled must be looked at again once
        # it has settled, even if nothing else changes.
        timeout_ms = int(1000 * max(0.05, min(self.rescan_seconds, self.settle_seconds)))
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for _changes in watchfiles.watch(
                self.folder,
                watch_filter=None,
                stop_event=stop,
                rust_timeout=timeout_ms,
                yield_on_timeout=True,
                raise_interrupt=False,
            ):
                if stop.is_set():
                    break
                self._scan_logged()
        except (OSError, RuntimeError) as exc:
            log.warning(
                "cannot watch %s for changes (%s); scanning it every %gs instead",
                self.folder,
                exc,
                timeout_ms / 1000,
            )
            while not stop.wait(timeout_ms / 1000):
                self._scan_logged()
        finally:
            self.close()

    def close(self) -> None:
        """Close the state file's connections."""
        self._db.close()

    def _scan_logged(self) -> None:
        try:
            for event in self.scan_once():
                log.info("new upload %s/%s", RAW, event.detail["key"])
        except (ConveyorError, OSError):
            log.exception("scanning %s failed; will retry", self.folder)

    def _is_upload(self, key: str) -> bool:
        if key.endswith(_PARTIAL_SUFFIXES):
            return False
        if key.count("/") == 1:
            return True
        if key not in self._warned:
            self._warned.add(key)
            log.warning("ignoring %s/%s: uploads go to %s/<project>/<file>", RAW, key, self.folder)
        return False

    def _inside_bucket(self, found: LocalFile) -> bool:
        # A link would let a run read (and its reports show) any file this user can read.
        if not found.path.is_symlink() and found.path.resolve().is_relative_to(
            self.folder.resolve()
        ):
            return True
        if found.key not in self._warned:
            self._warned.add(found.key)
            log.warning(
                "ignoring %s/%s: it is a link (to %s); copy the file itself into %s",
                RAW,
                found.key,
                found.path.resolve(),
                self.folder,
            )
        return False

    def _settled(self, found: LocalFile, now: float) -> bool:
        seen = self._sightings.get(found.key)
        if seen is None or (seen.size, seen.mtime_ns) != (found.size, found.mtime_ns):
            self._sightings[found.key] = _Sighting(found.size, found.mtime_ns, now)
            if seen is not None:  # it changed since the last scan: still being written
                return False
            seen = self._sightings[found.key]
        # A file untouched for settle_seconds by the clock (e.g. copied while nothing was
        # running) is settled at first sight; otherwise it must hold still while we watch.
        quiet_for = time.time() - found.mtime_ns / 1e9
        return max(quiet_for, now - seen.since) >= self.settle_seconds

    def _publish_if_new(self, found: LocalFile) -> Event | None:
        with self._db.connection("read the raw/ watch state") as conn:
            same_file = conn.execute(
                "SELECT 1 FROM published WHERE key = ? AND size = ? AND mtime_ns = ?",
                (found.key, found.size, found.mtime_ns),
            ).fetchone()
        if same_file:  # unchanged since published: skip without hashing it again
            return None
        try:
            info = self.store.head(RAW, found.key)
        except NotFound:
            return None
        if info.size != found.size:  # changed since the scan saw it: wait for it to settle
            return None
        event = Event(
            EventType.OBJECT_CREATED,
            {
                "bucket": RAW,
                "key": found.key,
                "size": info.size,
                "etag": info.etag,
                "written": to_iso(info.last_modified),
                "source": "watch",
            },
        )
        # The transaction makes check-publish-record atomic against a second watch on the same
        # state; a crash before the commit publishes again on restart (at-least-once).
        with self._db.transaction("record a published upload") as conn:
            known = conn.execute(
                "SELECT 1 FROM published WHERE key = ? AND etag = ?", (found.key, info.etag)
            ).fetchone()
            if not known:
                self.bus.publish(event)
            conn.execute(
                "INSERT INTO published (key, etag, size, mtime_ns, published_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (key, etag) DO UPDATE SET "
                "size = excluded.size, mtime_ns = excluded.mtime_ns",
                (found.key, info.etag, found.size, found.mtime_ns, time.time()),
            )
        return None if known else event

    def _forget_deleted(self, present: set[str]) -> None:
        # A deleted file's record goes, so copying the same bytes in again is a new upload
        # (as S3 notifies again); the run store still trains identical bytes only once.
        with self._db.connection("update the raw/ watch state") as conn:
            stored = {row[0] for row in conn.execute("SELECT DISTINCT key FROM published")}
            gone = stored - present
            if gone:
                conn.executemany("DELETE FROM published WHERE key = ?", [(k,) for k in gone])
