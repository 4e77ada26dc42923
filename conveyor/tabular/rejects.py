"""Rows set aside: records whose field count is not the table's, each with its physical line,
the reason and the raw text (the semantics of DuckDB's ``store_rejects``), and the careful
line-by-line parse that finds them when the fast reader met any.

The careful parse also settles stray quotes: a quote that opens a value and never closes would
make the fast reader swallow the lines after it into one bad row; here a line whose quotes do
not balance is joined with the lines after it only when that makes one record of the table's
width, and otherwise read with its quotes as plain characters.
"""

from __future__ import annotations

import csv
import io
import mmap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from conveyor.errors import InvalidInput
from conveyor.tabular.dialect import Dialect

# Lines a quoted value may run over before its opening quote is taken for a stray one.
_MAX_VALUE_LINES = 50
# Characters of a rejected row kept in the report.
_TEXT_CHARS = 500
REJECTS_SHOWN = 100


@dataclass(frozen=True)
class Reject:
    """A row set aside: ``line`` is its first physical line in the file (None when the
    streaming reader could not tell)."""

    line: int | None
    reason: str
    text: str

    def to_dict(self) -> dict[str, object]:
        return {"line": self.line, "reason": self.reason, "text": self.text}


@dataclass(frozen=True)
class CarefulRows:
    rows: list[list[str]]
    rejects: list[Reject]


def careful_parse(text: str, dialect: Dialect, width: int, *, first_line: int) -> CarefulRows:
    """Every record of ``text`` that has ``width`` fields, and the rest as rejects.

    Args:
        text: the data part of the file (after the header, before any footer).
        dialect: the file's dialect.
        width: the table's field count.
        first_line: the physical line ``text`` starts on.
    """
    lines = io.StringIO(text, newline="").readlines()
    rows: list[list[str]] = []
    rejects: list[Reject] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        used, fields = split_record(lines, i, dialect, width)
        if fields is not None and len(fields) == width:
            rows.append(fields)
        else:
            count = len(fields) if fields is not None else len(plain_split(line, dialect))
            rejects.append(
                Reject(
                    first_line + i,
                    f"{count} fields, expected {width}",
                    "".join(lines[i : i + used]).rstrip("\r\n")[:_TEXT_CHARS],
                )
            )
        i += used
    return CarefulRows(rows, rejects)


def split_record(
    lines: list[str], i: int, dialect: Dialect, width: int
) -> tuple[int, list[str] | None]:
    """How many lines the record at line ``i`` takes, and its fields: a record of ``width``
    fields when the line's quotes can be read so, else the csv module's reading of it."""
    line = lines[i]
    if balanced(line, dialect):
        fields = parse_line(line, dialect)
        if fields is not None and len(fields) == width:
            return 1, fields
        lenient = _lenient(line, dialect)
        return 1, lenient if len(lenient) == width else fields
    # Quotes that do not pair: a value over lines, a stray quote, or a quote inside a quoted
    # value that was not doubled.
    joined = line
    for extra in range(1, _MAX_VALUE_LINES):
        if i + extra >= len(lines):
            break
        joined += lines[i + extra]
        if balanced(joined, dialect):
            fields = parse_line(joined, dialect)
            if fields is not None and len(fields) == width:
                return extra + 1, fields
            break
    for fields in (_lenient(line, dialect), plain_split(line, dialect)):
        if len(fields) == width:
            return 1, fields
    return 1, parse_line(line, dialect)


def _lenient(line: str, dialect: Dialect) -> list[str]:
    """The line's fields where a quote closes a value only before a delimiter or the line's
    end: ``'won't'`` is one value, as a person reads it."""
    text, q, d = line.rstrip("\r\n"), dialect.quote, dialect.delimiter
    fields: list[str] = []
    i = 0
    while True:
        if dialect.skip_space:
            while text.startswith(" ", i):
                i += 1
        if text.startswith(q, i):
            value, i = [], i + 1
            while i < len(text):
                if text[i] == q and text.startswith(q, i + 1):
                    value.append(q)  # a doubled quote
                    i += 2
                elif text[i] == q and (i + 1 == len(text) or text.startswith(d, i + 1)):
                    i += 1
                    break
                else:
                    value.append(text[i])
                    i += 1
            fields.append("".join(value))
        else:
            end = text.find(d, i)
            end = len(text) if end < 0 else end
            fields.append(text[i:end])
            i = end
        if i >= len(text):
            return fields
        i += len(d)


def balanced(text: str, dialect: Dialect) -> bool:
    if dialect.escape:
        text = text.replace(dialect.escape + dialect.escape, "").replace(
            dialect.escape + dialect.quote, ""
        )
    return text.count(dialect.quote) % 2 == 0


def parse_line(text: str, dialect: Dialect) -> list[str] | None:
    try:
        found = dialect.parse(text.rstrip("\r\n"))
    except csv.Error:
        return None
    return found[0] if len(found) == 1 else None


def plain_split(line: str, dialect: Dialect) -> list[str]:
    """The line cut at every delimiter, quotes kept as characters, the ones around a value
    taken off."""
    cells = line.rstrip("\r\n").split(dialect.delimiter)
    q = dialect.quote
    return [c[1:-1] if len(c) >= 2 and c[0] == q and c[-1] == q else c for c in cells]


def write_rows(rows: Iterator[list[str]] | list[list[str]], handle: io.TextIOBase) -> None:
    """Rows as standard CSV (comma, double quotes), for the fast reader to type."""
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerows(rows)


def check_share(rejected: int, kept: int, rejects: list[Reject], max_share: float) -> None:
    """Refuse the file when more than ``max_share`` of its rows were set aside.

    Raises:
        InvalidInput: naming the count, the share, the first lines and the setting.
    """
    total = rejected + kept
    if not rejected or not total or rejected / total <= max_share:
        return
    lines = ", ".join(str(r.line) for r in rejects[:5] if r.line is not None)
    first = rejects[0]
    raise InvalidInput(
        f"{rejected} of {total} rows ({rejected / total:.1%}) do not have the table's number "
        f"of fields (first on line(s) {lines or '?'}: {first.reason}); the project sets aside "
        f"at most {max_share:.0%} (the max_reject_share setting): fix those rows (quote values "
        "that contain the delimiter) or raise the setting",
        field="file",
    )


def locate_lines(path: Path, texts: list[str], *, start: int, first_line: int) -> dict[str, int]:
    """The physical line on which each text first stands as a whole line of ``path``, at or
    after byte ``start`` (which is on line ``first_line``): found with ``mmap.find`` and the
    line ends before it counted with numpy, not by reading the file line by line."""
    found: dict[int, str] = {}
    if path.stat().st_size == 0:
        return {}
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        ending = b"\r" if mm.find(b"\n", start) < 0 else b"\n"
        for text in dict.fromkeys(texts):
            key = text.encode("utf-8")
            at = mm.find(key, start)
            while at >= 0:
                before = mm[at - 1 : at] if at > start else b"\n"
                after = mm[at + len(key) : at + len(key) + 1]
                if before in (b"\n", b"\r") and after in (b"", b"\n", b"\r"):
                    found[at] = text
                    break
                at = mm.find(key, at + 1)
        lines: dict[str, int] = {}
        count, last = first_line, start
        view = np.frombuffer(mm, dtype=np.uint8)
        for at in sorted(found):
            count += int(np.count_nonzero(view[last:at] == ord(ending)))
            last = at
            lines[found[at]] = count
        del view
    return lines
