"""Data capture: the rows of the requests served, as typed columns in the object store.

The Table keeps one item per request (about 1 KB of nested JSON); a drift check over a
million of them spends most of its time cutting rows out of items. The record writer also
writes every record's rows (``conveyor.serving.capture.CaptureWriter``) to the ``capture``
bucket, so that a drift check reads them with one polars read per object
(``conveyor.monitoring.drift.window``). A record's rows are kept as the JSON text they came in,
one line each, or, for a request of numeric features the server read into its model's matrix,
as that matrix's bytes (the values sent, typed); its meta values as lists (``Captured``). At a
flush a project's lines are typed from their JSON, the matrices' columns are float64 as they
are, and together they become one Parquet object, these reserved meta columns first
(``capture_format``):

``__t``
    the record's time in microseconds since the epoch (UTC): the instant of the Table item's
    sort key, to the microsecond, so that a window selects exactly the Table's records.
``__v``
    the model version that answered (null when none did).
``__s``
    the HTTP status of the answer.
``__k``
    1 on a record's first row, else 0: their sum over a window is its number of records,
    compared with the Table's count before the capture is trusted.
``__r``
    1 when the row is a request row (the record was answered 200 and its inputs were
    captured), else 0. A record without rows still has one row, of meta columns only.
``__p``
    the row's probability score for drift: the positive class's (two classes) or the top
    class's (more); null without probabilities.
``__y``
    the row's predicted value when it is a number (regression); else null.

Keys starting with ``__`` are reserved: a feature must not be named so, and a request row's
own ``__`` keys are dropped, so that its ``"__s"`` cannot pass for the record's.

Objects are ``capture/<project>/<YYYYMMDDHH>/<first>_<last>_<pid>-<seq>.parquet``: the hour of
the earliest record, then the earliest and latest record times (``20261201T142856.123456Z``),
so a reader lists a few hours and keeps the objects overlapping its window from their keys.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import orjson

from conveyor.inference.records import PendingRecord, has_matrix, request_cut
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


class Captured(NamedTuple):
    """One record's capture: its rows as JSON lines, and what its lines' meta keys hold."""

    rows: bytes  # one JSON object per line, each ending in a newline; ``{}`` for no row
    lines: int
    keys: tuple[str, ...]  # the rows' keys: the object's columns
    at: int  # __t
    version: int | None  # __v
    status: int  # __s
    captured: bool  # __r
    scores: list[float | None]  # __p, one per line
    values: list[float | None]  # __y, one per line
    # Instead of ``rows`` (then empty): the rows as float64 values, row after row in
    # ``keys``' order (``PendingRecord.matrix``).
    matrix: bytes = b""


def captured(record: PendingRecord, cut: Cut | None = None) -> Captured:
    """The capture of one record (``cut``: its rows, ``records.request_cut``, when made
    already). Its rows are copied as one piece of text and its meta values are lists: the
    record writer spends nothing per row in Python."""
    at = record_micros(record.unix_time)
    if has_matrix(record) and record.status == _OK and record.request is not None:
        scores, values = _scores(record.outputs, record.rows)
        version, status, keys = record.model_version, record.status, record.columns
        return Captured(
            b"", record.rows, keys, at, version, status, True, scores, values, record.matrix
        )
    found = request_rows(record, cut)
    if found is None:
        return Captured(b"{}\n", 1, (), at, record.model_version, record.status, False, *_NONE)
    texts, keys = found
    # Each text is a row without its closing brace (``request_rows``).
    rows = b"}\n".join(texts) + b"}\n"
    scores, values = _scores(record.outputs, len(texts))
    return Captured(
        rows, len(texts), keys, at, record.model_version, record.status, True, scores, values
    )


_NONE: tuple[list[float | None], list[float | None]] = ([None], [None])


def meta_columns(records: list[Captured]) -> dict[str, list[Any]]:
    """The meta keys' columns of ``records``' lines, in order (``capture_format.META_SCHEMA``)."""
    columns: dict[str, list[Any]] = {
        name: [] for name in ("__t", "__v", "__s", "__k", "__r", "__p", "__y")
    }
    t, v, s, k, r, p, y = columns.values()
    for record in records:
        n = record.lines
        # Lists multiplied and extended: per record in Python, per line in C.
        t += [record.at] * n
        v += [record.version] * n
        s += [record.status] * n
        k += [1] + [0] * (n - 1)
        r += [int(record.captured)] * n
        p += record.scores
        y += record.values
    return columns


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


def _scores(outputs: Any, count: int) -> tuple[list[float | None], list[float | None]]:
    """Per row: the probability score and the numeric prediction (None where there is none).
    Outputs count only when they answer the rows one for one, as on the Table's side."""
    nothing: list[float | None] = [None] * count
    if not isinstance(outputs, dict):
        return nothing, nothing
    probabilities = outputs.get("probabilities")
    scores = nothing
    if isinstance(probabilities, list) and len(probabilities) == count:
        scores = _top_scores(probabilities)
    predictions = outputs.get("predictions")
    numbers = nothing
    if isinstance(predictions, list) and len(predictions) == count:
        # The server's answers are all floats (regression) or all labels: told apart by their
        # types' set, made in C, before any value is looked at in Python.
        kinds = set(map(type, predictions))
        if kinds == {float}:
            numbers = predictions
        elif kinds <= {int, float}:  # labels that are numbers: 0 and 1 (bool is neither)
            numbers = list(map(float, predictions))
        elif not kinds <= {str, type(None)}:
            numbers = [_number(v) for v in predictions]
    return scores, numbers


def _top_scores(probabilities: list[Any]) -> list[float | None]:
    """Each row's score: the positive class's probability (two classes) or the top class's."""
    try:
        # The server's own answers: rows of floats, read with one comprehension.
        scores = [row[1] if len(row) == 2 else max(row) for row in probabilities]
        if set(map(type, scores)) == {float} and min(map(len, probabilities)) >= 2:
            return scores
    except (TypeError, IndexError):
        pass
    return [_probability(p) for p in probabilities]


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
