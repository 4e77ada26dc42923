"""Polluted variants of clean tables, and their scoring, after the Pollock benchmark (Vitagliano
et al., "Pollock: A Data Loading Benchmark", VLDB 2023).

``variants(table)`` writes a clean table (a header and rows of strings) the ways real exports
spoil it: another delimiter, quote or escape character, CR or CRLF line ends, preamble lines,
footers, a second table after a blank line, no header or a header over two rows, an extra empty
column, one row with a field too many or too few, a stray quote, another encoding, gzip, an
Excel workbook. Each variant carries the table a perfect reader returns (``expected``).

``score(expected, header, rows)`` is Pollock's per-file score: success (1 when the reader
returned a table) plus precision, recall and F1 of the header cells, of the records and of the
cells (each compared as multisets of normalised values), ten measures of 0 to 1, so a file
scores 0 to 10. The simple Pollock score is the mean over files; the weighted one weights each
file by how common its pollution is in real files (``WEIGHTS``).

Importable by tests and by ``bench/pollution.py``.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

NULLS = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "-", "#n/a"})


@dataclass(frozen=True)
class Table:
    """A table as text: ``header`` is empty for a file without one."""

    header: list[str]
    rows: list[list[str]]
    name: str = "table"


@dataclass(frozen=True)
class Variant:
    kind: str
    content: bytes
    expected: Table
    suffix: str = ".csv"


@dataclass(frozen=True)
class Score:
    success: float
    header: tuple[float, float, float]
    record: tuple[float, float, float]
    cell: tuple[float, float, float]

    @property
    def total(self) -> float:
        """Pollock's file score: the sum of its ten measures, 0 to 10."""
        return self.success + sum(self.header) + sum(self.record) + sum(self.cell)


FAILED = Score(0.0, (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), (0.0, 0.0, 0.0))


def normalize(value: object) -> str:
    """A cell as compared: stripped; numbers by value (``60.0`` is ``60``); missing-value
    spellings as empty."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    text = str(value).strip()
    if text.lower() in NULLS:
        return ""
    try:
        number = float(text)
    except ValueError:
        return text
    return f"{number:.10g}" if math.isfinite(number) else text


def _prf(expected: Sequence[object], loaded: Sequence[object]) -> tuple[float, float, float]:
    if not expected:
        return (1.0, 1.0, 1.0)
    common = sum((Counter(expected) & Counter(loaded)).values())
    if not common:
        return (0.0, 0.0, 0.0)
    precision, recall = common / len(loaded), common / len(expected)
    return (precision, recall, 2 * precision * recall / (precision + recall))


def score(expected: Table, header: Sequence[object], rows: Sequence[Sequence[object]]) -> Score:
    """Pollock's measures of what a reader returned against the table it should have."""
    want_rows = [tuple(normalize(c) for c in row) for row in expected.rows]
    got_rows = [tuple(normalize(c) for c in row) for row in rows]
    return Score(
        1.0,
        _prf([normalize(c) for c in expected.header], [normalize(c) for c in header]),
        _prf(want_rows, got_rows),
        _prf([c for row in want_rows for c in row], [c for row in got_rows for c in row]),
    )


# -- writing ---------------------------------------------------------------------------------


def _csv(
    table: Table,
    *,
    delimiter: str = ",",
    quotechar: str = '"',
    escapechar: str | None = None,
    quoting: int = csv.QUOTE_MINIMAL,
    lineterminator: str = "\n",
    with_header: bool = True,
) -> str:
    out = io.StringIO()
    writer = csv.writer(
        out,
        delimiter=delimiter,
        quotechar=quotechar,
        escapechar=escapechar,
        doublequote=escapechar is None,
        quoting=quoting,
        lineterminator=lineterminator,
    )
    if with_header and table.header:
        writer.writerow(table.header)
    writer.writerows(table.rows)
    return out.getvalue()


def clean(table: Table) -> Variant:
    return Variant("clean", _csv(table).encode(), table)


def _delimiter(delimiter: str) -> Callable[[Table], Variant]:
    def make(table: Table) -> Variant:
        return Variant("", _csv(table, delimiter=delimiter).encode(), table)

    return make


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def single_quotes(table: Table) -> Variant:
    """Text values and header names in single quotes, numbers bare."""

    def cell(value: str) -> str:
        return value if not value or _is_number(value) else "'" + value.replace("'", "''") + "'"

    lines = [",".join(cell(c) for c in row) + "\n" for row in [table.header, *table.rows]]
    return Variant("", "".join(lines).encode(), table)


def escape_backslash(table: Table) -> Variant:
    """Quotes inside values escaped with a backslash, not doubled; the first name has one."""
    header = [f'{table.header[0]} "q", r', *table.header[1:]]
    polluted = replace(table, header=header)
    text = _csv(polluted, escapechar="\\", quoting=csv.QUOTE_MINIMAL)
    return Variant("", text.encode(), polluted)


def _line_ending(ending: str) -> Callable[[Table], Variant]:
    def make(table: Table) -> Variant:
        return Variant("", _csv(table, lineterminator=ending).encode(), table)

    return make


def preamble(table: Table) -> Variant:
    lines = f"Export of {table.name}\nSource: scikit-learn and conveyor samples\n\n"
    return Variant("", (lines + _csv(table)).encode(), table)


def preamble_padded(table: Table) -> Variant:
    """A title row padded with delimiters to the table's width, as spreadsheets export it."""
    width = len(table.header)
    title = f"Report: {table.name}" + "," * (width - 1) + "\n"
    return Variant("", (title + "," * (width - 1) + "\n" + _csv(table)).encode(), table)


def footer(table: Table) -> Variant:
    lines = f"Total rows: {len(table.rows)}\nGenerated by an export tool\n"
    return Variant("", (_csv(table) + lines).encode(), table)


def second_table(table: Table) -> Variant:
    """A blank line, then a small table of another width."""
    rows, columns = len(table.rows), len(table.header)
    other = f"\nsummary,value,unit\nrows,{rows},count\ncolumns,{columns},count\n"
    return Variant("", (_csv(table) + other).encode(), table)


def second_table_same(table: Table) -> Variant:
    """A blank line, then a second table of the same width with a header of its own."""
    width = len(table.header)
    other = Table([f"stat {i}" for i in range(width)], [["total"] * width, ["mean"] * width])
    return Variant("", (_csv(table) + "\n" + _csv(other)).encode(), table)


def no_header(table: Table) -> Variant:
    return Variant("", _csv(table, with_header=False).encode(), replace(table, header=[]))


def header_two_rows(table: Table) -> Variant | None:
    """Each name cut at its first space over two rows: read joined with a space, they are the
    names again. Not made for a table none of whose names has a space."""
    top = [name.split(" ", 1)[0] for name in table.header]
    bottom = [name.split(" ", 1)[1] if " " in name else "" for name in table.header]
    if not any(bottom):
        return None
    text = _csv(Table([], [top, bottom, *table.rows]), with_header=False)
    return Variant("", text.encode(), table)


def extra_empty_column(table: Table) -> Variant:
    """A delimiter at the end of every line, as some exports write."""
    text = "".join(line + ",\n" for line in _csv(table).splitlines())
    return Variant("", text.encode(), table)


def _middle(table: Table) -> int:
    return len(table.rows) // 2


def ragged_extra(table: Table) -> Variant:
    """One row with a field too many: set aside, the rest read."""
    i = _middle(table)
    rows = [*table.rows[:i], [*table.rows[i], "extra"], *table.rows[i + 1 :]]
    kept = replace(table, rows=table.rows[:i] + table.rows[i + 1 :])
    return Variant("", _csv(replace(table, rows=rows)).encode(), kept)


def ragged_missing(table: Table) -> Variant:
    """One row with a field too few: set aside, the rest read."""
    i = _middle(table)
    rows = [*table.rows[:i], table.rows[i][:-1], *table.rows[i + 1 :]]
    kept = replace(table, rows=table.rows[:i] + table.rows[i + 1 :])
    return Variant("", _csv(replace(table, rows=rows)).encode(), kept)


def stray_quote(table: Table) -> Variant:
    """A quote before a value that is never closed: the value, quote and all, is data."""
    i = _middle(table)
    row = list(table.rows[i])
    row[1] = '"' + row[1]
    lines = _csv(table).splitlines(keepends=True)
    offset = 1 if table.header else 0
    lines[offset + i] = ",".join(row) + "\n"
    expected = replace(table, rows=[*table.rows[:i], row, *table.rows[i + 1 :]])
    return Variant("", "".join(lines).encode(), expected)


def _accented(table: Table) -> Table:
    return replace(table, header=[f"{table.header[0]} café", *table.header[1:]])


def _encoding(codec: str) -> Callable[[Table], Variant]:
    def make(table: Table) -> Variant:
        polluted = _accented(table)
        return Variant("", _csv(polluted).encode(codec), polluted)

    return make


def gzipped(table: Table) -> Variant:
    return Variant("", gzip.compress(_csv(table).encode(), mtime=0), table, ".csv.gz")


def xlsx(table: Table) -> Variant:
    """The table in a workbook: numbers as numbers, a title row above it."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append([f"Report: {table.name}"])
    sheet.append(table.header)
    for row in table.rows:
        sheet.append([float(c) if _is_number(c) else c for c in row])
    out = io.BytesIO()
    book.save(out)
    return Variant("", out.getvalue(), table, ".xlsx")


KINDS: dict[str, Callable[[Table], Variant | None]] = {
    "clean": clean,
    "delimiter_semicolon": _delimiter(";"),
    "delimiter_tab": _delimiter("\t"),
    "delimiter_pipe": _delimiter("|"),
    "quote_single": single_quotes,
    "escape_backslash": escape_backslash,
    "line_ending_cr": _line_ending("\r"),
    "line_ending_crlf": _line_ending("\r\n"),
    "preamble": preamble,
    "preamble_padded": preamble_padded,
    "footer": footer,
    "second_table": second_table,
    "second_table_same": second_table_same,
    "no_header": no_header,
    "header_two_rows": header_two_rows,
    "extra_empty_column": extra_empty_column,
    "ragged_extra": ragged_extra,
    "ragged_missing": ragged_missing,
    "stray_quote": stray_quote,
    "encoding_cp1252": _encoding("cp1252"),
    "encoding_utf16_bom": _encoding("utf-16"),
    "encoding_utf8_bom": _encoding("utf-8-sig"),
    "gzip": gzipped,
    "xlsx": xlsx,
}

# How common each kind is in real files: Pollock's survey counts (pollock_weights.json in the
# Pollock repository, summed over a kind's variants) where Pollock has the kind; ours (marked
# "own") where it has none. The clean LF file stands for Pollock's LF record delimiter.
WEIGHTS: dict[str, float] = {
    "clean": 1691,  # file_record_delimiter_0xA
    "delimiter_semicolon": 834,  # file_field_delimiter_0x3B
    "delimiter_tab": 4,  # file_field_delimiter_0x9
    "delimiter_pipe": 4,  # own: as Pollock's other rare delimiters (tab, space)
    "quote_single": 11,  # file_quotation_char_0x27
    "escape_backslash": 1,  # file_escape_char_0x5C
    "line_ending_cr": 7,  # file_record_delimiter_0xD
    "line_ending_crlf": 1,  # Pollock's source file (RFC 4180, CRLF)
    "preamble": 282,  # file_preamble
    "preamble_padded": 15,  # own
    "footer": 62.7,  # own: as one of Pollock's multitable variants
    "second_table": 125.3,  # file_multitable_more + file_multitable_less
    "second_table_same": 62.7,  # file_multitable_same
    "no_header": 470,  # file_no_header
    "header_two_rows": 94,  # file_header_multirow_2 + _3
    "extra_empty_column": 15,  # own
    "ragged_extra": 338,  # row_more_sep_*: 0.368 each over 920 files
    "ragged_missing": 338,  # row_less_sep_*: likewise
    "stray_quote": 8.5,  # row_extra_quote_*: 0.0093 each over 920 files
    "encoding_cp1252": 12,  # own: ANSI files are ~7% of the CSV Wrangling corpus
    "encoding_utf16_bom": 2,  # own
    "encoding_utf8_bom": 10,  # own
    "gzip": 5,  # own
    "xlsx": 5,  # own
}


def variants(table: Table, kinds: Sequence[str] | None = None) -> list[Variant]:
    """Every kind's variant of ``table`` that applies to it."""
    out = []
    for kind in kinds or list(KINDS):
        made = KINDS[kind](table)
        if made is not None:
            out.append(replace(made, kind=kind))
    return out


# -- the corpus ------------------------------------------------------------------------------


def _sklearn_table(file: str, names: list[str], name: str, rows: int | None) -> Table:
    from importlib import resources

    text = resources.files("sklearn.datasets.data").joinpath(file).read_text()
    lines = text.splitlines()[1:]
    body = [line.split(",") for line in lines if line.strip()]
    return Table([*names, "target"], body[:rows], name)


def corpus(rows: int | None = None) -> list[Table]:
    """Clean tables from files that ship with installed packages: scikit-learn's bundled
    CSVs and conveyor's churn sample (``rows`` of each at most)."""
    from sklearn.datasets import load_breast_cancer, load_iris, load_wine

    tables = [
        _sklearn_table("iris.csv", list(load_iris().feature_names), "iris", rows),
        _sklearn_table("wine_data.csv", list(load_wine().feature_names), "wine", rows),
        _sklearn_table(
            "breast_cancer.csv", list(load_breast_cancer().feature_names), "breast_cancer", rows
        ),
    ]
    churn = Path(__file__).resolve().parents[1] / "conveyor" / "samples" / "churn.csv"
    with churn.open(newline="") as handle:
        read = list(csv.reader(handle))
    tables.append(Table(read[0], read[1 : 1 + (rows or 600)], "churn"))
    return tables
