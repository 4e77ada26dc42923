"""A window of inference records as columns: the live side of a drift check.

A million records do not go through a Python dict each: the Table hands over their JSON as
NDJSON chunks, polars parses each chunk with an explicit schema (only the fields drift
needs, typed from the version's input schema), the request rows are exploded beside their
predictions, and the values are typed by the same parser preprocessing and serving use.
Reading the next chunk from the Table overlaps with parsing the current one.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import polars as pl

from conveyor.serving.records import partition
from conveyor.tables import Table
from conveyor.tabular.coerce import coerce_frame
from conveyor.tabular.schema import DatasetSchema, FeatureKind
from conveyor.types import Task, to_iso

CHUNK_ITEMS = 65536
_OK = 200


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
) -> Window:
    """The rows requested of ``version`` (every version when None) in ``[since, until)``."""
    chunks = table.query_json(
        partition(project), sk_gte=to_iso(since), sk_lt=to_iso(until), chunk_items=CHUNK_ITEMS
    )
    frames: list[pl.DataFrame] = []
    predictions: list[np.ndarray] = []
    records = used = 0
    for chunk in _read_ahead(chunks):
        parsed = _parse(chunk, schema)
        records += parsed.height
        kept = parsed.filter(
            (pl.col("status") == _OK)
            & pl.col("inputs").is_not_null()
            & (pl.col("model_version") == version if version is not None else pl.lit(True))
        )
        used += kept.height
        if kept.height == 0:
            continue
        rows, live_predictions = _rows(kept, schema)
        frames.append(rows)
        predictions.append(live_predictions)
    frame = pl.concat(frames) if frames else _empty(schema)
    return Window(
        frame=frame,
        predictions=np.concatenate(predictions) if predictions else None,
        records=records,
        used=used,
    )


def _read_ahead(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The chunks, each next one read in a thread while the caller parses the current one
    (SQLite and polars both release the GIL while they work)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="drift-read") as pool:
        pending = pool.submit(next, chunks, None)
        while (chunk := pending.result()) is not None:
            pending = pool.submit(next, chunks, None)
            yield chunk


def _parse(chunk: bytes, schema: DatasetSchema) -> pl.DataFrame:
    try:
        return pl.read_ndjson(io.BytesIO(chunk), schema=_record_schema(schema, typed=True))
    except pl.exceptions.ComputeError:
        # A number sent as text ("42"), which serving accepts: read every value as text and
        # let the shared parser type it.
        return pl.read_ndjson(io.BytesIO(chunk), schema=_record_schema(schema, typed=False))


def _record_schema(schema: DatasetSchema, *, typed: bool) -> dict[str, pl.DataType]:
    fields = {
        spec.name: pl.Float64() if typed and spec.kind is FeatureKind.NUMERIC else pl.String()
        for spec in schema.features
    }
    if schema.task.is_classification:
        outputs = pl.Struct({"probabilities": pl.List(pl.List(pl.Float64))})
    else:
        outputs = pl.Struct({"predictions": pl.List(pl.Float64)})
    return {
        "model_version": pl.Int64(),
        "status": pl.Int64(),
        "inputs": pl.List(pl.Struct(fields)),
        "outputs": outputs,
    }


def _rows(records: pl.DataFrame, schema: DatasetSchema) -> tuple[pl.DataFrame, np.ndarray]:
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
    }
    return pl.DataFrame(schema={spec.name: kinds[spec.kind] for spec in schema.features})
