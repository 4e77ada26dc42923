"""Per-row feature contributions: how much each of the user's columns moved each raw score.

A model family that can say it exactly implements the optional ``Explainable`` Protocol:
LightGBM through its TreeSHAP (``pred_contrib``), CatBoost through its own SHAP values, scikit-
learn's HistGradientBoosting through the shap package's TreeSHAP (``conveyor.model.hist_shap``),
the linear model through its own additive terms, an ensemble of regressors as its members'
weighted sum. Their contributions plus the base value add up to the raw score (the value for
regression, the log-odds of the positive class for a binary classifier, each class's score
before the softmax for multiclass). An ensemble of classifiers blends probabilities, so its
contributions are in probability (``conveyor.model.ensemble_explain``): a model whose numbers
are not in its task's raw score says so in ``explanation_space``, and the answer names the
space. A model of such a family that cannot be explained exactly (a HistGradientBoosting model
with categorical splits) says why in ``unexplained``.

Whatever cannot is refused with a message that names why and what explains: an approximation
that did not add up would be a number a user could not check. So is a LightGBM model with
linear leaves (``linear_tree``, which the search may pick): LightGBM has no TreeSHAP for them.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from conveyor.errors import InvalidInput
from conveyor.model.encode import FeatureEncoder
from conveyor.tabular.schema import DatasetSchema
from conveyor.types import Task

_EXPLAINED = (
    "LightGBM with constant leaves, CatBoost, the linear model, scikit-learn's "
    "HistGradientBoosting without categorical columns, and ensembles of these"
)
# What the numbers of an answer add up to (its ``space``), and how the answer says it.
VALUE, LOG_ODDS, CLASS_SCORES, PROBABILITY = "value", "log_odds", "class_scores", "probability"
# A search (--preset balanced|best) may pick any family or a blend again: one fit of LightGBM
# is what surely explains.
_RETRAIN = (
    "`conveyor project update <project> --preset fast --algorithm lightgbm`, then "
    "`conveyor retrain <project>`"
)


@runtime_checkable
class Explainable(Protocol):
    """A fitted model that can split its raw scores into its inputs' contributions."""

    explanation_method: str  # named in the answer: "tree_shap", "linear_terms", ...
    # A model whose contributions are not to its task's raw score also has
    # ``explanation_space`` (PROBABILITY: an ensemble of classifiers).

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Each input's contribution to each raw score of the rows of ``x``.

        Args:
            x: the encoder's matrix, (rows, inputs).

        Returns:
            (rows, scores, inputs + 1): the last column is the base value; a row's values
            along the last axis sum to its raw score (``scores`` is 1 for regression and
            binary classification, the number of classes for multiclass).

        Raises:
            InvalidInput: this model cannot be explained exactly; the message says why.
        """
        ...


def refusal(model: object, algorithm: str) -> InvalidInput | None:
    """Why ``model`` (of the training record's ``algorithm``) cannot be explained, or None."""
    if not isinstance(model, Explainable):
        return InvalidInput(
            f"this version's algorithm ({algorithm}) has no exact per-column contributions "
            f"(an approximation would not add up to its score); explanations are given for "
            f"{_EXPLAINED}: {_RETRAIN}",
            field="explain",
        )
    why = getattr(model, "unexplained", None)
    if why is not None:
        return InvalidInput(
            f"this version's {algorithm} model cannot be explained exactly: {why}; "
            f"explanations are given for {_EXPLAINED}: {_RETRAIN}",
            field="explain",
        )
    return None


class ColumnExplainer:
    """Contributions of the encoder's inputs summed per user column (a date's parts, a text
    column's terms), as the JSON an answer carries."""

    def __init__(
        self, encoder: FeatureEncoder, schema: DatasetSchema, calibration: str | None = None
    ) -> None:
        """``calibration``: the method of the calibrator the served probabilities go through
        after the explained score, if any (``conveyor.model.calibration``)."""
        self.calibration = calibration
        self.columns = schema.feature_names
        inputs = encoder.feature_names_out_
        where = {name: i for i, name in enumerate(self.columns)}
        # (inputs, columns): a one where an input was made from a column.
        self._sum = np.zeros((len(inputs), len(self.columns)))
        for i, name in enumerate(inputs):
            self._sum[i, where[encoder.feature_sources_[name]]] = 1.0
        self.task = schema.task
        self.classes = [str(c) for c in schema.classes or ()]

    def explain(self, model: Explainable, x: np.ndarray) -> dict[str, Any]:
        """The ``explanation`` of an answer: the method, what the score is, and one entry per
        row of ``x`` with its score, base value and contributions keyed by column."""
        raw = np.asarray(model.contributions(x), dtype=np.float64)
        by_column = raw[:, :, :-1] @ self._sum  # (rows, scores, columns)
        base = raw[:, :, -1]
        scores = raw.sum(axis=2)
        rows = [self._row(scores[i], base[i], by_column[i]) for i in range(len(raw))]
        space = self._space(model)
        return {
            "method": model.explanation_method,
            "space": space,
            "score": self._score_name(space),
            "rows": rows,
        }

    def _space(self, model: Explainable) -> str:
        given = getattr(model, "explanation_space", None)
        if given is not None:
            return str(given)
        if self.task is Task.REGRESSION:
            return VALUE
        return LOG_ODDS if self.task is Task.BINARY else CLASS_SCORES

    def _row(self, score: np.ndarray, base: np.ndarray, columns: np.ndarray) -> dict[str, Any]:
        if len(score) == 1:
            return {
                "score": float(score[0]),
                "base_value": float(base[0]),
                "contributions": dict(zip(self.columns, columns[0].tolist(), strict=True)),
            }
        return {
            "score": dict(zip(self.classes, score.tolist(), strict=True)),
            "base_value": dict(zip(self.classes, base.tolist(), strict=True)),
            "contributions": {
                label: dict(zip(self.columns, values.tolist(), strict=True))
                for label, values in zip(self.classes, columns, strict=True)
            },
        }

    def _score_name(self, space: str) -> str:
        if space == VALUE:
            return "the predicted value"
        if space == PROBABILITY:
            which = (
                f"the probability of class {self.classes[1]!r}"
                if self.task is Task.BINARY
                else "each class's probability"
            )
            said = (
                f"{which}, as the ensemble blends it (its members' probabilities weighted); "
                "each member's exact contributions to its raw score are carried to its "
                "probability along the path from its base score, so they add up exactly, but "
                "they are not Shapley values of the blend; the base value is the blend of the "
                "members' probabilities at their base scores"
            )
        elif space == LOG_ODDS:
            said = f"the log-odds of class {self.classes[1]!r} (its probability is the sigmoid)"
        else:
            said = "each class's raw score (the probabilities are their softmax)"
        if self.calibration is None:
            return said
        return (
            f"{said}; before calibration: the answer's probabilities are these through the "
            f"model's {self.calibration} calibrator"
        )
