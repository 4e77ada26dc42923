"""Class weights for a classifier with a rare class.

``class_weight: "balanced"`` among a LightGBM or linear model's hyperparameters weights each
row by ``rows / (classes * rows of its class)`` (scikit-learn's "balanced"): LightGBM takes
them as its datasets' row weights, the linear model as logistic regression's
``class_weight``. The search (``balanced``, ``best``) tries both families weighted when a
class is rare and keeps the weights only where they win on the project's metric; ``fast`` fits
one model and weights it only when the project sets them.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from conveyor.types import Algorithm, Task

if TYPE_CHECKING:
    from conveyor.model.candidates import Scored, Scorer

CLASS_WEIGHT = "class_weight"
BALANCED = "balanced"
# A class is rare under half an even share of the rows: 25% of a binary target's, 1/6 of a
# three-class one's.
RARE_SHARE_OF_EVEN = 0.5


def minority_share(y: np.ndarray, n_classes: int) -> float:
    """The smallest class's share of ``y``'s rows (classes absent from ``y`` not counted)."""
    counts = np.bincount(np.asarray(y).astype(np.int64), minlength=n_classes)
    present = counts[counts > 0]
    return float(present.min() / len(y)) if len(y) else 1.0


def has_rare_class(task: Task, y: np.ndarray, n_classes: int) -> bool:
    """Whether a classifier's training rows have a class under ``RARE_SHARE_OF_EVEN`` of an
    even share."""
    if task is Task.REGRESSION or n_classes < 2:
        return False
    return minority_share(y, n_classes) < RARE_SHARE_OF_EVEN / n_classes


def lightgbm_weights(
    booster_params: dict[str, Any], y: np.ndarray
) -> tuple[dict[str, Any], np.ndarray | None]:
    """LightGBM's parameters without ``class_weight`` (it has no such parameter) and the row
    weights it asks for (None: unweighted).

    Raises:
        InvalidInput: ``class_weight`` is neither "balanced" nor null.
    """
    params = dict(booster_params)
    asked = params.pop(CLASS_WEIGHT, None)
    if asked is None:
        return params, None
    check_class_weight(asked)
    from sklearn.utils.class_weight import compute_sample_weight

    return params, np.asarray(compute_sample_weight(BALANCED, np.asarray(y).astype(np.int64)))


def check_class_weight(value: Any) -> None:
    """Raises:
    InvalidInput: ``value`` is not "balanced" (or null).
    """
    from conveyor.errors import InvalidInput

    if value is not None and value != BALANCED:
        raise InvalidInput(
            f'class_weight must be "balanced" or null, not {value!r}', field="hyperparameters"
        )


def weighted_candidates(
    scorer: Scorer,
    board: list[Scored],
    algorithm: Algorithm,
    user_params: dict[str, Any],
    deadline: float,
) -> list[Scored]:
    """The search's LightGBM and linear candidates again with class weights (rows named
    ``<family>-balanced``), when a class is rare and there is time (``time.monotonic``) for
    a fit like the unweighted one's. None where the project set ``class_weight`` itself.
    """
    from conveyor.model.candidates import Scored

    d = scorer.data
    if not has_rare_class(d.task, d.y_train, d.n_classes):
        return []
    weighted: list[Scored] = []
    for family in (Algorithm.LIGHTGBM, Algorithm.LINEAR):
        given = user_params if family is algorithm else {}
        unweighted = next((row for row in board if row.name == family.value), None)
        if CLASS_WEIGHT in given or unweighted is None or unweighted.status != "ok":
            continue
        if time.monotonic() + unweighted.fit_seconds > deadline:
            break
        name = f"{family.value}-{BALANCED}"
        asked = {**given, CLASS_WEIGHT: BALANCED}
        try:
            weighted.append(scorer.fixed(family, asked, name=name))
        except Exception as exc:  # as the unweighted families: a row, not a failure
            weighted.append(Scored(name, family, asked, {}, 0.0, None, f"failed: {exc}"))
    return weighted


def imbalance_record(
    task: Task, y: np.ndarray, n_classes: int, leaderboard: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """The training record's ``imbalance``: the rarest class's share, the leaderboard's rows
    fitted with class weights, and whether the served model uses them (its winner's row, or
    an ensemble's members)."""
    if task is Task.REGRESSION:
        return None
    weighted = {
        str(row["name"])
        for row in leaderboard
        if (row.get("hyperparameters") or {}).get(CLASS_WEIGHT) == BALANCED
    }
    tried = [str(row["name"]) for row in leaderboard if str(row["name"]) in weighted]
    winner = next((row for row in leaderboard if row.get("winner")), None)
    used = False
    if winner is not None:
        members = winner["hyperparameters"] if winner["algorithm"] == "ensemble" else {}
        used = winner["name"] in weighted or any(str(name) in weighted for name in members)
    return {
        "minority_share": round(minority_share(y, n_classes), 6),
        "rare_class": has_rare_class(task, y, n_classes),
        "class_weights_tried": tried,
        "class_weights": BALANCED if used else None,
    }
