"""Every parsing rule read two ways gives the same value cell by cell: vectorised in polars
(``coerce_frame``, preprocessing and batch prediction) and one JSON cell at a time in plain
Python (``conveyor.tabular.cells``, the request path and the AWS request check)."""

from __future__ import annotations

import math
import random
import re
from datetime import datetime
from typing import Any

import polars as pl
import pytest

from conveyor.errors import InvalidInput
from conveyor.tabular.cells import Refused, datetime_reader, number_reader
from conveyor.tabular.coerce import coerce_frame
from conveyor.tabular.dates import CANDIDATES
from conveyor.tabular.infer import infer_schema
from conveyor.tabular.numbers import NumberFormat
from conveyor.tabular.schema import NULL_TOKENS, DatasetSchema, FeatureKind, FeatureSpec
from conveyor.types import Task

NUMBER_CELLS = [
    "1",
    "-2",
    "+3",
    "1234.5",
    "1,234.5",
    "1.234,5",
    "1 234,5",
    "1\u00a0234,5",
    "1'234.50",
    "79,99",
    ",5",
    ".5",
    "5.",
    "1e3",
    "1.5E-2",
    "$1,200",
    "$ 1,200.00",
    "-$3",
    "$-3",
    "-$-3",
    "+$-3",
    "(-5)",
    "(+5)",
    "--3",
    "e5",
    "$e5",
    ".e5",
    "-.5",
    "1.5e+03",
    "1,5e3",
    "0",
    "-0",
    "(12.50)",
    "($12.50)",
    "(12.50",
    "12.50)",
    "18.01%",
    "18.01 %",
    "€ 3,50",
    "3,50 €",
    "USD 1,200",
    "1,200 EUR",
    "$70/mo",
    "12 kg",
    "5 min",
    "1,23",
    "12,3456",
    "1,2,3",
    "$",
    "%",
    "-",
    "abc",
    "unknown",
    "Unknown",
    "2-10",
    ">50",
    "10+",
    "5'7\"",
    "١٢",
    "1_000",
    "inf",
    "0x10",
    " 79,99 ",
    " -3 ",
    "- 3",
    "1.234,50 €",
    " 3,50 € ",
    "NaN",
]
FORMATS = [
    NumberFormat(),
    NumberFormat(","),
    NumberFormat(".", ","),
    NumberFormat(",", "."),
    NumberFormat(",", " "),
    NumberFormat(".", "'"),
    NumberFormat(".", ",", "$", "", True),
    NumberFormat(",", ".", "€", "", False),
    NumberFormat(",", "", "", "€", True),
    NumberFormat(".", ",", "USD"),
    NumberFormat(".", ",", "", "EUR"),
    NumberFormat(".", "", "", "%"),
    NumberFormat(".", "", "$", "/mo"),
    NumberFormat(".", "", "", "kg"),
    NumberFormat(".", "", "", "min"),
]


def _schema(spec: FeatureSpec) -> DatasetSchema:
    return DatasetSchema(target="y", task=Task.REGRESSION, features=(spec,))


def _python(read: Any, cell: str) -> Any:
    try:
        value = read(cell)
    except Refused:
        return "refused"
    return None if isinstance(value, float) and math.isnan(value) else value


def _polars(spec: FeatureSpec, cells: list[str]) -> list[Any]:
    frame = pl.DataFrame({spec.name: pl.Series(cells, dtype=pl.String)})
    lenient = coerce_frame(frame, _schema(spec), lenient=True).get_column(spec.name).to_list()
    # A cell the polars rule cannot read is missing when lenient and refused when strict.
    unread = [
        value is None
        and cell.strip() not in NULL_TOKENS
        and cell.lower() not in spec.missing_tokens
        for cell, value in zip(cells, lenient, strict=True)
    ]
    if any(unread):
        first = cells[unread.index(True)]
        with pytest.raises(InvalidInput, match=re.escape(f"got {first!r} (row 1)")):
            coerce_frame(pl.DataFrame({spec.name: [first]}), _schema(spec))
    return ["refused" if bad else value for bad, value in zip(unread, lenient, strict=True)]


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f"{f.describe()}|{f.decimal}")
def test_numbers_read_alike_in_polars_and_python(fmt: NumberFormat) -> None:
    spec = FeatureSpec("x", FeatureKind.NUMERIC, number_format=fmt, missing_tokens=("unknown",))
    read = number_reader(spec)
    python = [_python(read, cell) for cell in NUMBER_CELLS]
    columnar = _polars(spec, NUMBER_CELLS)
    assert dict(zip(NUMBER_CELLS, columnar, strict=True)) == dict(
        zip(NUMBER_CELLS, python, strict=True)
    )
    assert any(isinstance(v, float) for v in python)


def _date_cells() -> list[str]:
    moments = [datetime(2020, 8, 6, 18, 57, 5), datetime(1969, 12, 25, 7, 5), datetime(2001, 1, 31)]
    cells = {
        moment.strftime(fmt.replace("%#z", "+02:00").replace("%.f", ""))
        for moment in moments
        for fmt in CANDIDATES
    }
    cells |= {
        "2016-01-01T00:00:00Z",
        "2016-01-01T00:00:00.250Z",
        "2016-01-01 10:00:00.5",
        "2016-01-01T03:00:00+0200",
        "8/6/20 18:57",
        "Jan 1 2000",
        "January 1 2000",
        "1 Jan 2000",
        "Mar-2018",
        "13/25/2020",
        "not a date",
        "n/a please",
    }
    return sorted(cells)


@pytest.mark.parametrize("fmt", CANDIDATES)
def test_each_date_format_reads_alike_in_polars_and_python(fmt: str) -> None:
    cells = _date_cells()
    spec = FeatureSpec("d", FeatureKind.DATETIME, date_format=fmt)
    read = datetime_reader(spec)
    python = [_python(read, cell) for cell in cells]
    columnar = _polars(spec, cells)
    assert dict(zip(cells, columnar, strict=True)) == dict(zip(cells, python, strict=True))
    assert any(isinstance(v, datetime) for v in python), "no cell exercises the format"


def test_several_date_formats_take_the_first_that_reads_alike() -> None:
    cells = _date_cells()
    formats = ("%Y-%m-%d", "%d/%m/%y %H:%M", "%d/%m/%Y", "%b %d %Y", "%B %d %Y", "%b-%Y")
    spec = FeatureSpec(
        "d",
        FeatureKind.DATETIME,
        date_format=formats[0],
        date_formats=formats,
        missing_tokens=("not a date",),
    )
    read = datetime_reader(spec)
    assert _polars(spec, cells) == [_python(read, cell) for cell in cells]


def _messy_column(rng: random.Random) -> list[str]:
    """A column of one real-file trait, with a few odd cells among it."""
    trait = rng.choice(["money", "eu", "pct", "unit", "date", "iso", "month", "sentinel"])
    cells = []
    for _ in range(rng.randint(30, 120)):
        v = rng.uniform(-1000, 100_000)
        cells.append(
            {
                "money": rng.choice([f"${v:,.2f}", f"(${abs(v):,.2f})", f"${v:.0f}"]),
                "eu": f"{v:,.2f}".replace(",", " ").replace(".", ",").replace(" ", "."),
                "pct": f"{v / 1000:.2f}%",
                "unit": f"{abs(v):.1f} kg",
                "date": f"{rng.randint(1, 12)}/{rng.randint(1, 28)}/"
                + rng.choice([f"{rng.randint(0, 99):02d}", str(rng.randint(1950, 2030))]),
                "iso": f"2020-{rng.randint(1, 12):02d}-0{rng.randint(1, 9)}T10:00:00"
                + rng.choice(["Z", "+02:00", ""]),
                "month": f"{rng.choice(['Jan', 'March', 'Sep'])} {rng.randint(1, 28)} 2001",
                "sentinel": rng.choice([f"{v:.1f}"] * 6 + ["unknown", "?", "other"]),
            }[trait]
        )
        if rng.random() < 0.05:
            cells[-1] = rng.choice(["weird", "1,2,3", "$", "(5", "e5", "2/30/2020"])
    return cells


@pytest.mark.parametrize("seed", range(30))
def test_inferred_rules_read_a_messy_column_alike_on_both_paths(seed: int) -> None:
    cells = _messy_column(random.Random(seed))
    target = [i % 2 for i in range(len(cells))]
    frame = pl.DataFrame({"x": pl.Series(cells).replace(list(NULL_TOKENS), None), "y": target})
    schema, _ = infer_schema(frame, target="y", task=Task.AUTO)
    spec = schema.features[0]
    assert spec.kind in (FeatureKind.NUMERIC, FeatureKind.DATETIME), schema.column_report()
    read = number_reader(spec) if spec.kind is FeatureKind.NUMERIC else datetime_reader(spec)
    assert _polars(spec, cells) == [_python(read, cell) for cell in cells]
