"""The response models of a version's curves (``conveyor.model.curves``), part of its
details in ``GET /api/v1/projects/{project}/versions/{version}``."""

from __future__ import annotations

from pydantic import BaseModel, Field


class _Threshold(BaseModel):
    value: float = Field(description="The decision threshold (the training record's, or 0.5).")


class RocThreshold(_Threshold):
    fpr: float | None
    tpr: float | None


class RocCurve(BaseModel):
    fpr: list[float]
    tpr: list[float]
    auc: float
    threshold: RocThreshold = Field(description="The rates the model answers with.")


class PrThreshold(_Threshold):
    recall: float | None
    precision: float | None


class PrecisionRecallCurve(BaseModel):
    recall: list[float] = Field(description="Rising.")
    precision: list[float]
    average_precision: float
    positive_share: float = Field(description="The precision of a model guessing at random.")
    threshold: PrThreshold


class CalibrationCurve(BaseModel):
    label: str = Field(description="The probability on the x axis, e.g. P(yes).")
    predicted: list[float] = Field(description="Each non-empty bin's mean probability.")
    observed: list[float] = Field(description="The share of its rows that were right.")
    rows: list[int]


class ClassScores(BaseModel):
    label: str
    precision: float
    recall: float
    f1: float
    support: int


class ResidualSample(BaseModel):
    predicted: list[float] = Field(description="At most 500 test rows, ordered by prediction.")
    residual: list[float] = Field(description="True minus predicted.")
    rows: int = Field(description="The test rows they were drawn from.")


class LearningCurve(BaseModel):
    metric: str = Field(description="LightGBM's metric, e.g. binary_logloss.")
    source: str = Field(description="What it was measured on, e.g. the validation split.")
    iterations: list[int]
    values: list[float]
    best_iteration: int = Field(description="The round early stopping chose.")
    rounds: int


class Curves(BaseModel):
    """Each null where the task or the algorithm has none."""

    roc: RocCurve | None
    precision_recall: PrecisionRecallCurve | None
    calibration: CalibrationCurve | None
    per_class: list[ClassScores] | None = Field(description="Multiclass only.")
    residuals: ResidualSample | None = Field(description="Regression only.")
    learning: LearningCurve | None = Field(description="LightGBM only.")
