"""An evaluated artifact and its registration, without the heavy stack.

``Evaluation`` is what the evaluate stage measures; it travels as ``evaluation.json`` from
the AWS pipeline job (which has polars and numpy) to the Lambda handler that registers it
(which has neither), so this module imports only the standard library and conveyor's types.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import conveyor
from conveyor.registry import Registry
from conveyor.tables import Table
from conveyor.tabular.schema import DatasetSchema
from conveyor.types import ModelVersion, ObjectRef, Project, Run, Task


@dataclass(frozen=True)
class SameRows:
    """The new version, the champion and a trivial baseline scored on one set of rows:
    ``split`` ``holdout`` (the project's, never trained on) or ``test`` (the run's)."""

    split: str
    rows: int
    dataset_id: str  # the dataset the rows come from (the holdout's is its first run's)
    challenger: dict[str, float]
    baseline: dict[str, float]
    champion: dict[str, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "split": self.split,
            "rows": self.rows,
            "dataset_id": self.dataset_id,
            "challenger": self.challenger,
            "baseline": self.baseline,
            "champion": self.champion,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SameRows:
        return cls(
            split=data["split"],
            rows=int(data["rows"]),
            dataset_id=data["dataset_id"],
            challenger=_floats(data["challenger"]),
            baseline=_floats(data["baseline"]),
            champion=None if data.get("champion") is None else _floats(data["champion"]),
        )


@dataclass(frozen=True)
class Comparison:
    """What the gate decides on, measured where the new version is evaluated (MLflow's
    ``evaluate(..., baseline_model=...)``): the champion deployed then, scored on the same
    rows as the new version, per split; and the split the gate uses (the holdout when both
    versions never trained on it, else the run's test split). ``notes`` say what could not
    be compared and why."""

    champion_version: int | None
    decide_on: str
    scores: dict[str, SameRows]
    holdout_id: str | None = None  # the holdout this version never trained on
    notes: tuple[str, ...] = ()

    @property
    def decisive(self) -> SameRows:
        return self.scores[self.decide_on]

    def to_dict(self) -> dict[str, Any]:
        return {
            "champion_version": self.champion_version,
            "decide_on": self.decide_on,
            "scores": {split: rows.to_dict() for split, rows in self.scores.items()},
            "holdout_id": self.holdout_id,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Comparison:
        return cls(
            champion_version=data.get("champion_version"),
            decide_on=data["decide_on"],
            scores={k: SameRows.from_dict(v) for k, v in data["scores"].items()},
            holdout_id=data.get("holdout_id"),
            notes=tuple(data.get("notes") or ()),
        )


@dataclass(frozen=True)
class Evaluation:
    primary_metric: str
    # "validation" | "test" | "baseline" (on test) | "holdout" -> name -> value
    metrics: dict[str, dict[str, float]]
    schema: DatasetSchema
    training: dict[str, Any]
    sha256: str
    comparison: Comparison | None = None
    # What a person should check before trusting the numbers (``pipeline.leakage``).
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "primary_metric": self.primary_metric,
            "metrics": self.metrics,
            "schema": self.schema.to_dict(),
            "training": self.training,
            "sha256": self.sha256,
            "comparison": None if self.comparison is None else self.comparison.to_dict(),
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Evaluation:
        return cls(
            primary_metric=data["primary_metric"],
            metrics={split: _floats(values) for split, values in data["metrics"].items()},
            schema=DatasetSchema.from_dict(data["schema"]),
            training=dict(data.get("training") or {}),
            sha256=data["sha256"],
            comparison=(
                Comparison.from_dict(data["comparison"]) if data.get("comparison") else None
            ),
            warnings=tuple(data.get("warnings") or ()),
        )


def _floats(values: dict[str, Any]) -> dict[str, float]:
    return {name: float(value) for name, value in values.items()}


def register(
    registry: Registry, run: Run, project: Project, artifact: ObjectRef, evaluation: Evaluation
) -> ModelVersion:
    """Register the evaluated artifact as the project's next version (idempotent per run)."""
    draft = ModelVersion(
        project=run.project,
        version=0,
        run_id=run.run_id,
        artifact=artifact,
        sha256=evaluation.sha256,
        dataset_id=run.dataset_id,
        raw=run.raw,
        task=evaluation.schema.task,
        # The search's winner, which need not be the project's family.
        algorithm=str(evaluation.training.get("algorithm") or project.algorithm.value),
        primary_metric=evaluation.primary_metric,
        metrics=evaluation.metrics,
        hyperparameters=dict(evaluation.training.get("hyperparameters") or {}),
        input_schema=evaluation.schema.to_dict(),
        package_version=conveyor.__version__,
        git_commit=git_commit(),
        tags=_tags(evaluation.training),
    )
    return registry.create_version(draft)


def _tags(training: dict[str, Any]) -> dict[str, str]:
    """The version's metadata from its training record: a classifier's decision rule (a binary
    model's threshold, a multiclass model's argmax) and calibration method."""
    tags = {}
    if training.get("decision_rule"):
        tags["decision_rule"] = str(training["decision_rule"])
    if training.get("decision_threshold") is not None:
        tags["decision_threshold"] = str(training["decision_threshold"])
    if (training.get("calibration") or {}).get("method"):
        tags["calibration"] = str(training["calibration"]["method"])
    return tags


def decision_summary(version: ModelVersion) -> str | None:
    """How a classifier version labels a row from its probabilities, in a sentence (None for
    regression): its tags' ``decision_rule``; a version registered before the rule was
    recorded decides the same way (``Predictor.class_indices``)."""
    if version.task is Task.REGRESSION:
        return None
    calibration = version.tags.get("calibration")
    calibrated = f" (calibrated: {calibration})" if calibration else ""
    if version.task is Task.MULTICLASS:
        return (
            f"The most probable class: argmax of its probabilities{calibrated}. No per-class "
            "thresholds: a rare class is given its weight in training (class weights) instead."
        )
    threshold = float(version.tags.get("decision_threshold") or 0.5)
    classes = version.input_schema.get("classes") or []
    second = repr(classes[1]) if len(classes) == 2 else "The second class"
    chosen = (
        f", the threshold chosen on the validation rows for {version.primary_metric}"
        if threshold != 0.5
        else ""
    )
    return (
        f"{second} when its probability{calibrated} is above {threshold:g}{chosen}; "
        "the other class otherwise."
    )


def git_commit() -> str | None:
    """The commit of the conveyor checkout this code runs from, when it is one."""
    source = Path(conveyor.__file__).resolve().parent.parent
    try:
        result = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def fit_summary(training: dict[str, Any]) -> str | None:
    """How the model that serves was fitted and which one the test metrics are of, in a
    sentence (None for a job record without the rows it trained on)."""
    rows_train, rows_validation = training.get("rows_train"), training.get("rows_validation")
    rounds, refit = training.get("best_iteration"), training.get("refit")
    if rows_train is None or rows_validation is None:
        return None
    said = _how_fitted(training, rows_train, rows_validation, rounds, refit)
    cross_validation = training.get("cross_validation") or {}
    if not cross_validation:
        return said
    spread = ", ".join(f"{k} ±{v:.3g}" for k, v in (cross_validation.get("spread") or {}).items())
    return (
        f"{said} Its validation metrics are out of fold: each fold's model scored the rows it "
        f"left out" + (f" (across folds: {spread})." if spread else ".")
    )


def _how_fitted(
    training: dict[str, Any],
    rows_train: int,
    rows_validation: int,
    rounds: int | None,
    refit: dict[str, Any] | None,
) -> str:
    folds = (training.get("cross_validation") or {}).get("folds")
    algorithm = training.get("algorithm", "lightgbm")
    if algorithm == "ensemble":
        weights = training.get("hyperparameters") or {}
        on = f"{folds}-fold out-of-fold" if folds else "validation"
        stopped = (
            f"a weighted ensemble of {len(weights)} candidates (weights chosen on their {on} "
            "predictions; its validation metrics cross-fitted, each part of those rows blended "
            "with the weights chosen on the others), each fitted as its leaderboard row says"
        )
        return f"The model that serves was {stopped}; the test split scored it."
    if algorithm in ("linear", "knn", "forest") or (algorithm in ("sklearn", "catboost") and folds):
        # No rounds for the folds to choose: a search chose the model family on them.
        stopped = (
            f"a {algorithm} model fitted on the {rows_train + rows_validation} train and "
            f"validation rows, chosen on {folds}-fold cross-validation"
            if folds
            else f"a {algorithm} model fitted on the {rows_train} train rows"
        )
    else:
        stopped = (
            f"fitted on the {rows_train + rows_validation} train and validation rows, with the "
            f"{rounds} rounds {folds}-fold cross-validation chose on them"
            if folds
            else f"fitted on the {rows_train} train rows, early-stopped at {rounds} rounds on "
            f"the {rows_validation} validation rows"
        )
    if not refit:
        return f"The model that serves was {stopped}; the test split scored it."
    refitted = refit.get("rounds")  # None for neighbours: they have no rounds
    said_rounds = "" if refitted is None else f"{refitted} rounds"
    if refit.get("test"):
        return (
            f"The model that serves was fitted on all {refit['rows']} rows (train, validation "
            f"and test{'; ' * bool(said_rounds)}{said_rounds}). The test metrics are of the same "
            "settings "
            f"{stopped}: a model that never saw the test rows."
        )
    return (
        f"The model that serves was fitted on train and validation ({refit['rows']} rows"
        f"{', ' * bool(said_rounds)}{said_rounds}) once it had been {stopped}; the test split "
        "scored it."
    )


# Settings every LightGBM row shares that say little about why one row beat another.
_UNTOLD = frozenset(
    {
        "num_boost_round",
        "early_stopping_rounds",
        "max_cat_to_onehot",
        "min_data_per_group",
        "cat_l2",
        "bagging_freq",
        "penalty",
    }
)


def version_search(table: Table, version: ModelVersion) -> dict[str, Any] | None:
    """The search that made ``version`` (its run's report's ``search``: the preset, budget and
    every candidate); None for a run recorded before searches were, or one that is gone."""
    from conveyor.errors import NotFound
    from conveyor.pipeline.runs import RunStore

    try:
        search = RunStore(table).get(version.run_id).report.get("search")
    except NotFound:
        return None
    return search if isinstance(search, dict) else None


def search_summary(search: dict[str, Any] | None) -> str | None:
    """The job's search in a sentence; None for ``fast`` (one model, nothing searched) or a
    record from before the search."""
    if not search or search.get("preset") in (None, "fast"):
        return None
    budget = f"{search['time_budget_seconds']:g} s"
    if search.get("budget_source") == "default":
        budget += " (the default for the data's size)"
    board = search.get("leaderboard") or []
    pruned = sum(1 for row in board if row.get("status") == "pruned")
    said = (
        f"Preset {search['preset']}: {len(board)} candidates ({pruned} pruned) in "
        f"{search['seconds']:.1f} s of a {budget} budget, scored on {search['selected_on']}; "
        f"{search['winner']} won on {search['metric']}."
    )
    if search.get("calibrated"):
        said += (
            " Each candidate's scores are of its probabilities calibrated as they would serve"
            " (each fold's rows by a calibrator fitted on the others)."
        )
    # The blend's row name (``conveyor.model.ensemble.ENSEMBLE``, not imported: it brings
    # numpy to the thin Lambda that reads runs). Without this, a winning blend whose score reads
    # worse than a single row's looks wrong.
    if any(row.get("name") == "ensemble" for row in board):
        said += (
            " The ensemble's score is cross-fitted (each row blended by weights chosen without"
            " it) and it is judged against the best single candidate chosen the same way, so it"
            " can win with a score that reads below a single one's."
        )
    return said


def candidate_settings(row: dict[str, Any]) -> str:
    """A leaderboard row's hyperparameters in a short line (numbers to 3 digits)."""
    shown = []
    for key, value in sorted((row.get("hyperparameters") or {}).items()):
        if key in _UNTOLD:
            continue
        shown.append(f"{key}={value:.3g}" if isinstance(value, float) else f"{key}={value}")
    if row.get("rounds") is not None:
        shown.append(f"rounds={row['rounds']}")
    if row.get("calibration"):  # its score is of probabilities this calibrator gave
        shown.append(f"calibrated={row['calibration']}")
    return " ".join(shown)
