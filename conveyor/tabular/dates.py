"""Date and timestamp formats: the candidates inference tries, and one cell read with a
column's formats in plain Python (serving; the AWS request check has no polars).

Formats are written in polars' (chrono's) syntax, the one a schema records. Where chrono and
Python's ``strptime`` differ, :func:`python_formats` and :func:`parse_datetime` make Python
read as chrono does: ``%.f`` (an optional fraction), ``%#z`` (``Z`` or an offset), ``%B``
(a full month name or its abbreviation) and ``%y`` (69 is 2069). Preprocessing applies the
same formats to a whole column (``conveyor.tabular.columnar.parse_dates``); a test keeps the
two equal cell by cell. Formats are tried in order and the first that reads a cell wins.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

_TIMES = ("", " %H:%M", " %H:%M:%S", " %I:%M %p", " %I:%M:%S %p")
_ISO_TIMES = ("", "T%H:%M:%S%.f", " %H:%M:%S%.f", "T%H:%M", " %H:%M")
_ZONES = ("T%H:%M:%S%.f%#z", " %H:%M:%S%.f%#z", "T%H:%M%#z")


def _numeric_orders() -> tuple[list[str], list[str]]:
    """(month-first, day-first) formats: 2-digit years before 4-digit ones, since chrono's
    ``%Y`` also reads ``20`` (as the year 20)."""
    month_first: list[str] = []
    day_first: list[str] = []
    for sep in ("/", "-", "."):
        for year in ("%y", "%Y"):
            for time in _TIMES:
                month_first.append(f"%m{sep}%d{sep}{year}{time}")
                day_first.append(f"%d{sep}%m{sep}{year}{time}")
    return month_first, day_first


MONTH_FIRST, DAY_FIRST = _numeric_orders()
ISO_FORMATS = (
    *(f"%Y-%m-%d{t}" for t in (*_ZONES, *_ISO_TIMES)),
    *(f"%Y/%m/%d{t}" for t in _ISO_TIMES),
    "%Y.%m.%d",
)
# %b before %B: chrono's %B also reads "Jan", Python's does not.
MONTH_NAME_FORMATS = tuple(
    f.replace("MON", mon)
    for mon in ("%b", "%B")
    for f in (
        "MON %d %Y",
        "MON %d, %Y",
        "%d MON %Y",
        "%d-MON-%Y",
        "%d-MON-%y",
        "MON-%d-%Y",
        "%a, %d MON %Y %H:%M:%S",
        "MON %d %Y %H:%M",
        "MON %d, %Y %H:%M",
        "%d MON %Y %H:%M",
    )
)
# Formats without a day read as the month's first; inference tries them last.
MONTH_FORMATS = ("%b-%Y", "%b %Y", "%B %Y", "%b-%y", "%Y-%m", "%m/%Y")
CANDIDATES = (*ISO_FORMATS, *MONTH_FIRST, *DAY_FIRST, *MONTH_NAME_FORMATS, *MONTH_FORMATS)


@cache
def python_formats(fmt: str) -> tuple[str, ...]:
    """``strptime`` formats that together read what polars' ``fmt`` reads, tried in order."""
    formats = [fmt.replace("%#z", "%z")]
    if "%.f" in fmt:
        formats = [f.replace("%.f", ".%f") for f in formats] + [
            f.replace("%.f", "") for f in formats
        ]
    if "%B" in fmt:
        formats += [f.replace("%B", "%b") for f in formats]
    return tuple(formats)


def parse_datetime(text: str, formats: tuple[str, ...]) -> datetime | None:
    """``text`` (stripped, not a missing token) read with the first of ``formats`` (polars
    syntax) that reads it, as a naive UTC datetime; None when none does."""
    for fmt in formats:
        for python_format in python_formats(fmt):
            try:
                moment = datetime.strptime(text, python_format)
            except ValueError:
                continue
            if "%y" in fmt and moment.year == 1969:  # chrono's century pivot is 70, Python's 69
                moment = moment.replace(year=2069)
            if moment.tzinfo is not None:
                moment = moment.astimezone(UTC).replace(tzinfo=None)
            return moment
    return None


def describe_formats(formats: tuple[str, ...]) -> str:
    return "date " + ", ".join(f"`{f}`" for f in formats)
