"""The inference records' write-ahead log: what makes an acknowledged request's record
survive ``kill -9``.

The request path appends each record to a file of its server's own (one ``os.writev`` on a
descriptor opened ``O_APPEND``, before the response is sent) and the record writer process
tails the files into the Table. A write sits in the kernel's page cache the moment it
returns, so killing the server and the writer together loses nothing; the writer of the
next server replays what the dead one left. There is no fsync per request: a machine that
loses power can lose the last seconds of records (what the page cache had not yet flushed).

Layout, under a root folder (``<home>/record-log``): a server's log is the folder
``<name>/`` holding numbered segments ``00000000.log``, ``00000001.log``, ...; a segment is
complete once the next one exists, and is deleted once its records are in the Table. The
lock file ``<name>.lock``, held (``flock`` shared) by the server and its writer, tells a
live log from one left by a crash.

A record is a frame: its length (4 bytes, little endian) then its JSON. Only a frame cut
short by a crash can be incomplete, and only at a segment's end; it was never acknowledged.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import shutil
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger("conveyor.serving")

LENGTH = struct.Struct("<I")
SEGMENT_BYTES = 16 << 20
_READ_BYTES = 1 << 20


def _segment(directory: Path, number: int) -> Path:
    return directory / f"{number:08d}.log"


def _lock_path(directory: Path) -> Path:
    return directory.with_name(directory.name + ".lock")


def hold_lock(directory: Path, *, exclusive: bool = False) -> int | None:
    """A descriptor holding the log's lock (closing it releases it); None when another
    process holds it in a conflicting mode, or the log is gone."""
    try:
        fd = os.open(_lock_path(directory), os.O_RDWR)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


class RecordLog:
    """The server's side: append a record's JSON, from any thread."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.directory = root / f"{os.getpid()}-{time.time_ns()}"
        # The lock before the folder: a folder never exists unlocked while its server lives.
        self._lock_fd = os.open(_lock_path(self.directory), os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_SH)
        self.directory.mkdir()
        self._lock = threading.Lock()
        self._number = 0
        self._size = 0
        self._fd: int | None = self._open(0)

    def _open(self, number: int) -> int:
        return os.open(
            _segment(self.directory, number), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600
        )

    def append(self, data: bytes) -> None:
        """Append one record; on return it survives the death of every process."""
        header = LENGTH.pack(len(data))
        with self._lock:
            if self._fd is None:  # a request answered after the server stopped recording
                raise OSError(errno.EBADF, "the record log is closed")
            written = os.writev(self._fd, (header, data))
            if written != len(header) + len(data):  # only a full disk cuts a write short
                raise OSError(f"the record log took {written} of {len(header) + len(data)} bytes")
            self._size += written
            if self._size >= SEGMENT_BYTES:
                # Next segment first: the reader takes its existence as "the last one is done".
                fd = self._open(self._number + 1)
                os.close(self._fd)
                self._fd, self._number, self._size = fd, self._number + 1, 0

    def close(self) -> None:
        """Stop appending (the writer still drains the log, then deletes it)."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
        os.close(self._lock_fd)


class LogTail:
    """The writer's side: the records appended since the last call, in order, and the
    deletion of segments whose records the Table holds."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._number = 0
        self._offset = 0
        self._buffer = bytearray()
        self._done: list[Path] = []  # complete segments, read to the end

    def take(self) -> list[bytes]:
        """Every complete record appended since the last call (an incomplete one waits)."""
        records: list[bytes] = []
        while True:
            path = _segment(self.directory, self._number)
            following = _segment(self.directory, self._number + 1).exists()
            try:
                with path.open("rb") as segment:
                    segment.seek(self._offset)
                    while chunk := segment.read(_READ_BYTES):
                        self._offset += len(chunk)
                        self._buffer += chunk
                        records += self._complete()
            except FileNotFoundError:
                return records
            if not following:
                return records
            if self._buffer:
                log.warning("%s ends with a record cut short by a crash; skipped", path)
                self._buffer.clear()
            self._done.append(path)
            self._number, self._offset = self._number + 1, 0

    def release(self) -> None:
        """Delete the complete segments read so far: call once their records are written."""
        for path in self._done:
            path.unlink(missing_ok=True)
        self._done.clear()

    def remove(self) -> None:
        """Delete the whole log (the server is gone and every record was read)."""
        if self._buffer:
            log.warning("%s ends with a record cut short by a crash; skipped", self.directory)
        shutil.rmtree(self.directory, ignore_errors=True)
        _lock_path(self.directory).unlink(missing_ok=True)

    def _complete(self) -> list[bytes]:
        records: list[bytes] = []
        at = 0
        buffer = self._buffer
        while len(buffer) - at >= LENGTH.size:
            (length,) = LENGTH.unpack_from(buffer, at)
            end = at + LENGTH.size + length
            if end > len(buffer):
                break
            records.append(bytes(buffer[at + LENGTH.size : end]))
            at = end
        del buffer[:at]
        return records


def orphans(root: Path) -> Iterator[tuple[Path, int]]:
    """Logs left by servers that died, each with its lock held exclusively by the caller
    (release it after ``LogTail.remove``): no live server or writer holds them."""
    if not root.is_dir():
        return
    for directory in sorted(p for p in root.iterdir() if p.is_dir()):
        fd = hold_lock(directory, exclusive=True)
        if fd is not None:
            yield directory, fd
