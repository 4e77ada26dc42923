"""The Table port: a DynamoDB-shaped key-value table (partition key + sort key).

One table holds every kind of item; the kind is in the partition key
(``project#churn``, ``runs``, ``model#churn`` …). Items are JSON-compatible dicts
whose ``pk`` and ``sk`` keys are the key. Domain code converts items to dataclasses
in its own repository module (``pipeline/runs.py``, ``registry/table.py``), never here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Protocol, runtime_checkable

Item = dict[str, Any]


@runtime_checkable
class Table(Protocol):
    scheme: str

    def put(
        self, item: Item, *, if_not_exists: bool = False, if_match: dict[str, Any] | None = None
    ) -> None:
        """Write an item, replacing any item with the same ``pk`` + ``sk``.

        Args:
            item: JSON-compatible dict with string ``pk`` and ``sk``.
            if_not_exists: only write when no item has this key.
            if_match: only write when the stored item exists and has these attribute values
                (an optimistic-concurrency check, DynamoDB's ``ConditionExpression``).
        Raises:
            AlreadyExists: ``if_not_exists`` and the key exists, or ``if_match`` failed.
            InvalidInput: the item has no string ``pk``/``sk`` or is not JSON-compatible.
            BackendUnavailable: the table could not be written.
        """
        ...

    def get(self, pk: str, sk: str) -> Item | None:
        """Read one item; ``None`` when absent."""
        ...

    def query(
        self,
        pk: str,
        *,
        sk_prefix: str = "",
        sk_gte: str | None = None,
        sk_lt: str | None = None,
        descending: bool = False,
        limit: int | None = None,
    ) -> list[Item]:
        """Items of one partition ordered by ``sk`` (ascending unless ``descending``).

        Args:
            pk: the partition.
            sk_prefix: keep sort keys starting with this.
            sk_gte / sk_lt: keep sort keys in ``[sk_gte, sk_lt)``.
            limit: at most this many items.
        """
        ...

    def query_json(
        self,
        pk: str,
        *,
        sk_gte: str | None = None,
        sk_lt: str | None = None,
        chunk_items: int = 65536,
    ) -> Iterator[list[bytes]]:
        """The items of one key range as their JSON text, for readers that parse many items
        at once (``polars.read_ndjson``) instead of one dict at a time.

        Args:
            pk: the partition.
            sk_gte / sk_lt: keep sort keys in ``[sk_gte, sk_lt)``.
            chunk_items: at most this many items per chunk.
        Returns:
            Chunks (lists) of items, each item one JSON object as UTF-8 bytes without a
            newline, in ascending ``sk`` order; the range is read lazily, chunk by chunk.
        Raises:
            InvalidInput: a key is not a string, or ``chunk_items`` is below 1.
            BackendUnavailable: the table could not be read.
        """
        ...

    def count(self, pk: str, *, sk_gte: str | None = None, sk_lt: str | None = None) -> int:
        """The number of items of one partition with sort keys in ``[sk_gte, sk_lt)``, without
        reading them.

        Raises:
            InvalidInput: a key is not a string.
            BackendUnavailable: the table could not be read.
        """
        ...

    def delete(self, pk: str, sk: str) -> None:
        """Delete an item; a missing item is not an error."""
        ...

    def delete_partition(self, pk: str) -> int:
        """Delete every item of one partition (a deleted project's records, say).

        Returns:
            How many items were deleted; 0 for an empty or unknown partition.
        Raises:
            InvalidInput: ``pk`` is not a non-empty string.
            BackendUnavailable: the table could not be written.
        """
        ...

    def put_many(self, items: Iterable[Item], *, from_json: bool = False) -> int:
        """Write many items in as few round trips as the backend allows; returns the count.

        ``from_json``: the items were just decoded from JSON, so they round-trip as they are
        and the check for values JSON cannot hold (which walks every value) is skipped.

        Raises:
            InvalidInput / BackendUnavailable: as ``put``.
        """
        ...
