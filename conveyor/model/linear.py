"""A regularised linear model on the encoder's output: numbers standardised (a missing one
at the training mean), categories one-hot (a missing or unseen one its own level), fitted by
scikit-learn (ridge regression; L2 logistic regression), and served by a few numpy lookups.

It is the search's candidate for small data and for targets that grow past the range the
trees saw (trees cannot extrapolate). scikit-learn fits it; it serves without scikit-learn:
a pipeline of its transformers costs ~0.3 ms a row, the lookups here a few microseconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from conveyor.errors import InvalidInput
from conveyor.model.imbalance import CLASS_WEIGHT, check_class_weight
from conveyor.types import Task

LINEAR_DEFAULTS: dict[str, Any] = {"alpha": 1.0}
# Ridge's penalty, chosen by efficient leave-one-out (RidgeCV) among these: a free choice
# that costs one fit, where logistic regression pays one fit per value.
_RIDGE_ALPHAS = tuple(float(a) for a in np.logspace(-3, 3, 13))
# lbfgs converges on standardised inputs well within this; more only costs time.
_MAX_ITER = 500
_FILE = "linear.npz"
# The score of a class absent from training: exp(-50) of the probability, none in practice.
_ABSENT = -50.0
# A regression's predictions stay within the training targets' range widened by this share of
# it at each end: room to extrapolate a trend (a size 2.5x the largest seen, tests/e2e/
# test_search.py), where trees stop at the range, but not without bound. One held-out diamond
# with z = 31.8 mm (the training rows' largest: 6.4) was priced at -181,000 by ridge's large
# weights on collinear x, y, z; 6% of an ensemble's weight on it took the held-out RMSE from
# 698 to 735.
_EXTRAPOLATE = 1.0


class LinearModel:
    """Learned state: per numeric input its mean, scale and weights; per categorical input
    a weight table indexed by its code (the last row: missing or unseen); the intercept."""

    best_iteration = 0

    def __init__(
        self,
        task: Task,
        *,
        numeric: np.ndarray,
        categorical: np.ndarray,
        mean: np.ndarray,
        scale: np.ndarray,
        weights: np.ndarray,
        tables: list[np.ndarray],
        intercept: np.ndarray,
        alpha: float,
        bounds: tuple[float, float] | None = None,
    ) -> None:
        self.task = task
        self.numeric = numeric
        self.categorical = categorical
        self.mean = mean
        self.scale = scale
        self.weights = weights  # (numeric inputs, outputs)
        self.tables = tables  # per categorical input: (levels + 1, outputs)
        self.intercept = intercept  # (outputs,)
        self.alpha = alpha
        self.bounds = bounds  # regression: (lowest, highest) prediction; None: unbounded
        self._categorical_list = [int(j) for j in categorical]
        # What fit used (params, n_classes, seed), for refit; a loaded model has none.
        self._trained_with: tuple[dict[str, Any], int, int] | None = None

    @classmethod
    def fit(
        cls,
        task: Task,
        x: np.ndarray,
        y: np.ndarray,
        *,
        categorical_indices: list[int],
        n_classes: int,
        params: dict[str, Any],
        seed: int,
    ) -> LinearModel:
        """Fit on ``x`` (the encoder's matrix) and ``y`` (class indices or values).

        Raises:
            InvalidInput: scikit-learn refused the data or ``params``.
        """
        from sklearn.linear_model import LogisticRegression, RidgeCV

        categorical = np.asarray(sorted(categorical_indices), dtype=np.int64)
        numeric = np.asarray(
            [i for i in range(x.shape[1]) if i not in set(categorical_indices)], dtype=np.int64
        )
        mean, scale = standardisation(x[:, numeric])
        levels = level_counts(x, categorical)
        design = _design(x, numeric, categorical, mean, scale, levels)
        alpha = float(params.get("alpha", LINEAR_DEFAULTS["alpha"]))
        try:
            if task is Task.REGRESSION:
                ridge = RidgeCV(alphas=_RIDGE_ALPHAS).fit(design, y)
                coef = np.asarray(ridge.coef_, dtype=np.float64).reshape(-1, 1)
                intercept = np.atleast_1d(np.asarray(ridge.intercept_, dtype=np.float64))
                alpha = float(ridge.alpha_)
            else:
                weights = params.get(CLASS_WEIGHT)
                check_class_weight(weights)
                logistic = LogisticRegression(
                    C=1.0 / alpha, max_iter=_MAX_ITER, random_state=seed, class_weight=weights
                )
                logistic.fit(design, y.astype(np.int64))
                coef, intercept = _all_classes(task, logistic, n_classes)
        except ValueError as exc:
            raise InvalidInput(
                f"scikit-learn refused the linear model's data or parameters: {exc}",
                field="hyperparameters",
            ) from exc
        tables, start = [], len(numeric)
        for width in levels:
            tables.append(coef[start : start + width])
            start += width
        model = cls(
            task,
            numeric=numeric,
            categorical=categorical,
            mean=mean,
            scale=scale,
            weights=coef[: len(numeric)],
            tables=tables,
            intercept=intercept,
            alpha=alpha,
            bounds=_bounds(y) if task is Task.REGRESSION and len(y) else None,
        )
        model._trained_with = (dict(params), n_classes, seed)
        return model

    def refit(
        self, x: np.ndarray, y: np.ndarray, *, categorical_indices: list[int] | None = None
    ) -> LinearModel:
        """The same model fitted on ``x`` (more rows than it was), with its settings (a
        classifier's penalty and class weights; ridge chooses its penalty again).
        ``categorical_indices`` when ``x`` comes from another encoder than the fit's."""
        if self._trained_with is None:
            raise ValueError("refit needs a model fitted in this process")
        params, n_classes, seed = self._trained_with
        if self.task is not Task.REGRESSION:
            params = {**params, "alpha": self.alpha}
        categorical = [int(j) for j in self.categorical]
        return LinearModel.fit(
            self.task,
            x,
            y,
            categorical_indices=categorical if categorical_indices is None else categorical_indices,
            n_classes=n_classes,
            params=params,
            seed=seed,
        )

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """What was fitted: the penalty (ridge's chosen one for regression)."""
        return {"alpha": self.alpha, "penalty": "l2"}

    def predict_raw(self, x: np.ndarray) -> np.ndarray:
        if len(x) == 1:
            return self._predict_one(x[0])
        values = x[:, self.numeric]
        values = np.where(np.isnan(values), self.mean, values)
        scores = ((values - self.mean) / self.scale) @ self.weights + self.intercept
        for j, table in zip(self.categorical, self.tables, strict=True):
            scores = scores + table[level_codes(x[:, j], len(table))]
        if self.task is Task.REGRESSION:
            return self._bounded(scores[:, 0])
        if self.task is Task.BINARY:
            with np.errstate(over="ignore"):  # exp(-score) past float's range: probability 0
                positive = 1.0 / (1.0 + np.exp(-scores[:, 0]))
            return np.column_stack([1.0 - positive, positive])
        scores = scores - scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return np.asarray(exp / exp.sum(axis=1, keepdims=True))

    def _predict_one(self, row: np.ndarray) -> np.ndarray:
        """One row (the server's common case): the same sums in a few small numpy steps, not
        the batch path's twenty (~10 us against ~45 us)."""
        values = row[self.numeric]
        values = np.where(values != values, self.mean, values)  # NaN is not equal to itself
        scores = ((values - self.mean) / self.scale) @ self.weights + self.intercept
        for j, table in zip(self._categorical_list, self.tables, strict=True):
            code = row[j]
            last = len(table) - 1
            scores += table[int(code) if 0 <= code < last else last]  # NaN compares False
        if self.task is Task.REGRESSION:
            return self._bounded(scores[:1])
        if self.task is Task.BINARY:
            score = float(scores[0])
            positive = 1.0 / (1.0 + math.exp(-score)) if score >= 0 else 1.0 - _sigmoid_low(score)
            return np.array([[1.0 - positive, positive]])
        exp = np.exp(scores - scores.max())
        return np.asarray(exp / exp.sum()).reshape(1, -1)

    explanation_method = "linear_terms"

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """The score's own terms, as ``Explainable`` says: a number's weight times its
        standardised value (nothing when missing: it is read as the training mean), a
        category's weight less a missing one's; the base value is the score of a row with
        every input missing."""
        out = np.zeros((len(x), self.intercept.shape[0], x.shape[1] + 1))
        values = x[:, self.numeric]
        standard = np.where(np.isnan(values), 0.0, (values - self.mean) / self.scale)
        out[:, :, self.numeric] = (standard[:, :, None] * self.weights[None, :, :]).transpose(
            0, 2, 1
        )
        base = self.intercept.copy()
        for j, table in zip(self._categorical_list, self.tables, strict=True):
            missing = table[-1]
            out[:, :, j] = table[level_codes(x[:, j], len(table))] - missing
            base = base + missing
        out[:, :, -1] = base
        if self.bounds is not None:
            # A value cut at the bounds: the cut goes into that row's base value, so that the
            # terms still add up to what the model predicts.
            total = out[:, 0, :].sum(axis=1)
            out[:, 0, -1] += self._bounded(total) - total
        return out

    def _bounded(self, values: np.ndarray) -> np.ndarray:
        if self.bounds is None:
            return np.asarray(values)
        return np.asarray(np.clip(values, *self.bounds))

    def save(self, folder: Path) -> None:
        arrays: dict[str, Any] = {
            "numeric": self.numeric,
            "categorical": self.categorical,
            "mean": self.mean,
            "scale": self.scale,
            "weights": self.weights,
            "intercept": self.intercept,
            "alpha": np.asarray(self.alpha),
            **({} if self.bounds is None else {"bounds": np.asarray(self.bounds)}),
            **{f"table_{i}": table for i, table in enumerate(self.tables)},
        }
        np.savez(folder / _FILE, **arrays)

    @classmethod
    def load(cls, folder: Path, task: Task) -> LinearModel:
        with np.load(folder / _FILE, allow_pickle=False) as saved:
            categorical = saved["categorical"]
            return cls(
                task,
                numeric=saved["numeric"],
                categorical=categorical,
                mean=saved["mean"],
                scale=saved["scale"],
                weights=saved["weights"],
                tables=[saved[f"table_{i}"] for i in range(len(categorical))],
                intercept=saved["intercept"],
                alpha=float(saved["alpha"]),
                # Models saved before bounds were kept predict unbounded, as they did.
                bounds=(
                    (float(saved["bounds"][0]), float(saved["bounds"][1]))
                    if "bounds" in saved
                    else None
                ),
            )


def _bounds(y: np.ndarray) -> tuple[float, float]:
    low, high = float(np.min(y)), float(np.max(y))
    room = _EXTRAPOLATE * (high - low)
    return low - room, high + room


def _sigmoid_low(score: float) -> float:
    """1 - sigmoid(score) for a negative score, without overflowing exp."""
    return 1.0 / (1.0 + math.exp(score))


def _all_classes(task: Task, logistic: Any, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """The weights (inputs, outputs) and intercepts of every class: a class the training rows
    lacked (issue 19: rare classes) gets none of the probability."""
    coef = np.asarray(logistic.coef_, dtype=np.float64).T
    intercept = np.asarray(logistic.intercept_, dtype=np.float64)
    if task is Task.BINARY:
        return coef, intercept
    full_coef = np.zeros((coef.shape[0], n_classes))
    full_intercept = np.full(n_classes, _ABSENT)
    present = np.asarray(logistic.classes_, dtype=np.int64)
    full_coef[:, present], full_intercept[present] = coef, intercept
    return full_coef, full_intercept


def standardisation(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each column's mean and standard deviation, missing values left out (a constant or
    empty column: mean 0 or its value, scale 1)."""
    with np.errstate(all="ignore"):
        mean = np.nan_to_num(np.nanmean(values, axis=0)) if len(values) else np.zeros(0)
        scale = np.nan_to_num(np.nanstd(values, axis=0))
    scale[scale == 0] = 1.0
    return mean, scale


def level_counts(x: np.ndarray, categorical: Sequence[int] | np.ndarray) -> list[int]:
    """Each categorical input's levels in ``x`` (its largest code + 1), plus one for a missing
    or unseen value."""
    return [int(np.nanmax(x[:, j], initial=-1)) + 2 for j in categorical]


def level_codes(column: np.ndarray, levels: int) -> np.ndarray:
    """A categorical input's codes as table rows: missing, or a code the fit never saw, is
    the last row (the encoder already maps unseen categories to missing)."""
    missing = np.isnan(column) | (column >= levels - 1) | (column < 0)
    return np.where(missing, levels - 1, np.nan_to_num(column)).astype(np.int64)


def _design(
    x: np.ndarray,
    numeric: np.ndarray,
    categorical: np.ndarray,
    mean: np.ndarray,
    scale: np.ndarray,
    levels: list[int],
) -> Any:
    """The matrix scikit-learn fits, sparse: standardised numbers, then each category one-hot
    (ten columns of 255 levels would be 2,550 dense columns)."""
    from scipy import sparse

    values = x[:, numeric]
    values = np.where(np.isnan(values), mean, values)
    blocks = [sparse.csr_matrix((values - mean) / scale)]
    rows = np.arange(len(x))
    for j, width in zip(categorical, levels, strict=True):
        ones = np.ones(len(x))
        blocks.append(
            sparse.csr_matrix((ones, (rows, level_codes(x[:, j], width))), (len(x), width))
        )
    return sparse.hstack(blocks, format="csr")
