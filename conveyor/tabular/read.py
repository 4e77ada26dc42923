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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

from conveyor._memory import give_back_arrow_memory
from conveyor.errors import InvalidInput
from conveyor.tabular import _arrow
from conveyor.tabular import decode as _decode
from conveyor.tabular._parquet import is_parquet, read_parquet, stream_parquet
from conveyor.tabular.dialect import SAMPLE_BYTES, Dialect, sniff
from conveyor.tabular.excel import sheet_to_csv
from conveyor.tabular.file_report import FileReport
from conveyor.tabular.layout import Layout, clean_names, find_layout
from conveyor.tabular.rejects import (
    REJECTS_SHOWN,
    Reject,
    careful_parse,
    check_share,
    locate_lines,
)
from conveyor.tabular.sample import RowSample, sample_frame

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
        _refuse_sheet(sheet, "a Parquet file")
        return read_parquet(path), FileReport("parquet")
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
        _refuse_sheet(sheet, "a Parquet file")
        if path.stat().st_size > stream_above_bytes:
            frame, rows = stream_parquet(path, max_rows=max_rows, seed=seed)
            return TrainingRows(frame, rows, FileReport("parquet"))
        frame = read_parquet(path)
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


def _refuse_sheet(sheet: str | int | None, what: str) -> None:
    # A sheet asked of a file that has none would be ignored without a word.
    if sheet is not None:
        raise InvalidInput(
            f"a sheet ({sheet!r}) was given, but the file is {what}, not an .xlsx workbook; "
            "upload it without --sheet",
            field="sheet",
        )


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
        _refuse_sheet(sheet, "a text file")
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
        space_after_delimiter=dialect.skip_space,
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


def _read_text(text: _Text, max_share: float) -> tuple[pl.DataFrame, FileReport, list[Reject]]:
    dialect, layout, names, renamed = _find(text)
    data = _arrow.data(text.path, layout)
    if data.size == 0:
        raise _no_rows(layout)
    invalid: list[pacsv.InvalidRow] = []
    rejects: list[Reject] = []
    table = pa.table({})
    failed = dialect.skip_space  # pyarrow cannot skip the space after a delimiter
    if not failed:
        try:
            table = _arrow.read_typed(
                lambda: pa.BufferReader(data), names, _arrow.parse_options(dialect, invalid)
            )
        except pa.ArrowInvalid:
            failed = True  # e.g. a quote that never closes
    quote_trouble = (
        failed
        or not _arrow.ends_as_sampled(table, layout)
        or any("\n" in row.text or "\r" in row.text for row in invalid)
    )
    if invalid and not quote_trouble:
        # Rows of another width, and nothing else: the fast reader's table stands, the rows
        # it skipped are found by their text.
        rejects = _located(text.path, layout, invalid)
        check_share(len(rejects), table.num_rows, rejects, max_share)
    elif quote_trouble:
        # Only now the careful parse, which knows lines and settles stray quotes.
        careful = careful_parse(
            data.to_pybytes().decode("utf-8"), dialect, layout.width, first_line=layout.data_line
        )
        check_share(len(careful.rejects), len(careful.rows), careful.rejects, max_share)
        rejects = careful.rejects
        table = _arrow.read_rows(careful.rows, names, text.path.parent)
    frame, dropped = _arrow.drop_empty_unnamed(_arrow.as_text(table), layout)
    if frame.height == 0:
        raise _no_rows(layout)
    report = replace(
        _report(text, dialect, layout, renamed, rejects), empty_columns_dropped=dropped
    )
    return frame, report, rejects


def _no_rows(layout: Layout) -> InvalidInput:
    return InvalidInput(
        f"the file has a header ({layout.width} columns) but no data rows", field="file"
    )


# -- files past STREAM_ABOVE_BYTES: streamed into a sample ------------------------------------


def _stream_text(text: _Text, *, max_rows: int, seed: int, max_reject_share: float) -> TrainingRows:
    dialect, layout, names, renamed = _find(text)
    data = _arrow.data(text.path, layout)
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
    parse = _arrow.parse_options(dialect, [])
    if rows <= max_rows:
        del sample  # nothing to leave out: the whole-file read, once the batches are gone
        give_back_arrow_memory()
        table = _arrow.read_typed(lambda: pa.BufferReader(data), names, parse)
        frame, _ = _arrow.drop_empty_unnamed(_arrow.as_text(table), layout)
        return TrainingRows(frame, rows, report, tuple(rejects))
    frame = _typed_sample(sample, names, text.path.parent)
    frame, _ = _arrow.drop_empty_unnamed(frame, layout)
    return TrainingRows(frame, rows, report, tuple(rejects))


def _located(path: Path, layout: Layout, invalid: list[pacsv.InvalidRow]) -> list[Reject]:
    """The rows the fast reader set aside, with their lines: each one's text found at a line
    start in the file, and the line ends before it counted (a row whose text spans lines, or
    is in the file twice, is placed at its first occurrence)."""
    if not invalid:
        return []
    lines = locate_lines(
        path,
        [row.text for row in invalid[:REJECTS_SHOWN]],
        start=layout.data_start,
        first_line=layout.data_line,
    )
    return [
        Reject(
            lines.get(row.text),
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
            parse_options=_arrow.parse_options(dialect, invalid),
            convert_options=text,
        ):
            sample.add(batch)
    except pa.ArrowInvalid as exc:
        if "straddl" in str(exc) and block_bytes < _arrow.BLOCK_BYTES:
            del sample  # a row longer than the block: start again with the larger blocks
            invalid.clear()
            return _stream(
                data,
                names,
                dialect,
                invalid,
                max_rows=max_rows,
                seed=seed,
                block_bytes=_arrow.BLOCK_BYTES,
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
        table = _arrow.read_typed(lambda: pa.memory_map(handle.name), names, pacsv.ParseOptions())
        frame = _arrow.as_text(table)
    give_back_arrow_memory()
    return frame


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
