"""The DynamoDB table's own promises, on moto (the shared contract is in contracts/)."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from conveyor.aws.clients import clear_clients, client
from conveyor.config import Settings
from conveyor.errors import AlreadyExists, BackendUnavailable, InvalidInput
from conveyor.tables.dynamodb import MAX_ITEM_BYTES, DynamoDbTable, create_table
from conveyor.wiring import build_table

NAME = "conveyor-unit"


@pytest.fixture
def table() -> Iterator[DynamoDbTable]:
    clear_clients()
    with mock_aws():
        create_table(NAME)
        yield DynamoDbTable(NAME)
    clear_clients()


def _raw(pk: str, sk: str) -> dict[str, Any]:
    found = client("dynamodb").get_item(TableName=NAME, Key={"pk": {"S": pk}, "sk": {"S": sk}})
    item: dict[str, Any] = found["Item"]
    return item


def test_a_dynamodb_uri_builds_the_table_named_in_it() -> None:
    table = build_table(Settings(table_uri="dynamodb://conveyor-prod"))

    assert isinstance(table, DynamoDbTable)
    assert table.name == "conveyor-prod"


def test_the_table_pickles_without_its_client() -> None:
    table = DynamoDbTable("t", region="eu-west-1", endpoint_url="http://localhost:8000")

    copy = pickle.loads(pickle.dumps(table))

    assert (copy.name, copy.region, copy.endpoint_url) == (
        "t",
        "eu-west-1",
        "http://localhost:8000",
    )


def test_an_item_over_400_kb_is_refused_naming_the_limit(table: DynamoDbTable) -> None:
    with pytest.raises(InvalidInput, match="400 KB"):
        table.put({"pk": "big", "sk": "1", "blob": "x" * MAX_ITEM_BYTES})
    with pytest.raises(InvalidInput, match="400 KB"):
        table.put_many([{"pk": "big", "sk": "2"}, {"pk": "big", "sk": "3", "b": "x" * 500_000}])

    assert table.query("big") == []
    table.put({"pk": "big", "sk": "4", "blob": "x" * 300_000})  # under the limit is fine


def test_expires_at_is_also_a_native_number_for_ttl(table: DynamoDbTable) -> None:
    table.put({"pk": "p", "sk": "1", "expires_at": 1_900_000_000.5})
    table.put({"pk": "p", "sk": "2", "expires_at": "not a number"})

    assert _raw("p", "1")["expires_at"] == {"N": "1900000000"}
    assert "expires_at" not in _raw("p", "2")
    assert table.get("p", "1") == {"pk": "p", "sk": "1", "expires_at": 1_900_000_000.5}


def test_a_range_drops_the_item_on_its_exclusive_upper_end(table: DynamoDbTable) -> None:
    # DynamoDB's BETWEEN includes its upper end; the port's ranges do not.
    table.put_many([{"pk": "r", "sk": sk} for sk in ["a", "b", "c", "d"]])

    assert [i["sk"] for i in table.query("r", sk_gte="a", sk_lt="c")] == ["a", "b"]
    assert [i["sk"] for i in table.query("r", sk_gte="a", sk_lt="d", descending=True, limit=2)] == [
        "c",
        "b",
    ]
    assert table.count("r", sk_gte="a", sk_lt="c") == 2
    assert table.count("r", sk_gte="c", sk_lt="c") == 0
    assert table.query("r", sk_gte="d", sk_lt="b") == []
    assert [b for c in table.query_json("r", sk_gte="b", sk_lt="d") for b in c] == [
        b'{"pk":"r","sk":"b"}',
        b'{"pk":"r","sk":"c"}',
    ]


def test_query_and_count_page_through_large_partitions(table: DynamoDbTable) -> None:
    # Over 1 MB in one partition: DynamoDB answers in pages.
    table.put_many([{"pk": "big", "sk": f"{n:03d}", "pad": "x" * 10_000} for n in range(150)])

    assert len(table.query("big")) == 150
    assert table.count("big") == 150
    assert len(table.query("big", limit=120)) == 120


def test_put_many_lets_the_later_of_two_items_with_one_key_win(table: DynamoDbTable) -> None:
    assert table.put_many([{"pk": "d", "sk": "1", "v": 1}, {"pk": "d", "sk": "1", "v": 2}]) == 2

    assert table.get("d", "1") == {"pk": "d", "sk": "1", "v": 2}


def test_if_match_compares_values_as_the_local_table_does(table: DynamoDbTable) -> None:
    table.put({"pk": "m", "sk": "1", "n": 1, "meta": {"a": [1, 2]}})

    table.put({"pk": "m", "sk": "1", "n": 2}, if_match={"n": 1.0, "meta": {"a": [1, 2]}})
    with pytest.raises(AlreadyExists, match="n differ"):
        table.put({"pk": "m", "sk": "1", "n": 3}, if_match={"n": 1})
    with pytest.raises(InvalidInput):
        table.put({"pk": "m", "sk": "1"}, if_not_exists=True, if_match={"n": 2})


def test_unprocessed_items_are_sent_again(
    table: DynamoDbTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = client("dynamodb").batch_write_item
    calls: list[int] = []

    def throttled_once(**kwargs: Any) -> dict[str, Any]:
        requests = kwargs["RequestItems"][NAME]
        calls.append(len(requests))
        if len(calls) == 1:  # write the first half, hand back the rest
            half = len(requests) // 2
            real(RequestItems={NAME: requests[:half]})
            return {"UnprocessedItems": {NAME: requests[half:]}}
        return real(**kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(client("dynamodb"), "batch_write_item", throttled_once)
    monkeypatch.setattr("conveyor.tables.dynamodb.time.sleep", lambda _: None)

    assert table.put_many([{"pk": "u", "sk": f"{n:02d}"} for n in range(30)]) == 30
    assert calls == [25, 13, 5]
    assert table.count("u") == 30


def test_throttling_and_a_missing_table_are_backend_unavailable(
    table: DynamoDbTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(BackendUnavailable, match="no-such-table"):
        DynamoDbTable("no-such-table").get("a", "1")

    def throttle(**_: Any) -> None:
        error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}}
        raise ClientError(error, "PutItem")

    monkeypatch.setattr(client("dynamodb"), "put_item", throttle)
    with pytest.raises(BackendUnavailable, match="ProvisionedThroughputExceeded"):
        table.put({"pk": "a", "sk": "1"})
