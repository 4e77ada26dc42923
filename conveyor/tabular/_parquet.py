"""Parquet uploads: read whole with their types, or streamed batch by batch into a sample."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from conveyor._memory import give_back_arrow_memory
from conveyor.errors import InvalidInput
from conveyor.tabular.sample import RowSample

_PARQUET_BATCH_ROWS = 65_536


def is_parquet(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == b"PAR1"


def stream_parquet(path: Path, *, max_rows: int, seed: int) -> tuple[pl.DataFrame, int]:
    """The Parquet file batch by batch into a sample: the same rows, typed the same, as
    ``read_parquet`` and ``sample_frame`` give for the file read whole; and the file's rows."""
    sample = RowSample(max_rows=max_rows, seed=seed)
    try:
        # pre_buffer off: it would cache every column chunk read, the whole file by the end.
        source = pq.ParquetFile(path, pre_buffer=False)
        for batch in source.iter_batches(batch_size=_PARQUET_BATCH_ROWS):
            sample.add(_undictionary(batch))
    except (pa.ArrowException, OSError) as exc:
        raise InvalidInput(f"the Parquet file cannot be read: {exc}", field="file") from exc
    if sample.rows_seen == 0:
        raise InvalidInput("the Parquet file has columns but no rows", field="file")
    table = sample.take()
    give_back_arrow_memory()
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame, sample.rows_seen


def _undictionary(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Categorical (dictionary) columns as their text, as ``read_parquet`` gives them; each
    batch has a dictionary of its own, which the sample's concatenation could not join."""
    if not any(pa.types.is_dictionary(field.type) for field in batch.schema):
        return batch
    columns = [
        column.cast(column.type.value_type) if pa.types.is_dictionary(column.type) else column
        for column in batch.columns
    ]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def read_parquet(path: Path) -> pl.DataFrame:
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:  # polars raises several kinds for a damaged file
        raise InvalidInput(f"the Parquet file cannot be read: {exc}", field="file") from exc
    if frame.height == 0:
        raise InvalidInput("the Parquet file has columns but no rows", field="file")
    categorical = [c for c, t in frame.schema.items() if t in (pl.Categorical, pl.Enum)]
    return frame.with_columns(pl.col(categorical).cast(pl.String)) if categorical else frame
