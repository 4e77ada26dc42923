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
"""

from __future__ import annotations

import io
from collections.abc import Collection, Sequence
from typing import Any

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


def encode(rows: bytes, meta: dict[str, list[Any]], keys: Collection[str]) -> bytes:
    """One Parquet object: the ``meta`` columns (``META_SCHEMA``'s, one value per line), then
    the columns ``keys`` of ``rows``, JSON objects one per line."""
    frame = _typed(rows, keys)
    # A row's own keys in the reserved ``__`` space must not pass for the record's.
    frame = frame.select(name for name in frame.columns if not name.startswith("__"))
    front = pl.DataFrame(meta, schema=META_SCHEMA)
    if frame.width:
        front = pl.concat([front, frame], how="horizontal")
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
