"""Whether a search's challenger serves instead of ``fast``'s model: only when it beats it on
rows neither learned from by more than the noise of those rows.

The search scores dozens of candidates on the same out-of-fold (or validation) rows and picks
the best: the best of many noisy scores flatters itself, and a challenger a hair ahead there
is as likely to be behind on new rows. On the corpus, ``balanced`` served a blend whose
cross-fitted macro F1 was below LightGBM's defaults' (seattle_weather: 0.667 against 0.676)
and held-out accuracy fell from 0.846 to 0.815. So the challenger must beat the project's own
model (the leaderboard row ``fast`` would have trained) by more than one standard error of
their paired difference across the folds (or parts of the validation rows): the one-standard-
error rule of Hastie, Tibshirani and Friedman (The Elements of Statistical Learning, 7.10),
which keeps the simpler model unless the other is clearly better.
"""

from __future__ import annotations

import math

import numpy as np

from conveyor.model.metrics import greater_is_better, metric_value
from conveyor.types import Task


def clearly_better(
    task: Task,
    metric: str,
    y: np.ndarray,
    challenger: np.ndarray,
    default: np.ndarray,
    parts: list[tuple[np.ndarray, np.ndarray]],
    n_classes: int,
) -> tuple[bool, str]:
    """Whether ``challenger``'s predictions of ``y`` beat ``default``'s on ``metric`` by more
    than one standard error of their difference over the held-out rows of ``parts``; and a
    sentence saying by how much.

    Args:
        challenger: predictions of rows neither model learned from (out of fold, cross-fitted
            or validation), aligned with ``y``; ``default`` likewise.
        parts: (unused, held-out) index pairs covering ``y``: the folds, or parts of a
            validation split.
    """
    sign = 1.0 if greater_is_better(metric) else -1.0
    gains = []
    for _, held in parts:
        ahead = metric_value(task, metric, y[held], challenger[held], n_classes)
        behind = metric_value(task, metric, y[held], default[held], n_classes)
        if math.isfinite(ahead) and math.isfinite(behind):
            gains.append(sign * (ahead - behind))
    if len(gains) < 2:  # no spread to measure: ahead at all
        whole = sign * (
            metric_value(task, metric, y, challenger, n_classes)
            - metric_value(task, metric, y, default, n_classes)
        )
        return whole > 0, f"{metric} {'better' if whole > 0 else 'not better'} by {whole:.4g}"
    mean = float(np.mean(gains))
    error = float(np.std(gains, ddof=1)) / math.sqrt(len(gains))
    said = f"{metric} better by {mean:.4g} +/- {error:.4g} (standard error over {len(gains)} parts)"
    return mean > error, said
