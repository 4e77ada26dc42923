"""Infer a dataset's schema from its raw columns: the kind of each feature and the rule that
reads its cells, the columns to drop (and why), the task and classes from the target, and a
report of what was done with every column (each column's verdict: ``infer_column``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from conveyor.errors import InvalidInput
from conveyor.tabular.columnar import parse_numbers
from conveyor.tabular.infer_column import (
    FALSE_TOKENS,
    INFER_ROWS,
    OVERRIDE_KINDS,
    SET_BY_YOU,
    TRUE_TOKENS,
    infer_column,
    sample_values,
)
from conveyor.tabular.numbers import NumberFormat, guess_number_format
from conveyor.tabular.parallel import map_columns
from conveyor.tabular.schema import ColumnReport, DatasetSchema, DroppedColumn
from conveyor.types import Task

__all__ = [
    "FALSE_TOKENS",
    "INFER_ROWS",
    "OVERRIDE_KINDS",
    "SET_BY_YOU",
    "TRUE_TOKENS",
    "infer_schema",
    "infer_target",
    "infer_task",
]
MAX_CLASSES_FOR_NUMERIC_TARGET = 10


def infer_schema(
    frame: pl.DataFrame,
    *,
    target: str,
    task: Task,
    decimal: str | None = None,
    overrides: Mapping[str, str] | None = None,
) -> tuple[DatasetSchema, list[str]]:
    """The schema of ``frame`` (rows with a missing target already removed) and notes.

    Args:
        frame: the file as read: numbers typed, other cells stripped text, the spellings of
            missing (``NULL_TOKENS``) null.
        target: the target column.
        task: the task asked for (``Task.AUTO`` infers it).
        decimal: the file's decimal mark when its dialect says (``","`` for a European
            export); it settles only columns their values leave ambiguous (``1,234``).
        overrides: column name -> one of ``OVERRIDE_KINDS``; the kind replaces the inferred
            one (its rule is still inferred) and the report says "set by you".

    Returns:
        The schema (its ``columns`` report every raw column, see
        ``DatasetSchema.column_report``) and notes for the run report.

    Raises:
        InvalidInput: the target is missing or unusable for the task, an override names an
            unknown kind, or no usable feature remains.
    """
    if target not in frame.columns:
        raise InvalidInput(
            f"target column {target!r} is not in the file; its columns are: "
            + ", ".join(repr(c) for c in frame.columns)
            + " (check the spelling, or pass another --target)",
            field="target",
        )
    notes: list[str] = []
    wanted = _check_overrides(overrides or {}, frame.columns, target, notes)
    task, classes, target_format = infer_target(frame.get_column(target), task, decimal=decimal)
    names = [name for name in frame.columns if name != target]
    inferred = map_columns(
        lambda name: infer_column(frame.get_column(name), frame.height, decimal, wanted.get(name)),
        names,
        rows=frame.height,
    )
    features = [spec for spec, _ in inferred if spec is not None]
    by_name = {report.name: report for _, report in inferred}
    by_name[target] = _target_report(target, classes, target_format)
    dropped = [DroppedColumn(r.name, r.reason or "") for _, r in inferred if r.kind == "dropped"]
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
        target_number_format=target_format,
        columns=tuple(by_name[name] for name in frame.columns),
    )
    return schema, notes


def _check_overrides(
    overrides: Mapping[str, str], columns: list[str], target: str, notes: list[str]
) -> dict[str, str]:
    wanted: dict[str, str] = {}
    for name, kind in overrides.items():
        if kind not in OVERRIDE_KINDS:
            raise InvalidInput(
                f"column {name!r} is set to kind {kind!r}; the kinds are "
                + ", ".join(OVERRIDE_KINDS),
                field=name,
            )
        if name == target:
            notes.append(f"the kind set for {name!r} is ignored: it is the target")
        elif name not in columns:
            notes.append(f"the kind set for {name!r} is ignored: the file has no such column")
        else:
            wanted[name] = kind
    return wanted


def infer_task(target: pl.Series, task: Task) -> tuple[Task, list[Any] | None]:
    """The task and, for classification, the sorted class values in their natural type."""
    inferred, labels, _ = infer_target(target, task)
    return inferred, labels


def infer_target(
    target: pl.Series, task: Task, *, decimal: str | None = None
) -> tuple[Task, list[Any] | None, NumberFormat | None]:
    """The task, the sorted class values (classification) and the number format of a target
    written as text (``$28,000``, ``79,99``; None for plain numbers or labels)."""
    values = target.drop_nulls()
    name = target.name
    numbers, fmt = _as_numbers(values, decimal)
    if task is Task.REGRESSION:
        if numbers is None:
            raise InvalidInput(
                f"target {name!r} has text values (e.g. {_example(values)!r}); "
                "regression needs numbers: use --task auto for classification",
                field="target",
            )
        return Task.REGRESSION, None, fmt
    if numbers is not None:
        integral = bool((numbers == numbers.round()).all())
        distinct = numbers.n_unique()
        if task is Task.AUTO and (not integral or distinct > MAX_CLASSES_FOR_NUMERIC_TARGET):
            return Task.REGRESSION, None, fmt
        distinct_values = numbers.unique().to_list()
        labels: list[Any] = sorted(
            {int(v) for v in distinct_values} if integral else set(distinct_values)
        )
    elif values.dtype == pl.Boolean:
        labels, fmt = sorted(set(values.unique().to_list())), None
    else:
        labels, fmt = sorted(set(values.cast(pl.String).unique().to_list())), None
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
    return task, labels, fmt


def _as_numbers(
    values: pl.Series, decimal: str | None
) -> tuple[pl.Series | None, NumberFormat | None]:
    if values.dtype.is_numeric():
        return values.cast(pl.Float64), None
    if values.dtype != pl.String:
        return None, None
    parsed = values.cast(pl.Float64, strict=False)
    if parsed.null_count() == 0:
        return parsed, None
    fmt = guess_number_format(sample_values(values.unique(maintain_order=True)), decimal=decimal)
    if fmt.is_plain:
        return None, None
    parsed = parse_numbers(values, fmt)
    return (parsed, fmt) if parsed.null_count() == 0 else (None, None)


def _target_report(name: str, classes: list[Any] | None, fmt: NumberFormat | None) -> ColumnReport:
    if classes is None:
        rule = f"target: {fmt.describe()}" if fmt is not None else "target: number"
    else:
        rule = f"target: {len(classes)} classes"
    return ColumnReport(name, "target", rule, parsed_share=1.0)


def _example(values: pl.Series) -> object:
    return values[0] if len(values) else None
