"""Where the table is in the text: preamble lines above the header (titles, blank lines,
"Source: ..."), the header row (or rows, or none), the data, and footers or a second table
below it. Decided on the head and the tail of the file, parsed with its dialect; the reader
then parses only the byte range between.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass

from conveyor.tabular.dialect import Dialect
from conveyor.tabular.rejects import balanced, parse_line, plain_split, split_record

_NUMBER = re.compile(r"^[-+]?(\d+([.,]\d*)?|[.,]\d+)([eE][-+]?\d+)?$")
_NULLS = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "-", "#n/a", "."})
# Data rows looked at to type the columns: enough to call a column numeric.
_TYPE_ROWS = 200


@dataclass(frozen=True)
class Record:
    """One parsed record and the physical lines (1-based) it spans."""

    first_line: int
    last_line: int
    fields: list[str]

    @property
    def blank(self) -> bool:
        return not any(cell.strip() for cell in self.fields)


@dataclass(frozen=True)
class Layout:
    """The table's place in the text, and its column names before cleaning."""

    width: int
    raw_names: list[str]
    has_header: bool
    header_line: int | None  # first physical line of the header
    header_rows: int
    preamble_lines: int
    data_line: int  # first physical line after the header (or of the data)
    data_start: int  # byte offset of ``data_line``
    data_end: int | None  # byte offset where a footer starts; None: the end of the file
    footer_lines: int
    footer_first_line: int | None = None
    # The table's last record of its width as the sample parse reads it: the fast reader's
    # last row must be it, or a quote ran on to the end of the file.
    last_record: list[str] | None = None
    # The first line of a record over several lines (a quote never closed, when the table
    # reads as one column), if any.
    open_quote_line: int | None = None


def records(text: str, dialect: Dialect, *, first_line: int = 1) -> list[Record]:
    """Every record of ``text`` with the physical lines it spans. Lines are split as the
    careful parse splits them, at the width most lines with paired quotes have, so that a
    stray quote does not swallow the lines after it."""
    lines = io.StringIO(text, newline="").readlines()
    widths = Counter(
        len(fields)
        for line in lines[:_TYPE_ROWS]
        if line.strip() and balanced(line, dialect)
        for fields in [parse_line(line, dialect)]
        if fields is not None
    )
    if not widths:
        return _csv_records(text, dialect, first_line)
    width = max(widths, key=lambda w: (widths[w], w))
    out: list[Record] = []
    i = 0
    while i < len(lines):
        used, fields = split_record(lines, i, dialect, width)
        if fields is None:
            fields = plain_split(lines[i], dialect)
            used = 1
        out.append(Record(first_line + i, first_line + i + used - 1, fields))
        i += used
    return out


def _csv_records(text: str, dialect: Dialect, first_line: int) -> list[Record]:
    out: list[Record] = []
    reader = dialect.reader(text)
    last = 0
    try:
        for fields in reader:
            out.append(Record(first_line + last, first_line + reader.line_num - 1, fields))
            last = reader.line_num
    except csv.Error:  # a value past the csv module's limit (128 KiB): one field, unparsed
        if not out:
            out.append(Record(first_line, first_line, [text]))
    return out


def line_starts(text: str) -> list[int]:
    """The byte offset (UTF-8) of each physical line's start; one more entry for the end."""
    offsets = [0]
    for line in io.StringIO(text, newline="").readlines():
        offsets.append(offsets[-1] + len(line.encode("utf-8")))
    return offsets


def find_layout(
    head: str,
    dialect: Dialect,
    *,
    whole: bool,
    tail: str | None = None,
    tail_offset: int = 0,
) -> Layout:
    """Find the header, preamble and footer of a text table.

    Args:
        head: the start of the text, cut at a line end (all of it when ``whole``).
        dialect: as sniffed.
        whole: ``head`` is the whole file.
        tail: the end of the text, from a line start, when the file is longer than ``head``.
        tail_offset: the byte offset of ``tail`` in the file.

    Returns:
        The layout; ``width`` 0 when the text has no record with a value.
    """
    found = records(head, dialect)
    if not whole and len(found) > 1:
        found = found[:-1]  # the last record may be cut by the sample's end
    rows = [r for r in found if not r.blank]
    if not rows:
        return Layout(0, [], False, None, 0, 0, 1, 0, None, 0)
    width = _width(rows)
    runaway = next((r.first_line for r in rows if r.last_line > r.first_line), None)
    start = _start(rows, width)
    table = [r for r in rows[start:] if len(r.fields) == width]
    numeric = _numeric_columns([r.fields for r in table[1 : 1 + _TYPE_ROWS]])
    first = table[0]
    has_header = _looks_like_header(first.fields, [r.fields for r in table[1:]], numeric)
    names = list(first.fields) if has_header else []
    header_rows = 1 if has_header else 0
    # Header rows after the first: up to two more, words where the data has numbers.
    while (
        has_header
        and header_rows < 3
        and len(table) > header_rows + 1
        and _continues_header(table[header_rows].fields, numeric)
    ):
        names = [_join(a, b) for a, b in zip(names, table[header_rows].fields, strict=True)]
        header_rows += 1
    body = table[header_rows] if len(table) > header_rows else None
    last_header_line = table[header_rows - 1].last_line if header_rows else first.first_line - 1
    data_line = body.first_line if body is not None else last_header_line + 1
    if not has_header:
        data_line = first.first_line
        ragged = _ragged_header(rows[start - 1] if start else None, width)
        if ragged is not None:
            # A header with a delimiter too many or too few, right above the data.
            first, names, has_header = rows[start - 1], ragged, True
    starts = line_starts(head)
    data_start = starts[min(data_line - 1, len(starts) - 1)]
    second = _second_table([r for r in rows if r.first_line >= data_line], width, numeric, names)
    if whole or tail is None or second is not None:
        end_records, end_text, end_offset = found, head, 0
    else:
        end_records, end_text, end_offset = records(tail, dialect), tail, tail_offset
    if second is None and not whole and tail is not None:
        second = _second_table(end_records, width, numeric, names)
    footer = second or _footer(
        end_records,
        width,
        numeric,
        names,
        whole=whole or tail is None,
        data_line=data_line if end_text is head else 0,
    )
    data_end = None
    footer_lines = 0
    if footer is not None and (end_text is not head or footer > data_line):
        data_end = end_offset + line_starts(end_text)[footer - 1]
        footer_lines = sum(1 for r in end_records if r.first_line >= footer and not r.blank)
    else:
        footer = None
    before = [
        r
        for r in end_records
        if len(r.fields) == width and (footer is None or r.first_line < footer)
    ]
    last = before[-1].fields if before and before[-1].first_line > data_line - 1 else None
    return Layout(
        width=width,
        raw_names=names,
        has_header=has_header,
        header_line=first.first_line if has_header else None,
        header_rows=header_rows,
        preamble_lines=first.first_line - 1,
        data_line=data_line,
        data_start=data_start,
        data_end=data_end,
        footer_lines=footer_lines,
        footer_first_line=footer if whole else None,
        last_record=last,
        open_quote_line=runaway,
    )


def _width(rows: list[Record]) -> int:
    """The field count of the table: that of the first run of three or more records of one
    width (of two or more fields) that is common in the sample, so that a second table as long
    as the first does not win; else the count most records have."""
    counts = Counter(len(r.fields) for r in rows)
    wide = {w: n for w, n in counts.items() if w > 1}
    pool = wide or counts
    common = max(pool.values())
    run_width, run = 0, 0
    for row in rows:
        width = len(row.fields)
        run = run + 1 if width == run_width else 1
        run_width = width
        if run >= min(3, len(rows)) and width in pool and pool[width] >= 0.3 * common:
            return width
    return max(pool, key=lambda w: (pool[w], w))


def _start(rows: list[Record], width: int) -> int:
    """The first record of the table: of the table's width, with more than a title's one
    value, and followed mostly by records of the same width."""
    for i, row in enumerate(rows):
        if len(row.fields) != width:
            continue
        filled = sum(1 for cell in row.fields if cell.strip())
        if width >= 3 and filled < 2:
            continue  # a title padded with delimiters by a spreadsheet export
        after = rows[i + 1 : i + 6]
        if not after or sum(len(r.fields) == width for r in after) * 2 >= len(after):
            return i
    return next(i for i, r in enumerate(rows) if len(r.fields) == width)


def _is_number(cell: str) -> bool:
    return bool(_NUMBER.match(cell.strip()))


def _is_null(cell: str) -> bool:
    return cell.strip().lower() in _NULLS


def _numeric_columns(data: list[list[str]]) -> list[bool]:
    if not data:
        return []
    out = []
    for column in zip(*data, strict=False):
        values = [c for c in column if not _is_null(c)]
        numbers = sum(map(_is_number, values))
        # One value that is no number is allowed however few the rows: a second header row,
        # or a footer, is typed with the data here.
        out.append(numbers >= 1 and (numbers >= 0.9 * len(values) or numbers >= len(values) - 1))
    return out


def _looks_like_header(first: list[str], data: list[list[str]], numeric: list[bool]) -> bool:
    """A header names numeric columns with words; with no numeric column, a header is a row of
    names none of which recurs as a value below it."""
    if any(numeric):
        named = [c for c, num in zip(first, numeric, strict=False) if num]
        if any(not _is_number(c) and not _is_null(c) for c in named):
            return True
        if any(c.strip() for c in named) or all(numeric):
            return False
        # Numeric columns with empty names only (R's write.csv: an unnamed column of row
        # numbers) say nothing: the text columns decide, as in a file of text alone.
        text = [j for j, num in enumerate(numeric) if not num]
        return bool(data) and _names_not_values(first, data, text)
    if not data:
        return True
    if any(not c.strip() for c in first) and len(first) > 1:
        return False
    return _names_not_values(first, data, list(range(len(first))))


def _names_not_values(first: list[str], data: list[list[str]], columns: list[int]) -> bool:
    """Whether ``first`` names ``columns``: a non-empty cell in each, none recurring as a
    value below it."""
    values = list(zip(*data, strict=False))
    cells = [(j, first[j]) for j in columns if j < len(first) and j < len(values)]
    return bool(cells) and all(cell.strip() and cell not in set(values[j]) for j, cell in cells)


def _ragged_header(row: Record | None, width: int) -> list[str] | None:
    """The names of a row of words one field off the table's width, fitted to it: an empty
    name dropped (a delimiter too many) or an unnamed column added (one too few)."""
    if row is None or row.first_line != row.last_line or abs(len(row.fields) - width) != 1:
        return None
    cells = row.fields
    if sum(1 for c in cells if c.strip()) < 2 or any(_is_number(c) for c in cells):
        return None
    if len(cells) < width:
        return [*cells, ""]
    empty = next((i for i, c in enumerate(cells) if not c.strip()), len(cells) - 1)
    return cells[:empty] + cells[empty + 1 :]


def _continues_header(row: list[str], numeric: list[bool]) -> bool:
    """A second header row: words, never numbers, where the data has numbers."""
    if not any(numeric):
        return False
    cells = [c for c, num in zip(row, numeric, strict=False) if num]
    return all(not _is_number(c) for c in cells) and any(
        c.strip() and not _is_null(c) for c in cells
    )


def _join(top: str, bottom: str) -> str:
    return " ".join(part.strip() for part in (top, bottom) if part.strip())


def _footer(
    rows: list[Record],
    width: int,
    numeric: list[bool],
    names: list[str],
    *,
    whole: bool,
    data_line: int,
) -> int | None:
    """The first line of what follows the table at the end of the file: trailing records of
    another width, or everything after the last blank line when what follows it is another
    table (its own header, or rows of another width)."""
    footer: int | None = None
    kept = list(rows)
    # A record over several lines is a quote that never closed, for the careful parse to
    # settle: not a footer.
    while kept and (kept[-1].blank or len(kept[-1].fields) != width):
        if kept[-1].first_line != kept[-1].last_line:
            break
        if not kept[-1].blank and not _footer_like(kept[-1].fields, numeric):
            break  # a data row of the wrong width: set aside, not a footer
        if not kept[-1].blank:
            footer = kept[-1].first_line
        kept.pop()
    blanks = [i for i, r in enumerate(kept) if r.blank and r.first_line > data_line]
    if blanks:
        after = [r for r in kept[blanks[-1] + 1 :] if not r.blank]
        before = [r for r in kept[: blanks[-1]] if not r.blank]
        if after and before and _another_table(after, width, numeric, names):
            footer = kept[blanks[-1]].first_line
    if not whole and footer is not None and footer == rows[0].first_line:
        return None  # the whole tail: not a footer we can place
    return footer


def _second_table(
    rows: list[Record], width: int, numeric: list[bool], names: list[str]
) -> int | None:
    """The first line of a second table inside the data: a record that repeats the header,
    or a row of names (no value a number) of another width that the next record matches."""
    header = [n.strip() for n in names]
    for i, row in enumerate(rows[:-1]):
        cells = [c.strip() for c in row.fields]
        if header and cells == header:
            return row.first_line
        named = len(cells) >= 2 and all(c and not _is_number(c) for c in cells)
        if named and len(cells) != width and len(rows[i + 1].fields) == len(cells):
            return row.first_line
    return None


def _footer_like(cells: list[str], numeric: list[bool]) -> bool:
    """A line of text (a title, a total, a note), not a row of data: fewer than two values,
    or words where the data has numbers."""
    if sum(1 for c in cells if c.strip()) < 2:
        return True
    return any(
        num and not _is_number(c) and not _is_null(c)
        for c, num in zip(cells, numeric, strict=False)
    )


def _another_table(after: list[Record], width: int, numeric: list[bool], names: list[str]) -> bool:
    first = after[0].fields
    if len(first) != width:
        return True
    if names and [c.strip() for c in first] == [n.strip() for n in names]:
        return True
    return any(numeric) and any(
        num and not _is_number(c) and not _is_null(c)
        for c, num in zip(first, numeric, strict=False)
    )


def clean_names(raw: list[str], width: int) -> tuple[list[str], dict[str, str]]:
    """Column names stripped of white space and surrounding quotes; empty names become
    ``column_<i>`` and repeats ``<name>_2``, ``<name>_3``. Returns the names and what was
    renamed (raw name to new name; an empty raw name is keyed by its position)."""
    if not raw:
        names = [f"column_{i + 1}" for i in range(width)]
        return names, {}
    out: list[str] = []
    renamed: dict[str, str] = {}
    seen: set[str] = set()
    for i, name in enumerate(raw):
        clean = _unquote(name.lstrip("\ufeff") if i == 0 else name)
        if not clean:
            clean = f"column_{i + 1}"
        base, n = clean, 1
        while clean in seen:
            n += 1
            clean = f"{base}_{n}"
        seen.add(clean)
        out.append(clean)
        if clean != name:
            renamed[name if name.strip() else f"<column {i + 1}>"] = clean
    return out, renamed


def _unquote(name: str) -> str:
    value = name.strip()
    if "\n" in value or "\r" in value:
        value = " ".join(value.split())
    while len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1].strip()
    if value[:1] in ("'", '"') and value.count(value[0]) == 1:
        value = value[1:].strip()  # a stray quote that opens the name and never closes
    if value[-1:] in ("'", '"') and value.count(value[-1]) == 1:
        value = value[:-1].strip()
    return value
