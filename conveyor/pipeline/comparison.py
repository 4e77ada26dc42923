"""The new version and the champion scored on the same rows, where the new version is
evaluated (the local worker's evaluate stage and the AWS pipeline job both call this).

The gate compares numbers only from one set of rows: the project's holdout (set aside at its
first run, never trained on by either version) when both versions left it out of training,
else the new version's test split, on which the champion's artifact is scored too. The
champion is loaded as serving loads it (its sha256 checked against the registry's). A
champion that cannot be scored on a split (its artifact refused, a column it reads another
way) has no number there, and a note says why: the gate then leaves the decision to a person.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from conveyor.endpoint import Endpoint
from conveyor.errors import IntegrityError, NotFound
from conveyor.model.artifact import Predictor
from conveyor.model.encode import target_values
from conveyor.model.loading import load_verified
from conveyor.model.metrics import baseline_metrics, compute_metrics
from conveyor.model.threshold import DEFAULT_THRESHOLD
from conveyor.pipeline.holdout import Holdout, typed_holdout, without_rows
from conveyor.pipeline.registration import Comparison, SameRows
from conveyor.registry import Registry
from conveyor.storage import PROCESSED, ObjectStore
from conveyor.tabular.schema import DatasetSchema
from conveyor.types import Task

HOLDOUT = "holdout"
TEST = "test"


@dataclass(frozen=True)
class Champion:
    """The deployed version when a new one is evaluated; ``predictor`` is None (and
    ``problem`` says why) when its artifact could not be loaded. ``seen`` are the rows it
    trained and validated on, typed by its schema (None when they are gone)."""

    version: int
    predictor: Predictor | None
    holdout_id: str | None  # the holdout it never trained on, as its gate recorded
    seen: pl.DataFrame | None = None
    problem: str | None = None


@dataclass(frozen=True)
class Rows:
    """Rows both versions are scored on: the new version's encoded features, the truth as
    its target values, and the typed frame a champion reads (None: it reads them raw)."""

    split: str
    dataset_id: str
    x: np.ndarray
    y: np.ndarray
    typed: pl.DataFrame | None
    holdout: Holdout | None = None
    mask: pl.Series | None = None


def deployed_champion(
    store: ObjectStore, registry: Registry, endpoint: Endpoint, project: str, *, cache_dir: Path
) -> Champion | None:
    """The version ``project`` serves, loaded as the model server loads it (the model its
    held-out metrics are of); None when nothing is deployed."""
    deployed = endpoint.describe_endpoint(project)
    if deployed is None:
        return None
    model = registry.get_version(project, deployed.version)
    holdout_id = (model.gate or {}).get("holdout_id")
    try:
        predictor = load_verified(
            store,
            model.artifact,
            model.sha256,
            cache_dir=cache_dir,
            version=f"{project} v{model.version}",
            # Not the model that serves, when it was fitted on every split: the one its test
            # metrics are of, which never saw its test split (a first run's is the holdout).
            scored=True,
        )
    except (IntegrityError, NotFound) as exc:
        return Champion(model.version, None, holdout_id, problem=f"its artifact was refused: {exc}")
    return Champion(model.version, predictor, holdout_id, _seen(store, project, model.dataset_id))


def _seen(store: ObjectStore, project: str, dataset_id: str) -> pl.DataFrame | None:
    """The training and validation rows of a version's dataset, or None when gone."""
    try:
        parts = [
            pl.read_parquet(io.BytesIO(store.get(PROCESSED, f"{project}/{dataset_id}/{name}")))
            for name in ("train.parquet", "validation.parquet")
        ]
    except NotFound:
        return None
    return pl.concat(parts, how="vertical_relaxed")


def holdout_rows(challenger: Predictor, holdout: Holdout) -> tuple[Rows | None, str | None]:
    """The holdout's rows as the new version reads them (those with a target it knows), or
    why there are none."""
    schema = challenger.schema
    typed = typed_holdout(holdout, schema)
    if isinstance(typed, str):
        return None, typed
    target = typed.get_column(schema.target)
    mask = target.is_not_null()
    if schema.classes is not None:
        mask = mask & target.is_in(list(schema.classes))
    rows = typed.filter(mask)
    if rows.height == 0:
        return None, "the holdout has no row with a target this version knows"
    x = challenger.encoder.transform(rows)
    y = target_values(rows.get_column(schema.target), schema.classes)
    return Rows(HOLDOUT, holdout.id, x, y, None, holdout, mask), None


def compare(
    challenger: Predictor,
    champion: Champion | None,
    splits: list[Rows],
    *,
    y_train: np.ndarray,
    holdout_id: str | None,
    notes: list[str],
) -> Comparison:
    """Score the new version, the champion and a trivial baseline on each of ``splits``
    (the test split first, then the holdout if any) and choose the split the gate decides
    on. ``notes`` are kept on the comparison, with what could not be compared."""
    schema = challenger.schema
    n_classes = len(schema.classes) if schema.classes is not None else 0
    scores: dict[str, SameRows] = {}
    for rows in splits:
        champion_scores = None
        scored = champion
        if champion is not None and rows.holdout is None:
            unseen = _unseen_by(champion, schema, rows, notes)
            rows, scored = (rows, None) if unseen is None else (unseen, champion)
        raw = challenger.predict_raw(rows.x)
        if scored is not None:
            champion_raw, problem = _champion_raw(scored, schema, rows)
            if champion_raw is None:
                notes.append(
                    f"champion v{scored.version} not scored on the {rows.split}: {problem}"
                )
            else:
                cut = _threshold(scored, schema)
                champion_scores = compute_metrics(
                    schema.task, rows.y, champion_raw, n_classes, threshold=cut
                )
        scores[rows.split] = SameRows(
            split=rows.split,
            rows=len(rows.y),
            dataset_id=rows.dataset_id,
            challenger=compute_metrics(
                schema.task, rows.y, raw, n_classes, threshold=challenger.threshold
            ),
            baseline=baseline_metrics(schema.task, y_train, rows.y, n_classes),
            champion=champion_scores,
        )
    decide_on = TEST
    held = scores.get(HOLDOUT)
    if held is not None:
        never_trained_on = champion is None or (
            held.champion is not None and champion.holdout_id == holdout_id
        )
        if never_trained_on:
            decide_on = HOLDOUT
        elif champion is not None and held.champion is not None:
            notes.append(
                f"champion v{champion.version} was trained before the holdout was set aside "
                "(it may have trained on its rows): the gate compares on the test split's "
                "rows it never trained on"
            )
    return Comparison(
        champion_version=None if champion is None else champion.version,
        decide_on=decide_on,
        scores=scores,
        holdout_id=holdout_id,
        notes=tuple(notes),
    )


def _unseen_by(
    champion: Champion, schema: DatasetSchema, rows: Rows, notes: list[str]
) -> Rows | None:
    """``rows`` (typed by the new version's schema) without those the champion trained or
    validated on: on those it would be scored on what it learned. None when it trained on
    every one of them."""
    predictor = champion.predictor
    if predictor is None or rows.typed is None or _read_differently(predictor.schema, schema):
        return rows  # it is not scored on these rows at all (``_champion_raw`` says why)
    if champion.seen is None:
        notes.append(
            f"the rows champion v{champion.version} trained on are gone: the {rows.split} "
            "split may hold some of them"
        )
        return rows
    index = "__row__"
    kept = without_rows(rows.typed.with_row_index(index), champion.seen).get_column(index)
    if kept.len() == len(rows.y):
        return rows
    if kept.len() == 0:
        notes.append(
            f"champion v{champion.version} not scored on the {rows.split}: it trained or "
            "validated on every one of its rows"
        )
        return None
    notes.append(
        f"{len(rows.y) - kept.len()} of the {len(rows.y)} {rows.split} rows are left out of "
        f"the comparison: champion v{champion.version} trained or validated on them"
    )
    positions = kept.to_numpy()
    return Rows(
        rows.split,
        rows.dataset_id,
        rows.x[positions],
        rows.y[positions],
        rows.typed[positions],
    )


def _threshold(champion: Champion, schema: DatasetSchema) -> float:
    """The champion's decision threshold, when its classes are in the new version's order
    (its probabilities are reordered to that order; a threshold of its own order would cut
    the other class)."""
    predictor = champion.predictor
    if predictor is None or list(predictor.schema.classes or ()) != list(schema.classes or ()):
        return DEFAULT_THRESHOLD
    return predictor.threshold


def _champion_raw(
    champion: Champion, schema: DatasetSchema, rows: Rows
) -> tuple[np.ndarray | None, str | None]:
    """The champion's predictions on ``rows``, its classes in the new version's order, or
    why there are none."""
    predictor = champion.predictor
    if predictor is None:
        return None, champion.problem
    theirs = predictor.schema
    if theirs.target != schema.target or theirs.task is not schema.task:
        return None, (
            f"it predicts {theirs.target!r} ({theirs.task.value}), this version "
            f"{schema.target!r} ({schema.task.value})"
        )
    if rows.holdout is not None:  # raw rows: the champion reads them with its own schema
        typed = typed_holdout(rows.holdout, theirs)
        if isinstance(typed, str):
            return None, typed
        frame = typed.filter(rows.mask) if rows.mask is not None else typed
    else:
        changed = _read_differently(theirs, schema)
        if changed:
            return None, (
                "it reads column(s) " + ", ".join(repr(c) for c in changed[:5]) + " another "
                "way than this version does (compared on the holdout only)"
            )
        assert rows.typed is not None
        frame = rows.typed
    raw = np.asarray(predictor.predict_raw(predictor.encoder.transform(frame)))
    if schema.task is Task.REGRESSION:
        return raw, None
    return _in_class_order(raw, list(theirs.classes or ()), list(schema.classes or ())), None


def _read_differently(champion: DatasetSchema, challenger: DatasetSchema) -> list[str]:
    """The champion's features that the new version's typed rows do not hold as the
    champion reads them (absent, or read by another rule)."""
    ours = {f.name: _rule(f.to_dict()) for f in challenger.features}
    return [f.name for f in champion.features if ours.get(f.name) != _rule(f.to_dict())]


def _rule(spec: dict[str, Any]) -> dict[str, Any]:
    # Whether training saw a missing value, and how a date's order was settled, do not
    # change how a cell is read.
    return {k: v for k, v in spec.items() if k not in ("nullable", "date_note")}


def _in_class_order(raw: np.ndarray, theirs: list[Any], ours: list[Any]) -> np.ndarray:
    """Probabilities over ``theirs`` classes as columns in ``ours`` order; a class the
    champion never learned has probability 0."""
    aligned = np.zeros((raw.shape[0], len(ours)), dtype=np.float64)
    position = {label: i for i, label in enumerate(theirs)}
    for j, label in enumerate(ours):
        if label in position:
            aligned[:, j] = raw[:, position[label]]
    return aligned
