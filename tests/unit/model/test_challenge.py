"""A search's challenger serves instead of the project's own model only when clearly better."""

from __future__ import annotations

import numpy as np

from conveyor.model.challenge import clearly_better
from conveyor.model.cross_validation import make_folds
from conveyor.types import Task


def test_a_challenger_ahead_within_the_noise_of_the_folds_does_not_replace_the_default() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=1000)
    parts = make_folds(Task.REGRESSION, y, 0)
    default = y + rng.normal(size=1000)
    # Much better on one fold's rows, worse on another's, the same elsewhere: ahead on the
    # whole, as a lucky candidate is among dozens.
    noisy = default.copy()
    for (_, held), shrink in zip(parts[:2], (0.5, 1.4), strict=True):
        noisy[held] = y[held] + shrink * (default[held] - y[held])
    clear, said = clearly_better(Task.REGRESSION, "rmse", y, noisy, default, parts, 0)
    assert not clear and "standard error over 5 parts" in said
    # The same errors shrunk: better on every fold.
    better = y + 0.8 * (default - y)
    assert clearly_better(Task.REGRESSION, "rmse", y, better, default, parts, 0)[0]


def test_a_classifier_is_judged_on_the_project_metric_in_its_direction() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 600)
    parts = make_folds(Task.MULTICLASS, y, 1)
    truth = np.eye(3)[y]
    sharp, vague = 0.6 * truth + 0.4 / 3, 0.2 * truth + 0.8 / 3
    vague = vague + rng.normal(scale=0.05, size=vague.shape)
    assert clearly_better(Task.MULTICLASS, "log_loss", y, sharp, np.abs(vague), parts, 3)[0]
    assert not clearly_better(Task.MULTICLASS, "log_loss", y, np.abs(vague), sharp, parts, 3)[0]
