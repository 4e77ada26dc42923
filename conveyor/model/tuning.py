"""How the search (``conveyor.model.search``) tunes LightGBM: the space Optuna's TPE samples
from, LightGBM's defaults in its terms, a few hand-picked settings fitted first (each its own
leaderboard row, ``lightgbm-<name>``), then TPE's trials, pruned part-way by the median rule.

Beside the usual knobs, two of LightGBM's own tree kinds:

- ``linear_tree``: each leaf a ridge regression on the numeric columns its branch split on,
  instead of a constant. A smooth target (an hourly temperature by its timestamp) or one that
  moves with a column (a price with its date, a median price with a city's sales volume) is
  followed by lines rather than steps. Fitted directly on the corpus's splits (train, early
  stopped on validation, scored on the held-out fifth), it took seattle_temps' RMSE from 0.113
  to 0.083, stocks' from 23.3 to 20.4-22.8, txhousing's from 8,069 to 7,588-7,666, computers'
  from 153 to 146-148. Its penalty (``linear_lambda``) is on coefficients of unscaled columns:
  10 was the best of 0, 1, 10 and 100 on seattle_temps and near it elsewhere. LightGBM has no
  TreeSHAP for such trees: ``LightGbmModel.unexplained`` says so and explanations are refused.
- ``extra_trees``: split thresholds drawn at random, as scikit-learn's ExtraTrees (AutoGluon's
  ``LightGBMXT`` too): on the small files (cars, housing, forbes2000) it validated 2-10%
  better, with linear leaves or without.

and, where there are categorical columns, ``max_cat_to_onehot``: a column of 5 symbols split
one-vs-rest rather than by LightGBM's grouping took stocks' validation RMSE from 17.3 to 13.6.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from conveyor.model.candidates import Scored, Scorer
from conveyor.model.estimators import LIGHTGBM_DEFAULTS, effective_hyperparameters
from conveyor.types import Algorithm, Task

_PRUNE_EVERY = 10  # rounds between the reports a trial is pruned on
_LOSS = {Task.BINARY: "log_loss", Task.MULTICLASS: "log_loss", Task.REGRESSION: "rmse"}

# LightGBM's defaults in the search space's terms (zero penalties are its floor).
BASELINE: dict[str, Any] = {
    **{
        name: LIGHTGBM_DEFAULTS[name]
        for name in (
            "learning_rate",
            "num_leaves",
            "min_data_in_leaf",
            "feature_fraction",
            "bagging_fraction",
        )
    },
    "lambda_l1": 1e-8,
    "lambda_l2": 1e-8,
    "linear_tree": False,
    "extra_trees": False,
}
_ONEHOT_BASELINE = {"max_cat_to_onehot": LIGHTGBM_DEFAULTS["max_cat_to_onehot"]}
_LINEAR_LAMBDA = 10.0
# Fitted before TPE proposes anything (and before the family that never serves, scikit-learn's
# HistGradientBoosting), in this order, each under its leaderboard name ("lightgbm-<name>"), as
# AutoGluon tries a few fixed settings before any search: on a busy machine the budget may
# leave room for only two or three fits, and these differ most from the defaults scored first.
HAND_PICKED: dict[str, dict[str, Any]] = {
    "linear": {"linear_tree": True, "linear_lambda": _LINEAR_LAMBDA},
    "extra-trees": {"extra_trees": True},
    "linear-extra-trees": {
        "linear_tree": True,
        "linear_lambda": _LINEAR_LAMBDA,
        "extra_trees": True,
    },
}
# Sampled only when the trial's trees are linear.
_CONDITIONAL = {"linear_lambda": "linear_tree"}


def space(categorical: bool) -> dict[str, Any]:
    """Each tuned parameter's optuna distribution; ``categorical``: the data have
    categorical columns (else ``max_cat_to_onehot`` would change nothing)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    tuned: dict[str, Any] = {
        "learning_rate": FloatDistribution(0.01, 0.3, log=True),
        "num_leaves": IntDistribution(4, 256, log=True),
        "min_data_in_leaf": IntDistribution(2, 200, log=True),
        "feature_fraction": FloatDistribution(0.3, 1.0),
        "bagging_fraction": FloatDistribution(0.5, 1.0),
        "lambda_l1": FloatDistribution(1e-8, 10.0, log=True),
        "lambda_l2": FloatDistribution(1e-8, 10.0, log=True),
        "linear_tree": CategoricalDistribution((False, True)),
        "linear_lambda": FloatDistribution(1e-3, 100.0, log=True),
        "extra_trees": CategoricalDistribution((False, True)),
    }
    if categorical:
        tuned["max_cat_to_onehot"] = IntDistribution(4, 64, log=True)
    return tuned


def baseline(categorical: bool) -> dict[str, Any]:
    """LightGBM's defaults as a point of ``space(categorical)``."""
    return {**BASELINE, **(_ONEHOT_BASELINE if categorical else {})}


def hand_picked(categorical: bool, given: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``HAND_PICKED`` by name as whole points of the space (the defaults elsewhere), leaving
    out what the project set itself and any that its settings make the same as the defaults."""
    start = {k: v for k, v in baseline(categorical).items() if k not in given}
    points = {}
    for name, change in HAND_PICKED.items():
        kept = {k: v for k, v in change.items() if k not in given}
        if kept and all(given.get(_CONDITIONAL.get(k, k), True) for k in kept):
            points[name] = {**start, **kept}
    return points


def suggest(trial: Any, tuned: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """One trial's values of ``tuned`` (``space``'s) but those ``given``; a conditional
    parameter only when what it depends on is on."""
    from optuna.distributions import CategoricalDistribution, IntDistribution

    values: dict[str, Any] = {}
    for name, distribution in tuned.items():
        if name in given:
            continue
        depends = _CONDITIONAL.get(name)
        if depends is not None and not {**values, **given}.get(depends):
            continue
        if isinstance(distribution, CategoricalDistribution):
            values[name] = trial.suggest_categorical(name, distribution.choices)
            continue
        low, high, log = distribution.low, distribution.high, distribution.log
        if isinstance(distribution, IntDistribution):
            values[name] = int(trial.suggest_int(name, low, high, log=log))
        else:
            values[name] = float(trial.suggest_float(name, low, high, log=log))
    return values


def hand_picked_rows(
    scorer: Scorer, given: dict[str, Any], until: float, cost: float, *, first: bool
) -> list[tuple[dict[str, Any], Scored]]:
    """``HAND_PICKED``'s first setting (``first``) or the others, fitted in order while a fit
    of ``cost`` seconds ends before ``until`` (``time.monotonic``); each with its point of
    the space."""
    d = scorer.data
    points = list(hand_picked(bool(d.categorical_indices), given).items())
    done: list[tuple[dict[str, Any], Scored]] = []
    for name, point in points[:1] if first else points[1:]:
        if time.monotonic() + cost > until:
            break
        params = effective_hyperparameters(Algorithm.LIGHTGBM, {**point, **given}, len(d.y_train))
        row_name = f"{Algorithm.LIGHTGBM.value}-{name}"
        try:
            row = scorer.lightgbm(row_name, params, callbacks=(_time_up(until),))
        except Exception as exc:  # as a family's: a row, not a failure
            row = Scored(row_name, Algorithm.LIGHTGBM, params, {}, 0.0, None, f"failed: {exc}")
        done.append((point, row))
    return done


def tune(
    scorer: Scorer,
    start: Scored,
    given: dict[str, Any],
    picked: list[tuple[dict[str, Any], Scored]],
    seconds: float,
    max_trials: int,
    seed: int,
) -> list[Scored]:
    """LightGBM trials proposed by TPE for ``seconds`` at most, the defaults' row (``start``)
    and the hand-picked settings (``picked``: each point of the space with its row) told to it
    first."""
    import optuna

    stop_at = time.monotonic() + seconds
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    categorical = bool(scorer.data.categorical_indices)
    tuned = space(categorical)
    study = optuna.create_study(
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=_PRUNE_EVERY * 3),
    )
    loss = _LOSS[scorer.data.task]
    known = {k: v for k, v in baseline(categorical).items() if k not in given}
    for point, row in [(known, start), *picked]:
        if row.status == "ok" and math.isfinite(row.metrics.get(loss, math.nan)):
            study.add_trial(
                optuna.trial.create_trial(
                    params=point,
                    distributions={k: tuned[k] for k in point},
                    value=row.metrics[loss],
                )
            )
    rows = len(scorer.data.y_train)
    board: list[Scored] = []

    def objective(trial: optuna.Trial) -> float:
        sampled = suggest(trial, tuned, given)
        params = effective_hyperparameters(Algorithm.LIGHTGBM, {**sampled, **given}, rows)
        if params.get("bagging_fraction", 1.0) < 1.0:
            params["bagging_freq"] = 1
        name = f"lightgbm-tuned-{trial.number}"
        began = time.monotonic()
        try:
            row = scorer.lightgbm(name, params, callbacks=(_pruning(trial, stop_at),))
        except optuna.TrialPruned:
            spent = time.monotonic() - began
            board.append(Scored(name, Algorithm.LIGHTGBM, params, {}, spent, None, "pruned"))
            raise
        board.append(row)
        return row.metrics[loss]

    study.optimize(
        objective,
        n_trials=max_trials,
        timeout=seconds,
        catch=(ValueError, ArithmeticError),
    )
    return board


def _pruning(trial: Any, stop_at: float) -> Callable[..., None]:
    """A LightGBM callback that reports the validation loss every few rounds and stops the
    trial when the median rule says it will not beat the others (optuna's LightGBM
    integration does the same from a separate package); and ends its training, keeping the
    rounds so far, once the search's time is up (``stop_at``, ``time.monotonic``): one trial of
    1,000 rounds on 21,000 rows took 51 s of a 24 s budget before it did."""
    import optuna

    time_up = _time_up(stop_at)

    def report(env: Any) -> None:
        if env.iteration % _PRUNE_EVERY or not env.evaluation_result_list:
            return
        # (data, metric, value, higher_is_better[, stdv]) for train and cv alike.
        trial.report(float(env.evaluation_result_list[0][2]), env.iteration)
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned at round {env.iteration}")
        time_up(env)

    return report


def _time_up(stop_at: float) -> Callable[..., None]:
    """A LightGBM callback that ends its training, keeping the rounds so far, once
    ``stop_at`` (``time.monotonic``) is past."""
    import lightgbm as lgb

    def check(env: Any) -> None:
        if time.monotonic() > stop_at:
            raise lgb.callback.EarlyStopException(env.iteration, env.evaluation_result_list)

    return check
