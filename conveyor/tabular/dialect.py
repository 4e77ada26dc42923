"""The CSV dialect of a text sample, from its content and not its file name: the delimiter, the
quote and escape characters, the line ending and the likely decimal mark.

Each candidate dialect parses the sample and is scored by the data consistency measure of van
den Burg et al. ("Wrangling messy CSV files by detecting row and type patterns", 2019, the
measure CleverCSV uses): a pattern score, high when rows have one field count, times a type
score, the share of cells that read as a known kind of value. The sample is the first 64 KiB:
sniffing costs milliseconds whatever the file's size. ``bench/pollution.py`` compares this with
CleverCSV's and DuckDB's sniffers on polluted files.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

DELIMITERS = (",", ";", "\t", "|")
QUOTES = ('"', "'")
SAMPLE_BYTES = 64 << 10
# Rows parsed per candidate: enough for a stable score, few enough to keep 16 candidates fast.
_SAMPLE_ROWS = 200

_NUMBER = re.compile(
    r"^[-+]?(\d+([.,]\d*)?|[.,]\d+)([eE][-+]?\d+)?%?$"
    r"|^[-+]?\$?\d{1,3}([,.' ]\d{3})+([.,]\d+)?$"
    r"|^\(?[-+]?[$€£]?\d+([.,]\d+)?\)?[$€£%]?$"
)
_DATE = re.compile(
    r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$"
    r"|^\d{1,2}:\d{2}(:\d{2})?$"
)
_WORDS = re.compile(r"^[\w .,:;/()&+\-'#%@!?*=]*$", re.UNICODE)
_NULLS = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "-", "#n/a", "."})
_DECIMAL_COMMA = re.compile(r"^[-+]?\d+,\d+$")
_DECIMAL_POINT = re.compile(r"^[-+]?\d*\.\d+$")


@dataclass(frozen=True)
class Dialect:
    """How the file's text is cut into rows and fields."""

    delimiter: str = ","
    quote: str = '"'
    escape: str | None = None
    line_ending: str = "\n"
    decimal: str = "."
    # Values start after a space that follows the delimiter (", "): pyarrow cannot skip it.
    skip_space: bool = False

    def parse(self, text: str) -> list[list[str]]:
        """The rows of ``text`` as Python's csv module reads them with this dialect."""
        return list(self.reader(text))

    def reader(self, text: str) -> Any:  # the csv module's reader (its line_num is used)
        return csv.reader(
            io.StringIO(text, newline=""),
            delimiter=self.delimiter,
            quotechar=self.quote,
            escapechar=self.escape,
            doublequote=self.escape is None,
            skipinitialspace=self.skip_space,
            strict=False,
        )


def sniff(sample: str) -> Dialect:
    """The dialect whose parse of ``sample`` is most consistent.

    Args:
        sample: the first ``SAMPLE_BYTES`` of the decoded text (cut at a line end).

    Returns:
        The best-scoring dialect; comma and double quote when the sample is one column.
    """
    lines = _first_lines(sample, _SAMPLE_ROWS)
    best: tuple[float, int, Dialect] | None = None
    candidates = _candidates(lines)
    if len(candidates) == 1:  # nothing to choose between: no scoring
        delimiter, quote, escape, space = candidates[0]
        best = (1.0, 0, Dialect(delimiter, quote, escape, skip_space=space))
        candidates = []
    for order, (delimiter, quote, escape, space) in enumerate(candidates):
        dialect = Dialect(delimiter, quote, escape, skip_space=space)
        try:
            score = consistency(dialect.parse(lines))
        except csv.Error:  # a value past the csv module's limit: not this dialect's sample
            continue
        if best is None or score > best[0] + 1e-9:
            best = (score, order, dialect)
    dialect = best[2] if best is not None and best[0] > 0 else Dialect()
    return Dialect(
        dialect.delimiter,
        dialect.quote,
        dialect.escape,
        line_ending(sample),
        _decimal(lines, dialect),
        dialect.skip_space,
    )


def _decimal(lines: str, dialect: Dialect) -> str:
    try:
        return decimal_mark(dialect.parse(lines), dialect.delimiter)
    except csv.Error:
        return "."


def _first_lines(sample: str, count: int) -> str:
    lines = io.StringIO(sample, newline="").readlines()
    return "".join(lines[:count])


def _candidates(text: str) -> list[tuple[str, str, str | None, bool]]:
    """The candidate dialects, the likeliest first so that ties go to it: a delimiter or
    quote that never occurs in the sample is no candidate, and a space after the delimiter
    is one only where most delimiters have it."""
    delimiters = [d for d in DELIMITERS if d in text] or [","]
    quotes = [q for q in QUOTES if q in text] or ['"']
    escapes: list[str | None] = [None, "\\"] if "\\" in text else [None]
    return [
        (d, q, e, space)
        for d in delimiters
        for space in ((False, True) if text.count(d + " ") * 2 > text.count(d) else (False,))
        for q in quotes
        for e in escapes
    ]


def consistency(rows: list[list[str]]) -> float:
    """Pattern score times type score (van den Burg et al., 2019): rows of one field count
    whose cells read as values score highest."""
    rows = [row for row in rows if row and any(cell.strip() for cell in row)]
    if not rows:
        return 0.0
    patterns = Counter(len(row) for row in rows)
    pattern = sum(n * (width - 1) / width for width, n in patterns.items()) / len(patterns)
    if max(patterns) == 1:
        pattern = 1e-3  # one column is a candidate only when no delimiter splits anything
    cells = [cell for row in rows for cell in row]
    typed = sum(1 for cell in cells if is_known_type(cell))
    return pattern * (typed / len(cells) if cells else 0.0)


def is_known_type(cell: str) -> bool:
    """A cell that reads as a value of its own: a number, a date, a missing-value token, or
    words; cells with stray quotes or other delimiters in them are not."""
    value = cell.strip()
    if value.lower() in _NULLS or _NUMBER.match(value) or _DATE.match(value):
        return True
    if any(d in value for d in DELIMITERS if d not in " ,"):
        return False
    return bool(_WORDS.match(value)) and value.count("'") % 2 == 0 and '"' not in value


def line_ending(sample: str) -> str:
    """The record end the sample uses most: ``\\r\\n``, ``\\r`` or ``\\n``."""
    crlf = sample.count("\r\n")
    cr = sample.count("\r") - crlf
    lf = sample.count("\n") - crlf
    counts = {"\r\n": crlf, "\r": cr, "\n": lf}
    ending = max(counts, key=lambda k: counts[k])
    return ending if counts[ending] else "\n"


def decimal_mark(rows: list[list[str]], delimiter: str) -> str:
    """ "," when the delimiter is not a comma and cells like ``1,5`` outnumber cells like
    ``1.5``; else ".". A hint for column parsing, which decides per column."""
    if delimiter == ",":
        return "."
    comma = point = 0
    for row in rows[1:]:
        for cell in row:
            value = cell.strip()
            if _DECIMAL_COMMA.match(value):
                comma += 1
            elif _DECIMAL_POINT.match(value):
                point += 1
    return "," if comma > point else "."
