"""Infer a dataset's schema from its raw columns: the kind of each feature, the columns
to drop (and why), and the task and classes from the target."""

from __future__ import annotations

import re
from typing import Any

import polars as pl

from conveyor.errors import InvalidInput
from conveyor.tabular.parallel import map_columns
from conveyor.tabular.schema import DatasetSchema, DroppedColumn, FeatureKind, FeatureSpec
from conveyor.types import Task

TRUE_TOKENS = frozenset({"true", "yes", "t", "y"})
FALSE_TOKENS = frozenset({"false", "no", "f", "n"})
DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
)
MAX_CLASSES_FOR_NUMERIC_TARGET = 10
# A boolean column has at most two words, each at most five letters: 2 * 2**5 ways to write
# them in upper and lower case. A column with more distinct values is not boolean.
_MAX_BOOLEAN_SPELLINGS = 2 * 2 ** max(map(len, TRUE_TOKENS | FALSE_TOKENS))
_ID_NAME = re.compile(r"(^id$)|([_ ]id$)|([a-z]Id$)|(^ID$)|(_ID$)", re.IGNORECASE)
_DATE_LIKE = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")


def infer_schema(
    frame: pl.DataFrame, *, target: str, task: Task
) -> tuple[DatasetSchema, list[str]]:
    """The schema of ``frame`` (rows with a missing target already removed) and notes.

    Raises:
        InvalidInput: the target is missing or unusable for the task, or a column mixes
            numbers and text.
    """
    if target not in frame.columns:
        raise InvalidInput(
            f"target column {target!r} is not in the file; its columns are: "
            + ", ".join(repr(c) for c in frame.columns)
            + " (check the spelling, or pass another --target)",
            field="target",
        )
    task, classes = infer_task(frame.get_column(target), task)
    features: list[FeatureSpec] = []
    dropped: list[DroppedColumn] = []
    notes: list[str] = []
    names = [name for name in frame.columns if name != target]
    inferred = map_columns(
        lambda name: _infer_feature(frame.get_column(name), frame.height), names, rows=frame.height
    )
    for name, spec_or_reason in zip(names, inferred, strict=True):
        if isinstance(spec_or_reason, str):
            dropped.append(DroppedColumn(name, spec_or_reason))
        else:
            features.append(spec_or_reason)
    if not features:
        raise InvalidInput(
            "no usable feature columns remain after dropping: "
            + "; ".join(f"{d.name}: {d.reason}" for d in dropped),
            field="file",
        )
    schema = DatasetSchema(
        target=target,
        task=task,
        features=tuple(features),
        classes=tuple(classes) if classes is not None else None,
        dropped=tuple(dropped),
    )
    return schema, notes


def infer_task(target: pl.Series, task: Task) -> tuple[Task, list[Any] | None]:
    """The task and, for classification, the sorted class values in their natural type."""
    values = target.drop_nulls()
    name = target.name
    numbers = _as_numbers(values)
    if task is Task.REGRESSION:
        if numbers is None:
            raise InvalidInput(
                f"target {name!r} has text values (e.g. {_example(values)!r}); "
                "regression needs numbers: use --task auto for classification",
                field="target",
            )
        return Task.REGRESSION, None
    if numbers is not None:
        integral = bool((numbers == numbers.round()).all())
        distinct = numbers.n_unique()
        if task is Task.AUTO and (not integral or distinct > MAX_CLASSES_FOR_NUMERIC_TARGET):
            return Task.REGRESSION, None
        distinct_values = numbers.unique().to_list()
        labels: list[Any] = sorted(
            {int(v) for v in distinct_values} if integral else set(distinct_values)
        )
    elif values.dtype == pl.Boolean:
        labels = sorted(set(values.unique().to_list()))
    else:
        labels = sorted(set(values.cast(pl.String).unique().to_list()))
    if len(labels) < 2:
        raise InvalidInput(
            f"target {name!r} has a single class {labels[0]!r}; a classifier needs at least "
            "two classes in the data",
            field="target",
        )
    if task is Task.BINARY and len(labels) != 2:
        raise InvalidInput(
            f"--task binary needs 2 classes, but target {name!r} has "
            f"{len(labels)}; use --task multiclass",
            field="target",
        )
    if task is Task.AUTO:
        task = Task.BINARY if len(labels) == 2 else Task.MULTICLASS
    return task, labels


def _as_numbers(values: pl.Series) -> pl.Series | None:
    if values.dtype.is_numeric():
        return values.cast(pl.Float64)
    if values.dtype != pl.String:
        return None
    parsed = values.cast(pl.Float64, strict=False)
    return parsed if parsed.null_count() == 0 else None


def _example(values: pl.Series) -> object:
    return values[0] if len(values) else None


def _infer_feature(column: pl.Series, rows: int) -> FeatureSpec | str:
    """A feature's spec, or the reason to drop it."""
    values = column.drop_nulls()
    nullable = column.null_count() > 0
    if len(values) == 0:
        return "it has no values"
    dtype = column.dtype
    if dtype == pl.Boolean:
        kind = FeatureKind.BOOLEAN
        return _constant_or(values, FeatureSpec(column.name, kind, nullable))
    if dtype in (pl.Date, pl.Datetime) or isinstance(dtype, pl.Datetime):
        return _constant_or(values, FeatureSpec(column.name, FeatureKind.DATETIME, nullable))
    if dtype.is_numeric():
        return _numeric(column.name, values.cast(pl.Float64), rows, nullable)
    text = values.cast(pl.String)
    # Numbers first: no true/false token parses as one, and most columns are numeric.
    numbers = text.cast(pl.Float64, strict=False)
    not_numbers = numbers.null_count()
    if not_numbers == 0:
        return _numeric(column.name, numbers, rows, nullable)
    # The distinct values, found once: each question below is asked of them, not of every row.
    spellings = text.unique()
    distinct = len(spellings)
    if distinct <= _MAX_BOOLEAN_SPELLINGS:
        lowered = set(spellings.str.to_lowercase().to_list())
        if (
            len(lowered) <= 2
            and lowered <= TRUE_TOKENS | FALSE_TOKENS
            and (not lowered <= TRUE_TOKENS or not lowered <= FALSE_TOKENS)
        ):
            spec = FeatureSpec(
                column.name,
                FeatureKind.BOOLEAN,
                nullable,
                true_values=tuple(sorted(lowered & TRUE_TOKENS)),
                false_values=tuple(sorted(lowered & FALSE_TOKENS)),
            )
            return _constant_or(values, spec, distinct)
    if not_numbers <= len(text) / 2:
        _refuse_mixed(column, not_numbers, len(text))
    date_format = _date_format(text, spellings)
    if date_format is not None:
        return _constant_or(
            values,
            FeatureSpec(column.name, FeatureKind.DATETIME, nullable, date_format=date_format),
            distinct,
        )
    if distinct > 50 and distinct > rows / 2:
        return (
            f"high-cardinality text ({distinct} distinct values in {rows} rows), "
            "likely an id or free text"
        )
    return _constant_or(
        values, FeatureSpec(column.name, FeatureKind.CATEGORICAL, nullable), distinct
    )


def _numeric(name: str, numbers: pl.Series, rows: int, nullable: bool) -> FeatureSpec | str:
    if (
        _ID_NAME.search(name)
        and numbers.n_unique() == len(numbers) == rows
        and bool((numbers == numbers.round()).all())
    ):
        return "an id column (every value is a distinct integer)"
    if numbers.min() == numbers.max():  # cheaper than counting distinct values
        return f"it is constant (every value is {numbers[0]!r})"
    return FeatureSpec(name, FeatureKind.NUMERIC, nullable)


def _constant_or(
    values: pl.Series, spec: FeatureSpec, distinct: int | None = None
) -> FeatureSpec | str:
    if (values.n_unique() if distinct is None else distinct) == 1:
        return f"it is constant (every value is {values[0]!r})"
    return spec


def _refuse_mixed(column: pl.Series, not_numbers: int, total: int) -> None:
    bad = column.cast(pl.Float64, strict=False).is_null() & column.is_not_null()
    row = int(bad.arg_true()[0])
    raise InvalidInput(
        f"column {column.name!r} mixes numbers and text: {not_numbers} of {total} values are "
        f"not numbers (e.g. {column[row]!r} in data row {row + 1}); fix those values or "
        "leave them empty",
        field=column.name,
    )


def _date_format(text: pl.Series, spellings: pl.Series) -> str | None:
    """The format every value of ``text`` parses with (``spellings``: its distinct values)."""
    sample = text.head(1000)
    if not bool(sample.str.contains(_DATE_LIKE.pattern).all()):
        return None
    for fmt in DATE_FORMATS:
        if (
            sample.str.to_datetime(fmt, strict=False).null_count() == 0
            and spellings.str.to_datetime(fmt, strict=False).null_count() == 0
        ):
            return fmt
    return None
