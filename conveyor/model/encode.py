"""Typed columns → the numeric matrix a model trains on, fitted on the training split and
saved as JSON inside the artifact, so serving encodes exactly as training did."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from conveyor.model.text import FIT_ROWS, TextVocabulary
from conveyor.tabular.schema import DatasetSchema, FeatureKind

MAX_CATEGORIES = 255  # LightGBM's practical limit per categorical feature
DATE_PARTS = ("year", "month", "day", "dayofweek", "dayofyear")
# Multiplied, not divided, here and on the request path, so both round the same way.
DAYS_PER_SECOND = 1.0 / 86400.0


class FeatureEncoder:
    """Numeric as is; booleans 0/1; categories as integer codes by training frequency
    (unseen or rare → missing, which the model has learned to handle); dates as calendar
    parts plus days since the epoch; free text as TF-IDF weights of a small vocabulary
    (``conveyor.model.text``). Missing values stay NaN for the model to handle.
    """

    def __init__(self, max_categories: int = MAX_CATEGORIES) -> None:
        self.max_categories = max_categories

    def fit(self, frame: pl.DataFrame, schema: DatasetSchema) -> FeatureEncoder:
        self.schema_ = schema
        self.categories_: dict[str, list[str]] = {}
        self.with_hour_: dict[str, bool] = {}
        self.text_: dict[str, TextVocabulary] = {}
        for spec in schema.features:
            column = frame.get_column(spec.name)
            if spec.kind is FeatureKind.CATEGORICAL:
                counts = column.drop_nulls().value_counts(sort=True, name="n")
                self.categories_[spec.name] = [
                    str(v) for v in counts.get_column(spec.name).head(self.max_categories)
                ]
            elif spec.kind is FeatureKind.DATETIME:
                hours = column.drop_nulls().dt.hour()
                self.with_hour_[spec.name] = bool((hours != 0).any())
            elif spec.kind is FeatureKind.TEXT:
                texts = column.cast(pl.String).drop_nulls()
                step = -(-len(texts) // FIT_ROWS) or 1
                self.text_[spec.name] = TextVocabulary.fit(texts.gather_every(step).to_list())
        self._compile()
        return self

    def _compile(self) -> None:
        names: list[str] = []
        categorical: list[int] = []
        calendar: list[int] = []
        exprs: list[pl.Expr] = []
        # Where each text feature's columns go in the matrix; the expressions fill the rest.
        text_positions: list[tuple[str, slice]] = []
        # Where each file column's inputs start: a date has several, a text one per term.
        starts: list[tuple[str, int]] = []
        for spec in self.schema_.features:
            starts.append((spec.name, len(names)))
            col = pl.col(spec.name)
            if spec.kind is FeatureKind.TEXT:
                vocabulary = self.text_[spec.name]
                start = len(names)
                names.extend(vocabulary.feature_names(spec.name))
                text_positions.append((spec.name, slice(start, len(names))))
                continue
            if spec.kind is FeatureKind.NUMERIC or spec.kind is FeatureKind.BOOLEAN:
                exprs.append(col.cast(pl.Float64).alias(spec.name))
                names.append(spec.name)
            elif spec.kind is FeatureKind.CATEGORICAL:
                mapping = {c: float(i) for i, c in enumerate(self.categories_[spec.name])}
                exprs.append(
                    col.cast(pl.String)
                    .replace_strict(mapping, default=None, return_dtype=pl.Float64)
                    .alias(spec.name)
                )
                categorical.append(len(names))
                names.append(spec.name)
            else:
                parts = [*DATE_PARTS, "hour"] if self.with_hour_[spec.name] else list(DATE_PARTS)
                for part in parts:
                    exprs.append(_date_part(col, part).alias(f"{spec.name}__{part}"))
                    if part != "hour":
                        calendar.append(len(names))
                    names.append(f"{spec.name}__{part}")
                exprs.append(
                    col.dt.epoch("s")
                    .cast(pl.Float64)
                    .mul(DAYS_PER_SECOND)
                    .alias(f"{spec.name}__epoch_days")
                )
                names.append(f"{spec.name}__epoch_days")
        self.feature_names_out_ = names
        self.categorical_indices_ = categorical
        # A date's calendar parts (not its days since the epoch, nor its time of day): the same
        # date again, which a distance should not count several times over (conveyor.model.knn).
        self.calendar_indices_ = calendar
        # Model input -> the file's column it was made from (to sum importance per column).
        ends = [start for _, start in starts[1:]] + [len(names)]
        self.feature_sources_ = {
            name: column
            for (column, start), end in zip(starts, ends, strict=True)
            for name in names[start:end]
        }
        self._exprs = exprs
        in_text = {i for _, positions in text_positions for i in range(len(names))[positions]}
        self._expr_positions = [i for i in range(len(names)) if i not in in_text]
        self._text_positions = text_positions

    def transform(self, frame: pl.DataFrame) -> np.ndarray:
        """A float64 matrix (NaN for missing): float64 so numbers round-trip exactly."""
        encoded = frame.select(self._exprs)
        if not self._text_positions:
            return encoded.to_numpy().astype(np.float64, copy=False)
        matrix = np.empty((frame.height, len(self.feature_names_out_)), dtype=np.float64)
        if self._exprs:
            matrix[:, self._expr_positions] = encoded.to_numpy().astype(np.float64, copy=False)
        for name, positions in self._text_positions:
            vocabulary = self.text_[name]
            texts = frame.get_column(name).cast(pl.String).to_list()
            rows = [vocabulary.encode(text) for text in texts]
            matrix[:, positions] = np.array(rows, dtype=np.float64).reshape(len(texts), -1)
        return matrix

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_categories": self.max_categories,
            "schema": self.schema_.to_dict(),
            "categories": self.categories_,
            "with_hour": self.with_hour_,
            "text": {name: v.to_dict() for name, v in self.text_.items()},
            "feature_names_out": self.feature_names_out_,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureEncoder:
        encoder = cls(max_categories=int(data["max_categories"]))
        encoder.schema_ = DatasetSchema.from_dict(data["schema"])
        encoder.categories_ = {k: list(v) for k, v in data["categories"].items()}
        encoder.with_hour_ = {k: bool(v) for k, v in data["with_hour"].items()}
        encoder.text_ = {k: TextVocabulary.from_dict(v) for k, v in data.get("text", {}).items()}
        encoder._compile()
        return encoder


def _date_part(col: pl.Expr, part: str) -> pl.Expr:
    dt = col.dt
    value = {
        "year": dt.year(),
        "month": dt.month(),
        "day": dt.day(),
        "dayofweek": dt.weekday(),
        "dayofyear": dt.ordinal_day(),
        "hour": dt.hour(),
    }[part]
    return value.cast(pl.Float64)


def target_values(values: pl.Series, classes: Sequence[Any] | None) -> np.ndarray:
    """The target as the model learns it: class indices (in ``classes`` order) for a
    classifier, floats for regression."""
    if classes is None:
        return values.cast(pl.Float64).to_numpy()
    index = {label: i for i, label in enumerate(classes)}
    indices = values.replace_strict(index, return_dtype=pl.Int64)
    return indices.to_numpy()
