"""The training job's model search within a time budget (``--preset balanced|best``).

Candidates, in this order: LightGBM with conveyor's defaults (what ``fast`` trains: the floor,
fitted whatever the budget), the regularised linear model, k-nearest neighbours (skipped on
data too large for it to serve fast), LightGBM with linear leaves, CatBoost, LightGBM's other
hand-picked settings (``conveyor.model.tuning``: random splits), scikit-learn's
HistGradientBoosting (each skipped, with a row saying so, when its fit would not fit in the
budget), then LightGBM settings proposed by Optuna's TPE sampler until the budget is spent. Every
candidate is scored the same way: on the validation split, or, under the cross-validation
threshold (``conveyor.model.cross_validation``), out of fold over train and validation; a
classifier on its probabilities calibrated as they would serve (``conveyor.model.candidates``).
The best by the project's metric wins among those that can serve: a candidate whose one-row
predict takes longer than ``conveyor.model.one_row.ONE_ROW_BUDGET_MS`` (timed as the server
calls it) is scored and kept on the leaderboard with why it was not served, and never wins;
nor does an ensemble whose one-row predict, timed whole, takes longer. Each candidate is a
leaderboard row.

TPE minimises the validation loss (log-loss, RMSE), a proper score whose round-by-round value
LightGBM already computes, so that trials can be pruned part-way (median rule); the winner is
chosen by the project's metric. An ensemble of the best candidates takes the leaderboard's
out-of-fold or validation predictions (``Scored.predictions``) and is one more row
(``conveyor.model.ensemble``).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from conveyor.model import tuning
from conveyor.model.candidates import Data, Scored, Scorer, finish_seconds
from conveyor.model.challenge import clearly_better
from conveyor.model.cross_validation import FOLDS, CrossValidated, make_folds
from conveyor.model.ensemble import ENSEMBLE, Blend, blend
from conveyor.model.estimators import FittedModel
from conveyor.model.imbalance import CLASS_WEIGHT, weighted_candidates
from conveyor.model.metrics import greater_is_better
from conveyor.model.one_row import ONE_ROW_BUDGET_MS
from conveyor.types import Algorithm, Preset, Task

# Balanced stops at this many tuned trials even with time left: a small file should not take
# its whole budget (on the corpus's files of 500-6,000 rows 24 trials took 2-21 s in all).
MAX_TRIALS = {Preset.BALANCED: 24, Preset.BEST: 200}
# Room kept in the budget under cross-validation for the final fits of this many of the best
# candidates so far (an ensemble's likely members; each about a fold's fit), and at least for
# this many of the first row's. Two more of the first row's (LightGBM's defaults, 0.4 s on
# seattle_temps) were 1.2 s, where its blends of four took 2.1-2.3 s (linear leaves' 0.8-1 s).
_RESERVED_FITS = 3
# Fitted with their defaults before LightGBM is tuned, each while time is left: these three
# first, then LightGBM with linear leaves (``tuning.HAND_PICKED``), CatBoost, LightGBM's other
# hand-picked settings, and HistGradientBoosting last. Linear leaves come before CatBoost: on a
# busy machine (load 5-8) the budget held only one of them, and it took seattle_temps' held-out
# RMSE from 0.101 to 0.077 and txhousing's from 7,645 to 7,149 where CatBoost's was skipped.
# HistGradientBoosting's one-row predict (0.7-1.4 ms on a quiet machine) is over the serving
# budget, so it is scored for the leaderboard but never serves, and its five folds took 6-7 s
# of a 20 s budget at load 10 (18 s of seattle_temps' 40 s), the time the others then lacked.
_FAMILIES = (Algorithm.LIGHTGBM, Algorithm.LINEAR, Algorithm.KNN, Algorithm.FOREST)
_NO_TIME = "skipped: no time left in the budget for its fit"
# Families that serve only inside an ensemble, unless the project chose them. k-nearest
# neighbours on ten splits of stocks (price by date and company): of the 6 it won alone out of
# fold it lost 4 on the held-out rows (27.9 RMSE against LightGBM's 19.5 on the bench's split,
# k=1), while the 4 ensembles it joined all won there too.
_MEMBERS_ONLY = frozenset({Algorithm.KNN})
_MEMBER_ONLY_STATUS = "ok (serves only in an ensemble)"
# A family's fit against LightGBM's defaults' (the first row's), where it costs more: CatBoost's
# five folds took 2.5-4x LightGBM's on diamonds; a forest's, with its trees written out once,
# 3-10x on 1,000-3,000 rows; HistGradientBoosting's 3x on seattle_temps (5.7 s against 1.9 s,
# quiet), where counted at LightGBM's it took the time kept for the ensemble's members' fits.
_COST = {Algorithm.CATBOOST: 2.5, Algorithm.FOREST: 3.0, Algorithm.SKLEARN: 3.0}
# The share of the time left a family's fit that can stop part-way may take: CatBoost's took
# all of a 10 s budget's at load 15, and TPE tried no trial.
_FIT_SHARE = 0.4


@dataclass(frozen=True)
class Searched:
    """The winner fitted, and the leaderboard."""

    model: FittedModel
    algorithm: str  # a family's value, or ``ENSEMBLE``
    hyperparameters: dict[str, Any]  # an ensemble's: its members' weights by name
    validation: dict[str, float]
    cross_validated: CrossValidated | None  # a LightGBM winner's, under the CV threshold
    cross_validation: dict[str, Any] | None  # the record's ``cross_validation``, any winner's
    summary: dict[str, Any]  # the training record's ``search``
    # The winner's validation or out-of-fold predictions (what calibration learns from).
    predictions: np.ndarray | None = None


def search(
    data: Data,
    *,
    preset: Preset,
    budget: float,
    budget_source: str,
    metric: str,
    algorithm: Algorithm,
    user_params: dict[str, Any],
    started: float,
    one_row_budget_ms: float = ONE_ROW_BUDGET_MS,
) -> Searched:
    """Search until ``started + budget`` (``time.monotonic``), minus the winner's final fit.

    Args:
        algorithm: the project's own; ``user_params`` are its settings (they apply to its
            family's candidates, and are not tuned).
        budget_source: "set" (the project's) or "default" (``default_budget``).
        one_row_budget_ms: a candidate (or ensemble) whose one-row predict takes longer
            (median CPU time, in process) is scored but never wins
            (``conveyor.model.one_row``).
    Raises:
        InvalidInput: the project's parameters were refused by its own family's fit.
    """
    deadline = started + budget
    scorer = Scorer(data, one_row_budget_ms=one_row_budget_ms)
    board: list[Scored] = []
    _fit_families(scorer, board, _FAMILIES, deadline, algorithm, user_params)
    board.extend(weighted_candidates(scorer, board, algorithm, user_params, deadline))
    # The final fits may end past the deadline by one of the first row's.
    finish_cost = finish_seconds(board[0], data)
    given = user_params if algorithm is Algorithm.LIGHTGBM else {}
    # LightGBM's settings are weighted as the better of LightGBM unweighted and weighted.
    start = _ranked([r for r in board if r.algorithm is Algorithm.LIGHTGBM], metric)[0]
    given = {**given, **{k: v for k, v in start.hyperparameters.items() if k == CLASS_WEIGHT}}
    # LightGBM with linear leaves, CatBoost, LightGBM's other hand-picked settings, and
    # HistGradientBoosting (``_FAMILIES``' comment says why in this order).
    picked: list[tuple[dict[str, Any], Scored]] = []
    # HistGradientBoosting, which never serves, must also leave the time kept for the
    # winner's final fit and an ensemble's members: on seattle_temps at load 2 its 5.9 s took
    # it, and the ensemble that validated 18% better than any one candidate was skipped.
    for families, first in (((Algorithm.CATBOOST,), True), ((Algorithm.SKLEARN,), False)):
        until = deadline - _reserve(board, data, metric)
        settings = tuning.hand_picked_rows(scorer, given, until, board[0].fit_seconds, first=first)
        board.extend(row for _, row in settings)
        picked.extend(settings)
        until = deadline if first else deadline - _reserve(board, data, metric)
        _fit_families(scorer, board, families, until, algorithm, user_params)
    trials_left = deadline - _reserve(board, data, metric) - time.monotonic()
    if trials_left > board[0].fit_seconds and len(picked) < MAX_TRIALS[preset]:
        trials = MAX_TRIALS[preset] - len(picked)
        board.extend(tuning.tune(scorer, start, given, picked, trials_left, trials, data.seed))
    ensemble = blend(
        _ranked(board, metric),
        data,
        metric,
        scorer.folds,
        one_row_budget_ms,
        finish_by=deadline + finish_cost,
    )
    single = _best(board, metric, members_only=_MEMBERS_ONLY - {algorithm})
    single, ensemble = _challenge(board, single, ensemble, data, scorer.folds, metric, algorithm)
    wins = ensemble is not None and ensemble.wins
    rows = [row.row(metric, winner=row is single and not wins) for row in board]
    summary = {
        "preset": preset.value,
        "time_budget_seconds": budget,
        "budget_source": budget_source,
        "metric": metric,
        "selected_on": f"{FOLDS}-fold out of fold" if data.cross_validated else "validation",
        # A classifier's scores are of its probabilities calibrated as they would serve.
        "calibrated": data.task is not Task.REGRESSION,
    }
    if ensemble is not None and ensemble.wins:
        model: FittedModel = ensemble.finish()
        rows.append(ensemble.row(metric, winner=True))
        summary["winner"] = ENSEMBLE
        return Searched(
            model=model,
            algorithm=ENSEMBLE,
            hyperparameters=ensemble.row(metric, winner=True)["hyperparameters"],
            validation=ensemble.metrics,
            cross_validated=None,
            cross_validation=(
                {"folds": FOLDS, "rounds": None, "metrics": ensemble.metrics, "spread": {}}
                if data.cross_validated
                else None
            ),
            summary=_summary(summary, rows, metric, started),
            predictions=ensemble.predictions(),
        )
    if ensemble is not None:
        rows.append(ensemble.row(metric, winner=False))
    summary["winner"] = single.name
    finished = single.finish() if single.finish is not None else None
    assert finished is not None  # every row that scores has a finish
    cross_validated = finished if isinstance(finished, CrossValidated) else None
    return Searched(
        model=finished.model if isinstance(finished, CrossValidated) else finished,
        algorithm=single.algorithm.value,
        hyperparameters=single.hyperparameters,
        validation=single.metrics,
        cross_validated=cross_validated,
        cross_validation=(
            {
                "folds": FOLDS,
                "rounds": single.rounds,
                "metrics": single.metrics,
                "spread": single.spread,
            }
            if data.cross_validated
            else None
        ),
        summary=_summary(summary, rows, metric, started),
        predictions=single.predictions,
    )


def _reserve(board: list[Scored], data: Data, metric: str) -> float:
    """The time kept at the end of the budget for the final fits: under cross-validation the
    best ``_RESERVED_FITS`` candidates' so far (an ensemble's likely members), or as many of
    the first row's when that is more; on a validation split the first row's fit (the
    winner's refit on train and validation costs about that)."""
    if not data.cross_validated:
        return board[0].fit_seconds
    best = [r for r in _ranked(board, metric) if r.status == "ok"][:_RESERVED_FITS]
    return max(
        _RESERVED_FITS * finish_seconds(board[0], data),
        sum(finish_seconds(r, data) for r in best),
    )


def _fit_families(
    scorer: Scorer,
    board: list[Scored],
    families: tuple[Algorithm, ...],
    deadline: float,
    algorithm: Algorithm,
    user_params: dict[str, Any],
) -> None:
    """Each family fitted with its defaults onto ``board`` while time is left (a row saying
    it was skipped, or why it failed, otherwise)."""
    for family in families:
        cost = _COST.get(family, 1.0) * board[0].fit_seconds if board else 0.0
        if (unsuited := scorer.unsuited(family)) is not None:
            board.append(Scored(family.value, family, {}, {}, 0.0, None, unsuited))
            continue
        if board and time.monotonic() + cost > deadline:
            board.append(Scored(family.value, family, {}, {}, 0.0, None, _NO_TIME))
            continue
        if board:
            # A fit that can stop part-way (CatBoost's) takes a share of the time left: the
            # tuned trials and the winner's final fit need theirs.
            now = time.monotonic()
            scorer.deadline = now + _FIT_SHARE * (deadline - board[0].fit_seconds - now)
        given = user_params if family is algorithm else {}
        try:
            board.append(scorer.fixed(family, given))
        except Exception as exc:  # a family that cannot fit these data is a row, not a failure
            if family is algorithm and user_params:
                raise
            board.append(Scored(family.value, family, given, {}, 0.0, None, f"failed: {exc}"))


def _summary(
    said: dict[str, Any], rows: list[dict[str, Any]], metric: str, started: float
) -> dict[str, Any]:
    """The training record's ``search``: the winner's row first, then the others best first
    (rows that did not score last)."""
    sign = -1.0 if greater_is_better(metric) else 1.0

    def key(row: dict[str, Any]) -> tuple[int, float]:
        value = row.get("score")
        if row["winner"]:
            return (0, 0.0)
        if not str(row["status"]).startswith("ok") or value is None:
            return (2, 0.0)
        return (1, sign * value)

    return {
        **said,
        "seconds": round(time.monotonic() - started, 3),
        "leaderboard": sorted(rows, key=key),
    }


def one_row(
    algorithm: Algorithm,
    hyperparameters: dict[str, Any],
    metrics: dict[str, float],
    fit_seconds: float,
    predict_seconds_per_1000: float | None,
    metric: str,
) -> dict[str, Any]:
    """``fast``'s record: no search, its one model as the leaderboard."""
    row = Scored(
        algorithm.value, algorithm, hyperparameters, metrics, fit_seconds, predict_seconds_per_1000
    )
    return {
        "preset": Preset.FAST.value,
        "time_budget_seconds": None,
        "budget_source": None,
        "seconds": round(fit_seconds, 3),
        "metric": metric,
        "selected_on": None,
        "winner": row.name,
        "leaderboard": [row.row(metric, winner=True)],
    }


def _challenge(
    board: list[Scored],
    single: Scored,
    ensemble: Blend | None,
    data: Data,
    folds: list[tuple[np.ndarray, np.ndarray]] | None,
    metric: str,
    algorithm: Algorithm,
) -> tuple[Scored, Blend | None]:
    """The winner (``single``, or ``ensemble`` when it wins) only when it is clearly better
    than the project's own model, the row ``fast`` would have trained
    (``conveyor.model.challenge``); that row otherwise, the challenger's status saying why."""
    default = next((row for row in board if row.name == algorithm.value), None)
    if default is None or default.status != "ok" or default.served is None:
        return single, ensemble
    y = data.y_train if data.cross_validated else data.y_valid
    assert y is not None
    parts = folds if folds is not None else make_folds(data.task, y, data.seed)

    def better(predictions: np.ndarray | None) -> tuple[bool, str]:
        # Both as they would serve (calibrated, cross-fitted): what their scores are of.
        assert predictions is not None and default.served is not None
        return clearly_better(
            data.task, metric, y, predictions, default.served, parts, data.n_classes
        )

    if ensemble is not None and ensemble.wins:
        clear, said = better(ensemble.cross_fitted)
        if clear:
            return single, ensemble
        status = f"ok (not clearly better than {default.name}: {said})"
        ensemble = dataclasses.replace(ensemble, wins=False, status=status)
    if single is default:
        return single, ensemble
    clear, said = better(single.served)
    if clear:
        return single, ensemble
    single.status = f"ok (not clearly better than {default.name}: {said})"
    return default, ensemble


def _best(
    board: list[Scored], metric: str, *, members_only: frozenset[Algorithm] = frozenset()
) -> Scored:
    """The best row that may serve alone; the ``members_only`` rows ranked above it say so."""
    ranked = _ranked(board, metric)
    while ranked and ranked[0].status == "ok" and ranked[0].algorithm in members_only:
        ranked.pop(0).status = _MEMBER_ONLY_STATUS
    if not ranked or ranked[0].status != "ok":
        raise RuntimeError("no candidate of the search could be fitted and serve one row in budget")
    return ranked[0]


def _ranked(board: list[Scored], metric: str) -> list[Scored]:
    """Best first by ``metric``; rows that did not score (pruned, failed) last. Ties keep the
    earlier row (the defaults before a tuned trial of the same score)."""
    sign = -1.0 if greater_is_better(metric) else 1.0

    def key(row: Scored) -> tuple[int, float]:
        value = row.metrics.get(metric)
        if row.status != "ok" or value is None or not math.isfinite(value):
            return (1, 0.0)
        return (0, sign * value)

    return sorted(board, key=key)
