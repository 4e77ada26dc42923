"""Read an uploaded file into a frame of strings (CSV) or typed columns (Parquet), refusing
malformed files with a message that says what is wrong and where.

``read_raw`` reads a file whole. ``read_for_training`` reads at most a run's cap of rows: a CSV
larger than ``STREAM_ABOVE_BYTES`` is streamed in record batches, checked batch by batch, and
only a seeded sample of its rows is ever held (``conveyor.tabular.sample``).
"""

from __future__ import annotations

import codecs
import csv
import tempfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from conveyor._memory import give_back_arrow_memory
from conveyor.errors import InvalidInput
from conveyor.tabular.coerce import stripped_text
from conveyor.tabular.sample import RowSample, sample_frame
from conveyor.tabular.schema import NULL_TOKENS

_SNIFF_BYTES = 8192
_BLOCK_BYTES = 8 << 20
# The streaming reader keeps several blocks in flight: 180 MiB of Arrow memory on a 2 GiB file
# with 2 MiB blocks, 420 MiB with 8 MiB, at the same speed. A longer row gets 8 MiB blocks.
_STREAM_BLOCK_BYTES = 2 << 20
# Files up to this size are read whole, the fastest way (the 1,000,000-row benchmark file is
# 190 MiB); larger ones are streamed, so memory follows the row cap and not the file.
STREAM_ABOVE_BYTES = 256 << 20
_BOM = codecs.BOM_UTF8
# Magic numbers of files people upload by mistake, and what to call them in the message.
_BINARY_MAGIC = {
    b"\x89PNG": "a PNG image",
    b"PK\x03\x04": "a ZIP archive (an .xlsx workbook is one: export it as CSV)",
    b"%PDF": "a PDF document",
    b"\x1f\x8b": "a gzip archive (decompress it first)",
    b"\xff\xd8\xff": "a JPEG image",
    b"\xd0\xcf\x11\xe0": "an old Excel/Office file (export it as CSV)",
    b"SQLite format 3": "an SQLite database",
}


def is_parquet(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == b"PAR1"


@dataclass(frozen=True)
class TrainingRows:
    """The rows a run trains from, and how many data rows the file has."""

    frame: pl.DataFrame
    rows_read: int

    @property
    def sampled(self) -> bool:
        return self.frame.height < self.rows_read


def read_for_training(
    path: Path, *, max_rows: int, seed: int, stream_above_bytes: int = STREAM_ABOVE_BYTES
) -> TrainingRows:
    """At most ``max_rows`` rows of ``path``, a seeded uniform sample when it has more.

    The rows come typed as ``read_raw`` types them, whichever way the file is read; files over
    ``stream_above_bytes`` (CSV or Parquet) are never held whole, only the sample and a few
    blocks are.

    Raises:
        InvalidInput: as ``read_raw``.
    """
    if path.stat().st_size > stream_above_bytes and is_parquet(path):
        return _stream_parquet(path, max_rows=max_rows, seed=seed)
    if path.stat().st_size <= stream_above_bytes or is_parquet(path):
        frame = read_raw(path)
        give_back_arrow_memory()
        return TrainingRows(sample_frame(frame, max_rows=max_rows, seed=seed), frame.height)
    _refuse_not_text(path, utf8=False)
    try:
        header = _read_header(path)
        sample = _stream_csv(path, header, max_rows=max_rows, seed=seed)
    except (UnicodeDecodeError, _NotUtf8):
        _check_utf8(path)
        raise
    rows = sample.rows_seen
    if rows == 0:
        raise _no_rows(header)
    if rows <= max_rows:
        del sample  # nothing to leave out: today's whole-file read, once the batches are gone
        give_back_arrow_memory()
        return TrainingRows(_read_csv(path, header), rows)
    return TrainingRows(_typed_sample(sample, header, path.parent), rows)


def read_raw(path: Path) -> pl.DataFrame:
    """Read ``path`` (CSV or Parquet, decided by content) for schema inference.

    CSV columns of numbers come as numbers; every other column as text, stripped, with the
    usual spellings of "missing" as nulls. Parquet columns keep their types.

    Raises:
        InvalidInput: the file is empty, binary, not UTF-8, ragged, has no data rows, or
            has duplicate or empty column names.
    """
    if path.stat().st_size == 0:
        raise InvalidInput(
            "the file is empty (0 bytes); upload a CSV with a header row and data rows",
            field="file",
        )
    if is_parquet(path):
        return _read_parquet(path)
    # Checked in one streaming pass before parsing: a file that is not UTF-8 text fails
    # without first being parsed whole into memory.
    _refuse_not_text(path, utf8=True)
    header = _read_header(path)
    frame = _read_csv(path, header)
    if frame.height == 0:
        raise _no_rows(header)
    return frame


def _no_rows(header: list[str]) -> InvalidInput:
    return InvalidInput(
        f"the file has a header ({len(header)} columns) but no data rows", field="file"
    )


def _refuse_not_text(path: Path, *, utf8: bool) -> None:
    """Binary files, white space only, NUL bytes, and with ``utf8`` invalid UTF-8 (a file
    streamed in batches leaves that to the reader, to spare a pass over gigabytes)."""
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    _refuse_binary(head)
    if not head.strip():
        raise InvalidInput("the file is empty (only white space)", field="file")
    _check_text(path, utf8=utf8)


def _stream_csv(
    path: Path,
    header: list[str],
    *,
    max_rows: int,
    seed: int,
    block_bytes: int = _STREAM_BLOCK_BYTES,
) -> RowSample:
    """Every row into a sample, block by block, as the text written (no cell made null): the
    kept rows are typed at the end, from all of them at once, as a whole file would be."""
    sample = RowSample(max_rows=max_rows, seed=seed)
    read = pacsv.ReadOptions(
        column_names=header, skip_rows=1, encoding="utf8", block_size=block_bytes
    )
    text = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in header},
        null_values=[],
        strings_can_be_null=False,
    )
    try:
        for batch in pacsv.open_csv(path, read_options=read, convert_options=text):
            sample.add(batch)
    except pa.ArrowInvalid as exc:
        if "straddl" in str(exc) and block_bytes < _BLOCK_BYTES:
            del sample  # a row longer than the block: start again with the larger blocks
            return _stream_csv(path, header, max_rows=max_rows, seed=seed, block_bytes=_BLOCK_BYTES)
        raise _parse_error(path, len(header), exc) from exc
    return sample


def _typed_sample(sample: RowSample, header: list[str], folder: Path) -> pl.DataFrame:
    """The kept rows typed by the whole-file reader, so the two paths cannot disagree: written
    as CSV beside the upload (the text rows then let go) and read back."""
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".sample-", suffix=".csv") as handle:
        pacsv.write_csv(sample.take(), handle.name)
        give_back_arrow_memory()
        frame = _read_csv(Path(handle.name), header)
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
    return TrainingRows(frame, sample.rows_seen)


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


def _refuse_binary(head: bytes) -> None:
    for magic, kind in _BINARY_MAGIC.items():
        if head.startswith(magic):
            raise InvalidInput(
                f"this looks like a binary file ({kind}), not CSV text", field="file"
            )
    if b"\x00" in head:
        raise InvalidInput(
            "this looks like a binary file (it contains NUL bytes), not CSV "
            "text; if it is UTF-16 text, re-save it as UTF-8",
            field="file",
        )


class _NotUtf8(InvalidInput):
    """pyarrow found invalid UTF-8; ``_check_utf8`` says where."""


def _check_utf8(path: Path) -> None:
    _check_text(path, utf8=True)


def _check_text(path: Path, *, utf8: bool) -> None:
    """One pass over the file: no NUL byte (the binary sniff sees only the head) and, with
    ``utf8``, valid UTF-8, each refusal naming the offset and line."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            nul = chunk.find(b"\x00")
            if nul >= 0:
                raise _nul_found(path, offset + nul)
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    bad = offset + exc.start
                    raise InvalidInput(
                        f"the file is not valid UTF-8: byte 0x{chunk[exc.start]:02x} at offset "
                        f"{bad} (line {_line_of(path, bad)}); re-save the file with UTF-8 "
                        "encoding",
                        field="file",
                    ) from exc
            offset += len(chunk)
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                "the file is not valid UTF-8: it ends in the middle of a "
                "character; re-save it with UTF-8 encoding",
                field="file",
            ) from exc


def _nul_found(path: Path, offset: int) -> InvalidInput:
    return InvalidInput(
        f"the file contains a NUL byte at offset {offset} (line {_line_of(path, offset)}); "
        "CSV text has none: remove it or re-export the file as UTF-8 CSV",
        field="file",
    )


def _line_of(path: Path, offset: int) -> int:
    lines = 1
    with path.open("rb") as handle:  # block by block: the offset may be gigabytes in
        while offset > 0:
            block = handle.read(min(offset, 1 << 22))
            if not block:
                break
            lines += block.count(b"\n")
            offset -= len(block)
    return lines


def _read_header(path: Path) -> list[str]:
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        try:
            header = next(csv.reader(handle))
        except StopIteration as exc:
            raise InvalidInput("the file is empty", field="file") from exc
        except csv.Error as exc:  # a name past the csv module's field limit (128 KiB)
            raise InvalidInput(
                f"the header row cannot be read ({exc}): a column name is too long, or a "
                "quote opened in the header never closes",
                field="header",
            ) from exc
    names = [name.strip() for name in header]
    if any("\n" in name or "\r" in name for name in names):
        raise InvalidInput(
            "a quote opened in the header row never closes (the header runs over several "
            "lines); close the quote or remove it",
            field="header",
        )
    empty = [str(i + 1) for i, name in enumerate(names) if not name]
    if empty:
        raise InvalidInput(
            f"column(s) {', '.join(empty)} of the header have no name; give every column a name",
            field="header",
        )
    seen: set[str] = set()
    duplicates = sorted({n for n in names if n in seen or seen.add(n)})  # type: ignore[func-returns-value]
    if duplicates:
        more = f" and {len(duplicates) - 20} more" if len(duplicates) > 20 else ""
        raise InvalidInput(
            "duplicate column names: "
            + ", ".join(repr(d) for d in duplicates[:20])
            + more
            + "; rename them so every column is unique",
            field="header",
        )
    return names


def _read_csv(path: Path, header: list[str]) -> pl.DataFrame:
    """Number columns parsed as numbers, every other column as stripped text.

    Letting the reader type the numbers skips a text copy of most of a table; columns it
    types as anything else (dates, booleans, all-missing) are read again as text, so
    inference sees them exactly as written.
    """
    # 8 MiB blocks: the default 1 MiB spends a third of a large read handing blocks around.
    read = pacsv.ReadOptions(
        column_names=header, skip_rows=1, encoding="utf8", block_size=_BLOCK_BYTES
    )
    typed = pacsv.ConvertOptions(null_values=list(NULL_TOKENS), strings_can_be_null=True)
    table = _arrow_csv(path, header, read, typed)
    reread = [
        f.name for f in table.schema if not (pa.types.is_string(f.type) or _is_number(f.type))
    ]
    if reread:
        text = _arrow_csv(path, header, read, _text_options(reread))
        for name in reread:
            table = table.set_column(header.index(name), name, text.column(name))
    return _as_text(table)


def _is_number(dtype: pa.DataType) -> bool:
    return bool(pa.types.is_integer(dtype) or pa.types.is_floating(dtype))


def _text_options(names: list[str]) -> pacsv.ConvertOptions:
    return pacsv.ConvertOptions(
        column_types={name: pa.string() for name in names},
        include_columns=names,
        null_values=list(NULL_TOKENS),
        strings_can_be_null=True,
    )


def _arrow_csv(
    path: Path, header: list[str], read: pacsv.ReadOptions, convert: pacsv.ConvertOptions
) -> pa.Table:
    # pyarrow's reader refuses rows with too few or too many fields (polars pads short rows).
    try:
        return pacsv.read_csv(path, read_options=read, convert_options=convert)
    except pa.ArrowInvalid as exc:
        raise _parse_error(path, len(header), exc) from exc


def _parse_error(path: Path, columns: int, exc: pa.ArrowInvalid) -> InvalidInput:
    message = str(exc)
    if "Expected" in message and "columns" in message:
        return InvalidInput(_ragged_message(path, columns), field="file")
    if "UTF8" in message or "UTF-8" in message:
        return _NotUtf8(f"the file is not valid UTF-8: {message}", field="file")
    return InvalidInput(f"the CSV cannot be parsed: {message}", field="file")


def _as_text(table: pa.Table) -> pl.DataFrame:
    """The table in polars, its text columns stripped and their "missing" spellings null."""
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    return frame.with_columns(stripped_text(pl.col(text)))


def _ragged_message(path: Path, expected: int) -> str:
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        start = 1
        try:
            for fields in reader:
                if any("\n" in field for field in fields) and len(fields) != expected:
                    return _unclosed_quote(start)
                if fields and len(fields) != expected:
                    return (
                        f"line {reader.line_num} has {len(fields)} fields but the header has "
                        f"{expected}; every row needs one value per column (quote values "
                        "that contain commas)"
                    )
                start = reader.line_num + 1
        except csv.Error:  # a field past the csv module's limit: an open quote ate the rest
            return _unclosed_quote(start)
    return f"a row does not have {expected} fields like the header"


def _unclosed_quote(line: int) -> str:
    return (
        f"a quote opened on line {line} never closes: the value runs on over the following "
        'lines; close the quote (a quote inside a value is written twice: "")'
    )
