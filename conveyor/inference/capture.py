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

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

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


def capture_lines(values: Sequence[Any]) -> list[bytes]:
    """The capture lines (without newlines) of one PendingRecord as decoded from JSON."""
    return record_lines(values, request_rows(values), record_micros(values[1]))


def request_rows(values: Sequence[Any]) -> list[Any] | None:
    """The request's rows, when it was answered 200 and they were captured."""
    request, status = values[5], values[7]
    rows = request.get("instances") if status == _OK and isinstance(request, dict) else None
    return rows if rows and isinstance(rows, list) else None


def record_lines(values: Sequence[Any], rows: list[Any] | None, at: int) -> list[bytes]:
    """The capture lines of one PendingRecord whose ``rows`` (``request_rows``) were
    answered at ``at`` (``record_micros``)."""
    _, _, _, version, _, _, outputs, status, _ = values
    if rows is None:
        return [orjson.dumps({"__t": at, "__v": version, "__s": status, "__k": 1, "__r": 0})]
    scores, values_ = _scores(outputs, len(rows))
    lines = []
    for i, row in enumerate(rows):
        meta = orjson.dumps(
            {
                "__t": at,
                "__v": version,
                "__s": status,
                "__k": 1 if i == 0 else 0,
                "__r": 1,
                "__p": scores[i],
                "__y": values_[i],
            }
        )
        body = orjson.dumps(row)
        # Splice rather than merge: the meta object, then the row's members after its brace.
        lines.append(meta if body == b"{}" else meta[:-1] + b"," + body[1:])
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
