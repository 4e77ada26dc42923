"""Which date formats a text column is written in, found on a sample of its distinct values:
the fewest candidate formats (``conveyor.tabular.dates``) that read them, with the order of
day and month settled by the data (a value above 12 in one place) and the reason recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from conveyor.tabular.columnar import parse_dates
from conveyor.tabular.dates import CANDIDATES, DAY_FIRST, MONTH_FIRST

_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"
# Digits split by - / . (2020-01-05, 8/6/20, 03-2018), or a month's name beside digits.
_DATE_LIKE = (
    r"(?i)(^[0-9]{1,4}[-/.][0-9]{1,2}([-/.][0-9]{1,4}|$))"
    rf"|(\b({_MONTHS})[a-z]*\b.*[0-9])|([0-9].*\b({_MONTHS}))"
)
# A column is tried as dates only when this share of its sample looks like dates.
_DATE_LIKE_SHARE = 0.5
_MAX_FORMATS = 6
_DAY_FIRST = frozenset(DAY_FIRST)
_MONTH_FIRST = frozenset(MONTH_FIRST)


@dataclass(frozen=True)
class DateGuess:
    formats: tuple[str, ...]
    note: str | None


def guess_date_formats(sample: pl.Series, *, decimal: str | None = None) -> DateGuess | None:
    """The formats (in the order to try them) that read most of ``sample`` (distinct,
    stripped text), or None when it does not look like dates."""
    looks = sample.str.contains(_DATE_LIKE)
    if len(sample) == 0 or looks.mean() < _DATE_LIKE_SHARE:  # type: ignore[operator]
        return None
    readers = {fmt: _reads(sample, fmt) for fmt in CANDIDATES}
    readers = {fmt: hits for fmt, hits in readers.items() if hits.any()}
    if not readers:
        return None
    note = None
    numeric = [f for f in readers if f in _DAY_FIRST or f in _MONTH_FIRST]
    if numeric:
        day_first, note = _order(sample, readers, decimal)
        excluded = _MONTH_FIRST if day_first else _DAY_FIRST
        readers = {f: hits for f, hits in readers.items() if f not in excluded}
    chosen = _cover(readers)
    formats = tuple(f for f in CANDIDATES if f in chosen)  # the candidates' precedence
    if not numeric or not any(f in _DAY_FIRST or f in _MONTH_FIRST for f in formats):
        note = None
    return DateGuess(formats, note)


def _reads(sample: pl.Series, fmt: str) -> pl.Series:
    return parse_dates(sample, (fmt,)).is_not_null()  # as coercion will read it


def _order(
    sample: pl.Series, readers: dict[str, pl.Series], decimal: str | None
) -> tuple[bool, str]:
    """(day first?, why): the order that reads the values the other cannot."""
    none = pl.repeat(False, len(sample), eager=True)
    by_day = none
    by_month = none
    for fmt, hits in readers.items():
        if fmt in _DAY_FIRST:
            by_day = by_day | hits
        elif fmt in _MONTH_FIRST:
            by_month = by_month | hits
    only_day = sample.filter(by_day & ~by_month)
    only_month = sample.filter(by_month & ~by_day)
    if len(only_day) > len(only_month):
        return True, f"day before month: {only_day[0]!r} has a day above 12 first"
    if len(only_month) > len(only_day):
        return False, f"month before day: {only_month[0]!r} has a day above 12 second"
    if decimal == ",":
        return True, "day before month: no day above 12 settles it; the file writes decimal commas"
    return False, "month before day (US order): no day above 12 settles it"


def _cover(readers: dict[str, pl.Series]) -> set[str]:
    """Greedily, the formats that read the most values not yet read."""
    if not readers:
        return set()
    left = ~pl.repeat(False, len(next(iter(readers.values()))), eager=True)
    chosen: set[str] = set()
    while len(chosen) < _MAX_FORMATS:
        best, gain = None, 0
        for fmt, hits in readers.items():
            count = int((hits & left).sum())
            if count > gain:  # the first of equals (the candidates' order) wins
                best, gain = fmt, count
        if best is None:
            break
        chosen.add(best)
        left = left & ~readers[best]
    return chosen
