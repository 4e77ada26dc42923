"""Apply a schema to raw values: the one parser shared by preprocessing (a CSV's strings)
and serving (JSON values), so a model never sees data parsed two different ways."""

from __future__ import annotations

from typing import TypeVar

import polars as pl

from conveyor.errors import InvalidInput
from conveyor.tabular.cells import check_columns, date_expected, number_expected, upload_columns
from conveyor.tabular.columnar import parse_dates, parse_numbers, without_tokens
from conveyor.tabular.infer import FALSE_TOKENS, TRUE_TOKENS
from conveyor.tabular.parallel import map_columns
from conveyor.tabular.schema import NULL_TOKENS, DatasetSchema, FeatureKind, FeatureSpec
from conveyor.types import Task

TextT = TypeVar("TextT", pl.Series, pl.Expr)
_DTYPES = {
    FeatureKind.NUMERIC: pl.Float64,
    FeatureKind.CATEGORICAL: pl.String,
    FeatureKind.BOOLEAN: pl.Boolean,
    FeatureKind.DATETIME: pl.Datetime("us"),
    FeatureKind.TEXT: pl.String,
}


def coerce_frame(
    frame: pl.DataFrame,
    schema: DatasetSchema,
    *,
    with_target: bool = False,
    allow_extra: bool = True,
    lenient: bool = False,
) -> pl.DataFrame:
    """``frame``'s schema columns, typed: numeric Float64, categorical and text String,
    boolean Boolean, datetime Datetime(us); the target too when ``with_target``. Nulls stay
    nulls, and so do the spellings of missing (``NULL_TOKENS`` and a feature's own
    ``missing_tokens``); a feature ``frame`` lacks is all nulls (a request may leave out what
    it does not know). Each cell is read with its feature's rule (number format, date
    formats), as ``conveyor.tabular.cells`` reads a JSON cell.

    Args:
        lenient: a cell its rule cannot read becomes missing instead of refused: how
            preprocessing takes the training file (its rules were found on a sample, and the
            report counts what they read); serving refuses such a cell.

    Raises:
        InvalidInput: the target is missing (``with_target``), a column is one the upload
            never had (``allow_extra=False``), or (unless ``lenient``) a cell holds a value
            its kind cannot take; ``field`` names the column.
    """
    known = None if allow_extra else upload_columns(schema)
    check_columns(frame.columns, schema.feature_names, known=known)
    if with_target and schema.target not in frame.columns:
        raise InvalidInput(f"missing column(s): {schema.target!r}", field=schema.target)
    absent = [name for name in schema.feature_names if name not in frame.columns]
    if absent:
        frame = frame.with_columns(pl.lit(None).alias(name) for name in absent)
    columns = map_columns(
        lambda spec: _coerce(frame.get_column(spec.name), spec, lenient),
        schema.features,
        rows=frame.height,
    )
    if with_target:
        columns.append(coerce_target(frame.get_column(schema.target), schema, lenient=lenient))
    return pl.DataFrame(columns)


def coerce_target(column: pl.Series, schema: DatasetSchema, *, lenient: bool = False) -> pl.Series:
    """The target typed as the model learns it: floats for regression (read with the
    target's number format), else the classes' own type."""
    numbers = FeatureSpec(
        schema.target, FeatureKind.NUMERIC, number_format=schema.target_number_format
    )
    if schema.task is Task.REGRESSION:
        return _to_float(column, numbers, lenient)
    classes = schema.classes or ()
    if classes and all(isinstance(c, bool) for c in classes):
        return _to_bool(column, FeatureSpec(schema.target, FeatureKind.BOOLEAN), lenient)
    if classes and all(isinstance(c, int) for c in classes):
        return _to_float(column, numbers, lenient).cast(pl.Int64)
    if classes and all(isinstance(c, float) for c in classes):
        return _to_float(column, numbers, lenient)
    return _to_text(column, ())


def _coerce(column: pl.Series, spec: FeatureSpec, lenient: bool) -> pl.Series:
    if spec.kind is FeatureKind.NUMERIC:
        return _to_float(column, spec, lenient)
    if spec.kind is FeatureKind.CATEGORICAL or spec.kind is FeatureKind.TEXT:
        return _to_text(column, spec.missing_tokens)
    if spec.kind is FeatureKind.BOOLEAN:
        return _to_bool(column, spec, lenient)
    return _to_datetime(column, spec, lenient)


def stripped_text(text: TextT) -> TextT:
    """Text cells (a column, or an expression over columns) stripped, with the spellings of
    "missing" made null: how every reader of cells, CSV or JSON, takes them."""
    return text.str.strip_chars().replace(list(NULL_TOKENS), None)


def _cleaned_text(column: pl.Series, tokens: tuple[str, ...] = ()) -> pl.Series:
    return without_tokens(stripped_text(column.cast(pl.String)), tokens)


def _to_text(column: pl.Series, tokens: tuple[str, ...]) -> pl.Series:
    if column.dtype == pl.String:
        return _cleaned_text(column, tokens)
    if column.dtype.is_float():
        # JSON 3.0 for a category seen in the CSV as "3".
        integral = column.fill_null(0).round() == column.fill_null(0)
        if bool(integral.all()):
            return _cleaned_text(column.cast(pl.Int64), tokens)
    return _cleaned_text(column, tokens)


def _to_float(column: pl.Series, spec: FeatureSpec, lenient: bool) -> pl.Series:
    name, fmt = spec.name, spec.number_format
    if column.dtype.is_numeric():
        return column.cast(pl.Float64)
    if column.dtype == pl.Boolean:
        if lenient:
            return pl.Series(column.name, [None] * len(column), dtype=pl.Float64)
        _refuse(column, column.is_not_null(), name, number_expected(spec))
    if column.dtype == pl.Null:
        return column.cast(pl.Float64)
    rule = None if fmt is None or fmt.is_plain else fmt
    # Read the cells as they stand first: most are numbers with nothing to strip. Only the
    # ones that do not read (a space around them, a spelling of missing) are cleaned and read
    # again. The column's own missing tokens go first: one may read as a number (-999).
    text = without_tokens(column.cast(pl.String), spec.missing_tokens)
    parsed = parse_numbers(text, rule)
    unread = parsed.is_null() & text.is_not_null()
    if rule is None:
        unread = unread | parsed.is_nan()  # "NaN" is a spelling of missing
    unread = unread.fill_null(False)
    if not unread.any():
        return parsed
    rows = unread.arg_true()
    cleaned = _cleaned_text(text.gather(rows), spec.missing_tokens)
    again = parse_numbers(cleaned, rule)
    if not lenient:
        bad = pl.repeat(False, len(column), eager=True)
        bad = bad.scatter(rows, again.is_null() & cleaned.is_not_null())
        _refuse(column, bad, name, number_expected(spec))
    return parsed.scatter(rows, again)


def _to_bool(column: pl.Series, spec: FeatureSpec, lenient: bool) -> pl.Series:
    if column.dtype == pl.Boolean:
        return column
    if column.dtype == pl.Null:
        return column.cast(pl.Boolean)
    if column.dtype.is_numeric():
        bad = ~column.is_in([0, 1]) & column.is_not_null()
        if lenient:
            return column.cast(pl.Boolean).set(bad, None)
        _refuse(column, bad, spec.name, "true/false (or 0/1)")
        return column.cast(pl.Boolean)
    text = _cleaned_text(column, spec.missing_tokens).str.to_lowercase()
    truthy = TRUE_TOKENS | set(spec.true_values) | {"1"}
    falsy = FALSE_TOKENS | set(spec.false_values) | {"0"}
    parsed = (
        pl.when(text.is_in(list(truthy)))
        .then(True)
        .when(text.is_in(list(falsy)))
        .then(False)
        .otherwise(None)
    )
    result = pl.select(parsed.alias(column.name)).to_series()
    if not lenient:
        _refuse(column, result.is_null() & text.is_not_null(), spec.name, "true/false")
    return result


def _to_datetime(column: pl.Series, spec: FeatureSpec, lenient: bool) -> pl.Series:
    if isinstance(column.dtype, pl.Datetime) or column.dtype == pl.Date:
        if isinstance(column.dtype, pl.Datetime) and column.dtype.time_zone is not None:
            column = column.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        return column.cast(pl.Datetime("us"))
    if column.dtype == pl.Null:
        return column.cast(pl.Datetime("us"))
    text = _cleaned_text(column, spec.missing_tokens)
    if spec.formats:
        parsed = parse_dates(text, spec.formats)
    else:
        parsed = text.str.to_datetime(None, strict=False, time_unit="us")
    if not lenient:
        _refuse(column, parsed.is_null() & text.is_not_null(), spec.name, date_expected(spec))
    return parsed


def _refuse(column: pl.Series, bad: pl.Series, name: str, expected: str) -> None:
    if not bool(bad.any()):
        return
    row = int(bad.arg_true()[0])
    raise InvalidInput(
        f"column {name!r} expects {expected}, got {column[row]!r} (row {row + 1})", field=name
    )
