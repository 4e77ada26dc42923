"""Request rows checked against a version's input schema, in plain Python.

The Lambda function in front of the endpoint has no numpy or polars, so it cannot use the
model server's encoder (``conveyor.model.rows``) to refuse a bad row. Both read cells through
``conveyor.tabular.cells``, so this gives the same verdict with the same message on the same
rows: the columns first (a missing one, then one the model does not take), then each cell a
number, a boolean or a date must be. A test holds the two to the same answers. What it cannot
judge (a datetime column with no known format) it leaves to the model server, whose answer
comes back as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conveyor.tabular.cells import (
    FALSE_TOKENS,
    TRUE_TOKENS,
    Refused,
    boolean_reader,
    check_columns,
    datetime_reader,
    number_reader,
    refused_cell,
    upload_columns,
)
from conveyor.tabular.schema import DatasetSchema, FeatureKind

__all__ = ["FALSE_TOKENS", "TRUE_TOKENS", "check_rows"]


def _checks(schema: DatasetSchema) -> list[tuple[str, Callable[[Any], object]]]:
    """The reader of each feature a row's cell must get past (categorical: none, any value is
    a category and an unseen one is encoded as missing; text: none)."""
    checks: list[tuple[str, Callable[[Any], object]]] = []
    for spec in schema.features:
        if spec.kind is FeatureKind.NUMERIC:
            checks.append((spec.name, number_reader(spec)))
        elif spec.kind is FeatureKind.BOOLEAN:
            checks.append((spec.name, boolean_reader(spec)))
        elif spec.kind is FeatureKind.DATETIME and spec.formats:
            checks.append((spec.name, datetime_reader(spec)))
    return checks


def check_rows(rows: list[dict[str, Any]], schema: DatasetSchema) -> None:
    """Raise ``InvalidInput`` naming the first problem of ``rows`` for ``schema``'s model."""
    present: set[str] = set()
    for row in rows:
        present.update(row)
    check_columns(sorted(present), schema.feature_names, known=upload_columns(schema))
    checks = _checks(schema)
    for index, row in enumerate(rows):
        for name, check in checks:
            value = row.get(name)
            try:
                check(value)
            except Refused as refused:
                raise refused_cell(name, refused, value, index) from None
