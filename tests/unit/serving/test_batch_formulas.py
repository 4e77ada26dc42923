"""Batch output's CSV-injection guard: a cell a spreadsheet would run as a formula gets a
leading ``'``; numbers, negative ones included, are written as they came."""

from __future__ import annotations

import polars as pl

from conveyor.serving.batch import _formula_safe
from conveyor.tabular.coerce import coerce_frame
from conveyor.tabular.schema import DatasetSchema, FeatureKind, FeatureSpec
from conveyor.types import Task

SCHEMA = DatasetSchema(
    features=(
        FeatureSpec("amount", FeatureKind.NUMERIC),
        FeatureSpec("plan", FeatureKind.CATEGORICAL),
    ),
    target="churned",
    task=Task.BINARY,
)


def _neutralised(cells: dict[str, list[str | None]]) -> dict[str, list[str | None]]:
    frame = pl.DataFrame(cells, schema={name: pl.String for name in cells})
    typed = coerce_frame(frame, SCHEMA)
    return frame.with_columns(_formula_safe(frame, typed)).to_dict(as_series=False)


def test_formulas_are_neutralised_and_numbers_are_not() -> None:
    out = _neutralised(
        {
            "amount": ["-3.5", "+2", " -1e3 ", "-", None],
            "plan": ["=SUM(A1)", "-2", "@cmd", "+x", "basic"],
            "note": ["=1+1", "-7", "\tx", "ok", None],  # a column the model does not read
        }
    )

    assert out["amount"] == ["-3.5", "+2", " -1e3 ", "'-", None]
    assert out["plan"] == ["'=SUM(A1)", "-2", "'@cmd", "'+x", "basic"]
    assert out["note"] == ["'=1+1", "-7", "'\tx", "ok", None]
