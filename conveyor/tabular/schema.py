"""The dataset schema: what preprocessing inferred, what training learns from, what serving
validates requests against. Written as ``schema.json`` beside the processed data and inside
every model artifact, so that serving parses inputs exactly as preprocessing did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from conveyor.types import JsonDict, Task

SCHEMA_VERSION = 1

# Spellings of "no value" in CSV files; they become nulls before any type inference.
NULL_TOKENS = ("", "NA", "N/A", "n/a", "na", "NaN", "nan", "null", "NULL", "None", "?", "-")


class FeatureKind(StrEnum):
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"
    BOOLEAN = "boolean"
    DATETIME = "datetime"


@dataclass(frozen=True)
class FeatureSpec:
    """One input column as the model sees it.

    ``name`` is the column name as in the raw file (spaces and all). ``nullable`` says
    whether training saw missing values; serving accepts a missing value either way,
    because the model handles it, but the profile records the rate.
    ``date_format`` (DATETIME) is the strptime format inferred at preprocessing;
    ``true_values``/``false_values`` (BOOLEAN) are the lower-cased spellings seen.
    ``categories`` (CATEGORICAL) is filled by the training job's encoder, not here.
    """

    name: str
    kind: FeatureKind
    nullable: bool = False
    date_format: str | None = None
    true_values: tuple[str, ...] = ()
    false_values: tuple[str, ...] = ()

    def to_dict(self) -> JsonDict:
        data: JsonDict = {"name": self.name, "kind": self.kind.value, "nullable": self.nullable}
        if self.date_format is not None:
            data["date_format"] = self.date_format
        if self.true_values or self.false_values:
            data["true_values"] = list(self.true_values)
            data["false_values"] = list(self.false_values)
        return data

    @classmethod
    def from_dict(cls, data: JsonDict) -> FeatureSpec:
        return cls(
            name=data["name"],
            kind=FeatureKind(data["kind"]),
            nullable=bool(data.get("nullable", False)),
            date_format=data.get("date_format"),
            true_values=tuple(data.get("true_values", ())),
            false_values=tuple(data.get("false_values", ())),
        )


@dataclass(frozen=True)
class DroppedColumn:
    name: str
    reason: str

    def to_dict(self) -> JsonDict:
        return {"name": self.name, "reason": self.reason}


@dataclass(frozen=True)
class DatasetSchema:
    """Features (in model order), the target, the task and, for classifiers, the classes.

    ``classes`` holds the target's original values (int, float, str or bool) in the order of
    their encoded index: class ``i`` is ``classes[i]``.
    """

    target: str
    task: Task
    features: tuple[FeatureSpec, ...]
    classes: tuple[Any, ...] | None = None
    dropped: tuple[DroppedColumn, ...] = field(default_factory=tuple)

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
        }

    @classmethod
    def from_dict(cls, data: JsonDict) -> DatasetSchema:
        classes = data.get("classes")
        return cls(
            target=data["target"],
            task=Task(data["task"]),
            features=tuple(FeatureSpec.from_dict(f) for f in data["features"]),
            classes=tuple(classes) if classes is not None else None,
            dropped=tuple(DroppedColumn(**d) for d in data.get("dropped", ())),
        )
