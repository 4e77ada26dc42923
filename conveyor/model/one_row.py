"""A candidate's one-row predict time, measured as the server calls it, and the budget a model
must keep to serve (issue 23: single-row ``/predict`` p99 within 2 ms whatever the search
picks).

The server predicts one request's row as ``predict_raw`` of a (1, n) matrix, in the request's
thread (``conveyor.model.artifact.Predictor``): that call is timed here on rows the model did
not learn from, after a warm-up, on one thread, and the median of its CPU time kept: the
model's own cost, which waiting for a core on a loaded machine only adds to the wall time (the
median wall time of CatBoost's rows was 0.22 ms on a quiet machine and 0.51 ms at load 8), so
that the verdict does not swing with the load. One thread: a row gains nothing from more
(LightGBM's single-row path and CatBoost's predict use one anyway), all of its work is then the
calling thread's CPU time, and on the shared cores OpenMP's spinning made one
HistGradientBoosting row take 0.25-5 s of wall time, which the search's budget would pay.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from conveyor.model.estimators import FittedModel, LightGbmModel
from conveyor.model.forest import ForestModel

# The in-process one-row predict a candidate may take to serve (median CPU time), in ms. In
# process a one-row predict's p99 runs about twice its median (scikit-learn's
# HistGradientBoosting, 200 rounds: 1.36 ms median, 2.86 ms p99 on a quiet machine), and the
# HTTP path adds ~0.2 ms median (0.4 ms p99 unrecorded; BENCHMARKS.md's serving section), so
# half a millisecond keeps /predict's p99 near 1.4 ms, inside 2 ms. Measured here (10
# columns, CPU time, at load 10): LightGBM 0.015 ms, the linear model 0.008 ms, CatBoost 0.22 ms
# (~0.4 ms on diamonds' categories), HistGradientBoosting 0.74 ms (98 rounds; it grows with
# them): the line falls between them.
ONE_ROW_BUDGET_MS = 0.5
_CALLS = 25
# Timing stops past this many seconds: a slow model's 25 rows would take the search's time.
_MAX_SECONDS = 0.05


def one_row_ms(model: FittedModel, x: np.ndarray) -> float | None:
    """The median CPU milliseconds of ``model.predict_raw`` on one row of ``x`` at a time (rows
    it did not learn from, cycled) over ``_CALLS`` calls after a warm-up, or those made within
    ``_MAX_SECONDS`` of wall time (a warm-up that took longer is the answer); None when ``x``
    has no rows."""
    if len(x) == 0:
        return None
    if isinstance(model, ForestModel):
        model.served()  # its LightGBM form is written once, not in a row's time
    if isinstance(model, LightGbmModel | ForestModel):
        # Its one-row path runs on one thread of its own; limiting the others took ~11 ms a
        # call at load 8, times every tuned trial, from the search's budget.
        return _median_cpu_ms(model, x)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return _median_cpu_ms(model, x)


def _median_cpu_ms(model: FittedModel, x: np.ndarray) -> float:
    began, cpu = time.perf_counter(), time.thread_time()
    # The first call builds what later ones reuse (LightGBM's fast single-row configuration).
    model.predict_raw(x[:1])
    if time.perf_counter() - began > _MAX_SECONDS:
        return 1000 * (time.thread_time() - cpu)
    took: list[float] = []
    started = time.perf_counter()
    for i in range(_CALLS):
        row = x[i % len(x) : i % len(x) + 1]
        cpu = time.thread_time()
        model.predict_raw(row)
        took.append(1000 * (time.thread_time() - cpu))
        if time.perf_counter() - started > _MAX_SECONDS:
            break
    return statistics.median(took)


def over_budget(ms: float | None, budget_ms: float) -> str | None:
    """The leaderboard status of a candidate whose one-row predict took ``ms`` (median), when
    that is over ``budget_ms``; None when it may serve."""
    if ms is None or ms <= budget_ms:
        return None
    return (
        f"not served: one-row predict {ms:.3f} ms (median CPU time, in process) over the "
        f"{budget_ms:g} ms budget"
    )
