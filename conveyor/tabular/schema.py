"""The dataset schema: what preprocessing inferred, what training learns from, what serving
validates requests against. Written as ``schema.json`` beside the processed data and inside
every model artifact, so that serving parses inputs exactly as preprocessing did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from conveyor.tabular.missing import NULL_TOKENS
from conveyor.tabular.numbers import NumberFormat
from conveyor.types import JsonDict, Task

# 2: a feature's parsing rules (missing tokens, number format, date formats), the TEXT kind,
# the target's number format and the per-column report. Version 1 files load as they were.
SCHEMA_VERSION = 2

__all__ = [
    "NULL_TOKENS",
    "ColumnReport",
    "DatasetSchema",
    "DroppedColumn",
    "FeatureKind",
    "FeatureSpec",
    "NumberFormat",
]


class FeatureKind(StrEnum):
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    TEXT = "text"


@dataclass(frozen=True)
class FeatureSpec:
    """One input column as the model sees it.

    ``name`` is the column name as in the raw file (spaces and all). ``nullable`` says
    whether training saw missing values; serving accepts a missing value either way,
    because the model handles it, but the profile records the rate.
    ``date_format`` (DATETIME) is the first (polars) format inferred at preprocessing and
    ``date_formats`` all of them, tried in order, when there are several; ``date_note`` says
    how the order of day and month was settled. ``true_values``/``false_values`` (BOOLEAN)
    are the lower-cased spellings seen. ``number_format`` (NUMERIC) is how the column writes
    its numbers when a float parser cannot read them as they are (``$1,200``, ``79,99``).
    ``missing_tokens`` are the column's own lower-cased spellings of "missing" (``unknown``),
    read as missing beside ``NULL_TOKENS``. ``categories`` (CATEGORICAL) and a TEXT feature's
    terms are fitted by the training job's encoder, not here.
    """

    name: str
    kind: FeatureKind
    nullable: bool = False
    date_format: str | None = None
    true_values: tuple[str, ...] = ()
    false_values: tuple[str, ...] = ()
    missing_tokens: tuple[str, ...] = ()
    number_format: NumberFormat | None = None
    date_formats: tuple[str, ...] = ()
    date_note: str | None = None

    @property
    def formats(self) -> tuple[str, ...]:
        """The date formats to try, in order (empty when none is known)."""
        if self.date_formats:
            return self.date_formats
        return (self.date_format,) if self.date_format is not None else ()

    def to_dict(self) -> JsonDict:
        data: JsonDict = {"name": self.name, "kind": self.kind.value, "nullable": self.nullable}
        if self.date_format is not None:
            data["date_format"] = self.date_format
        if len(self.date_formats) > 1:
            data["date_formats"] = list(self.date_formats)
        if self.date_note is not None:
            data["date_note"] = self.date_note
        if self.true_values or self.false_values:
            data["true_values"] = list(self.true_values)
            data["false_values"] = list(self.false_values)
        if self.missing_tokens:
            data["missing_tokens"] = list(self.missing_tokens)
        if self.number_format is not None:
            data["number_format"] = self.number_format.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: JsonDict) -> FeatureSpec:
        number_format = data.get("number_format")
        return cls(
            name=data["name"],
            kind=FeatureKind(data["kind"]),
            nullable=bool(data.get("nullable", False)),
            date_format=data.get("date_format"),
            true_values=tuple(data.get("true_values", ())),
            false_values=tuple(data.get("false_values", ())),
            missing_tokens=tuple(data.get("missing_tokens", ())),
            number_format=NumberFormat.from_dict(number_format) if number_format else None,
            date_formats=tuple(data.get("date_formats", ())),
            date_note=data.get("date_note"),
        )


@dataclass(frozen=True)
class DroppedColumn:
    name: str
    reason: str

    def to_dict(self) -> JsonDict:
        return {"name": self.name, "reason": self.reason}


@dataclass(frozen=True)
class ColumnReport:
    """What preprocessing did with one raw column: a row of the run report's table.

    ``kind`` is a FeatureKind's value, ``"target"`` or ``"dropped"``; ``rule`` the parsing
    rule in words; ``missing_tokens`` the column's own spellings of missing (beside
    ``NULL_TOKENS``); ``parsed_share`` the share of its non-missing cells the rule reads
    (None for a dropped column); ``reason`` why it was dropped, or ``"set by you"`` for a
    kind the project set.
    """

    name: str
    kind: str
    rule: str
    missing_tokens: tuple[str, ...] = ()
    parsed_share: float | None = None
    reason: str | None = None

    @property
    def parsed_percent(self) -> str:
        return "" if self.parsed_share is None else f"{100 * self.parsed_share:.1f}%"

    def to_dict(self) -> JsonDict:
        return {
            "name": self.name,
            "kind": self.kind,
            "rule": self.rule,
            "missing_tokens": list(self.missing_tokens),
            "parsed_share": self.parsed_share,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: JsonDict) -> ColumnReport:
        share = data.get("parsed_share")
        return cls(
            name=data["name"],
            kind=data["kind"],
            rule=data.get("rule", ""),
            missing_tokens=tuple(data.get("missing_tokens", ())),
            parsed_share=None if share is None else float(share),
            reason=data.get("reason"),
        )


@dataclass(frozen=True)
class DatasetSchema:
    """Features (in model order), the target, the task and, for classifiers, the classes.

    ``classes`` holds the target's original values (int, float, str or bool) in the order of
    their encoded index: class ``i`` is ``classes[i]``. ``target_number_format`` is how the
    target writes its numbers when it is text (``$28,000``). ``columns`` reports, for every
    raw column in file order, what preprocessing did with it (see ``column_report``).
    """

    target: str
    task: Task
    features: tuple[FeatureSpec, ...]
    classes: tuple[Any, ...] | None = None
    dropped: tuple[DroppedColumn, ...] = field(default_factory=tuple)
    target_number_format: NumberFormat | None = None
    columns: tuple[ColumnReport, ...] = field(default_factory=tuple)

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    def feature(self, name: str) -> FeatureSpec:
        for spec in self.features:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def to_dict(self) -> JsonDict:
        return {
            "schema_version": SCHEMA_VERSION,
            "target": self.target,
            "task": self.task.value,
            "features": [f.to_dict() for f in self.features],
            "classes": list(self.classes) if self.classes is not None else None,
            "dropped": [d.to_dict() for d in self.dropped],
            "target_number_format": (
                self.target_number_format.to_dict() if self.target_number_format else None
            ),
            "columns": [c.to_dict() for c in self.columns],
        }

    def column_report(self) -> list[JsonDict]:
        """The run report's "what conveyor did with your file" table: one dict per raw column
        with keys ``name``, ``kind``, ``rule``, ``missing_tokens``, ``parsed_share`` and
        ``reason`` (see ``ColumnReport``); empty for a schema written before version 2."""
        return [c.to_dict() for c in self.columns]

    @classmethod
    def from_dict(cls, data: JsonDict) -> DatasetSchema:
        classes = data.get("classes")
        target_format = data.get("target_number_format")
        return cls(
            target=data["target"],
            task=Task(data["task"]),
            features=tuple(FeatureSpec.from_dict(f) for f in data["features"]),
            classes=tuple(classes) if classes is not None else None,
            dropped=tuple(DroppedColumn(**d) for d in data.get("dropped", ())),
            target_number_format=NumberFormat.from_dict(target_format) if target_format else None,
            columns=tuple(ColumnReport.from_dict(c) for c in data.get("columns", ())),
        )
