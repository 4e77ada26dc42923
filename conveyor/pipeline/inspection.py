"""Inspect a file before anything is trained: read it and infer its columns exactly as a run's
preprocessing would, and say what was decided (``conveyor inspect``; an API call can share it).

Nothing is stored and no project is needed. Without a target every column is inferred as a
feature: inference needs a target, so a stand-in one (row numbers, a regression target no
column can be confused with) is added and left out of what is shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from conveyor.config import MAX_TRAINING_ROWS
from conveyor.pipeline.file_report import column_rows
from conveyor.pipeline.preprocess import applicable_kinds
from conveyor.tabular.coerce import coerce_frame
from conveyor.tabular.infer import infer_schema
from conveyor.tabular.read import MAX_REJECT_SHARE, TrainingRows, read_for_training
from conveyor.tabular.schema import DatasetSchema
from conveyor.types import JsonDict, Task

_STAND_IN = "__conveyor_inspect_row__"
SHOWN_ROWS = 10


@dataclass(frozen=True)
class Inspection:
    """What a run would make of a file.

    ``file`` is the reader's facts (None when the reader does not report them); ``columns``
    one entry per raw column in ``report["columns"]``'s shape; ``table`` every column in the
    file's order, typed as training would see it (a dropped column as read).
    """

    path: Path
    target: str | None
    task: Task | None
    rows_read: int
    file: JsonDict | None
    columns: list[JsonDict]
    notes: list[str]
    schema: DatasetSchema
    table: pl.DataFrame

    def report(self) -> JsonDict:
        """The parts of a run's preprocess report an inspection has, in the same shape."""
        return {"file": self.file, "columns": self.columns, "notes": self.notes}

    def to_dict(self, rows: int = SHOWN_ROWS) -> JsonDict:
        """JSON for ``--json``: the facts, the columns and the first ``rows`` rows, typed."""
        head = self.table.head(rows)
        return {
            "path": str(self.path),
            "target": self.target,
            "task": self.task.value if self.task else None,
            "rows_read": self.rows_read,
            "file": self.file,
            "columns": self.columns,
            "notes": self.notes,
            "dtypes": {name: str(dtype) for name, dtype in head.schema.items()},
            "rows": head.to_dicts(),
        }


def inspect_file(
    path: Path,
    *,
    target: str | None = None,
    task: Task = Task.AUTO,
    overrides: Mapping[str, str] | None = None,
    sheet: str | None = None,
    max_rows: int = MAX_TRAINING_ROWS,
    seed: int = 42,
) -> Inspection:
    """Read ``path`` and infer its schema as preprocessing would, storing nothing.

    Args:
        target: the column to predict; None infers every column as a feature.
        task: as the project's ``--task``; only used with a target.
        overrides: column -> kind a person set (``project set-column``'s kinds).
        sheet: the workbook sheet to read (an .xlsx file); None reads the first.
        max_rows: a larger file is sampled to this many rows (seeded by ``seed``), as a run's.
    Returns:
        The file's facts, each column's kind and rule, and the table as parsed.
    Raises:
        InvalidInput: the file cannot be read, or the target is absent or unusable.
    """
    read = _read(path, sheet=sheet, max_rows=max_rows, seed=seed)
    frame: pl.DataFrame = read.frame
    missing = 0  # rows left out for a missing target
    if target is None:
        stand_in = pl.int_range(frame.height, eager=True).cast(pl.Float64).alias(_STAND_IN)
        frame = frame.with_columns(stand_in)
        infer_target, infer_task = _STAND_IN, Task.REGRESSION
    else:
        missing = frame.get_column(target).null_count() if target in frame.columns else 0
        if missing:
            frame = frame.filter(pl.col(target).is_not_null())
        infer_target, infer_task = target, task
    facts = _file_facts(read)
    kinds, kind_notes = applicable_kinds(overrides or {}, _names(frame), target=target)
    schema, notes = infer_schema(
        frame, target=infer_target, task=infer_task, decimal=read.report.decimal, overrides=kinds
    )
    notes = [*_reject_notes(facts, read.rows_read), *notes, *kind_notes]
    if missing:
        notes.append(f"left out {missing} row(s) whose target {target!r} is missing, as a run does")
    # Leniently when the coercion can be (as a run coerces): a cell its column's rule cannot
    # read becomes missing, and the column's parsed share says how many did.
    typed = coerce_frame(frame, schema, with_target=target is not None, lenient=True)
    table = pl.DataFrame(
        [typed.get_column(c) if c in typed.columns else frame.get_column(c) for c in _names(frame)]
    )
    return Inspection(
        path=path,
        target=target,
        task=schema.task if target is not None else None,
        rows_read=read.rows_read,
        file=facts,
        columns=_in_file_order(_columns(schema, target), _names(frame)),
        notes=list(notes),
        schema=schema,
        table=table,
    )


def _read(path: Path, *, sheet: str | None, max_rows: int, seed: int) -> TrainingRows:
    # Every row set aside is shown, however many: a note says when a run would refuse.
    return read_for_training(path, max_rows=max_rows, seed=seed, max_reject_share=1.0, sheet=sheet)


def _reject_notes(facts: JsonDict | None, rows_read: int) -> list[str]:
    rejected = int((facts or {}).get("rows_rejected") or 0)
    limit = MAX_REJECT_SHARE
    if not rejected:
        return []
    share = rejected / (rows_read + rejected)
    if share <= limit:
        return []
    return [
        f"{rejected} of {rows_read + rejected} rows ({share:.1%}) were set aside, more than "
        f"the {limit:.0%} a run accepts: a run on this file would fail; the rejects above say "
        "which lines and why"
    ]


def _names(frame: pl.DataFrame) -> list[str]:
    return [name for name in frame.columns if name != _STAND_IN]


def _file_facts(read: TrainingRows) -> JsonDict:
    return dict(read.report.to_dict())


def _columns(schema: DatasetSchema, target: str | None) -> list[JsonDict]:
    """``report["columns"]`` for this schema: inference's own when it gives them, else what
    the schema says (kind, date format, why dropped) and a line for the target."""
    items = schema.column_report()
    if not items:
        fallback = {
            "features": [f.to_dict() for f in schema.features],
            "dropped_columns": [d.to_dict() for d in schema.dropped],
        }
        items = [row.to_dict() for row in column_rows(fallback)]
    if target is not None and all(item.get("name") != target for item in items):
        items.append(
            {
                "name": target,
                "kind": "target",
                "rule": f"target: {schema.task.value}",
                "missing_tokens": [],
                "parsed_share": None,
                "reason": None,
            }
        )
    return [item for item in items if item.get("name") != _STAND_IN]


def _in_file_order(items: list[JsonDict], names: list[str]) -> list[JsonDict]:
    order = {name: i for i, name in enumerate(names)}
    return sorted(items, key=lambda item: order.get(str(item.get("name")), len(order)))
