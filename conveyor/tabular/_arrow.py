"""pyarrow's CSV reader over a byte range of UTF-8 text: the options from a sniffed dialect,
numbers typed and every other column as text, and the checks that tell when the fast reader's
rows need the careful parse instead."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

from conveyor.tabular.coerce import stripped_text
from conveyor.tabular.dialect import Dialect
from conveyor.tabular.layout import Layout
from conveyor.tabular.rejects import write_rows
from conveyor.tabular.schema import NULL_TOKENS

BLOCK_BYTES = 8 << 20


def parse_options(dialect: Dialect, rejected: list[pacsv.InvalidRow] | None) -> pacsv.ParseOptions:
    def set_aside(row: pacsv.InvalidRow) -> str:
        assert rejected is not None
        rejected.append(row)
        return "skip"

    return pacsv.ParseOptions(
        delimiter=dialect.delimiter,
        quote_char=dialect.quote,
        double_quote=dialect.escape is None,
        escape_char=dialect.escape or False,
        invalid_row_handler=set_aside if rejected is not None else None,
    )


def ends_as_sampled(table: pa.Table, layout: Layout) -> bool:
    """The fast reader's last row is the table's last record as the sample parse has it: a
    quote that opens and never closes makes it drop every row after the quote, silently."""
    last = layout.last_record
    if last is None or table.num_rows == 0:
        return False  # the sample parse ended in a record of another width: look closer
    row = table.slice(table.num_rows - 1).to_pylist()[0]
    nulls = set(NULL_TOKENS)
    for value, cell in zip(row.values(), last, strict=True):
        if value is None:
            if cell not in nulls:
                return False
        elif isinstance(value, (int, float)):
            try:
                if float(cell) != value:
                    return False
            except ValueError:
                return False
        elif str(value) != cell:
            return False
    return True


def data(path: Path, layout: Layout) -> pa.Buffer:
    """The bytes between the header and any footer, mapped, not copied."""
    whole = pa.memory_map(str(path)).read_buffer()
    end = layout.data_end if layout.data_end is not None else whole.size
    start = min(layout.data_start, end)
    return whole.slice(start, end - start)


def read_rows(rows: list[list[str]], names: list[str], folder: Path) -> pa.Table:
    """Rows the careful parse kept, typed by the same reader as a clean file."""
    if not rows:
        return pa.table({name: pa.array([], pa.string()) for name in names})
    with tempfile.NamedTemporaryFile(
        "w", dir=folder, prefix=".kept-", suffix=".csv", encoding="utf-8", newline=""
    ) as handle:
        write_rows(rows, handle)  # type: ignore[arg-type]
        handle.flush()
        return read_typed(lambda: pa.memory_map(handle.name), names, pacsv.ParseOptions())


def drop_empty_unnamed(frame: pl.DataFrame, layout: Layout) -> tuple[pl.DataFrame, tuple[str, ...]]:
    """A column with no name and no value (a trailing delimiter on every line) is no column;
    in a file without a header, every column is unnamed and kept."""
    if not layout.has_header:
        return frame, ()
    unnamed = [
        name
        for name, raw in zip(frame.columns, layout.raw_names, strict=False)
        if not raw.strip() and frame.get_column(name).null_count() == frame.height
    ]
    if not unnamed or len(unnamed) == frame.width:
        return frame, ()
    return frame.drop(unnamed), tuple(unnamed)


def read_typed(
    source: Callable[[], pa.NativeFile], names: list[str], parse: pacsv.ParseOptions
) -> pa.Table:
    """Number columns parsed as numbers, every other column as text.

    Letting the reader type the numbers skips a text copy of most of a table; columns it
    types as anything else (dates, booleans, all-missing) are read again as text, so
    inference sees them exactly as written.
    """
    # 8 MiB blocks: the default 1 MiB spends a third of a large read handing blocks around.
    read = pacsv.ReadOptions(column_names=names, encoding="utf8", block_size=BLOCK_BYTES)
    typed = pacsv.ConvertOptions(null_values=list(NULL_TOKENS), strings_can_be_null=True)
    table = pacsv.read_csv(source(), read_options=read, parse_options=parse, convert_options=typed)
    reread = [f.name for f in table.schema if not (pa.types.is_string(f.type) or is_number(f.type))]
    if reread:
        quiet = pacsv.ParseOptions(
            delimiter=parse.delimiter,
            quote_char=parse.quote_char,
            double_quote=parse.double_quote,
            escape_char=parse.escape_char,
            invalid_row_handler=lambda _: "skip",
        )
        text = pacsv.read_csv(
            source(), read_options=read, parse_options=quiet, convert_options=text_options(reread)
        )
        for name in reread:
            table = table.set_column(names.index(name), name, text.column(name))
    return table


def is_number(dtype: pa.DataType) -> bool:
    return bool(pa.types.is_integer(dtype) or pa.types.is_floating(dtype))


def text_options(names: list[str]) -> pacsv.ConvertOptions:
    return pacsv.ConvertOptions(
        column_types={name: pa.string() for name in names},
        include_columns=names,
        null_values=list(NULL_TOKENS),
        strings_can_be_null=True,
    )


def as_text(table: pa.Table) -> pl.DataFrame:
    """The table in polars, its text columns stripped and their "missing" spellings null."""
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    return frame.with_columns(stripped_text(pl.col(text)))
