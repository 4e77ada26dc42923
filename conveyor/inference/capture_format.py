"""The capture object's bytes: the lines of a flush as typed columns, in Parquet.

A drift check reads a million rows of Parquet in a fifth of a second, where the same rows as
JSON lines took a second and a half to parse on both cores: the parse is paid once, by the
record writer at a flush, instead of by every check that reads the window.

The writer makes each row a flat JSON line (orjson touches each value once, which is the
cheapest way over Python objects) and polars parses the lines, typing each column from its
JSON values: a column of numbers is numeric, of text is text, and a column whose rows
disagree (a number here, ``"42"`` there) is text holding each value's JSON spelling, which the
checks' shared parser types as serving did. Lines with no common type for a column (a list
beside a number: serving refuses nested values) have every row column read as text.

Requests the server read into a matrix of numeric features come as that matrix (``Matrix``):
no JSON to parse, their columns float64, the values the model read. Both kinds of lines go
into the same object; a column both have is the supertype of the two (float64 beside
integers, text beside text), which the checks' parser types as it would either.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Sequence
from typing import Any, NamedTuple

import numpy as np
import polars as pl

PARQUET = ".parquet"
META_SCHEMA: dict[str, pl.DataType] = {
    "__t": pl.Int64(),
    "__v": pl.Int64(),
    "__s": pl.Int64(),
    "__k": pl.Int64(),
    "__r": pl.Int64(),
    "__p": pl.Float64(),
    "__y": pl.Float64(),
}
# Types are inferred from this many lines first; a later line that disagrees, or brings a key
# they did not have, costs a second parse inferring from every line.
_INFER_LINES = 1000


class Matrix(NamedTuple):
    """Lines given as float64 values rather than JSON: ``values`` row after row, one value
    per column of ``columns``; ``meta`` as ``encode``'s."""

    columns: tuple[str, ...]
    values: bytes
    meta: dict[str, list[Any]]


def encode(
    rows: bytes,
    meta: dict[str, list[Any]],
    keys: Collection[str],
    matrices: Sequence[Matrix] = (),
) -> bytes:
    """One Parquet object: the ``meta`` columns (``META_SCHEMA``'s, one value per line), then
    the columns ``keys`` of ``rows``, JSON objects one per line; then the lines of
    ``matrices``, their columns float64 (text where ``rows`` had that column as text)."""
    parts = [_with_meta(_typed(rows, keys), meta)] if rows else []
    for matrix in matrices:
        values = np.frombuffer(matrix.values, dtype=np.float64)
        values = values.reshape(-1, len(matrix.columns))
        columns = pl.DataFrame(values, schema=list(matrix.columns), orient="row")
        parts.append(_with_meta(columns, matrix.meta))
    front = parts[0] if len(parts) == 1 else pl.concat(parts, how="diagonal_relaxed")
    out = io.BytesIO()
    # lz4 over zstd: half again the bytes, read in half the time.
    front.write_parquet(out, compression="lz4", statistics=False)
    return out.getvalue()


def decode(data: bytes, features: Sequence[str]) -> pl.DataFrame:
    """The meta columns (typed as ``META_SCHEMA``) and the ``features`` columns of a capture
    object, as stored; a feature no line had is null."""
    frame = pl.read_parquet(io.BytesIO(data))
    present = set(frame.columns)
    return frame.select(
        *_meta_columns(present),
        *(pl.col(name) if name in present else pl.lit(None).alias(name) for name in features),
    )


def _with_meta(frame: pl.DataFrame, meta: dict[str, list[Any]]) -> pl.DataFrame:
    # A row's own keys in the reserved ``__`` space must not pass for the record's.
    frame = frame.select(name for name in frame.columns if not name.startswith("__"))
    front = pl.DataFrame(meta, schema=META_SCHEMA)
    return pl.concat([front, frame], how="horizontal") if frame.width else front


def _typed(text: bytes, keys: Collection[str]) -> pl.DataFrame:
    try:
        frame = pl.read_ndjson(io.BytesIO(text), infer_schema_length=_INFER_LINES)
        if set(keys) <= set(frame.columns):
            return frame
    except pl.exceptions.PolarsError:
        pass
    try:
        return pl.read_ndjson(io.BytesIO(text), infer_schema_length=None)
    except pl.exceptions.PolarsError:
        as_text: dict[str, pl.DataType] = {k: pl.String() for k in keys}
        return pl.read_ndjson(io.BytesIO(text), schema=as_text)


def _meta_columns(present: set[str]) -> list[pl.Expr]:
    """The meta columns typed as ``META_SCHEMA``, null where an object has none."""
    return [
        (pl.col(name) if name in present else pl.lit(None)).cast(dtype).alias(name)
        for name, dtype in META_SCHEMA.items()
    ]
