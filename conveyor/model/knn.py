"""k-nearest neighbours, a search candidate (issue 23; AutoGluon's KNeighborsUnif/Dist): a row's
prediction is the (distance-weighted) mean of the targets, or class shares, of the training
rows nearest to it. It wins where the answer is a lookup more than a trend: a price by symbol
and month (vega_datasets' stocks) is its neighbours' price.

Distances are taken on the encoder's matrix made comparable: numbers standardised (a missing
one at the training mean), categories one-hot (a missing or unseen one its own level: a
different category is as far as two standard deviations' difference, ``conveyor.model.linear``'s
layout), and a date by its days since the epoch and its hour (its other calendar parts would
count the same date several times over, and a day of the week as near as the next day). The
hour is the one cycle the epoch cannot say: hourly temperatures (vega_datasets' seattle-temps)
are nearer the same hour on the next days than the next hour (out of fold RMSE 0.18 with the
hour, 1.26 without).

The neighbours are found by SciPy's ``KDTree``; their number and weighting (equal, or by
inverse distance) are chosen by leave-one-out on the rows the fit is given, from one query of
the tree (as ridge's penalty is by RidgeCV), so that the candidate's validation or out-of-fold
score is of settings chosen without those rows. The weighting is scikit-learn's
``KNeighborsRegressor``/``KNeighborsClassifier``'s (a test holds the predictions equal); it is
done here because their ``predict`` of one row took ~0.3 ms in input checks and a worker pool's
dispatch, where the tree's query takes ~15 us (scikit-learn's own ``KDTree`` ~60 us).

The artifact holds the standardised training matrix and its targets (no pickle); loading builds
the tree again (milliseconds; importing SciPy's spatial module ~0.3 s, only where a KNN model
serves).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from conveyor.errors import InvalidInput
from conveyor.model.linear import level_codes, level_counts, standardisation
from conveyor.types import Task

# None: chosen by leave-one-out among _NEIGHBORS x _WEIGHTS; a project may fix either.
KNN_DEFAULTS: dict[str, Any] = {"n_neighbors": None, "weights": None}
_NEIGHBORS = (1, 2, 3, 5, 8, 12, 20, 30)
_WEIGHTS = ("uniform", "distance")
# Training rows x distance inputs above which the family is skipped: a row's query (and the
# artifact, 8 bytes a cell) grows with them. At this many cells of random numbers (the tree's
# worst case: no structure to prune on) one row took 60-170 us in process at load 10 (20,000
# rows x 5 inputs to 2,500 x 40); at 300,000 cells up to 1 ms (20,000 x 15, 30 neighbours).
MAX_CELLS = 100_000
# Leave-one-out scores the settings on at most this many of the fit's rows (seeded sample;
# their neighbours are sought among all rows): enough to tell k = 5 from k = 8.
_CHOOSE_ROWS = 2_000
_FILE = "knn.npz"


def distance_inputs(
    x: np.ndarray, categorical_indices: Sequence[int], calendar_indices: Sequence[int]
) -> int:
    """How many inputs the distance is taken on: the numbers less a date's calendar parts,
    and each category's levels plus one for missing."""
    numbers = int(x.shape[1]) - len(categorical_indices) - len(calendar_indices)
    return numbers + sum(level_counts(x, categorical_indices))


def unsuited(rows: int, inputs: int) -> str | None:
    """Why the family is not fitted on ``rows`` x ``inputs`` (``distance_inputs``), or None."""
    if rows * inputs <= MAX_CELLS:
        return None
    return (
        f"skipped: {rows:,} rows x {inputs} inputs is more than {MAX_CELLS:,} cells; "
        "one row's neighbours would take too long to find when it serves"
    )


@dataclass(frozen=True)
class _Inputs:
    """The encoder's matrix made comparable by distance: which inputs are numbers (their
    means and scales) and which are categories (their levels)."""

    numeric: np.ndarray
    categorical: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    levels: np.ndarray

    @classmethod
    def fit(
        cls, x: np.ndarray, categorical_indices: Sequence[int], calendar_indices: Sequence[int]
    ) -> _Inputs:
        skip = set(calendar_indices) | set(categorical_indices)
        numeric = np.asarray([j for j in range(x.shape[1]) if j not in skip], dtype=np.int64)
        categorical = np.asarray(sorted(categorical_indices), dtype=np.int64)
        mean, scale = standardisation(x[:, numeric])
        levels = np.asarray(level_counts(x, categorical), dtype=np.int64)
        return cls(numeric, categorical, mean, scale, levels)

    @property
    def width(self) -> int:
        return len(self.numeric) + int(self.levels.sum())

    def matrix(self, x: np.ndarray) -> np.ndarray:
        """Standardised numbers (missing: 0, the mean), then each category one-hot."""
        out = np.zeros((len(x), self.width))
        values = (x[:, self.numeric] - self.mean) / self.scale
        out[:, : len(self.numeric)] = np.where(np.isnan(values), 0.0, values)
        rows = np.arange(len(x))
        offset = len(self.numeric)
        for j, levels in zip(self.categorical.tolist(), self.levels.tolist(), strict=True):
            out[rows, offset + level_codes(x[:, j], levels)] = 1.0
            offset += levels
        return out


class KnnModel:
    """Learned state: the inputs' layout, the standardised training rows and their targets
    (values, or class indices), and the chosen ``n_neighbors`` and ``weights``."""

    best_iteration = 0

    def __init__(
        self,
        task: Task,
        inputs: _Inputs,
        points: np.ndarray,
        targets: np.ndarray,
        *,
        n_classes: int,
        n_neighbors: int,
        weights: str,
    ) -> None:
        from scipy.spatial import KDTree

        self.task = task
        self.inputs = inputs
        self.points = points
        self.targets = targets
        self.n_classes = n_classes
        self.n_neighbors = min(n_neighbors, len(points))
        self.weights = weights
        self.tree = KDTree(points)
        # What a refit keeps (None: chosen again on its rows) and the seed it chooses with.
        self.given: dict[str, Any] = self.hyperparameters
        self.seed = 0

    @classmethod
    def fit(
        cls,
        task: Task,
        x: np.ndarray,
        y: np.ndarray,
        *,
        categorical_indices: list[int],
        calendar_indices: Sequence[int] = (),
        n_classes: int,
        params: dict[str, Any],
        seed: int,
    ) -> KnnModel:
        """Fit on ``x`` (the encoder's matrix) and ``y`` (class indices or values), leaving
        out ``calendar_indices`` (a date's parts; its days since the epoch stay).

        Raises:
            InvalidInput: fewer than two rows, or ``params`` out of range.
        """
        if len(y) < 2:
            raise InvalidInput("k-nearest neighbours needs at least two rows", field="rows")
        k, weights = params.get("n_neighbors"), params.get("weights")
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
            raise InvalidInput(
                f"n_neighbors must be a whole number of at least 1, got {k!r}",
                field="hyperparameters",
            )
        if weights is not None and weights not in _WEIGHTS:
            raise InvalidInput(
                f"weights must be one of {', '.join(_WEIGHTS)}, got {weights!r}",
                field="hyperparameters",
            )
        inputs = _Inputs.fit(x, categorical_indices, calendar_indices)
        targets = y.astype(np.float64 if task is Task.REGRESSION else np.int64)
        model = cls(
            task,
            inputs,
            inputs.matrix(x),
            targets,
            n_classes=n_classes,
            n_neighbors=k or 1,
            weights=weights or _WEIGHTS[0],
        )
        if k is None or weights is None:
            model.n_neighbors, model.weights = model._choose(k, weights, seed)
        model.given, model.seed = {"n_neighbors": k, "weights": weights}, seed
        return model

    def refit(
        self, x: np.ndarray, y: np.ndarray, *, categorical_indices: list[int] | None = None
    ) -> KnnModel:
        """The same model fitted on ``x`` (more rows than it was: nearer neighbours), its
        settings chosen again by leave-one-out where the fit chose them (more rows can
        average more neighbours); ``categorical_indices`` when ``x`` comes from another
        encoder than the fit's (the same columns)."""
        known = {*self.inputs.numeric.tolist(), *self.inputs.categorical.tolist()}
        calendar = [j for j in range(x.shape[1]) if j not in known]
        categorical = self.inputs.categorical.tolist()
        return KnnModel.fit(
            self.task,
            x,
            y,
            categorical_indices=categorical if categorical_indices is None else categorical_indices,
            calendar_indices=calendar,
            n_classes=self.n_classes,
            params=self.given,
            seed=self.seed,
        )

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """What was fitted: the neighbours' number and weighting."""
        return {"n_neighbors": self.n_neighbors, "weights": self.weights}

    def _choose(self, k: int | None, weights: str | None, seed: int) -> tuple[int, str]:
        """The settings whose leave-one-out predictions of the fit's rows score best (mean
        squared error; for classifiers the Brier score, a proper score a hard vote does not
        game)."""
        rows = len(self.points)
        counts = [k] if k is not None else [n for n in _NEIGHBORS if n < rows]
        asked = [weights] if weights is not None else list(_WEIGHTS)
        sample = np.arange(rows)
        if rows > _CHOOSE_ROWS:
            chosen = np.random.default_rng(seed).choice(rows, _CHOOSE_ROWS, replace=False)
            sample = np.sort(chosen)
        most = min(max(counts), rows - 1)
        distance, index = self.tree.query(self.points[sample], k=most + 1)
        # A row is not its own neighbour: drop it, or, where duplicates at distance 0 kept it
        # off the list, the first (as scikit-learn's ``kneighbors()`` does).
        mine = index == sample[:, None]
        mine[~mine.any(axis=1), 0] = True
        distance = distance[~mine].reshape(len(sample), most)
        index = index[~mine].reshape(len(sample), most)
        truth = self.targets[sample]
        if self.task is not Task.REGRESSION:
            truth = np.eye(self.n_classes)[truth]
        scored = []
        for n in counts:
            for w in asked:
                guess = self._combine(distance[:, : min(n, most)], index[:, : min(n, most)], w)
                scored.append((float(np.mean((guess - truth) ** 2)), n, w))
        # The smallest loss; ties go to the earlier (fewer neighbours, uniform).
        _, n, w = min(scored, key=lambda s: s[0])
        return n, w

    def _combine(self, distance: np.ndarray, index: np.ndarray, weights: str) -> np.ndarray:
        """The neighbours' targets averaged as scikit-learn's KNeighbors* ``predict`` and
        ``predict_proba`` do: equally, or by inverse distance, where a row with exact matches
        takes theirs alone."""
        if weights == "distance":
            with np.errstate(divide="ignore"):
                weight = 1.0 / distance
            exact = np.isinf(weight)
            hit = exact.any(axis=1)
            weight[hit] = exact[hit]
        else:
            weight = np.ones_like(distance)
        if self.task is Task.REGRESSION:
            return np.asarray((self.targets[index] * weight).sum(axis=1) / weight.sum(axis=1))
        # Each row's neighbours' weights summed by class in one pass: a loop over the
        # neighbours cost a one-row predict ~0.1 ms at 30 of them.
        cells = np.arange(len(index))[:, None] * self.n_classes + self.targets[index]
        size = len(index) * self.n_classes
        proba = np.bincount(cells.ravel(), weights=weight.ravel(), minlength=size)
        proba = proba.reshape(len(index), self.n_classes)
        return np.asarray(proba / proba.sum(axis=1, keepdims=True))

    def predict_raw(self, x: np.ndarray) -> np.ndarray:
        distance, index = self.tree.query(self.inputs.matrix(x), k=self.n_neighbors)
        rows = len(x)  # one neighbour comes as a vector
        return self._combine(distance.reshape(rows, -1), index.reshape(rows, -1), self.weights)

    def save(self, folder: Path) -> None:
        i = self.inputs
        np.savez(
            folder / _FILE,
            numeric=i.numeric,
            categorical=i.categorical,
            mean=i.mean,
            scale=i.scale,
            levels=i.levels,
            points=self.points,
            targets=self.targets,
            settings=np.asarray([self.n_classes, self.n_neighbors, _WEIGHTS.index(self.weights)]),
        )

    @classmethod
    def load(cls, folder: Path, task: Task) -> KnnModel:
        with np.load(folder / _FILE, allow_pickle=False) as saved:
            n_classes, n_neighbors, weights = (int(v) for v in saved["settings"])
            inputs = _Inputs(
                saved["numeric"],
                saved["categorical"],
                saved["mean"],
                saved["scale"],
                saved["levels"],
            )
            return cls(
                task,
                inputs,
                saved["points"],
                saved["targets"],
                n_classes=n_classes,
                n_neighbors=n_neighbors,
                weights=_WEIGHTS[weights],
            )
