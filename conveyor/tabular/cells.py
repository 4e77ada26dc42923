"""One JSON cell read as its feature's kind, and the columns of a request checked, in plain
Python: what a request row may hold and the message that refuses it, in one place.

The model server's row encoder (``conveyor.model.rows``) builds its matrix from these
readers; the AWS Lambda function in front of the endpoint (``conveyor.aws.request_check``),
which has no numpy or polars, calls the same readers only to refuse a bad row. So both give
the same verdict with the same message on the same rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from datetime import datetime
from typing import Any

from conveyor.errors import InvalidInput
from conveyor.tabular.dates import parse_datetime
from conveyor.tabular.numbers import parse_number
from conveyor.tabular.schema import NULL_TOKENS, DatasetSchema, FeatureSpec

# conveyor.tabular.infer's spellings (that module needs polars); a test keeps them equal.
TRUE_TOKENS = frozenset({"true", "yes", "t", "y"})
FALSE_TOKENS = frozenset({"false", "no", "f", "n"})
_NULLS = frozenset(NULL_TOKENS)


class Refused(Exception):
    """A cell its feature's kind cannot take; ``expected`` says what it takes."""

    def __init__(self, expected: str) -> None:
        self.expected = expected


def refused_cell(name: str, refused: Refused, value: Any, index: int) -> InvalidInput:
    """The 4xx naming the column, what it takes and the row (``index`` counts from 0)."""
    return InvalidInput(
        f"column {name!r} expects {refused.expected}, got {value!r} (row {index + 1})",
        field=name,
    )


def cell_text(value: Any) -> str | None:
    """A cell as the CSV parser would have read it: None for a null spelling."""
    if value is None:
        return None
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    else:
        text = str(value).strip()
    return None if text in _NULLS else text


def spec_text(value: Any, spec: FeatureSpec) -> str | None:
    """``cell_text``, with the column's own missing tokens also read as None."""
    text = cell_text(value)
    if text is None or (spec.missing_tokens and text.lower() in spec.missing_tokens):
        return None
    return text


def number_expected(spec: FeatureSpec) -> str:
    """What a numeric cell must be, for the message that refuses one."""
    fmt = spec.number_format
    return "a number" if fmt is None or fmt.is_plain else f"a number ({fmt.describe()})"


def read_number(value: Any) -> float:
    """A numeric cell of a plain column (no format, no missing tokens); NaN when missing."""
    if value is None:
        return math.nan
    if isinstance(value, bool):
        raise Refused("a number")
    if isinstance(value, int | float):
        return float(value)
    text = cell_text(value)
    if text is None:
        return math.nan
    try:
        return plain_float(text)
    except ValueError as exc:
        raise Refused("a number") from exc


def plain_float(text: str) -> float:
    """``float(text)`` as polars casts text: no ``1_000`` and no digits but ASCII ones.

    Raises:
        ValueError: ``text`` is not a float literal.
    """
    if "_" in text or not text.isascii():
        raise ValueError(text)
    return float(text)


def number_reader(spec: FeatureSpec) -> Callable[[Any], float]:
    """A numeric cell read with the column's number format and missing tokens; NaN when
    missing. A plain column gets ``read_number`` itself."""
    fmt = spec.number_format
    if fmt is not None and fmt.is_plain:
        fmt = None
    if fmt is None and not spec.missing_tokens:
        return read_number
    expected = number_expected(spec)

    def read(value: Any) -> float:
        if value is None:
            return math.nan
        if isinstance(value, bool):
            raise Refused(expected)
        if isinstance(value, int | float):
            return float(value)
        text = spec_text(value, spec)
        if text is None:
            return math.nan
        if fmt is None:
            try:
                return plain_float(text)
            except ValueError as exc:
                raise Refused(expected) from exc
        number = parse_number(text, fmt)
        if number is None:
            raise Refused(expected)
        return number

    return read


def boolean_reader(spec: FeatureSpec) -> Callable[[Any], float]:
    """A boolean cell as 1.0 / 0.0; NaN when missing."""
    truthy = TRUE_TOKENS | set(spec.true_values) | {"1"}
    falsy = FALSE_TOKENS | set(spec.false_values) | {"0"}

    def read(value: Any) -> float:
        if value is None:
            return math.nan
        if isinstance(value, bool):
            return 1.0 if value else 0.0
        if isinstance(value, int | float):
            if value in (0, 1):
                return float(value)
            raise Refused("true/false (or 0/1)")
        text = spec_text(value, spec)
        if text is None:
            return math.nan
        lowered = text.lower()
        if lowered in truthy:
            return 1.0
        if lowered in falsy:
            return 0.0
        raise Refused("true/false")

    return read


def date_expected(spec: FeatureSpec) -> str:
    """What a datetime cell must be, for the message that refuses one."""
    formats = spec.formats
    if not formats:
        return "a date"
    return "a date like " + " or ".join(repr(f) for f in formats[:3])


def datetime_reader(spec: FeatureSpec) -> Callable[[Any], datetime | None]:
    """A datetime cell read with the feature's formats (polars syntax, the first that reads
    it wins), as a naive UTC datetime; None when missing."""
    formats = spec.formats
    expected = date_expected(spec)

    def read(value: Any) -> datetime | None:
        text = spec_text(value, spec)
        if text is None:
            return None
        moment = parse_datetime(text, formats)
        if moment is None:
            raise Refused(expected)
        return moment

    return read


def upload_columns(schema: DatasetSchema) -> frozenset[str]:
    """Every column the upload had that a request may carry: the features, the target and the
    columns preprocessing dropped (an id, a timestamp); the model reads only the features."""
    return frozenset(
        [*schema.feature_names, schema.target, *(dropped.name for dropped in schema.dropped)]
    )


def check_columns(
    present: Iterable[str],
    features: Sequence[str],
    *,
    known: AbstractSet[str] | None,
) -> tuple[str, ...]:
    """The columns of ``present`` the model ignores (the upload's target and dropped columns),
    in order; a feature left out is a missing value, not an error.

    Raises:
        InvalidInput: a column the upload never had (when ``known`` is given), naming it; or
            none of the model's columns at all, which is a request for some other model.
    """
    columns = list(present)
    wanted = set(features)
    if known is not None:
        extra = [name for name in columns if name not in known]
        if extra:
            raise InvalidInput(
                "unknown column(s): "
                + ", ".join(repr(e) for e in extra)
                + "; the model takes "
                + ", ".join(repr(n) for n in features),
                field=extra[0],
            )
    if columns and wanted and not wanted.intersection(columns):
        raise InvalidInput(
            "the rows have none of the model's columns; it takes "
            + ", ".join(repr(n) for n in features),
            field="instances",
        )
    return tuple(name for name in columns if name not in wanted)
