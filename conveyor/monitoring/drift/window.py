"""A window of inference records as columns: the live side of a drift check.

A million records do not go through a Python dict each. The Table hands over their JSON
text in chunks, and polars parses each chunk with an explicit schema built from the
version's input schema; the values are then typed by the parser preprocessing and serving
share. Reading the next chunk from the Table overlaps with parsing the current one.

polars parses flat objects about ten times faster than a list of objects nested in a record,
so a record in the shape the record writer makes for a one-row request answered 200 by the
version (``..."model_version":V,...,"inputs":[{row}],"outputs":{...},"status":200,...``)
is cut with byte searches into its row object and its prediction numbers. Those searches
cannot be fooled by the request's strings: a JSON string cannot hold a bare quote, and every
pattern includes one. Any other record (several rows, other statuses, another key order, a
row holding nested values) takes the general path, a full parse of the record.

Faster still, when the object store is given and holds the window's data capture
(``conveyor.inference.capture``: the rows already flat and typed, in Parquet, written by the
record writer), the rows are read from there with one polars read per object. The capture is
used only when it is complete for the window: the records it holds there number exactly the
Table's records in the same key range. Otherwise (no capture, a writer still buffering,
several writers, records from before capture) the window is read from the Table as above;
both give the same Window.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import numpy as np
import polars as pl

from conveyor.inference import capture_format
from conveyor.inference.capture import from_micros, hour_prefix, micros, parse_stamp, stamp
from conveyor.inference.records import partition
from conveyor.storage import CAPTURE, FolderBacked, ObjectStore
from conveyor.tables import Table
from conveyor.tabular.coerce import coerce_frame
from conveyor.tabular.schema import DatasetSchema, FeatureKind
from conveyor.types import Task, to_iso

log = logging.getLogger("conveyor.monitoring")

CHUNK_ITEMS = 65536
_HOUR_US = 3_600_000_000
_MAX_HOUR_LISTINGS = 24 * 31  # past a month of hours, one listing of the project is cheaper
_OK = 200
_INPUTS = b'"inputs":[{'
_OUTPUTS = b'}],"outputs":{'
_ANSWERED = b',"status":200,"error":null}'
_NOT_CAPTURED = b',"inputs":null,'
_PROBABILITIES = b'"probabilities":[['
_PREDICTIONS = b'"predictions":['


@dataclass(frozen=True)
class Window:
    frame: pl.DataFrame  # one typed column per feature, one row per request row
    predictions: np.ndarray | None  # positive-class / top-class probability, or the value
    records: int  # records in the time range
    used: int  # of which answered 200 by the version, with their inputs captured


def load_window(
    table: Table,
    project: str,
    *,
    since: datetime,
    until: datetime,
    schema: DatasetSchema,
    version: int | None,
    store: ObjectStore | None = None,
) -> Window:
    """The rows requested of ``version`` (every version when None) in ``[since, until)``:
    from the data capture in ``store`` as far as it is complete, the rest from the Table."""
    if store is not None:
        captured = _load_capture(
            store, table, project, since=since, until=until, schema=schema, version=version
        )
        if captured is not None:
            window, covered = captured
            if covered >= until:
                return window
            rest = _load_table(
                table, project, since=covered, until=until, schema=schema, version=version
            )
            return _joined(window, rest)
    return _load_table(table, project, since=since, until=until, schema=schema, version=version)


def _load_table(
    table: Table,
    project: str,
    *,
    since: datetime,
    until: datetime,
    schema: DatasetSchema,
    version: int | None,
) -> Window:
    chunks = table.query_json(
        partition(project), sk_gte=to_iso(since), sk_lt=to_iso(until), chunk_items=CHUNK_ITEMS
    )
    frames: list[pl.DataFrame] = []
    predictions: list[np.ndarray] = []
    records = used = 0
    cut = ((*_cut(bodies, schema.task, version), len(bodies)) for bodies in chunks)
    for rows, count_rows, scores, others, count in _read_ahead(cut):
        records += count
        if count_rows:
            used += count_rows
            frames.append(_parse_rows(rows, schema))
            predictions.append(_parse_scores(scores, schema.task))
        if others:
            kept = _parse_records(b"\n".join(others), schema).filter(
                (pl.col("status") == _OK)
                & pl.col("inputs").is_not_null()
                & (pl.col("model_version") == version if version is not None else pl.lit(True))
            )
            used += kept.height
            if kept.height:
                frame, values = _explode(kept, schema)
                frames.append(frame)
                predictions.append(values)
    return _window(frames, predictions, records, used, schema)


def _load_capture(
    store: ObjectStore,
    table: Table,
    project: str,
    *,
    since: datetime,
    until: datetime,
    schema: DatasetSchema,
    version: int | None,
) -> tuple[Window, datetime] | None:
    """The window from the capture up to the moment it covers (the latest record written to
    it, or ``until``), with that moment; None when it holds nothing of the window or not every
    record of the Table before that moment."""
    start, end = micros(since), micros(until)
    low, high = stamp(start), stamp(end)
    found = [
        (key, latest)
        for key in _capture_keys(store, project, start - _HOUR_US, end)
        if (latest := _latest_if_overlapping(key, low, high)) is not None
    ]
    if not found:
        return None
    # A writer flushes every few seconds: the newest records may not be in the capture yet.
    covered = min(end, max(latest for _, latest in found) + 1)
    covered_at = from_micros(covered)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="drift-count") as pool:
        # SQLite counts while polars parses: the count walks every item of the range.
        expected = pool.submit(
            table.count, partition(project), sk_gte=to_iso(since), sk_lt=to_iso(covered_at)
        )
        frames: list[pl.DataFrame] = []
        predictions: list[np.ndarray] = []
        records = used = 0
        objects = (store.get(CAPTURE, key) for key, _ in found)
        for data in _read_ahead(objects):
            lines = capture_format.decode(data, schema.feature_names)
            lines = lines.filter(pl.col("__t").is_between(start, covered, closed="left"))
            records += int(lines.get_column("__k").sum())
            kept = lines.filter(
                (pl.col("__r") == 1)
                & (pl.col("__s") == _OK)
                & (pl.col("__v") == version if version is not None else pl.lit(True))
            )
            if kept.height:
                used += int(kept.get_column("__k").sum())
                frames.append(coerce_frame(kept.select(schema.feature_names), schema))
                score = "__p" if schema.task.is_classification else "__y"
                values = kept.get_column(score).drop_nulls().to_numpy()
                predictions.append(values[np.isfinite(values)])
        if records != expected.result():
            log.info(
                "the capture holds %d of the Table's %d records of the window; reading the "
                "Table instead",
                records,
                expected.result(),
            )
            return None
    return _window(frames, predictions, records, used, schema), covered_at


def _capture_keys(store: ObjectStore, project: str, start: int, end: int) -> list[str]:
    """The keys of the capture objects whose earliest record is in ``[start, end]``'s hours."""
    hours = range(start - start % _HOUR_US, end + 1, _HOUR_US)
    prefixes = [hour_prefix(project, hour) for hour in hours]
    if len(prefixes) > _MAX_HOUR_LISTINGS:
        prefixes = [f"{project}/"]
    if isinstance(store, FolderBacked):
        # Its list() hashes every file for an etag this reader has no use for.
        return [found.key for prefix in prefixes for found in store.files(CAPTURE, prefix)]
    return [info.key for prefix in prefixes for info in store.list(CAPTURE, prefix)]


def _latest_if_overlapping(key: str, low: str, high: str) -> int | None:
    """The latest record time of the object ``key`` (``.../<earliest>_<latest>_<writer>.parquet``)
    when it may hold records in ``[low, high)``; None when not, or when the key is not in that
    form. (An earlier release's ``.jsonl`` objects are not read: a window holding their records
    finds the capture short of the Table's count, and reads the Table.)"""
    parts = key.rpartition("/")[2].split("_")
    if (
        len(parts) != 3
        or not parts[2].endswith(capture_format.PARQUET)
        or not (parts[0] < high and parts[1] >= low)
    ):
        return None
    try:
        return micros(parse_stamp(parts[1]))
    except ValueError:
        return None


def _window(
    frames: list[pl.DataFrame],
    predictions: list[np.ndarray],
    records: int,
    used: int,
    schema: DatasetSchema,
) -> Window:
    return Window(
        frame=pl.concat(frames, how="vertical_relaxed") if frames else _empty(schema),
        predictions=np.concatenate(predictions) if predictions else None,
        records=records,
        used=used,
    )


def _joined(first: Window, second: Window) -> Window:
    """Two windows of adjacent time ranges as one."""
    predictions = [p for p in (first.predictions, second.predictions) if p is not None]
    return Window(
        frame=pl.concat([first.frame, second.frame], how="vertical_relaxed"),
        predictions=np.concatenate(predictions) if predictions else None,
        records=first.records + second.records,
        used=first.used + second.used,
    )


_Item = TypeVar("_Item")


def _read_ahead(chunks: Iterator[_Item]) -> Iterator[_Item]:
    """The chunks, each next one read (and cut) in a thread while the caller parses the
    current one: reading and cutting are mostly Python or I/O, parsing is polars, which
    releases the GIL."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="drift-read") as pool:
        pending = pool.submit(next, chunks, None)
        while (chunk := pending.result()) is not None:
            pending = pool.submit(next, chunks, None)
            yield chunk


def _cut(
    bodies: list[bytes], task: Task, version: int | None
) -> tuple[bytes, int, bytes, list[bytes]]:
    """(row objects as NDJSON, their count, prediction numbers as CSV, records for the general
    path)."""
    marker = _PROBABILITIES if task.is_classification else _PREDICTIONS
    close = b"]]" if task.is_classification else b"]"
    skip = len(marker)
    version_key = b'"model_version":%d,' % version if version is not None else b'"model_version":'
    rows: list[bytes] = []
    scores: list[bytes] = []
    others: list[bytes] = []
    for body in bodies:
        start = body.find(_INPUTS)
        end = body.rfind(_OUTPUTS)
        found = body.find(marker, end)
        if (
            start < 0
            or end < start
            or found < 0
            or body.find(b"{", start + 11, end) >= 0  # several rows, or a brace in a value
            or not body.endswith(_ANSWERED)
            or body.find(version_key, 0, start) < 0
        ):
            if body.find(_NOT_CAPTURED) < 0:  # records without inputs hold nothing to compare
                others.append(body)
            continue
        rows.append(body[start + 10 : end + 1])
        scores.append(body[found + skip : body.find(close, found)])
    # Joined here, in the reading thread: the parsing thread is the busier one.
    return b"\n".join(rows), len(rows), b"\n".join(scores), others


def _parse_rows(data: bytes, schema: DatasetSchema) -> pl.DataFrame:
    try:
        frame = pl.read_ndjson(io.BytesIO(data), schema=_row_schema(schema, typed=True))
    except pl.exceptions.ComputeError:
        # A number sent as text ("42"), which serving accepts: read every value as text and
        # let the shared parser type it.
        frame = pl.read_ndjson(io.BytesIO(data), schema=_row_schema(schema, typed=False))
    return coerce_frame(frame, schema)


def _parse_scores(lines: bytes, task: Task) -> np.ndarray:
    columns = pl.read_csv(io.BytesIO(lines), has_header=False, infer_schema=False).cast(pl.Float64)
    if task is Task.BINARY:
        scores = columns.to_series(min(1, columns.width - 1))
    elif task.is_classification:
        scores = columns.select(pl.max_horizontal(pl.all())).to_series()
    else:
        scores = columns.to_series(0)
    values = scores.to_numpy()
    finite: np.ndarray = values[np.isfinite(values)]
    return finite


def _parse_records(data: bytes, schema: DatasetSchema) -> pl.DataFrame:
    try:
        return pl.read_ndjson(io.BytesIO(data), schema=_record_schema(schema, typed=True))
    except pl.exceptions.ComputeError:
        return pl.read_ndjson(io.BytesIO(data), schema=_record_schema(schema, typed=False))


def _row_schema(schema: DatasetSchema, *, typed: bool) -> dict[str, pl.DataType]:
    return {
        spec.name: pl.Float64() if typed and spec.kind is FeatureKind.NUMERIC else pl.String()
        for spec in schema.features
    }


def _record_schema(schema: DatasetSchema, *, typed: bool) -> dict[str, pl.DataType]:
    if schema.task.is_classification:
        outputs = pl.Struct({"probabilities": pl.List(pl.List(pl.Float64))})
    else:
        outputs = pl.Struct({"predictions": pl.List(pl.Float64)})
    return {
        "model_version": pl.Int64(),
        "status": pl.Int64(),
        "inputs": pl.List(pl.Struct(_row_schema(schema, typed=typed))),
        "outputs": outputs,
    }


def _explode(records: pl.DataFrame, schema: DatasetSchema) -> tuple[pl.DataFrame, np.ndarray]:
    rows = records.get_column("inputs").explode()
    frame = coerce_frame(rows.struct.unnest(), schema)
    field = "probabilities" if schema.task.is_classification else "predictions"
    outputs = records.get_column("outputs").struct.field(field)
    # Predictions count only where they match the inputs row for row (they always should).
    prediction = outputs.filter(outputs.list.len() == records.get_column("inputs").list.len())
    prediction = prediction.explode()
    if schema.task is Task.BINARY:
        prediction = prediction.list.get(1, null_on_oob=True)
    elif schema.task.is_classification:
        prediction = prediction.list.max()
    return frame, prediction.cast(pl.Float64).drop_nulls().to_numpy()


def _empty(schema: DatasetSchema) -> pl.DataFrame:
    kinds = {
        FeatureKind.NUMERIC: pl.Float64(),
        FeatureKind.CATEGORICAL: pl.String(),
        FeatureKind.BOOLEAN: pl.Boolean(),
        FeatureKind.DATETIME: pl.Datetime("us"),
        FeatureKind.TEXT: pl.String(),
    }
    return pl.DataFrame(schema={spec.name: kinds[spec.kind] for spec in schema.features})
