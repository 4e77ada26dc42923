"""A recorded request's rows, cut out of its bytes, read back as the decoded body's rows: in
the Table item and in the capture lines, for every spelling a client may send, and decoded
where a cut would not be certain."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from conveyor.inference.capture import Captured, captured
from conveyor.inference.records import (
    PendingRecord,
    pending_item,
    read_frame,
    record_frame,
)
from conveyor.inference.request_json import cut
from conveyor.tables.items import decode_item, encode_item

ROWS = [{"age": 42, "plan": "pro"}, {"age": 7.5, "plan": None}]
BODIES = {
    "compact": b'{"instances":[{"age":42,"plan":"pro"},{"age":7.5,"plan":null}]}',
    "spaced": b' { "instances" : [ {"age": 42, "plan": "pro"}, {"age": 7.5, "plan": null} ] } ',
    "escaped": b'{"instances":[{"age":42,"plan":"\\u0070ro"},{"age":7.5e0,"plan":null}]}',
}
# Bodies the cut must refuse (they are decoded instead), and why.
UNCUT = {
    "line breaks": b'{"instances": [\n {"age": 42, "plan": "pro"},\n {"age": 7.5, "plan": null}]}',
    "a brace in a string": b'{"instances":[{"age":42,"plan":"p}ro"},{"age":7.5,"plan":null}]}',
    "the key twice": b'{"instances":[],"instances":[{"age":42,"plan":"pro"},{"age":7.5}]}',
    "an escaped key": b'{"\\u0069nstances":[{"age":42,"plan":"pro"},{"age":7.5,"plan":null}]}',
    "the key twice, both with rows": b'{"instances":[{"age":1}],"instances":[{"age":42},{}]}',
    "a nested value": b'{"instances":[{"age":42,"plan":{"p":1}},{"age":7.5,"plan":null}]}',
}


def _record(body: bytes, rows: list[dict[str, Any]], columns: tuple[str, ...]) -> PendingRecord:
    outputs = {"predictions": [1] * len(rows), "probabilities": [[0.2, 0.8]] * len(rows)}
    record = PendingRecord(
        "churn", 1_772_357_415.25, "req-1", 3, 1.5, outputs, 200, None, body, len(rows), columns
    )
    return read_frame(record_frame(record))  # through the record log, as the writer reads it


def _stored(record: PendingRecord) -> dict[str, Any]:
    """The item as the Table stores and reads it back."""
    return decode_item(encode_item(pending_item(record), checked=True)[2])


def _lines(capture: Captured) -> list[Any]:
    return [orjson.loads(line) for line in capture.rows.splitlines()]


@pytest.mark.parametrize("body", [*BODIES.values(), *UNCUT.values()], ids=[*BODIES, *UNCUT])
def test_the_item_and_the_capture_read_back_the_decoded_rows(body: bytes) -> None:
    rows = orjson.loads(body)["instances"]
    decoded = orjson.dumps({"instances": rows})
    record = _record(body, rows, ("age", "plan"))

    assert _stored(record)["inputs"] == rows
    assert _lines(captured(record)) == _lines(captured(_record(decoded, rows, ("age", "plan"))))


@pytest.mark.parametrize("rows", [True, False], ids=["rows", "span only"])
@pytest.mark.parametrize("body", list(BODIES.values()), ids=list(BODIES))
def test_a_plain_body_is_cut_without_decoding(body: bytes, rows: bool) -> None:
    whole = cut(body, len(ROWS))
    found = cut(body, len(ROWS), rows=rows)

    assert whole is not None and found is not None
    assert orjson.loads(found.span) == ROWS and found.span == whole.span
    assert len(found.rows) == (len(ROWS) if rows else 0)


@pytest.mark.parametrize("body", list(UNCUT.values())[1:], ids=list(UNCUT)[1:])
def test_a_body_the_cut_would_get_wrong_is_left_to_the_decoder(body: bytes) -> None:
    assert cut(body, len(orjson.loads(body)["instances"])) is None


@pytest.mark.parametrize("body", list(UNCUT.values())[1:], ids=list(UNCUT)[1:])
def test_a_span_is_the_keys_one_value_or_none(body: bytes) -> None:
    rows = orjson.loads(body)["instances"]
    found = cut(body, len(rows), rows=False)

    assert found is None or orjson.loads(found.span) == rows
    if b"nstances" in body[12:] or b"]," in body:  # a second value: never taken for the rows
        assert found is None


def test_a_span_followed_by_another_key_is_none() -> None:
    assert cut(b'{"instances":[{"age":42}],"x":[1]}', 1, rows=False) is None


def test_a_matrix_comes_back_from_the_log_and_the_frame_still_ends_as_json() -> None:
    matrix = b"\n\x00" * 4 + b"\x00" * 24  # a line break inside, a zero last: 4 float64s
    record = _record(BODIES["compact"], ROWS, ("age", "x"))._replace(matrix=matrix)

    frame = record_frame(record)

    assert read_frame(frame) == record
    assert frame.endswith(b"}")  # a frame's last byte is never zero (record_log)
    assert _stored(read_frame(frame))["inputs"] == ROWS


def test_a_frame_of_the_last_version_reads_without_a_matrix() -> None:
    record = _record(BODIES["compact"], ROWS, ("age", "plan"))
    head = orjson.dumps((2, *record[:8], record.rows, record.columns))

    assert read_frame(head + b"\n" + BODIES["compact"]) == record
    assert read_frame(head).request is None


def test_a_record_of_an_older_log_reads_as_before() -> None:
    request = {"instances": ROWS}
    outputs = {"predictions": [1, 0]}
    old = orjson.dumps(["churn", 1.0, "req-1", 3, 1.5, request, outputs, 200, None])

    record = read_frame(old)

    assert (record.project, record.model_version, record.rows) == ("churn", 3, 2)
    assert _stored(record)["inputs"] == ROWS
    assert [line["age"] for line in _lines(captured(record))] == [42, 7.5]


def test_an_uncaptured_request_has_no_inputs() -> None:
    record = _record(BODIES["compact"], ROWS, ())._replace(request=None)

    assert _stored(read_frame(record_frame(record)))["inputs"] is None
