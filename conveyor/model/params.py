"""Which hyperparameter names each model family takes, so a typo is caught when a project is
created or changed rather than when its training job fails."""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from conveyor.errors import InvalidInput
from conveyor.model.estimators import LIGHTGBM_DEFAULTS, SKLEARN_DEFAULTS
from conveyor.model.imbalance import CLASS_WEIGHT
from conveyor.types import Algorithm

# What ``SklearnModel.fit`` sets itself (early stopping on its own validation share, the seed,
# the categorical mask): a project's value for these would collide with conveyor's.
_SKLEARN_SET_BY_CONVEYOR = frozenset(
    {
        "categorical_features",
        "early_stopping",
        "n_iter_no_change",
        "random_state",
        "validation_fraction",
    }
)
_FAMILY = {
    Algorithm.LIGHTGBM: "LightGBM",
    Algorithm.SKLEARN: "scikit-learn",
    Algorithm.LINEAR: "linear model",
    Algorithm.CATBOOST: "CatBoost",
    Algorithm.KNN: "k-nearest neighbours",
    Algorithm.FOREST: "extremely randomised trees",
}


def valid_parameters(algorithm: Algorithm) -> tuple[frozenset[str], tuple[str, ...]]:
    """The names ``algorithm`` accepts, and the ones worth listing to a person (its tuned
    defaults first).

    Returns:
        (every accepted name, including LightGBM's aliases; the names to show).
    """
    if algorithm is Algorithm.LIGHTGBM:
        # LightGBM publishes its parameters with their aliases only through this table.
        from lightgbm.basic import _ConfigAliases

        aliases = _ConfigAliases._get_all_param_aliases()
        accepted = {name for names in aliases.values() for name in names} | set(aliases)
        # conveyor's own: row weights by class (conveyor.model.imbalance).
        accepted |= set(LIGHTGBM_DEFAULTS) | {CLASS_WEIGHT}
        return frozenset(accepted), tuple(LIGHTGBM_DEFAULTS)
    if algorithm is Algorithm.LINEAR:
        from conveyor.model.linear import LINEAR_DEFAULTS

        return frozenset(LINEAR_DEFAULTS) | {CLASS_WEIGHT}, (*LINEAR_DEFAULTS, CLASS_WEIGHT)
    if algorithm is Algorithm.CATBOOST:
        from conveyor.model.catboost_model import CATBOOST_DEFAULTS

        return frozenset(CATBOOST_DEFAULTS), tuple(CATBOOST_DEFAULTS)
    if algorithm is Algorithm.KNN:
        from conveyor.model.knn import KNN_DEFAULTS

        return frozenset(KNN_DEFAULTS), tuple(KNN_DEFAULTS)
    if algorithm is Algorithm.FOREST:
        from sklearn.ensemble import ExtraTreesRegressor

        from conveyor.model.forest import FOREST_DEFAULTS

        # scikit-learn's own but those conveyor sets (the seed, the threads, the estimator).
        names = set(ExtraTreesRegressor().get_params()) - {"random_state", "n_jobs", "verbose"}
        return frozenset(names | {"criterion"}), tuple(FOREST_DEFAULTS)
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    names = set(HistGradientBoostingClassifier().get_params()) | set(
        HistGradientBoostingRegressor().get_params()
    )
    names = (names - _SKLEARN_SET_BY_CONVEYOR) | set(SKLEARN_DEFAULTS)
    shown = (*SKLEARN_DEFAULTS, *sorted(names - set(SKLEARN_DEFAULTS)))
    return frozenset(names), shown


def check_parameters(algorithm: Algorithm, params: Mapping[str, object]) -> None:
    """Refuse a hyperparameter ``algorithm`` does not know, naming the closest valid one.

    Raises:
        InvalidInput: an unknown name; the message suggests a fix and lists valid names.
    """
    accepted, shown = valid_parameters(algorithm)
    family = _FAMILY[algorithm]
    for name in params:
        if name in accepted:
            continue
        close = difflib.get_close_matches(name, sorted(accepted), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else "."
        more = " (or any LightGBM parameter or alias)" if algorithm is Algorithm.LIGHTGBM else ""
        raise InvalidInput(
            f"unknown {family} parameter {name!r}{hint} Valid parameters: {', '.join(shown)}{more}",
            field="params",
        )
