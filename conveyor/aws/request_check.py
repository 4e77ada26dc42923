"""Request rows checked against a version's input schema, in plain Python.

The Lambda function in front of the endpoint has no numpy or polars, so it cannot use the
model server's encoder (``conveyor.model.rows``) to refuse a bad row. This module gives the
same verdict with the same message on the same rows: the columns first (a missing one, then
one the model does not take), then each cell a number, a boolean or a date must be. A test
holds the two to the same answers. What it cannot judge (a datetime column with no known
format) it leaves to the model server, whose answer comes back as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from conveyor.errors import InvalidInput
from conveyor.tabular.schema import NULL_TOKENS, DatasetSchema, FeatureKind, FeatureSpec

# conveyor.tabular.infer's spellings (that module needs polars); a test keeps them equal.
TRUE_TOKENS = frozenset({"true", "yes", "t", "y"})
FALSE_TOKENS = frozenset({"false", "no", "f", "n"})
_NULLS = frozenset(NULL_TOKENS)


class _Refused(Exception):
    def __init__(self, expected: str) -> None:
        self.expected = expected


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    else:
        text = str(value).strip()
    return None if text in _NULLS else text


def _numeric(value: Any) -> None:
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return
    if isinstance(value, bool):
        raise _Refused("a number")
    text = _text(value)
    if text is None:
        return
    try:
        float(text)
    except ValueError as exc:
        raise _Refused("a number") from exc


def _boolean(spec: FeatureSpec) -> Callable[[Any], None]:
    truthy = TRUE_TOKENS | set(spec.true_values) | {"1"}
    falsy = FALSE_TOKENS | set(spec.false_values) | {"0"}

    def check(value: Any) -> None:
        if value is None or isinstance(value, bool):
            return
        if isinstance(value, int | float):
            if value in (0, 1):
                return
            raise _Refused("true/false (or 0/1)")
        text = _text(value)
        if text is None or text.lower() in truthy or text.lower() in falsy:
            return
        raise _Refused("true/false")

    return check


def _datetime(spec: FeatureSpec) -> Callable[[Any], None]:
    python_format = (spec.date_format or "").replace("%.f", ".%f")
    expected = f"a date like {spec.date_format!r}"

    def check(value: Any) -> None:
        text = _text(value)
        if text is None:
            return
        try:
            datetime.strptime(text, python_format)
        except ValueError as exc:
            raise _Refused(expected) from exc

    return check


def _ignore(value: Any) -> None:
    """Categorical: any value is a category (an unseen one is encoded as missing)."""


def _checks(schema: DatasetSchema) -> list[tuple[str, Callable[[Any], None]]]:
    checks: list[tuple[str, Callable[[Any], None]]] = []
    for spec in schema.features:
        if spec.kind is FeatureKind.NUMERIC:
            checks.append((spec.name, _numeric))
        elif spec.kind is FeatureKind.BOOLEAN:
            checks.append((spec.name, _boolean(spec)))
        elif spec.kind is FeatureKind.DATETIME and spec.date_format is not None:
            checks.append((spec.name, _datetime(spec)))
        else:
            checks.append((spec.name, _ignore))
    return checks


def _check_columns(present: Sequence[str], schema: DatasetSchema) -> None:
    names = schema.feature_names
    have = set(present)
    missing = [name for name in names if name not in have]
    if missing:
        raise InvalidInput(
            "missing column(s): " + ", ".join(repr(m) for m in missing), field=missing[0]
        )
    known = {*names, schema.target}
    extra = [name for name in present if name not in known]
    if extra:
        raise InvalidInput(
            "unknown column(s): "
            + ", ".join(repr(e) for e in extra)
            + "; the model takes "
            + ", ".join(repr(n) for n in names),
            field=extra[0],
        )


def check_rows(rows: list[dict[str, Any]], schema: DatasetSchema) -> None:
    """Raise ``InvalidInput`` naming the first problem of ``rows`` for ``schema``'s model."""
    present: set[str] = set()
    for row in rows:
        present.update(row)
    _check_columns(sorted(present), schema)
    checks = _checks(schema)
    for index, row in enumerate(rows):
        for name, check in checks:
            value = row.get(name)
            try:
                check(value)
            except _Refused as refused:
                raise InvalidInput(
                    f"column {name!r} expects {refused.expected}, got {value!r} (row {index + 1})",
                    field=name,
                ) from None
