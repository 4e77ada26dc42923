"""A seeded train/validation/test split, stratified by class for classification. A class too
rare to appear in all three parts (fewer than ``MIN_ROWS_PER_CLASS`` rows) stays whole in
training, with a note: the model can still learn it, and no run fails for it."""

from __future__ import annotations

import numpy as np
import polars as pl

from conveyor.errors import InvalidInput
from conveyor.types import Task

MIN_ROWS = 20
MIN_ROWS_PER_CLASS = 3  # one for each of train, validation and test


def split_frame(
    frame: pl.DataFrame,
    *,
    target: str,
    task: Task,
    seed: int,
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
    notes: list[str] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(train, validation, test); the same frame and seed always give the same split.

    Args:
        notes: when given, a note naming the classes kept in training only is appended.

    Raises:
        InvalidInput: too few rows overall.
    """
    part = split_parts(
        frame.get_column(target), task=task, seed=seed, fractions=fractions, notes=notes
    )
    train, valid, test = (frame.filter(pl.Series(part == k)) for k in range(3))
    return train, valid, test


def split_parts(
    target: pl.Series,
    *,
    task: Task,
    seed: int,
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
    notes: list[str] | None = None,
) -> np.ndarray:
    """Each row's part (0 train, 1 validation, 2 test) for a frame whose target is
    ``target``: ``split_frame``'s split, for a caller that splits more than one frame alike.

    Raises:
        InvalidInput: too few rows overall.
    """
    height = target.len()
    if height < MIN_ROWS:
        raise InvalidInput(
            f"only {height} rows with a target value; at least "
            f"{MIN_ROWS} are needed to train, validate and test",
            field="file",
        )
    rng = np.random.default_rng(seed)
    if task.is_classification:
        groups, rare = _class_groups(target)
        if rare and notes is not None:
            notes.append(
                "class(es) "
                + ", ".join(f"{label!r} ({n} row{'s' if n > 1 else ''})" for label, n in rare)
                + f" of the target have fewer than {MIN_ROWS_PER_CLASS} rows: kept in training "
                "only, so validation and test do not measure them"
            )
    else:
        groups = [np.arange(height)]
    # Each row's part (0 train, 1 validation, 2 test); the parts are then taken by mask, which
    # keeps the file's row order and copies a large table in half the time of a gather.
    part = np.zeros(height, dtype=np.int8)
    for indices in groups:
        if len(indices) < MIN_ROWS_PER_CLASS:
            continue  # stays in training (part 0)
        shuffled = rng.permutation(indices)
        n_valid = max(1, round(len(shuffled) * fractions[1]))
        n_test = max(1, round(len(shuffled) * fractions[2]))
        n_train = len(shuffled) - n_valid - n_test
        part[shuffled[n_train : n_train + n_valid]] = 1
        part[shuffled[n_train + n_valid :]] = 2
    return part


def _class_groups(target: pl.Series) -> tuple[list[np.ndarray], list[tuple[object, int]]]:
    """Each class's row indices, and the (label, rows) of the classes too rare to split."""
    codes = target.to_frame("y").with_row_index("i").group_by("y", maintain_order=True).agg("i")
    groups = []
    rare = []
    for label, indices in codes.iter_rows():
        if len(indices) < MIN_ROWS_PER_CLASS:
            rare.append((label, len(indices)))
        groups.append(np.asarray(indices, dtype=np.int64))
    # group_by order depends on data order only (maintain_order), so the split is seeded.
    return groups, rare
