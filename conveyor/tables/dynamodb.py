"""The Table port on one DynamoDB table (``dynamodb://<table-name>``).

Key schema: ``pk`` (HASH, S) + ``sk`` (RANGE, S). Every item is stored as its key plus
``body``, the item's JSON text exactly as the SQLite table stores it. DynamoDB's own
numbers cannot carry the contract's values (38 significant digits, exponents -130..125, no
``-0.0``, ``1.0`` read back as ``1``), so the JSON text is the one lossless form; it also
makes ``query_json`` a plain read. ``expires_at``, when a number, is copied to a native
attribute of that name so DynamoDB's TTL can expire the item.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from conveyor.aws.clients import client
from conveyor.aws.errors import raise_translated, rule
from conveyor.errors import AlreadyExists, BackendUnavailable, InvalidInput
from conveyor.tables import Item
from conveyor.tables.items import check_key, check_partition, decode_item, encode_item, prefix_end

if TYPE_CHECKING:
    from conveyor.config import Settings
    from conveyor.ports import PortsSoFar

MAX_ITEM_BYTES = 400 * 1024  # DynamoDB's item size limit, names and values together
_BATCH = 25  # BatchWriteItem's most items per request
_TTL_ATTRIBUTE = "expires_at"
_CONDITION_FAILED = "ConditionalCheckFailedException"


class DynamoDbTable:
    """A conveyor table on the DynamoDB table ``name`` (made by ``create_table`` or the
    deployment template)."""

    scheme = "dynamodb"

    def __init__(
        self, name: str, *, region: str | None = None, endpoint_url: str | None = None
    ) -> None:
        if not name:
            raise InvalidInput("a DynamoDB table URI needs a name: dynamodb://<table>", field="uri")
        self.name = name
        self.region = region
        self.endpoint_url = endpoint_url

    @classmethod
    def from_settings(cls, uri: str, settings: Settings, ports_so_far: PortsSoFar) -> DynamoDbTable:
        """The table of ``dynamodb://<table-name>``, in the settings' AWS region and endpoint."""
        return cls(
            uri.split("://", 1)[1].strip("/"),
            region=settings.aws.region,
            endpoint_url=settings.aws.endpoint_url,
        )

    def __reduce__(self) -> tuple[type[DynamoDbTable], tuple[str], dict[str, Any]]:
        # Clients stay behind: a copy in another process makes its own.
        state = {"region": self.region, "endpoint_url": self.endpoint_url}
        return (DynamoDbTable, (self.name,), state)

    @property
    def _client(self) -> Any:
        return client("dynamodb", region=self.region, endpoint_url=self.endpoint_url)

    def put(
        self, item: Item, *, if_not_exists: bool = False, if_match: dict[str, Any] | None = None
    ) -> None:
        if if_not_exists and if_match is not None:
            raise InvalidInput(
                "put with both if_not_exists and if_match can never succeed; pass one",
                field="if_match",
            )
        pk, sk, body = encode_item(item)
        record = _record(item, pk, sk, body)
        if if_match is not None:
            self._put_if_match(pk, sk, record, if_match)
            return
        extra: dict[str, Any] = {}
        if if_not_exists:
            extra["ConditionExpression"] = "attribute_not_exists(pk)"
        try:
            self._call("write an item", "put_item", TableName=self.name, Item=record, **extra)
        except _ConditionFailed as exc:
            raise AlreadyExists(f"an item with pk={pk!r} sk={sk!r} already exists") from exc

    def get(self, pk: str, sk: str) -> Item | None:
        body = self._get_body(check_key(pk, "pk"), check_key(sk, "sk"))
        return None if body is None else decode_item(body)

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
        check_key(pk, "pk")
        if limit is not None and limit < 0:
            raise InvalidInput(f"limit must be 0 or more, not {limit}", field="limit")
        lower = _highest(sk_prefix or None, sk_gte)
        upper = _lowest(prefix_end(sk_prefix) if sk_prefix else None, sk_lt)
        if limit == 0:
            return []
        items: list[Item] = []
        for body in self._bodies(pk, lower, upper, descending=descending, limit=limit):
            items.append(decode_item(body))
            if limit is not None and len(items) == limit:
                break
        return items

    def query_json(
        self,
        pk: str,
        *,
        sk_gte: str | None = None,
        sk_lt: str | None = None,
        chunk_items: int = 65536,
    ) -> Iterator[list[bytes]]:
        check_key(pk, "pk")
        if chunk_items < 1:
            raise InvalidInput(
                f"chunk_items must be 1 or more, not {chunk_items}", field="chunk_items"
            )
        return self._json_chunks(pk, sk_gte, sk_lt, chunk_items)

    def count(self, pk: str, *, sk_gte: str | None = None, sk_lt: str | None = None) -> int:
        check_key(pk, "pk")
        request = _key_condition(self.name, pk, sk_gte, sk_lt)
        if request is None:
            return 0
        total = 0
        for page in self._pages("count items", {**request, "Select": "COUNT"}):
            total += int(page["Count"])
        if sk_lt is not None and sk_gte is not None:
            # BETWEEN includes its upper end; one item can sit exactly on it.
            total -= int(self._get_body(pk, sk_lt) is not None)
        return total

    def delete(self, pk: str, sk: str) -> None:
        key = {"pk": {"S": check_key(pk, "pk")}, "sk": {"S": check_key(sk, "sk")}}
        self._call("delete an item", "delete_item", TableName=self.name, Key=key)

    def delete_partition(self, pk: str) -> int:
        check_partition(pk)
        request = _key_condition(self.name, pk, None, None)
        if request is None:
            return 0
        request["ProjectionExpression"] = "pk, sk"
        keys = [
            {"pk": found["pk"], "sk": found["sk"]}
            for page in self._pages("list a partition's keys", request)
            for found in page.get("Items", [])
        ]
        for start in range(0, len(keys), _BATCH):
            batch = keys[start : start + _BATCH]
            self._write_batch([{"DeleteRequest": {"Key": key}} for key in batch])
        return len(keys)

    def put_many(self, items: Iterable[Item], *, from_json: bool = False) -> int:
        # Every item is checked before the first batch is sent: a bad one writes nothing.
        records = []
        for item in items:
            pk, sk, body = encode_item(item, checked=from_json)
            records.append(_record(item, pk, sk, body))
        for start in range(0, len(records), _BATCH):
            # A request may not name one key twice; as in SQLite, the later item wins.
            batch = {(r["pk"]["S"], r["sk"]["S"]): r for r in records[start : start + _BATCH]}
            self._write_batch([{"PutRequest": {"Item": r}} for r in batch.values()])
        return len(records)

    def _write_batch(self, requests: list[dict[str, Any]]) -> None:
        pending: dict[str, Any] = {self.name: requests}
        for attempt in range(10):
            response = self._call("write items", "batch_write_item", RequestItems=pending)
            pending = response.get("UnprocessedItems") or {}
            if not pending:
                return
            time.sleep(min(0.05 * 2**attempt, 2.0))  # throttled: back off, then resend the rest
        raise BackendUnavailable(
            f"DynamoDB table {self.name!r} kept refusing writes (throttled); retry later"
        )

    def _put_if_match(
        self, pk: str, sk: str, record: dict[str, Any], expected: dict[str, Any]
    ) -> None:
        # Compared in Python, with SQLite's equality (1 == 1.0, nested values by value), then
        # written only if the stored JSON text is still the one compared: an optimistic write
        # that is atomic on the server. Losing to a concurrent writer means compare again.
        missing = object()
        while True:
            stored_body = self._get_body(pk, sk)
            if stored_body is None:
                raise AlreadyExists(
                    f"conditional put failed: no item with pk={pk!r} sk={sk!r} to match"
                )
            stored = decode_item(stored_body)
            changed = sorted(k for k, v in expected.items() if stored.get(k, missing) != v)
            if changed:
                raise AlreadyExists(
                    f"conditional put failed: item pk={pk!r} sk={sk!r} was changed by someone "
                    f"else ({', '.join(changed)} differ); read it again and retry"
                )
            try:
                self._call(
                    "write an item",
                    "put_item",
                    TableName=self.name,
                    Item=record,
                    ConditionExpression="body = :stored",
                    ExpressionAttributeValues={":stored": {"S": stored_body}},
                )
                return
            except _ConditionFailed:
                continue

    def _get_body(self, pk: str, sk: str) -> str | None:
        response = self._call(
            "read an item",
            "get_item",
            TableName=self.name,
            Key={"pk": {"S": pk}, "sk": {"S": sk}},
            ConsistentRead=True,
            ProjectionExpression="body",
        )
        found = response.get("Item")
        return None if found is None else str(found["body"]["S"])

    def _bodies(
        self,
        pk: str,
        lower: str | None,
        upper: str | None,
        *,
        descending: bool = False,
        limit: int | None = None,
    ) -> Iterator[str]:
        """The JSON texts of one partition's ``[lower, upper)``, page by page."""
        request = _key_condition(self.name, pk, lower, upper)
        if request is None:
            return
        request["ScanIndexForward"] = not descending
        request["ProjectionExpression"] = "sk, body"
        between = lower is not None and upper is not None
        if limit is not None:
            request["Limit"] = limit + int(between)  # room for an item on BETWEEN's upper end
        for page in self._pages("query items", request):
            for found in page.get("Items", []):
                if between and found["sk"]["S"] == upper:
                    continue
                yield str(found["body"]["S"])

    def _json_chunks(
        self, pk: str, sk_gte: str | None, sk_lt: str | None, chunk_items: int
    ) -> Iterator[list[bytes]]:
        chunk: list[bytes] = []
        for body in self._bodies(pk, sk_gte, sk_lt):
            chunk.append(body.encode())
            if len(chunk) == chunk_items:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def _pages(self, action: str, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        start: dict[str, Any] | None = None
        while True:
            page = self._call(
                action, "query", **request, **({"ExclusiveStartKey": start} if start else {})
            )
            yield page
            start = page.get("LastEvaluatedKey")
            if not start:
                return

    def _call(self, action: str, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response: dict[str, Any] = getattr(self._client, operation)(**kwargs)
        except Exception as exc:
            raise_translated(
                exc,
                _RULES,
                refused=f"DynamoDB table {self.name!r} refused to {action}",
                unreachable=f"could not {action} in DynamoDB table {self.name!r}",
            )
        return response


class _ConditionFailed(Exception):
    """A ``ConditionExpression`` was false; the caller says what that means."""


_RULES = (
    rule(_ConditionFailed, _CONDITION_FAILED),
    rule(InvalidInput, "ValidationException", field="item"),
)


def create_table(name: str, *, region: str | None = None, endpoint_url: str | None = None) -> None:
    """Create the DynamoDB table ``name`` with conveyor's key schema (on-demand billing) and
    wait until it is active. Backups and TTL settings are the deployment template's job."""
    dynamodb = client("dynamodb", region=region, endpoint_url=endpoint_url)
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.get_waiter("table_exists").wait(TableName=name)


def _record(item: Item, pk: str, sk: str, body: str) -> dict[str, Any]:
    record: dict[str, Any] = {"pk": {"S": pk}, "sk": {"S": sk}, "body": {"S": body}}
    size = 2 + len(pk.encode()) + 2 + len(sk.encode()) + 4 + len(body.encode())
    expires = item.get(_TTL_ATTRIBUTE)
    if type(expires) in (int, float):
        # TTL reads epoch seconds from a native number; the body keeps the exact value.
        number = str(Decimal(repr(expires)).to_integral_value())
        record[_TTL_ATTRIBUTE] = {"N": number}
        size += len(_TTL_ATTRIBUTE) + len(number)
    if size > MAX_ITEM_BYTES:
        raise InvalidInput(
            f"item pk={pk!r} sk={sk!r} is {size} bytes as stored; DynamoDB's limit is "
            f"{MAX_ITEM_BYTES} bytes (400 KB) per item",
            field="item",
        )
    return record


def _key_condition(
    table: str, pk: str, lower: str | None, upper: str | None
) -> dict[str, Any] | None:
    """Query arguments for one partition's ``[lower, upper)``; ``None`` when it is empty.

    DynamoDB allows one sort-key condition and its BETWEEN includes the upper end, so a
    two-sided range is BETWEEN and the caller drops an item exactly on ``upper``.
    """
    for value in (lower, upper):
        if value is not None:
            check_key(value, "sk")
    values: dict[str, Any] = {":pk": {"S": pk}}
    condition = "pk = :pk"
    if lower is not None and upper is not None:
        if lower >= upper:  # code point order is DynamoDB's UTF-8 byte order
            return None
        condition += " AND sk BETWEEN :lower AND :upper"
        values[":lower"], values[":upper"] = {"S": lower}, {"S": upper}
    elif lower is not None:
        condition += " AND sk >= :lower"
        values[":lower"] = {"S": lower}
    elif upper is not None:
        condition += " AND sk < :upper"
        values[":upper"] = {"S": upper}
    return {
        "TableName": table,
        "KeyConditionExpression": condition,
        "ExpressionAttributeValues": values,
        "ConsistentRead": True,
    }


def _highest(first: str | None, second: str | None) -> str | None:
    # Code point order is UTF-8 byte order, DynamoDB's order for strings.
    if first is None or second is None:
        return first if second is None else second
    return max(first, second)


def _lowest(first: str | None, second: str | None) -> str | None:
    if first is None or second is None:
        return first if second is None else second
    return min(first, second)
