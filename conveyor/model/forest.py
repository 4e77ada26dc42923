"""Extremely randomised trees (scikit-learn's ``ExtraTrees*``), a search candidate: fully grown
trees on random cuts, averaged. A family unlike boosting, as AutoGluon's random forests and
extra trees are beside its GBMs: on the corpus's small regression files (train rows, held-out
RMSE, 100 trees against LightGBM's defaults) stocks 448: 16.3 against 21.5, housing 437:
16,435 against 18,639, forbes2000 1,600: 11.0 against 12.7.

scikit-learn predicts one row of 100 trees in ~14 ms, thirty times the serving budget
(``conveyor.model.one_row``). So the fitted forest is written out as a LightGBM model, tree by
tree (LightGBM's model text: the same ``x <= threshold`` cuts, missing values sent the way
scikit-learn sends them, ``average_output`` as a random forest's), and served, explained
(TreeSHAP over the trees' sample counts) and stored as LightGBM's: one row in ~0.05 ms. Its
scores are what scikit-learn's are: the value, or each class's share of the leaves' rows (a
classifier's probabilities, not log-odds). scikit-learn cuts ``float32`` inputs: rows are
rounded to them first, so that both give the same predictions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from conveyor.model.estimators import LightGbmModel
from conveyor.model.explain import PROBABILITY, VALUE
from conveyor.types import Task

FOREST_DEFAULTS: dict[str, Any] = {
    # 300 trees scored as 100 did on the small files above (16.1 against 16.3 on stocks), at
    # three times the fit, the size and the one-row predict.
    "n_estimators": 100,
    "min_samples_leaf": 1,
    "max_features": 1.0,
}
# Over this many training rows the family is skipped: a fully grown tree has about twice as
# many nodes as rows (forbes2000's 1,600 rows: 320,000 nodes in 100 trees), and its fit and the
# writing of its trees grow with them (4,000 rows: 2.4 s and 3.7 s at load 6, against 0.3 s
# for 100 rounds of LightGBM), time a search's budget spends better on boosting there.
MAX_ROWS = 3_000
_CLASSES_FILE = "forest_classes.txt"
# LightGBM's decision_type bits: missing values (NaN) go the default way, left when bit 1 is set.
_NAN_MISSING = 2 << 2
_DEFAULT_LEFT = 1 << 1


def unsuited(rows: int) -> str | None:
    """Why a forest is not fitted on ``rows`` training rows (a leaderboard row's status), or
    None."""
    if rows <= MAX_ROWS:
        return None
    return (
        f"skipped: {rows:,} rows is more than {MAX_ROWS:,}; fully grown trees on them take "
        "the search's time boosting spends better"
    )


class ForestModel:
    """A fitted forest: scikit-learn's where this process grew it (a batch is predicted by
    it), and its LightGBM form, written the first time it is needed (one row, explanations,
    saving) or read from a saved model. A search's fold models are mostly asked for batches:
    writing each one's trees out (~1 s for 1,600 rows' forest) would cost the search's time."""

    explanation_method = "tree_shap"

    def __init__(
        self,
        task: Task,
        n_classes: int,
        *,
        forest: Any = None,
        served: LightGbmModel | None = None,
        grown_with: tuple[dict[str, Any], int] | None = None,
    ) -> None:
        self.task = task
        self.n_classes = n_classes
        self._forest = forest
        self._served = served
        # (settings, seed) of the fit, for refit; a loaded model has none.
        self._grown_with = grown_with
        trees = len(forest.estimators_) if forest is not None else None
        self.best_iteration = trees if trees is not None else served.best_iteration  # type: ignore[union-attr]

    @classmethod
    def grow(
        cls,
        task: Task,
        x_train: np.ndarray,
        y_train: np.ndarray,
        *,
        n_classes: int,
        params: dict[str, Any],
        seed: int,
    ) -> ForestModel:
        """Fitted on every row given (a forest needs no early stopping), on one thread.

        Raises:
            InvalidInput: scikit-learn refused the hyperparameters.
        """
        from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor

        from conveyor.errors import InvalidInput

        settings = {**FOREST_DEFAULTS, **params}
        family = ExtraTreesRegressor if task is Task.REGRESSION else ExtraTreesClassifier
        try:
            forest = family(**settings, random_state=seed, n_jobs=1)
            forest.fit(_as_cut(x_train), y_train)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(
                f"ExtraTrees refused the hyperparameters or data: {exc}", field="hyperparameters"
            ) from exc
        return cls(task, n_classes, forest=forest, grown_with=(settings, seed))

    def refit(
        self, x: np.ndarray, y: np.ndarray, *, categorical_indices: list[int] | None = None
    ) -> ForestModel:
        """The same forest grown again on ``x`` (more rows than it was).

        Raises:
            ValueError: a model not fitted in this process.
        """
        if self._grown_with is None:
            raise ValueError("refit needs a model fitted in this process")
        settings, seed = self._grown_with
        return self.grow(self.task, x, y, n_classes=self.n_classes, params=settings, seed=seed)

    def served(self) -> LightGbmModel:
        """Its LightGBM form (written now if this process grew it)."""
        if self._served is None:
            import lightgbm as lgb

            width = int(self._forest.n_features_in_)
            text = lightgbm_text(self._forest, self.task, self.n_classes, width)
            self._served = _Averaged(lgb.Booster(model_str=text), self.task)
        return self._served

    def predict_raw(self, x: np.ndarray) -> np.ndarray:
        if self._forest is None or len(x) == 1:
            return self.served().predict_raw(_as_cut(x))
        if self.task is Task.REGRESSION:
            return np.asarray(self._forest.predict(_as_cut(x)), dtype=np.float64)
        seen = self._forest.predict_proba(_as_cut(x))
        proba = np.zeros((len(x), max(self.n_classes, 2)))
        proba[:, [int(c) for c in self._forest.classes_]] = seen
        return proba

    @property
    def explanation_space(self) -> str:
        """Its scores are the value, or the classes' probabilities (not log-odds)."""
        return VALUE if self.task is Task.REGRESSION else PROBABILITY

    @property
    def unexplained(self) -> str | None:
        return None

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """TreeSHAP values of the averaged trees, summing to ``predict_raw``'s score (class
        1's probability, each class's, or the value). LightGBM's own add the trees up: the
        average is theirs over the number of trees."""
        return self.served().contributions(_as_cut(x)) / self.best_iteration

    def feature_importance(self) -> np.ndarray:
        """Each input's total impurity decrease (LightGBM's "gain" of the written trees)."""
        return np.asarray(self.served().booster.feature_importance(importance_type="gain"))

    def save(self, folder: Path) -> None:
        self.served().save(folder)
        (folder / _CLASSES_FILE).write_text(str(self.n_classes))

    @classmethod
    def load(cls, folder: Path, task: Task) -> ForestModel:
        from conveyor.model.lightgbm_c import CBooster

        n_classes = int((folder / _CLASSES_FILE).read_text())
        return cls(task, n_classes, served=_Averaged(CBooster(folder / "model.txt"), task))


class _Averaged(LightGbmModel):
    """A forest's LightGBM form: every tree serves (a booster read from text says -1, as it
    was never early-stopped)."""

    def __init__(self, booster: Any, task: Task) -> None:
        super().__init__(booster, task)
        self.best_iteration = int(booster.current_iteration())


def _as_cut(x: np.ndarray) -> np.ndarray:
    """``x`` rounded to ``float32``, which scikit-learn's trees compare with their cuts."""
    return np.asarray(x, dtype=np.float32).astype(np.float64)


def lightgbm_text(forest: Any, task: Task, n_classes: int, width: int) -> str:
    """A fitted ``ExtraTrees*`` (or ``RandomForest*``) as LightGBM's model text: each tree's
    splits and leaves, its scores averaged (``average_output``) with no transform after, one
    tree per class and iteration for several classes."""
    outputs = n_classes if task is Task.MULTICLASS else 1
    trees = []
    for estimator in forest.estimators_:
        for k in range(outputs):
            trees.append(_tree(estimator.tree_, _leaf_scores(forest, estimator, task, k)))
    names = " ".join(f"Column_{j}" for j in range(width))
    header = [
        "tree",
        "version=v4",
        f"num_class={outputs}",
        f"num_tree_per_iteration={outputs}",
        "label_index=0",
        f"max_feature_idx={width - 1}",
        # "custom": LightGBM applies no sigmoid nor softmax to the averaged scores.
        "objective=custom",
        "average_output",
        f"feature_names={names}",
        "feature_infos=" + " ".join(["none"] * width),
        "",
    ]
    body = [f"Tree={i}\n{tree}\n" for i, tree in enumerate(trees)]
    return "\n".join(header) + "\n" + "\n".join(body) + "\nend of trees\n"


def _leaf_scores(forest: Any, estimator: Any, task: Task, k: int) -> np.ndarray:
    """Every node's score for output ``k``: the value, or a class's share of the node's rows
    (a class the tree never saw: 0)."""
    value = np.asarray(estimator.tree_.value)[:, 0, :]
    if task is Task.REGRESSION:
        return np.asarray(value[:, 0], dtype=np.float64)
    shares = value / np.maximum(value.sum(axis=1, keepdims=True), 1e-300)
    # The forest's classes are the class indices its rows had (a fold may lack one).
    wanted = 1 if task is Task.BINARY else k
    seen = [int(c) for c in forest.classes_]
    if wanted not in seen:
        return np.zeros(len(value))
    return np.asarray(shares[:, seen.index(wanted)], dtype=np.float64)


def _tree(tree: Any, scores: np.ndarray) -> str:
    """One tree in LightGBM's text: internal nodes numbered in order, leaves as ``~index``."""
    left, right = tree.children_left, tree.children_right
    counts = tree.n_node_samples
    leaves = np.flatnonzero(left == -1)
    if len(leaves) == 1:  # a tree of one leaf: a split whose two sides are the same
        return _one_leaf(float(scores[0]), int(counts[0]))
    internal = np.flatnonzero(left != -1)
    # The impurity each split took away, as scikit-learn's feature importances add it up
    # (LightGBM's "gain" importance reads it).
    weighted, impurity = tree.weighted_n_node_samples, tree.impurity
    gain = weighted[internal] * impurity[internal] - (
        weighted[left[internal]] * impurity[left[internal]]
        + weighted[right[internal]] * impurity[right[internal]]
    )
    number = np.empty(len(left), dtype=np.int64)
    number[internal] = np.arange(len(internal))
    number[leaves] = ~np.arange(len(leaves))  # LightGBM's -(leaf + 1)
    missing_left = np.asarray(getattr(tree, "missing_go_to_left", np.zeros(len(left))))
    decision = _NAN_MISSING + _DEFAULT_LEFT * missing_left[internal].astype(np.int64)
    fields = {
        "num_leaves": str(len(leaves)),
        "num_cat": "0",
        "split_feature": _ints(tree.feature[internal]),
        "split_gain": _floats(np.maximum(gain, 0.0)),
        "threshold": _floats(tree.threshold[internal]),
        "decision_type": _ints(decision),
        "left_child": _ints(number[left[internal]]),
        "right_child": _ints(number[right[internal]]),
        "leaf_value": _floats(scores[leaves]),
        "leaf_weight": _ints(counts[leaves]),
        "leaf_count": _ints(counts[leaves]),
        "internal_value": _floats(scores[internal]),
        "internal_weight": _ints(counts[internal]),
        "internal_count": _ints(counts[internal]),
        "is_linear": "0",
        "shrinkage": "1",
    }
    return "\n".join(f"{key}={value}" for key, value in fields.items()) + "\n"


def _one_leaf(score: float, count: int) -> str:
    fields = {
        "num_leaves": "2",
        "num_cat": "0",
        "split_feature": "0",
        "split_gain": "0",
        "threshold": "0",
        "decision_type": str(_NAN_MISSING + _DEFAULT_LEFT),
        "left_child": "-1",
        "right_child": "-2",
        "leaf_value": f"{score!r} {score!r}",
        "leaf_weight": f"{count} 0",
        "leaf_count": f"{count} 0",
        "internal_value": repr(score),
        "internal_weight": str(count),
        "internal_count": str(count),
        "is_linear": "0",
        "shrinkage": "1",
    }
    return "\n".join(f"{key}={value}" for key, value in fields.items()) + "\n"


def _ints(values: np.ndarray) -> str:
    return " ".join(map(str, np.asarray(values, dtype=np.int64).tolist()))


def _floats(values: np.ndarray) -> str:
    # repr: the shortest text that reads back as the same double (a cut must not move).
    return " ".join(map(repr, np.asarray(values, dtype=np.float64).tolist()))
