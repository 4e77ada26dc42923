"""The request path's encoder: a few JSON rows straight to the model's matrix, in plain
Python, without building a DataFrame.

A single-row request is dominated by per-call overhead, not arithmetic: this path does the
same parsing and encoding as ``coerce_frame`` + ``FeatureEncoder.transform`` (a test keeps
them equal on random rows) at a fraction of the cost. Large batches use the columnar path.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np

from conveyor.model.encode import DATE_PARTS, DAYS_PER_SECOND, FeatureEncoder
from conveyor.model.text import TextVocabulary
from conveyor.tabular.cells import (
    Refused,
    boolean_reader,
    check_columns,
    datetime_reader,
    number_reader,
    read_number,
    refused_cell,
    spec_text,
    upload_columns,
)
from conveyor.tabular.schema import FeatureKind, FeatureSpec

_EPOCH = datetime(1970, 1, 1)


# Each cell reader of conveyor.tabular.cells (the checks and their messages, shared with the
# AWS Lambda's request check) as the list of matrix columns it makes.


def _numeric(value: Any) -> list[float]:
    return [read_number(value)]


def _formatted(spec: FeatureSpec) -> Callable[[Any], list[float]]:
    read = number_reader(spec)
    if read is read_number:
        return _numeric

    def encode(value: Any) -> list[float]:
        return [read(value)]

    return encode


def _categorical(spec: FeatureSpec, codes: dict[str, float]) -> Callable[[Any], list[float]]:
    def encode(value: Any) -> list[float]:
        text = spec_text(value, spec)
        return [math.nan if text is None else codes.get(text, math.nan)]

    return encode


def _text(spec: FeatureSpec, vocabulary: TextVocabulary) -> Callable[[Any], list[float]]:
    def encode(value: Any) -> list[float]:
        return vocabulary.encode(spec_text(value, spec))

    return encode


def _boolean(spec: FeatureSpec) -> Callable[[Any], list[float]]:
    read = boolean_reader(spec)

    def encode(value: Any) -> list[float]:
        return [read(value)]

    return encode


def _datetime(spec: FeatureSpec, with_hour: bool) -> Callable[[Any], list[float]]:
    read = datetime_reader(spec)
    width = len(DATE_PARTS) + with_hour + 1

    def encode(value: Any) -> list[float]:
        moment = read(value)
        if moment is None:
            return [math.nan] * width
        if moment.tzinfo is not None:  # the readers give naive UTC; kept for safety
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        parts = [
            float(moment.year),
            float(moment.month),
            float(moment.day),
            float(moment.isoweekday()),
            float(moment.timetuple().tm_yday),
        ]
        if with_hour:
            parts.append(float(moment.hour))
        parts.append(float(math.floor((moment - _EPOCH).total_seconds())) * DAYS_PER_SECOND)
        return parts

    return encode


class RowEncoder:
    """Compiled from a fitted FeatureEncoder; ``supported`` is False when a feature needs the
    columnar path (a datetime with no known format)."""

    def __init__(self, encoder: FeatureEncoder) -> None:
        self.names = encoder.schema_.feature_names
        self._known = upload_columns(encoder.schema_)
        # (column, its encoder, whether a JSON float goes straight into the row: numeric)
        self._cells: list[tuple[str, Callable[[Any], list[float]], bool]] = []
        self.supported = True
        # Every feature numeric: the matrix is one column per feature, its values as read.
        self.numeric = all(spec.kind is FeatureKind.NUMERIC for spec in encoder.schema_.features)
        for spec in encoder.schema_.features:
            if spec.kind is FeatureKind.NUMERIC:
                self._cells.append((spec.name, _formatted(spec), True))
            elif spec.kind is FeatureKind.CATEGORICAL:
                codes = {c: float(i) for i, c in enumerate(encoder.categories_[spec.name])}
                self._cells.append((spec.name, _categorical(spec, codes), False))
            elif spec.kind is FeatureKind.BOOLEAN:
                self._cells.append((spec.name, _boolean(spec), False))
            elif spec.kind is FeatureKind.TEXT:
                self._cells.append((spec.name, _text(spec, encoder.text_[spec.name]), False))
            else:
                if not spec.formats:
                    self.supported = False
                with_hour = encoder.with_hour_[spec.name]
                self._cells.append((spec.name, _datetime(spec, with_hour), False))

    def ignored(self, records: list[dict[str, Any]]) -> tuple[str, ...]:
        """The upload's columns in ``records`` the model does not read, sorted.

        Raises:
            InvalidInput: a column the upload never had, as the columnar path says it.
        """
        return self.columns(records)[1]

    def columns(self, records: list[dict[str, Any]]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Every column in ``records`` and those the model does not read (``ignored``), both
        sorted.

        Raises:
            InvalidInput: as ``ignored``.
        """
        present: set[str] = set()
        for record in records:
            present.update(record)
        names = sorted(present)
        return tuple(names), check_columns(names, self.names, known=self._known)

    def encode(self, records: list[dict[str, Any]]) -> np.ndarray:
        """The model matrix for ``records`` (a left-out feature is missing); the same errors
        as the columnar path."""
        self.ignored(records)
        return self.matrix(records)

    def matrix(self, records: list[dict[str, Any]]) -> np.ndarray:
        """``encode`` for rows whose columns ``ignored`` has already passed."""
        matrix = []
        for index, record in enumerate(records):
            row: list[float] = []
            for name, cell, numeric in self._cells:
                value = record.get(name)
                if numeric and type(value) is float:  # the common case, inlined
                    row.append(value)
                    continue
                try:
                    row.extend(cell(value))
                except Refused as refused:
                    raise refused_cell(name, refused, value, index) from None
            matrix.append(row)
        return np.array(matrix, dtype=np.float64).reshape(len(records), -1)
