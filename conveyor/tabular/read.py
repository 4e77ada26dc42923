"""Read an uploaded file into a frame of strings (CSV, Excel) or typed columns (Parquet), with a
``FileReport`` of what was done to read it.

A text upload goes through: unpacking (gzip, bz2, xz, zip; an .xlsx sheet written as CSV),
decoding to UTF-8 (``decode``), the dialect sniffed from its first 64 KiB (``dialect``), the
table found between any preamble and footer (``layout``), then pyarrow's multithreaded reader
over that byte range. Rows of the wrong width are set aside (``rejects``), never the file,
unless they pass the project's share. ``read_for_training`` reads at most a run's cap of rows:
a file larger than ``STREAM_ABOVE_BYTES`` is streamed in record batches and only a seeded
sample of its rows is held (``conveyor.tabular.sample``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from conveyor._memory import give_back_arrow_memory
from conveyor.errors import InvalidInput
from conveyor.tabular import decode as _decode
from conveyor.tabular.coerce import stripped_text
from conveyor.tabular.dialect import SAMPLE_BYTES, Dialect, sniff
from conveyor.tabular.excel import sheet_to_csv
from conveyor.tabular.file_report import FileReport
from conveyor.tabular.layout import Layout, clean_names, find_layout
from conveyor.tabular.rejects import REJECTS_SHOWN, Reject, careful_parse, check_share, write_rows
from conveyor.tabular.sample import RowSample, sample_frame
from conveyor.tabular.schema import NULL_TOKENS

_BLOCK_BYTES = 8 << 20
# The streaming reader keeps several blocks in flight: 180 MiB of Arrow memory on a 2 GiB file
# with 2 MiB blocks, 420 MiB with 8 MiB, at the same speed. A longer row gets 8 MiB blocks.
_STREAM_BLOCK_BYTES = 2 << 20
# Files up to this size are read whole, the fastest way (the 1,000,000-row benchmark file is
# 190 MiB); larger ones are streamed, so memory follows the row cap and not the file.
STREAM_ABOVE_BYTES = 256 << 20
# The share of a file's rows that may be set aside before its run fails.
MAX_REJECT_SHARE = 0.10
# A header longer than the sniffed sample: the head read grows up to this.
_MAX_HEAD_BYTES = 32 << 20


def is_parquet(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == b"PAR1"


@dataclass(frozen=True)
class TrainingRows:
    """The rows a run trains from, how many data rows the file has, how it was read, and
    every row set aside (``report.rejects`` holds the first 100)."""

    frame: pl.DataFrame
    rows_read: int
    report: FileReport = field(default_factory=lambda: FileReport("csv"))
    rejects: tuple[Reject, ...] = ()

    @property
    def sampled(self) -> bool:
        return self.frame.height < self.rows_read


@dataclass
class _Text:
    """An upload made UTF-8 CSV text, and the temporary files that took."""

    path: Path
    report: FileReport
    changed: bool  # the text differs from the upload's bytes (unpacked, transcoded, a sheet)
    forced: Dialect | None = None
    temporary: list[Path] = field(default_factory=list)


def read_raw(path: Path) -> pl.DataFrame:
    """Read ``path`` (CSV, Excel or Parquet, decided by content) for schema inference; see
    ``read_table``."""
    return read_table(path)[0]


def read_table(
    path: Path, *, sheet: str | int | None = None, max_reject_share: float = MAX_REJECT_SHARE
) -> tuple[pl.DataFrame, FileReport]:
    """Read ``path`` whole, and say how.

    CSV columns of numbers come as numbers; every other column as text, stripped, with the
    usual spellings of "missing" as nulls. Parquet columns keep their types.

    Args:
        path: the upload.
        sheet: for a workbook, the sheet's name or 0-based position (the first by default).
        max_reject_share: the share of rows that may be set aside for a wrong field count.

    Returns:
        The frame and the ``FileReport``.

    Raises:
        InvalidInput: the file is empty, binary, no table, has no data rows, or more rows of
            the wrong width than ``max_reject_share`` allows.
    """
    if path.stat().st_size == 0:
        raise _empty()
    if is_parquet(path):
        return _read_parquet(path), FileReport("parquet")
    with _text(path, sheet=sheet, check_whole=True) as text:
        frame, report, _ = _read_text(text, max_reject_share)
    return frame, report


def read_for_training(
    path: Path,
    *,
    max_rows: int,
    seed: int,
    max_reject_share: float = MAX_REJECT_SHARE,
    stream_above_bytes: int = STREAM_ABOVE_BYTES,
    sheet: str | int | None = None,
    keep_decoded: Path | None = None,
) -> TrainingRows:
    """At most ``max_rows`` rows of ``path``, a seeded uniform sample when it has more.

    The rows come typed as ``read_table`` types them, whichever way the file is read; files
    over ``stream_above_bytes`` (text or Parquet) are never held whole, only the sample and a
    few blocks are.

    Args:
        keep_decoded: where to copy the UTF-8 text read, when it is not the upload's bytes
            (unpacked, transcoded, or a workbook's sheet).

    Raises:
        InvalidInput: as ``read_table``.
    """
    if path.stat().st_size == 0:
        raise _empty()
    if is_parquet(path):
        if path.stat().st_size > stream_above_bytes:
            return _stream_parquet(path, max_rows=max_rows, seed=seed)
        frame = _read_parquet(path)
        return TrainingRows(
            sample_frame(frame, max_rows=max_rows, seed=seed), frame.height, FileReport("parquet")
        )
    big = path.stat().st_size > stream_above_bytes
    with _text(path, sheet=sheet, check_whole=not big) as text:
        if keep_decoded is not None and text.changed:
            _decode.copy(text.path, keep_decoded)
        if text.path.stat().st_size <= stream_above_bytes:
            frame, report, rejects = _read_text(text, max_reject_share)
            give_back_arrow_memory()
            sampled = sample_frame(frame, max_rows=max_rows, seed=seed)
            return TrainingRows(sampled, frame.height, report, tuple(rejects))
        return _stream_text(text, max_rows=max_rows, seed=seed, max_reject_share=max_reject_share)


def _empty() -> InvalidInput:
    return InvalidInput(
        "the file is empty (0 bytes); upload a CSV with a header row and data rows", field="file"
    )


@contextmanager
def _text(path: Path, *, sheet: str | int | None, check_whole: bool) -> Iterator[_Text]:
    """The upload as UTF-8 CSV text; temporary files are removed on leaving."""
    made: list[Path] = []
    try:
        unpacked = _decode.unpack(path)
        if unpacked.temporary:
            made.append(unpacked.path)
        if unpacked.is_xlsx:
            csv_path, name = sheet_to_csv(unpacked.path, sheet)
            made.append(csv_path)
            report = FileReport("xlsx", encoding="utf-8", sheet=name)
            yield _Text(csv_path, report, True, Dialect(), made)
            return
        decoded = _decode.decode(unpacked.path, check_whole=check_whole)
        if decoded.transcoded:
            made.append(decoded.path)
        report = FileReport(
            "csv", compression=unpacked.compression, encoding=decoded.encoding, bom=decoded.bom
        )
        yield _Text(decoded.path, report, unpacked.temporary or decoded.transcoded, None, made)
    finally:
        for temporary in made:
            _decode.remove(temporary)


def _head(path: Path) -> tuple[str, bool]:
    """The first ``SAMPLE_BYTES`` of the text cut at a line end (grown when no line ends in
    it), and whether that is the whole file."""
    size = path.stat().st_size
    want = SAMPLE_BYTES
    with path.open("rb") as handle:
        while True:
            handle.seek(0)
            raw = handle.read(want)
            whole = len(raw) >= size
            if whole:
                break
            cut = max(raw.rfind(b"\n"), raw.rfind(b"\r"))
            if cut > 0 or want >= _MAX_HEAD_BYTES:
                raw = raw[: cut + 1] if cut > 0 else raw
                break
            want *= 4
    return raw.decode("utf-8", errors="replace"), whole


def _tail(path: Path, head_bytes: int) -> tuple[str | None, int]:
    """The last ``SAMPLE_BYTES`` of the text from its first whole line, and its offset."""
    size = path.stat().st_size
    start = head_bytes if size <= head_bytes + SAMPLE_BYTES else size - SAMPLE_BYTES
    with path.open("rb") as handle:
        handle.seek(start)
        raw = handle.read()
    if start > 0:
        cut = raw.find(b"\n")
        if cut < 0:
            return None, start
        raw, start = raw[cut + 1 :], start + cut + 1
    return raw.decode("utf-8", errors="replace"), start


def _find(text: _Text) -> tuple[Dialect, Layout, list[str], dict[str, str]]:
    head, whole = _head(text.path)
    dialect = text.forced or sniff(head)
    tail: str | None = None
    tail_offset = 0
    if not whole:
        tail, tail_offset = _tail(text.path, len(head.encode("utf-8")))
    layout = find_layout(head, dialect, whole=whole, tail=tail, tail_offset=tail_offset)
    if layout.width == 0:
        raise InvalidInput("the file is empty (only white space)", field="file")
    if layout.width == 1 and layout.open_quote_line is not None:
        raise InvalidInput(
            f"a quote opened on line {layout.open_quote_line} never closes: the value runs on "
            "over the following lines; close the quote (a quote inside a value is written "
            'twice: "") or remove it',
            field="file",
        )
    if layout.width == 1:
        raise InvalidInput(
            "the file reads as a single column: no delimiter (comma, semicolon, tab or |) "
            "separates values in its lines; a table to train on needs a header row and at "
            "least two columns",
            field="file",
        )
    names, renamed = clean_names(layout.raw_names, layout.width)
    return dialect, layout, names, renamed


def _report(
    text: _Text, dialect: Dialect, layout: Layout, renamed: dict[str, str], rejects: list[Reject]
) -> FileReport:
    return replace(
        text.report,
        delimiter=dialect.delimiter,
        quote=dialect.quote,
        escape=dialect.escape,
        decimal=dialect.decimal,
        line_ending=dialect.line_ending,
        header_line=layout.header_line,
        has_header=layout.has_header,
        preamble_lines=layout.preamble_lines,
        footer_lines=layout.footer_lines,
        rows_rejected=len(rejects),
        rejects=tuple(rejects[:REJECTS_SHOWN]),
        columns_renamed=renamed,
    )


def _parse_options(dialect: Dialect, rejected: list[pacsv.InvalidRow] | None) -> pacsv.ParseOptions:
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


def _read_text(text: _Text, max_share: float) -> tuple[pl.DataFrame, FileReport, list[Reject]]:
    dialect, layout, names, renamed = _find(text)
    data = _data(text.path, layout)
    if data.size == 0:
        raise _no_rows(layout)
    invalid: list[pacsv.InvalidRow] = []
    rejects: list[Reject] = []
    table = pa.table({})
    try:
        table = _read_typed(lambda: pa.BufferReader(data), names, _parse_options(dialect, invalid))
    except pa.ArrowInvalid:
        invalid.append(None)  # type: ignore[arg-type]  # e.g. a quote that never closes
    if invalid or not _ends_as_sampled(table, layout) or _spans_lines(table):
        # Only now the careful parse, which knows lines and settles stray quotes.
        careful = careful_parse(
            data.to_pybytes().decode("utf-8"), dialect, layout.width, first_line=layout.data_line
        )
        check_share(len(careful.rejects), len(careful.rows), careful.rejects, max_share)
        rejects = careful.rejects
        table = _read_rows(careful.rows, names, text.path.parent)
    frame, dropped = _drop_empty_unnamed(_as_text(table), layout)
    if frame.height == 0:
        raise _no_rows(layout)
    report = replace(
        _report(text, dialect, layout, renamed, rejects), empty_columns_dropped=dropped
    )
    return frame, report, rejects


def _ends_as_sampled(table: pa.Table, layout: Layout) -> bool:
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


def _spans_lines(table: pa.Table) -> bool:
    """A text value with a line break in it: quoted over lines, or a stray quote that ran on
    over the rows after it, which only the careful parse tells apart."""
    for column, kind in zip(table.columns, table.schema.types, strict=True):
        if pa.types.is_string(kind) and (
            pc.any(pc.match_substring(column, "\n")).as_py()
            or pc.any(pc.match_substring(column, "\r")).as_py()
        ):
            return True
    return False


def _data(path: Path, layout: Layout) -> pa.Buffer:
    """The bytes between the header and any footer, mapped, not copied."""
    whole = pa.memory_map(str(path)).read_buffer()
    end = layout.data_end if layout.data_end is not None else whole.size
    start = min(layout.data_start, end)
    return whole.slice(start, end - start)


def _read_rows(rows: list[list[str]], names: list[str], folder: Path) -> pa.Table:
    """Rows the careful parse kept, typed by the same reader as a clean file."""
    if not rows:
        return pa.table({name: pa.array([], pa.string()) for name in names})
    with tempfile.NamedTemporaryFile(
        "w", dir=folder, prefix=".kept-", suffix=".csv", encoding="utf-8", newline=""
    ) as handle:
        write_rows(rows, handle)  # type: ignore[arg-type]
        handle.flush()
        return _read_typed(lambda: pa.memory_map(handle.name), names, pacsv.ParseOptions())


def _drop_empty_unnamed(
    frame: pl.DataFrame, layout: Layout
) -> tuple[pl.DataFrame, tuple[str, ...]]:
    """A column with no name and no value (a trailing delimiter on every line) is no column."""
    unnamed = [
        name
        for name, raw in zip(frame.columns, layout.raw_names or [""] * frame.width, strict=False)
        if not raw.strip() and frame.get_column(name).null_count() == frame.height
    ]
    if not unnamed or len(unnamed) == frame.width:
        return frame, ()
    return frame.drop(unnamed), tuple(unnamed)


def _no_rows(layout: Layout) -> InvalidInput:
    return InvalidInput(
        f"the file has a header ({layout.width} columns) but no data rows", field="file"
    )


def _read_typed(
    source: Callable[[], pa.NativeFile], names: list[str], parse: pacsv.ParseOptions
) -> pa.Table:
    """Number columns parsed as numbers, every other column as text.

    Letting the reader type the numbers skips a text copy of most of a table; columns it
    types as anything else (dates, booleans, all-missing) are read again as text, so
    inference sees them exactly as written.
    """
    # 8 MiB blocks: the default 1 MiB spends a third of a large read handing blocks around.
    read = pacsv.ReadOptions(column_names=names, encoding="utf8", block_size=_BLOCK_BYTES)
    typed = pacsv.ConvertOptions(null_values=list(NULL_TOKENS), strings_can_be_null=True)
    table = pacsv.read_csv(source(), read_options=read, parse_options=parse, convert_options=typed)
    reread = [
        f.name for f in table.schema if not (pa.types.is_string(f.type) or _is_number(f.type))
    ]
    if reread:
        quiet = pacsv.ParseOptions(
            delimiter=parse.delimiter,
            quote_char=parse.quote_char,
            double_quote=parse.double_quote,
            escape_char=parse.escape_char,
            invalid_row_handler=lambda _: "skip",
        )
        text = pacsv.read_csv(
            source(), read_options=read, parse_options=quiet, convert_options=_text_options(reread)
        )
        for name in reread:
            table = table.set_column(names.index(name), name, text.column(name))
    return table


def _is_number(dtype: pa.DataType) -> bool:
    return bool(pa.types.is_integer(dtype) or pa.types.is_floating(dtype))


def _text_options(names: list[str]) -> pacsv.ConvertOptions:
    return pacsv.ConvertOptions(
        column_types={name: pa.string() for name in names},
        include_columns=names,
        null_values=list(NULL_TOKENS),
        strings_can_be_null=True,
    )


def _as_text(table: pa.Table) -> pl.DataFrame:
    """The table in polars, its text columns stripped and their "missing" spellings null."""
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    return frame.with_columns(stripped_text(pl.col(text)))


# -- files past STREAM_ABOVE_BYTES: streamed into a sample ------------------------------------


def _stream_text(text: _Text, *, max_rows: int, seed: int, max_reject_share: float) -> TrainingRows:
    dialect, layout, names, renamed = _find(text)
    data = _data(text.path, layout)
    if data.size == 0:
        raise _no_rows(layout)
    invalid: list[pacsv.InvalidRow] = []
    try:
        sample = _stream(data, names, dialect, invalid, max_rows=max_rows, seed=seed)
    except _NotUtf8:
        # Invalid UTF-8 past the head: the whole file transcoded, and read again.
        decoded = _decode.decode(text.path, check_whole=True)
        text.temporary.append(decoded.path)
        again = _Text(decoded.path, replace(text.report, encoding=decoded.encoding), True)
        return _stream_text(again, max_rows=max_rows, seed=seed, max_reject_share=max_reject_share)
    rejects = _located(text.path, layout, invalid)
    rows = sample.rows_seen
    check_share(len(rejects), rows, rejects, max_reject_share)
    if rows == 0:
        raise _no_rows(layout)
    report = _report(text, dialect, layout, renamed, rejects)
    parse = _parse_options(dialect, [])
    if rows <= max_rows:
        del sample  # nothing to leave out: the whole-file read, once the batches are gone
        give_back_arrow_memory()
        table = _read_typed(lambda: pa.BufferReader(data), names, parse)
        frame, _ = _drop_empty_unnamed(_as_text(table), layout)
        return TrainingRows(frame, rows, report, tuple(rejects))
    frame = _typed_sample(sample, names, text.path.parent)
    frame, _ = _drop_empty_unnamed(frame, layout)
    return TrainingRows(frame, rows, report, tuple(rejects))


def _located(path: Path, layout: Layout, invalid: list[pacsv.InvalidRow]) -> list[Reject]:
    """The streamed rows set aside, with their lines found by one pass over the file (only
    when there are any; a row whose text spans lines keeps no line)."""
    if not invalid:
        return []
    wanted = {row.text.encode("utf-8") for row in invalid[:REJECTS_SHOWN]}
    lines: dict[bytes, int] = {}
    with path.open("rb") as handle:
        handle.seek(layout.data_start)
        for number, line in enumerate(handle, start=layout.data_line):
            key = line.rstrip(b"\r\n")
            if key in wanted and key not in lines:
                lines[key] = number
                if len(lines) == len(wanted):
                    break
    return [
        Reject(
            lines.get(row.text.encode("utf-8")),
            f"{row.actual_columns} fields, expected {row.expected_columns}",
            row.text[:500],
        )
        for row in invalid
    ]


class _NotUtf8(InvalidInput):
    """pyarrow found invalid UTF-8 past the checked head."""


def _stream(
    data: pa.Buffer,
    names: list[str],
    dialect: Dialect,
    invalid: list[pacsv.InvalidRow],
    *,
    max_rows: int,
    seed: int,
    block_bytes: int = _STREAM_BLOCK_BYTES,
) -> RowSample:
    """Every row into a sample, block by block, as the text written (no cell made null): the
    kept rows are typed at the end, from all of them at once, as a whole file would be."""
    sample = RowSample(max_rows=max_rows, seed=seed)
    read = pacsv.ReadOptions(column_names=names, encoding="utf8", block_size=block_bytes)
    text = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in names},
        null_values=[],
        strings_can_be_null=False,
    )
    try:
        for batch in pacsv.open_csv(
            pa.BufferReader(data),
            read_options=read,
            parse_options=_parse_options(dialect, invalid),
            convert_options=text,
        ):
            sample.add(batch)
    except pa.ArrowInvalid as exc:
        if "straddl" in str(exc) and block_bytes < _BLOCK_BYTES:
            del sample  # a row longer than the block: start again with the larger blocks
            invalid.clear()
            return _stream(
                data,
                names,
                dialect,
                invalid,
                max_rows=max_rows,
                seed=seed,
                block_bytes=_BLOCK_BYTES,
            )
        if "UTF8" in str(exc) or "UTF-8" in str(exc):
            raise _NotUtf8(f"the file is not valid UTF-8: {exc}", field="file") from exc
        raise InvalidInput(f"the CSV cannot be parsed: {exc}", field="file") from exc
    return sample


def _typed_sample(sample: RowSample, names: list[str], folder: Path) -> pl.DataFrame:
    """The kept rows typed by the whole-file reader, so the two paths cannot disagree: written
    as CSV beside the upload (the text rows then let go) and read back."""
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".sample-", suffix=".csv") as handle:
        pacsv.write_csv(
            sample.take(), handle.name, write_options=pacsv.WriteOptions(include_header=False)
        )
        give_back_arrow_memory()
        table = _read_typed(lambda: pa.memory_map(handle.name), names, pacsv.ParseOptions())
        frame = _as_text(table)
    give_back_arrow_memory()
    return frame


_PARQUET_BATCH_ROWS = 65_536


def _stream_parquet(path: Path, *, max_rows: int, seed: int) -> TrainingRows:
    """The Parquet file batch by batch into a sample: the same rows, typed the same, as
    ``read_raw`` and ``sample_frame`` give for the file read whole."""
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
    return TrainingRows(frame, sample.rows_seen, FileReport("parquet"))


def _undictionary(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Categorical (dictionary) columns as their text, as ``_read_parquet`` gives them; each
    batch has a dictionary of its own, which the sample's concatenation could not join."""
    if not any(pa.types.is_dictionary(field.type) for field in batch.schema):
        return batch
    columns = [
        column.cast(column.type.value_type) if pa.types.is_dictionary(column.type) else column
        for column in batch.columns
    ]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _read_parquet(path: Path) -> pl.DataFrame:
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:  # polars raises several kinds for a damaged file
        raise InvalidInput(f"the Parquet file cannot be read: {exc}", field="file") from exc
    if frame.height == 0:
        raise InvalidInput("the Parquet file has columns but no rows", field="file")
    categorical = [c for c, t in frame.schema.items() if t in (pl.Categorical, pl.Enum)]
    return frame.with_columns(pl.col(categorical).cast(pl.String)) if categorical else frame


__all__ = [
    "MAX_REJECT_SHARE",
    "STREAM_ABOVE_BYTES",
    "FileReport",
    "Reject",
    "TrainingRows",
    "is_parquet",
    "read_for_training",
    "read_raw",
    "read_table",
]
