"""Data capture: the rows of the requests served, as typed columns in the object store.

The Table keeps one item per request (about 1 KB of nested JSON); a drift check over a
million of them spends most of its time cutting rows out of items. The record writer also
writes every record's rows (``conveyor.serving.capture.CaptureWriter``) to the ``capture``
bucket, so that a drift check reads them with one polars read per object
(``conveyor.monitoring.drift.window``). Each row becomes a line, a flat JSON object; at a
flush a project's lines become one Parquet object, typed from their JSON
(``capture_format``).

Each line is a request row with these reserved meta keys in front of its own:

``__t``
    the record's time in microseconds since the epoch (UTC): the instant of the Table item's
    sort key, to the microsecond, so that a window selects exactly the Table's records.
``__v``
    the model version that answered (null when none did).
``__s``
    the HTTP status of the answer.
``__k``
    1 on a record's first line, else 0: their sum over a window is its number of records,
    compared with the Table's count before the capture is trusted.
``__r``
    1 when the line holds a request row (the record was answered 200 and its inputs were
    captured), else 0. A record without rows still has one line, of meta keys only.
``__p``
    the row's probability score for drift: the positive class's (two classes) or the top
    class's (more); null without probabilities.
``__y``
    the row's predicted value when it is a number (regression); else null.

Keys starting with ``__`` are reserved: a feature must not be named so. The meta keys come
first because a JSON reader keeping the first of two equal keys (polars does) must not let a
row's own ``"__s"`` pass for the record's.

Objects are ``capture/<project>/<YYYYMMDDHH>/<first>_<last>_<pid>-<seq>.parquet``: the hour of
the earliest record, then the earliest and latest record times (``20261201T142856.123456Z``),
so a reader lists a few hours and keeps the objects overlapping its window from their keys.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from conveyor.inference.records import PendingRecord, request_cut
from conveyor.inference.request_json import Cut, decoded_rows, row_keys

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_OK = 200
_STAMP = "%Y%m%dT%H%M%S.%fZ"


def micros(moment: datetime) -> int:
    """``moment`` in whole microseconds since the epoch, exactly (no float rounding)."""
    return (moment - _EPOCH) // _MICROSECOND


def from_micros(microseconds: int) -> datetime:
    return _EPOCH + timedelta(microseconds=microseconds)


def record_micros(unix_time: float) -> int:
    """The microsecond of a record's ``unix_time``, rounded as the Table's sort key is."""
    return micros(datetime.fromtimestamp(unix_time, UTC))


def stamp(microseconds: int) -> str:
    """A compact UTC stamp that sorts in time order and has no ':' (``20261201T142856.123456Z``)."""
    return from_micros(microseconds).strftime(_STAMP)


def parse_stamp(text: str) -> datetime:
    """The moment of a ``stamp``; ValueError when ``text`` is not one."""
    return datetime.strptime(text, _STAMP).replace(tzinfo=UTC)


def hour_prefix(project: str, microseconds: int) -> str:
    """The key prefix of the capture objects whose earliest record is in that hour."""
    return f"{project}/{from_micros(microseconds):%Y%m%d%H}/"


def capture_lines(record: PendingRecord) -> list[bytes]:
    """The capture lines (without newlines) of one record."""
    rows = request_rows(record)
    return record_lines(record, rows[0] if rows else None, record_micros(record.unix_time))


def request_rows(
    record: PendingRecord, cut: Cut | None = None
) -> tuple[list[bytes], tuple[str, ...]] | None:
    """The request's rows, each as its JSON text without its closing brace (``{...``), and
    every key they carry, when it was answered 200 and they were captured. The rows are cut
    out of the request's bytes when they can be (``cut``: ``records.request_cut``, made here
    when not given), else decoded and encoded again; the keys come from the server, else from
    the decoded rows."""
    if record.status != _OK or record.request is None or record.rows < 1:
        return None
    cut = cut or request_cut(record)
    if cut is not None and record.columns:
        return cut.rows, record.columns
    rows = decoded_rows(record.request)
    if not rows or not isinstance(rows, list):
        return None
    texts = cut.rows if cut is not None else [orjson.dumps(row)[:-1] for row in rows]
    return texts, row_keys(rows)


def record_lines(record: PendingRecord, rows: list[bytes] | None, at: int) -> list[bytes]:
    """The capture lines of one record whose ``rows`` (``request_rows``' texts) were
    answered at ``at`` (``record_micros``)."""
    version, outputs, status = record.model_version, record.outputs, record.status
    if rows is None:
        return [orjson.dumps({"__t": at, "__v": version, "__s": status, "__k": 1, "__r": 0})]
    scores, values = _scores(outputs, len(rows))
    # Each meta value as JSON, encoded a list at a time: one call per record, not per row.
    meta = orjson.dumps({"__t": at, "__v": version, "__s": status})[:-1]
    score_texts = orjson.dumps(scores)[1:-1].split(b",")
    value_texts = orjson.dumps(values)[1:-1].split(b",")
    lines = []
    for i, row in enumerate(rows):
        members = row[1:].strip(b" \t")
        # The meta keys, then the row's members after them, in one object.
        lines.append(
            b"".join(
                (
                    meta,
                    b',"__k":1,"__r":1,"__p":' if i == 0 else b',"__k":0,"__r":1,"__p":',
                    score_texts[i],
                    b',"__y":',
                    value_texts[i],
                    b"," + members + b"}" if members else b"}",
                )
            )
        )
    return lines


def _scores(outputs: Any, count: int) -> tuple[list[float | None], list[float | None]]:
    """Per row: the probability score and the numeric prediction (None where there is none).
    Outputs count only when they answer the rows one for one, as on the Table's side."""
    nothing: list[float | None] = [None] * count
    if not isinstance(outputs, dict):
        return nothing, nothing
    probabilities = outputs.get("probabilities")
    scores = nothing
    if isinstance(probabilities, list) and len(probabilities) == count:
        scores = [_probability(p) for p in probabilities]
    predictions = outputs.get("predictions")
    numbers = nothing
    if isinstance(predictions, list) and len(predictions) == count:
        numbers = [_number(v) for v in predictions]
    return scores, numbers


def _probability(row: Any) -> float | None:
    if not isinstance(row, list) or len(row) < 2:
        return None
    if len(row) == 2:
        return _number(row[1])
    numbers = [_number(v) for v in row]
    return None if None in numbers else max(v for v in numbers if v is not None)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
