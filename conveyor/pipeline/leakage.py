"""A warning when a new version scores close to perfect while the trivial baseline is far
from it: what a careful data scientist suspects first is a column that gives the answer away
(recorded only after the outcome, or derived from the target), so the warning names the
columns the model leaned on and how to leave one out. The version is still gated as usual:
some data really are that easy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from conveyor.types import Task

# Below this many test rows a perfect score happens by chance too often to mean anything.
MIN_TEST_ROWS = 100
# Classifiers: at most this error rate (1 - accuracy) against a baseline's of at least
# BASELINE_ERROR. Regression: r2 of at least NEAR_PERFECT_R2 (a baseline's is about 0).
NEAR_PERFECT_ERROR = 0.01
BASELINE_ERROR = 0.05
NEAR_PERFECT_R2 = 0.999
# A column carrying at least this share of the model's importance is named alone.
DOMINANT_SHARE = 0.5
NAMED_COLUMNS = 3


def leak_warnings(
    *,
    project: str,
    task: Task,
    test: Mapping[str, float],
    baseline: Mapping[str, float],
    test_rows: int,
    importance: Sequence[Mapping[str, Any]] | None,
    sources: Mapping[str, str],
) -> list[str]:
    """The warnings to show with a version (none when its score is plausible).

    Args:
        project: the project, for the command the warning suggests.
        task: what the model predicts.
        test: the version's metrics on the test split.
        baseline: the trivial baseline's metrics on the same rows.
        test_rows: how many rows ``test`` was measured on.
        importance: ``[{"feature", "importance"}]`` per model input (encoded column).
        sources: model input -> the file's column it was made from.

    Returns:
        One sentence a person can act on, or an empty list.
    """
    score = _near_perfect(task, test, baseline, test_rows)
    if score is None:
        return []
    shares = _column_shares(importance or (), sources)
    if not shares:
        return [f"{score}: check that no column gives the answer away."]
    top, share = shares[0]
    if share >= DOMINANT_SHARE:
        leaning = f"the model leans on {top!r} ({share:.0%} of its importance)"
        column = top
    else:
        named = ", ".join(f"{name!r} ({part:.0%})" for name, part in shares[:NAMED_COLUMNS])
        leaning = f"the model leans most on {named}"
        column = "<column>"
    return [
        f"{score}, which usually means a column gives the answer away (recorded only after "
        f"the outcome, or derived from the target); {leaning}. If it is not known when a "
        f"prediction is asked for, leave it out: "
        f"`conveyor project set-column {project} '{column}' --kind ignore`."
    ]


def _near_perfect(
    task: Task, test: Mapping[str, float], baseline: Mapping[str, float], rows: int
) -> str | None:
    if rows < MIN_TEST_ROWS:
        return None
    if task is Task.REGRESSION:
        r2 = test.get("r2")
        if r2 is None or r2 < NEAR_PERFECT_R2:
            return None
        return f"r2 {r2:.4f} on the {rows} test rows"
    accuracy, trivial = test.get("accuracy"), baseline.get("accuracy")
    if accuracy is None or trivial is None:
        return None
    if 1 - accuracy > NEAR_PERFECT_ERROR or 1 - trivial < BASELINE_ERROR:
        return None
    return (
        f"accuracy {accuracy:.3f} on the {rows} test rows against {trivial:.3f} "
        "for the trivial baseline"
    )


def _column_shares(
    importance: Sequence[Mapping[str, Any]], sources: Mapping[str, str]
) -> list[tuple[str, float]]:
    """Each file column's share of the model's importance, largest first. A permutation
    importance below zero (shuffling helped) counts as none."""
    by_column: dict[str, float] = {}
    for item in importance:
        column = sources.get(str(item["feature"]), str(item["feature"]))
        by_column[column] = by_column.get(column, 0.0) + max(0.0, float(item["importance"]))
    total = sum(by_column.values())
    if total <= 0:
        return []
    return sorted(((c, v / total) for c, v in by_column.items()), key=lambda pair: -pair[1])
