"""Request ids a server can tell from made-up ones without reading a record.

An id is 40 lowercase hex characters: the issue time (unix seconds, 8), 64 random bits (16),
and a tag (16): keyed BLAKE2s over the project and those 24 characters. So ``/feedback`` knows
in microseconds that an id was issued for this project, even while its record is still in the
record writer's log, on another worker, or in another Lambda container; a typo, a made-up id
or another project's id does not verify. BLAKE2's keyed mode is a MAC in its own right (no
HMAC construction needed) and, with the key's state copied per project, costs about what the
``os.urandom`` call it replaces did.

The key is one item of the Table (``KEY_PK``/``KEY_SK``), made on first use with a
conditional put: every worker, the Lambda functions and a restarted server share it with no
setting to configure or copy. Whoever can read the table could forge an id, but could as well
write feedback items directly: the tag guards against mistakes, not against the table's owner.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import random
import threading
import time
from contextlib import suppress

from conveyor.errors import AlreadyExists, BackendUnavailable, ConveyorError
from conveyor.tables import Table

log = logging.getLogger("conveyor.serving")

KEY_PK = "config"
KEY_SK = "request-id-key"
ID_LENGTH = 40
_BODY = 24  # the issue time's 8 hex characters and 16 random ones
_PERSON = b"reqid1"  # BLAKE2's personalisation: a tag of this kind and format only
_MAX_PROJECTS = 1024  # tag states kept; /predict may be called with any project name
_RETRY_SECONDS = 30.0  # after a failed read of the key, not on every request


class RequestIds:
    """Issues and verifies the request ids of one deployment (the key in ``table``)."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self._key: bytes | None = None
        # project -> a BLAKE2s state keyed and fed the project, copied for each id
        self._tags: dict[str, hashlib.blake2s] = {}
        self._lock = threading.Lock()
        self._bits = random.getrandbits  # reseeded in a forked child by CPython itself
        self._time = time.time
        self._retry_at = 0.0

    def load(self) -> bytes:
        """Read (or make) the key now, so the first request does not; returns it.

        Raises:
            BackendUnavailable: the table could not be read or written.
        """
        with self._lock:
            if self._key is None:
                self._key = _load_key(self.table)
            return self._key

    def issue(self, project: str) -> str:
        """A new request id for ``project``; a random one, unverifiable, when the key cannot
        be read (the table is down: predictions go on, their feedback is looked up)."""
        tag = self._tags.get(project) or self._tag(project)
        body = f"{int(self._time()):08x}{self._bits(64):016x}"
        if tag is None:
            return os.urandom(16).hex()
        mac = tag.copy()
        mac.update(body.encode())
        return body + mac.hexdigest()

    def verify(self, project: str, request_id: str) -> bool:
        """Whether ``request_id`` was issued by this deployment for ``project``.

        Raises:
            BackendUnavailable: the key could not be read.
        """
        if len(request_id) != ID_LENGTH or not request_id.isascii():
            return False
        self.load()
        tag = self._tags.get(project) or self._tag(project)
        if tag is None:
            return False
        mac = tag.copy()
        mac.update(request_id[:_BODY].encode())
        return hmac.compare_digest(mac.hexdigest(), request_id[_BODY:])

    def _tag(self, project: str) -> hashlib.blake2s | None:
        key = self._key
        if key is None:
            if self._time() < self._retry_at:
                return None
            try:
                key = self.load()
            except ConveyorError:
                self._retry_at = self._time() + _RETRY_SECONDS
                log.exception("request ids are not signed: their key could not be read")
                return None
        if len(self._tags) >= _MAX_PROJECTS:
            self._tags.clear()
        tag = hashlib.blake2s(project.encode(), digest_size=8, key=key, person=_PERSON)
        self._tags[project] = tag
        return tag


def _load_key(table: Table) -> bytes:
    item = table.get(KEY_PK, KEY_SK)
    if item is None:
        # Another worker may make it first: then theirs is the key.
        with suppress(AlreadyExists):
            table.put({"pk": KEY_PK, "sk": KEY_SK, "key": os.urandom(32).hex()}, if_not_exists=True)
        item = table.get(KEY_PK, KEY_SK)
    if item is None:  # written, then gone: a table that loses writes
        raise BackendUnavailable("the request-id key could not be kept in the table")
    return bytes.fromhex(item["key"])
