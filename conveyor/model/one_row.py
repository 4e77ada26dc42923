"""A candidate's one-row predict time, measured as the server calls it, and the budget a model
must keep to serve (issue 23: single-row ``/predict`` p99 within 2 ms whatever the search
picks).

The server predicts one request's row as ``predict_raw`` of a (1, n) matrix, in the request's
thread (``conveyor.model.artifact.Predictor``): that call is timed here on rows the model did
not learn from, after a warm-up, and its median kept. It is timed on one thread: a row gains
nothing from more (LightGBM's single-row path and CatBoost's predict use one anyway), while on
the shared cores OpenMP's spinning made one HistGradientBoosting row take 0.25-5 s, which the
search's budget would pay; the server's time is no less than this one.
"""

from __future__ import annotations

import math
import statistics
import time

import numpy as np

from conveyor.model.estimators import FittedModel

# The median in-process one-row predict a candidate may take to serve, in milliseconds. In
# process a one-row predict's p99 runs about twice its median (scikit-learn's
# HistGradientBoosting, 200 rounds: 1.36 ms median, 2.86 ms p99 on a quiet machine), and the
# HTTP path adds ~0.2 ms median (0.4 ms p99 unrecorded; BENCHMARKS.md's serving section), so
# half a millisecond keeps /predict's p99 near 1.4 ms, inside 2 ms. Measured here (quiet, 10
# columns): LightGBM 0.015 ms, the linear model 0.007 ms, CatBoost 0.22 ms, HistGradientBoosting
# 0.72 ms (98 rounds; it grows with them): the line falls between them with room either side.
ONE_ROW_BUDGET_MS = 0.5
_CALLS = 25
# Timing stops past this many seconds: a slow model's 25 rows would take the search's time.
_MAX_SECONDS = 0.05


def one_row_ms(model: FittedModel, x: np.ndarray, budget_ms: float = math.inf) -> float | None:
    """The median milliseconds of ``model.predict_raw`` on one row of ``x`` at a time (rows it
    did not learn from, cycled), after a warm-up call; None when ``x`` has no rows. Timing
    stops once more than half the calls took over ``budget_ms`` (the median is over it), or
    past ``_MAX_SECONDS`` (a warm-up that took longer is the answer)."""
    if len(x) == 0:
        return None
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return _median_ms(model, x, budget_ms)


def _median_ms(model: FittedModel, x: np.ndarray, budget_ms: float) -> float:
    began = time.perf_counter()
    # The first call builds what later ones reuse (LightGBM's fast single-row configuration).
    model.predict_raw(x[:1])
    if time.perf_counter() - began > _MAX_SECONDS:
        return 1000 * (time.perf_counter() - began)
    took: list[float] = []
    started = time.perf_counter()
    for i in range(_CALLS):
        row = x[i % len(x) : i % len(x) + 1]
        began = time.perf_counter()
        model.predict_raw(row)
        took.append(1000 * (time.perf_counter() - began))
        over = sum(ms > budget_ms for ms in took)
        if over > _CALLS // 2 or time.perf_counter() - started > _MAX_SECONDS:
            break
    return statistics.median(took)


def over_budget(ms: float | None, budget_ms: float) -> str | None:
    """The leaderboard status of a candidate whose one-row predict took ``ms`` (median), when
    that is over ``budget_ms``; None when it may serve."""
    if ms is None or ms <= budget_ms:
        return None
    return (
        f"not served: one-row predict {ms:.3f} ms (median, in process) over the "
        f"{budget_ms:g} ms budget"
    )
