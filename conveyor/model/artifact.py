"""The model artifact: a folder (packed as model.tar.gz, files at its root, as SageMaker
does) holding the schema, the fitted encoder, the model and its training record; and the
``Predictor`` that evaluation and serving load from it."""

from __future__ import annotations

import dataclasses
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from conveyor.errors import InvalidInput
from conveyor.model.calibration import Calibrator
from conveyor.model.encode import FeatureEncoder
from conveyor.model.ensemble import load_fitted
from conveyor.model.estimators import FittedModel
from conveyor.model.explain import ColumnExplainer, Explainable, refusal
from conveyor.model.rows import RowEncoder
from conveyor.model.threshold import DEFAULT_THRESHOLD, labels
from conveyor.tabular.coerce import coerce_frame
from conveyor.tabular.schema import DatasetSchema
from conveyor.types import Task

SCHEMA_FILE = "schema.json"
ENCODER_FILE = "encoder.json"
TRAINING_FILE = "training.json"
# A full fit's artifact keeps here the model its test metrics are of (fitted on the train
# split only); the folder loads as a Predictor like the artifact's own.
ASSESSMENT_DIR = "assessment"
# Up to this many rows a request is encoded row by row: building a DataFrame costs ~1 ms
# before the first row (measured: 100 rows of 30 features 0.6 ms by row, 1.6 ms by frame; even
# at ~600 rows).
ROW_PATH_MAX_ROWS = 512


def pack_model_dir(model_dir: Path, tar_path: Path) -> Path:
    tar_path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tar_path, "w:gz") as archive:
        for path in sorted(model_dir.rglob("*")):
            archive.add(path, arcname=str(path.relative_to(model_dir)), recursive=False)
    return tar_path


def scored_dir(model_dir: Path) -> Path:
    """The folder of the model that metrics score on held-out rows: a full fit's assessment/
    model (it never saw the test split, nor the project's holdout), else the model itself."""
    assessed = model_dir / ASSESSMENT_DIR
    return assessed if assessed.is_dir() else model_dir


def unpack(tar_path: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tar_path, "r:gz") as archive:
        archive.extractall(dest, filter="data")  # refuses absolute paths and ``..``
    return dest


@dataclass(frozen=True)
class Prediction:
    predictions: list[Any]
    probabilities: list[list[float]] | None
    classes: list[Any] | None
    # The upload's columns the request carried that the model does not read (its target,
    # the columns preprocessing dropped): said once in the answer, not an error.
    ignored: tuple[str, ...] = ()
    # Every column the request's rows carried (``predict_records``; empty: not known).
    columns: tuple[str, ...] = ()
    # The rows as the model's matrix, kept when asked (``predict_records``) and the rows
    # carried the model's numeric features only, each a finite number in every row: then the
    # values sent, typed, ``columns`` in the matrix's order. None otherwise.
    matrix: np.ndarray | None = None


class Predictor:
    """A loaded model: raw records or typed frames in, labels/values (and probabilities) out.

    A classifier's probabilities are its calibrator's (``calibration.json``, when training
    kept one) and a binary model's label is class 1 above its ``decision_threshold`` (the
    training record's, else 0.5): every place that serves a model predicts through here.
    """

    def __init__(
        self,
        schema: DatasetSchema,
        encoder: FeatureEncoder,
        model: FittedModel,
        training: dict[str, Any],
        calibrator: Calibrator | None = None,
    ) -> None:
        self.schema = schema
        self.encoder = encoder
        self.model = model
        self.training = training
        self.calibrator = calibrator
        self.threshold = float(training.get("decision_threshold") or DEFAULT_THRESHOLD)
        self.rows = RowEncoder(encoder)
        self._explainer: ColumnExplainer | None = None  # built on the first explanation

    @classmethod
    def load(cls, model_dir: Path) -> Predictor:
        schema = DatasetSchema.from_dict(json.loads((model_dir / SCHEMA_FILE).read_text()))
        encoder = FeatureEncoder.from_dict(json.loads((model_dir / ENCODER_FILE).read_text()))
        training = json.loads((model_dir / TRAINING_FILE).read_text())
        model = load_fitted(model_dir, training["algorithm"], schema.task)
        return cls(schema, encoder, model, training, Calibrator.load(model_dir))

    def predict_raw(self, x: np.ndarray) -> np.ndarray:
        """The model's outputs for encoded rows ``x``: values, or calibrated probabilities."""
        raw = self.model.predict_raw(x)
        return raw if self.calibrator is None else self.calibrator.apply(raw)

    def class_indices(self, proba: np.ndarray) -> np.ndarray:
        """The predicted class of each row of probabilities ``proba`` (n, k)."""
        if self.schema.task is Task.BINARY and self.threshold != DEFAULT_THRESHOLD:
            return labels(proba[:, 1], self.threshold)
        return np.asarray(np.asarray(proba).argmax(axis=1))

    def predict_frame(self, typed: pl.DataFrame) -> Prediction:
        """Predict typed columns (as preprocessing wrote them)."""
        return self._prediction(self.predict_raw(self.encoder.transform(typed)))

    def predict_columns(self, typed: pl.DataFrame) -> list[pl.Series]:
        """Predictions of typed columns as ``prediction`` and, for classifiers, one
        ``proba_<class>`` per class: built from the model's arrays, with no Python lists."""
        raw = np.asarray(self.predict_raw(self.encoder.transform(typed)))
        if self.schema.task is Task.REGRESSION:
            return [pl.Series("prediction", raw, dtype=pl.Float64)]
        classes = list(self.schema.classes or ())
        chosen = pl.Series("prediction", classes, strict=False).gather(self.class_indices(raw))
        return [chosen] + [
            pl.Series(f"proba_{label}", raw[:, i]) for i, label in enumerate(classes)
        ]

    def _prediction(self, raw: np.ndarray) -> Prediction:
        if self.schema.task is Task.REGRESSION:
            return Prediction([float(v) for v in raw], None, None)
        classes = list(self.schema.classes or ())
        raw = np.asarray(raw)
        return Prediction([classes[i] for i in self.class_indices(raw)], raw.tolist(), classes)

    def explain_refusal(self) -> InvalidInput | None:
        """Why this model's predictions cannot be explained (a 4xx to answer), or None."""
        return refusal(self.model, str(self.training["algorithm"]))

    def explain_records(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Each row's contributions per column to its raw score (``conveyor.model.explain``),
        as JSON: rows read as ``predict_records`` reads them.

        Raises:
            InvalidInput: a value the model cannot read, or a model that cannot be explained.
        """
        refused = self.explain_refusal()
        if refused is not None:
            raise refused
        assert isinstance(self.model, Explainable)  # what explain_refusal checked
        if self._explainer is None:
            calibration = None if self.calibrator is None else self.calibrator.method
            self._explainer = ColumnExplainer(self.encoder, self.schema, calibration)
        return self._explainer.explain(self.model, self._matrix(records))

    def _matrix(self, records: list[dict[str, Any]]) -> np.ndarray:
        """The model's matrix of raw rows, as ``predict_records`` builds it."""
        self.rows.ignored(records)
        if len(records) <= ROW_PATH_MAX_ROWS and self.rows.supported:
            return self.rows.matrix(records)
        return self.encoder.transform(self._typed(records))

    def _typed(self, records: list[dict[str, Any]]) -> pl.DataFrame:
        """The typed feature columns of raw rows (the columnar path)."""
        # Only the features are built: the ignored columns may hold anything (an id, a
        # free-text note) that a typed column could not.
        frame = pl.DataFrame(
            {
                name: pl.Series(name, [r.get(name) for r in records], strict=False)
                for name in self.schema.feature_names
            }
        )
        return coerce_frame(frame, self.schema)

    def predict_records(
        self, records: list[dict[str, Any]], *, keep_matrix: bool = False
    ) -> Prediction:
        """Predict raw rows (JSON values); bad values raise ``InvalidInput`` naming the field.

        Args:
            records: the rows.
            keep_matrix: return the rows' matrix too when it holds the values sent
                (``Prediction.matrix``), for the data capture to store them typed.
        """
        columns, ignored = self.rows.columns(records)
        if len(records) <= ROW_PATH_MAX_ROWS and self.rows.supported:
            matrix = self.rows.matrix(records)
            prediction = self._prediction(self.predict_raw(matrix))
            # Keys that are the features exactly (none ignored, none left out), each value
            # a finite number: each matrix column is a feature's values as sent.
            if (
                keep_matrix
                and self.rows.numeric
                and not ignored
                and len(columns) == matrix.shape[1]
                and np.isfinite(matrix).all()
            ):
                names = tuple(self.rows.names)
                return dataclasses.replace(prediction, columns=names, matrix=matrix)
        else:
            prediction = self.predict_frame(self._typed(records))
        return dataclasses.replace(prediction, ignored=ignored, columns=columns)
