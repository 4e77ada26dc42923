"""Batch predict (the Batch Transform analogue): stream a file through a model in chunks and
write the predictions beside the input columns, in memory that does not grow with the file."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from conveyor.errors import InvalidInput
from conveyor.model.artifact import Predictor
from conveyor.tabular.coerce import coerce_frame
from conveyor.tabular.read import is_parquet

DEFAULT_CHUNK_ROWS = 100_000
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
_FORMULA_START = r"^[=+\-@\t\r]"


def count_rows(path: Path) -> int:
    """Data rows in a CSV (newlines, minus the header) or a Parquet file (its metadata)."""
    if is_parquet(path):
        return int(pq.ParquetFile(path).metadata.num_rows)
    lines = 0
    last = b"\n"
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            lines += block.count(b"\n")
            last = block[-1:]
    return max(0, lines + (last != b"\n") - 1)


def iter_chunks(path: Path, chunk_rows: int) -> Iterator[pl.DataFrame]:
    if is_parquet(path):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
            yield _frame(pa.Table.from_batches([batch]))
        return
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle), [])
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=1 << 22, column_names=header, skip_rows=1),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header}, strings_can_be_null=True
        ),
    )
    pending: list[pa.RecordBatch] = []
    rows = 0
    for batch in reader:
        pending.append(batch)
        rows += batch.num_rows
        while rows >= chunk_rows:
            table = pa.Table.from_batches(pending)
            yield _frame(table.slice(0, chunk_rows))
            rest = table.slice(chunk_rows)
            pending, rows = rest.to_batches(), rest.num_rows
    if rows:
        yield _frame(pa.Table.from_batches(pending))


def _frame(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def predict_file(
    predictor: Predictor,
    source: Path,
    destination: Path,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    on_rows: Callable[[int], None] | None = None,
) -> int:
    """Write ``source``'s rows with ``prediction`` (and ``proba_<class>``) columns added, as
    ``destination``'s suffix says (``output_format``).

    Raises:
        InvalidInput: a row the model cannot take; the message gives its row number.
    """
    written = 0
    kind = output_format(destination)
    writer: pq.ParquetWriter | None = None
    destination.parent.mkdir(parents=True, exist_ok=True)
    with destination.open("wb") as handle:
        if kind == "json":
            handle.write(b"[")
        for chunk in iter_chunks(source, chunk_rows):
            try:
                typed = coerce_frame(chunk, predictor.schema)
            except InvalidInput as exc:
                raise InvalidInput(
                    f"{exc.message} — counting from row {written + 1} of the file's data rows",
                    field=exc.field,
                ) from exc
            scored = chunk.with_columns(predictor.predict_columns(typed))
            if kind == "parquet":
                table = scored.to_arrow()
                if writer is None:
                    writer = pq.ParquetWriter(handle, table.schema)
                writer.write_table(table)
            elif kind == "jsonl":
                scored.write_ndjson(handle)
            elif kind == "json":
                # One array over every chunk: each chunk's array without its brackets.
                rows = scored.write_json().encode()[1:-1]
                if rows:
                    handle.write(b"," + rows if written else rows)
            else:
                neutral = scored.with_columns(_formula_safe(scored, typed))
                neutral.write_csv(handle, include_header=written == 0)
            written += chunk.height
            if on_rows is not None:
                on_rows(chunk.height)
        if writer is not None:
            writer.close()
        if kind == "json":
            handle.write(b"]")
    return written


_OUTPUTS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".json": "json"}
_OUTPUTS |= {".jsonl": "jsonl", ".ndjson": "jsonl"}


def output_format(destination: Path) -> str:
    """What ``predict_file`` writes to ``destination``, by its suffix: ``csv``, ``parquet``,
    ``json`` (one array of row objects) or ``jsonl`` (one row object a line).

    Raises:
        InvalidInput: another suffix (nothing is written).
    """
    kind = _OUTPUTS.get(destination.suffix.lower())
    if kind is None:
        raise InvalidInput(
            f"cannot tell what to write to {destination.name!r}: name the output .csv, "
            ".parquet, .json (one array) or .jsonl (one object a line)",
            field="output",
        )
    return kind


def _formula_safe(frame: pl.DataFrame, typed: pl.DataFrame) -> list[pl.Expr]:
    """Text cells a spreadsheet would run as a formula, prefixed with ``'`` (OWASP's advice
    for CSV injection) so they open as the text they are; numbers such as ``-3`` are left
    as they are. Parquet output keeps values exact: no spreadsheet evaluates it.

    ``typed``: the frame's feature columns as the model read them. A numeric feature's cell
    with a value there is a number, so only its cells without one are parsed here: a second
    parse of every number in the file cost more than scoring the trees."""
    numeric = {name for name, dtype in typed.schema.items() if dtype == pl.Float64}
    return [
        pl.when(pl.col(name).str.contains(_FORMULA_START) & _not_a_number(name, typed, numeric))
        .then(pl.lit("'") + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name, dtype in frame.schema.items()
        if dtype == pl.String
    ]


def _not_a_number(name: str, typed: pl.DataFrame, numeric: set[str]) -> pl.Expr:
    if name in numeric:
        return pl.lit(typed.get_column(name).is_null())
    return pl.col(name).str.strip_chars().cast(pl.Float64, strict=False).is_null()
