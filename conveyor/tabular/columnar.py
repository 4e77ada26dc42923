"""The cell rules of ``numbers``, ``dates`` and ``missing``, applied to a whole polars column
at once: what preprocessing and batch prediction run, where serving reads one JSON cell at a
time with ``conveyor.tabular.cells``. A test keeps the two equal cell by cell for every rule.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from conveyor.tabular.numbers import NumberFormat

DATETIME = pl.Datetime("us")


def without_tokens(text: pl.Series, tokens: Sequence[str]) -> pl.Series:
    """``text`` (stripped strings) with the cells whose lower case is one of ``tokens`` made
    null."""
    if not tokens:
        return text
    hit = text.str.to_lowercase().is_in(list(tokens))
    return text.set(hit.fill_null(False), None)  # type: ignore[arg-type]


def parse_numbers(text: pl.Series, fmt: NumberFormat | None) -> pl.Series:
    """``text`` (stripped strings, missing tokens already null) as Float64 under ``fmt``;
    null where a cell does not read (``None``: a plain float literal)."""
    if fmt is None:
        return text.cast(pl.Float64, strict=False)
    groups = text.str.extract_groups(fmt.pattern).struct.unnest()
    whole = pl.col("int").fill_null("").str.replace_all("[^0-9]", "")
    frac = pl.col("frac").fill_null("")
    exp = pl.col("exp")
    negative = (pl.col("s1") == "-").fill_null(False) | (pl.col("s2") == "-").fill_null(False)
    balanced = pl.lit(True)
    if fmt.parens:
        opened = pl.col("open").is_not_null()
        negative = negative | opened
        balanced = opened == pl.col("close").is_not_null()
    literal = (
        pl.when(negative).then(pl.lit("-")).otherwise(pl.lit(""))
        + pl.when(whole == "").then(pl.lit("0")).otherwise(whole)
        + pl.lit(".")
        + pl.when(frac == "").then(pl.lit("0")).otherwise(frac)
        + pl.when(exp.is_null()).then(pl.lit("")).otherwise(pl.lit("e") + exp)
    )
    valid = ((whole != "") | (frac != "")) & balanced
    number = pl.when(valid).then(literal).otherwise(None).cast(pl.Float64, strict=False)
    return groups.select(number.alias(text.name)).to_series()


def parse_dates(text: pl.Series, formats: Sequence[str]) -> pl.Series:
    """``text`` (stripped strings, missing tokens already null) read with the first of
    ``formats`` (polars syntax) that reads each cell, as naive UTC Datetime(us); null where
    none does."""
    parsed = []
    for fmt in formats:
        moment = text.str.to_datetime(fmt, strict=False, time_unit="us")
        if isinstance(moment.dtype, pl.Datetime) and moment.dtype.time_zone is not None:
            moment = moment.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        moment = moment.cast(DATETIME)
        if "%Y" in fmt:  # chrono's %Y also reads "20" (the year 20); strptime's takes 4 digits
            moment = moment.set(moment.dt.year() < 1000, None)  # type: ignore[arg-type]
        parsed.append(moment)
    if not parsed:
        return pl.Series(text.name, [None] * len(text), dtype=DATETIME)
    return pl.select(pl.coalesce(parsed)).to_series().alias(text.name)
