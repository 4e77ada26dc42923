"""One SQLite database file shared by threads and processes: connections, transactions, errors.

The local table, event queue and raw/ watch all keep their state in SQLite files that
several threads (the worker, the watch, the HTTP server) and several processes (a CLI
next to a running worker) use at once. This module holds the one way to do that safely.
"""

from __future__ import annotations

import math
import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson

from conveyor.errors import BackendUnavailable, InvalidInput

# Long enough to ride out another process's write transaction; short enough that a truly
# stuck lock becomes an error a person sees.
BUSY_TIMEOUT_MS = 10_000


class SqliteDatabase:
    """A pool of connections to one SQLite file in WAL mode, with ``schema`` applied once.

    Each operation borrows a connection for its duration, so any number of threads can
    share the object. Connections are kept open and reused rather than closed: closing one
    while another connection of the process is open leaks its file descriptor until all
    close (SQLite must keep POSIX locks), which a long-lived server with thread churn would
    feel.

    Args:
        path: the database file; its parent folder is created on first use.
        schema: ``CREATE ... IF NOT EXISTS`` statements run when a connection opens.
        page_size: the page size in bytes of a database this creates (an existing file keeps
            its own); SQLite's default, 4096, when None.
    """

    def __init__(self, path: Path, schema: str, *, page_size: int | None = None) -> None:
        self.path = path
        self.schema = schema
        self.page_size = page_size
        self._lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._pid = os.getpid()
        self._generation = 0  # bumped by close(): older connections are closed on return
        # Connections inherited through fork: SQLite's locks and WAL index belong to the
        # parent, so the child must neither use nor close them (closing can checkpoint).
        self._inherited: list[sqlite3.Connection] = []

    @contextmanager
    def connection(self, action: str) -> Iterator[sqlite3.Connection]:
        """Borrow a connection (statements autocommit); errors inside become
        ``BackendUnavailable`` saying what could not be done (``action``)."""
        with self.errors(action):
            conn, generation = self._borrow()
            try:
                yield conn
            finally:
                self._give_back(conn, generation)

    @contextmanager
    def transaction(self, action: str) -> Iterator[sqlite3.Connection]:
        """A write transaction taken up front (``BEGIN IMMEDIATE``), so read-then-write is atomic
        across processes; committed on success, rolled back on any exception."""
        with self.connection(action) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def errors(self, action: str) -> Iterator[None]:
        """Translate ``sqlite3`` errors raised inside into ``BackendUnavailable``."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if "locked" in text or "busy" in text:
                raise BackendUnavailable(
                    f"could not {action}: the database {self.path} stayed locked by another "
                    f"process for {BUSY_TIMEOUT_MS / 1000:g}s; retry, or stop the process "
                    "holding it"
                ) from exc
            raise BackendUnavailable(
                f"could not {action} in the database {self.path}: {text}; check that the file "
                "and its folder are writable and the disk is not full"
            ) from exc
        except sqlite3.DatabaseError as exc:
            raise BackendUnavailable(
                f"could not {action}: {self.path} is not a usable SQLite database ({exc}); "
                "move it away to start afresh"
            ) from exc
        except OSError as exc:
            raise BackendUnavailable(
                f"could not {action} with the database {self.path}: {exc}; check that its "
                "folder exists or can be created"
            ) from exc

    def close(self) -> None:
        """Close the idle connections; later use reopens (borrowed ones close on return)."""
        with self._lock:
            self._adopt_fork()
            idle, self._idle = self._idle, []
            self._generation += 1
        for conn in idle:
            conn.close()

    def _borrow(self) -> tuple[sqlite3.Connection, int]:
        with self._lock:
            self._adopt_fork()
            generation = self._generation
            if self._idle:
                return self._idle.pop(), generation
        return self._connect(), generation

    def _give_back(self, conn: sqlite3.Connection, generation: int) -> None:
        with self._lock:
            if os.getpid() != self._pid:
                self._inherited.append(conn)
                return
            # A connection left inside a transaction (a failed ROLLBACK) is not reusable.
            if generation == self._generation and not conn.in_transaction:
                self._idle.append(conn)
                return
        conn.close()

    def _adopt_fork(self) -> None:
        if os.getpid() != self._pid:
            self._inherited.extend(self._idle)
            self._idle = []
            self._pid = os.getpid()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN ourselves, so single statements autocommit.
        # check_same_thread=False: pooled connections move between threads, one at a time.
        conn = sqlite3.connect(
            self.path,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            if self.page_size is not None:
                # Before WAL: a database in WAL mode keeps the page size it was created with.
                conn.execute(f"PRAGMA page_size = {int(self.page_size)}")
            _enable_wal(conn)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA synchronous = NORMAL")
            # IMMEDIATE: take the write lock before reading the schema, so that two
            # processes creating it at once queue up instead of deadlocking.
            conn.executescript(f"BEGIN IMMEDIATE; {self.schema}; COMMIT;")
        except BaseException:
            conn.close()
            raise
        return conn


def _enable_wal(conn: sqlite3.Connection) -> None:
    # Switching a new file to WAL needs an exclusive lock; two processes doing it at once can
    # each hold the shared lock the other waits on, so each waits briefly and backs off.
    conn.execute("PRAGMA busy_timeout = 100")
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(random.uniform(0.005, 0.05))


def dumps_json(value: object, *, field: str) -> str:
    """Encode a JSON-compatible value for storage, or raise ``InvalidInput`` naming ``field``.

    Stricter than ``json.dumps``: non-string dict keys and non-finite floats are refused
    rather than silently changed, so what is read back equals what was written.
    """
    if not _is_json(value):
        _check_json(value, field)  # raises, naming the offending path
    return orjson.dumps(value).decode()


def _is_json(value: object) -> bool:
    # The cheap check on the hot path (inference records); the one above explains failures.
    kind = type(value)
    if value is None or kind is str or kind is int or kind is bool:
        return True
    if kind is float:
        return math.isfinite(value)  # type: ignore[arg-type]
    if kind is list or kind is tuple:
        return all(_is_json(element) for element in value)  # type: ignore[attr-defined]
    if kind is dict:
        return all(type(k) is str and _is_json(v) for k, v in value.items())  # type: ignore[attr-defined]
    return False


def _check_json(value: object, where: str) -> None:
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(f"{where} is {value}, which JSON cannot hold", field=where)
        return
    if isinstance(value, list | tuple):
        for index, element in enumerate(value):
            _check_json(element, f"{where}[{index}]")
        return
    if isinstance(value, dict):
        for key, element in value.items():
            if not isinstance(key, str):
                raise InvalidInput(
                    f"{where} has the key {key!r}; JSON object keys must be strings",
                    field=where,
                )
            _check_json(element, f"{where}.{key}")
        return
    raise InvalidInput(
        f"{where} is a {type(value).__name__}, which is not JSON-compatible; convert it to a "
        "string, number, bool, None, list or dict first",
        field=where,
    )
