"""Exact TreeSHAP for scikit-learn's HistGradientBoosting, through the shap package's
``TreeExplainer`` (an optional dependency, ``conveyor[explain]``): scikit-learn computes no
contributions itself, and shap reads the fitted trees and runs the same TreeSHAP as LightGBM's
``pred_contrib`` (tree-path-dependent: no background rows needed).

Imported only when a request asks for an explanation: shap brings numba and matplotlib, seconds
of import a server's cold start must not pay.
"""

from __future__ import annotations

import importlib.util
import warnings
from typing import Any

import numpy as np

# Losses whose raw score is the prediction itself; poisson and gamma score the log of it.
_IDENTITY_LOSSES = frozenset({"squared_error", "absolute_error", "quantile"})


def why_not(estimator: Any, *, regression: bool) -> str | None:
    """Why shap cannot give ``estimator`` contributions that add up to its score, or None."""
    categorical = getattr(estimator, "is_categorical_", None)  # None: no categorical column
    if categorical is not None and bool(np.any(categorical)):
        # Its categorical splits send a set of categories left (a bitset); shap's converter
        # reads every split as a threshold on the code, so its values miss the score (by up to
        # 11 in log-odds on a test's 600 rows; shap's issue 3436, closed unfixed).
        return (
            "shap's TreeExplainer reads its categorical splits as thresholds, so its "
            "contributions would not add up to the score"
        )
    if regression and str(estimator.loss) not in _IDENTITY_LOSSES:
        return f"its {estimator.loss} loss scores the log of the prediction, not the prediction"
    if importlib.util.find_spec("shap") is None:
        return "the shap package is not installed (pip install 'conveyor[explain]')"
    return None


class HistTreeShap:
    """shap's TreeExplainer of one fitted HistGradientBoosting model, built once."""

    def __init__(self, estimator: Any) -> None:
        with warnings.catch_warnings():
            # shap's plotting colours, made at import, use a matplotlib call it deprecates.
            warnings.simplefilter("ignore")
            import shap

            self._explainer = shap.TreeExplainer(estimator)

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """(rows, scores, inputs + 1), as ``conveyor.model.explain.Explainable`` says."""
        values = np.asarray(self._explainer.shap_values(x), dtype=np.float64)
        # shap gives (rows, inputs) for one score, (rows, inputs, classes) for several.
        values = values[:, None, :] if values.ndim == 2 else values.transpose(0, 2, 1)
        base = np.asarray(self._explainer.expected_value, dtype=np.float64).reshape(1, -1, 1)
        return np.concatenate([values, np.broadcast_to(base, (len(x), base.shape[1], 1))], axis=2)
