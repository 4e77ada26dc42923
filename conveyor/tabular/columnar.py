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
    return text.set(hit.fill_null(False), None)


def parse_numbers(text: pl.Series, fmt: NumberFormat | None) -> pl.Series:
    """``text`` (stripped strings, missing tokens already null) as Float64 under ``fmt``;
    null where a cell does not read (``None``: a plain float literal).

    A cell reads when it matches ``fmt.pattern`` (a capture-free match is ten times cheaper
    than extracting its groups); its number is then what is left once the affixes, spaces,
    parentheses and thousands separators are taken out, with the sign ``number_text`` gives.
    """
    if fmt is None:
        return text.cast(pl.Float64, strict=False)
    frame = text.alias("text").to_frame()
    valid = pl.col("text").str.contains(fmt.pattern)
    if fmt.parens or fmt.thousands == " ":
        return frame.select(_spelled_out(fmt, valid).alias(text.name)).to_series()
    # Most cells are a float literal once the format's own marks are taken out, and one cast
    # reads them; only the matching cells it cannot read (a space, two signs) take the longer
    # way, on those rows alone: a column of decimal commas costs three passes, not eight.
    quick = frame.select(
        _literal(fmt).cast(pl.Float64, strict=False).alias("number"), valid.alias("valid")
    )  # apart, then joined: an eager select would match the pattern once per use
    number = quick.select(pl.when("valid").then("number")).to_series()
    left = (quick.get_column("valid") & number.is_null()).fill_null(False)
    if not left.any():
        return number.alias(text.name)
    rows = left.arg_true()
    rest = frame[rows].select(_spelled_out(fmt, pl.lit(True))).to_series()
    return number.scatter(rows, rest).alias(text.name)


def _literal(fmt: NumberFormat) -> pl.Expr:
    """Column ``text`` with ``fmt``'s affixes, thousands separators and decimal comma taken
    out: a float literal, unless the cell has spaces, parentheses or two signs."""
    body = pl.col("text")
    for affix in (fmt.prefix, fmt.suffix):
        if affix:
            body = body.str.replace(affix, "", literal=True)
    if fmt.prefix or fmt.suffix:
        body = body.str.strip_chars(" ")  # the space between a number and its `€`
    if fmt.thousands and fmt.thousands != " ":
        body = body.str.replace_all(fmt.thousands, "", literal=True)
    if fmt.decimal == ",":
        body = body.str.replace(",", ".", literal=True)
    return body


def _spelled_out(fmt: NumberFormat, valid: pl.Expr) -> pl.Expr:
    """The number of each cell of column ``text`` that ``valid`` holds for (null elsewhere),
    however it places spaces, parentheses and signs."""
    # Spaces and parentheses are none of the marks ``_literal`` takes out: removing them
    # after those gives the same text as before.
    body = _literal(fmt).str.replace_all("[ \u00a0\u202f()]", "")
    negative = body.str.contains("^[-+]*-")
    # A match with no digit before the exponent ("e5", ".") does not cast: no check needed.
    mantissa = body.str.strip_chars_start("+-")
    if fmt.parens:
        opened = pl.col("text").str.starts_with("(")
        negative = negative | opened
        valid = valid & (opened == pl.col("text").str.ends_with(")"))
    value = mantissa.cast(pl.Float64, strict=False)
    return pl.when(~valid).then(None).when(negative).then(-value).otherwise(value)


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
            moment = moment.set(moment.dt.year() < 1000, None)
        parsed.append(moment)
    if not parsed:
        return pl.Series(text.name, [None] * len(text), dtype=DATETIME)
    return pl.select(pl.coalesce(parsed)).to_series().alias(text.name)
