"""Request ids a server can tell from made-up ones without reading a record.

An id is a body and a tag, the tag its last 16 hex characters: keyed BLAKE2s over the project
and the body (64 bits). The model server's body is 96 random bits (24 hex characters: ids are
40 lowercase hex characters); the Lambda function's is API Gateway's request id and a dash,
so its access log still finds the request. ``/feedback`` so knows in microseconds that an id
was issued for this project, even while its record is still in the record writer's log, on
another worker, or in another Lambda container; a typo, a made-up id or another project's id
does not verify. BLAKE2's keyed mode is a MAC in its own right (no HMAC construction needed)
and, with the keyed state copied per project, an id costs what the ``os.urandom(16)`` call it
replaces did (no issue time in it: that took a third more, and the record has its time).

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
_TAG = 16  # hex characters
MAX_ID_LENGTH = 128  # as /feedback takes them
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

    def issue(self, project: str, unique: str = "") -> str:
        """A new request id for ``project``: a body and its tag. The body is 96 random bits,
        or ``unique`` and a dash when given (a value unique to the request, as API Gateway's
        request id). Unsigned (the body alone) when the key cannot be read: the table is
        down, predictions go on, and feedback for the id is looked up among the records."""
        tag = self._tags.get(project) or self._tag(project)
        body = f"{unique}-" if unique else self._bits(96).to_bytes(12, "big").hex()
        if tag is None:
            return unique or body
        mac = tag.copy()
        mac.update(body.encode())
        return body + mac.hexdigest()

    def verify(self, project: str, request_id: str) -> bool:
        """Whether ``request_id`` was issued by this deployment for ``project``.

        Raises:
            BackendUnavailable: the key could not be read.
        """
        if not _TAG < len(request_id) <= MAX_ID_LENGTH or not request_id.isascii():
            return False
        self.load()
        tag = self._tags.get(project) or self._tag(project)
        if tag is None:
            return False
        mac = tag.copy()
        mac.update(request_id[:-_TAG].encode())
        return hmac.compare_digest(mac.hexdigest(), request_id[-_TAG:])

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
