"""The two-sample statistics drift checks are made of: PSI, KS against a reference sample,
chi-square on counts, the two-proportion z-test."""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy import stats

# Empty bins get this share, so that PSI stays finite (the usual convention).
EPSILON = 1e-4


def psi(baseline: np.ndarray, live: np.ndarray) -> float:
    """Population stability index of two count vectors over the same bins."""
    p = np.maximum(baseline / max(baseline.sum(), 1), EPSILON)
    q = np.maximum(live / max(live.sum(), 1), EPSILON)
    return float(np.sum((q - p) * np.log(q / p)))


def ks_against_sample(sample: np.ndarray, live: np.ndarray) -> tuple[float, float]:
    """Two-sample KS statistic and p-value of ``live`` against the sorted ``sample``.

    The live column is never sorted: both empirical CDFs only step at data points, and
    between two neighbouring sample values the sample's CDF is flat, so the largest gap is
    at one of them (just before or at it). Counting live values into the sample's intervals
    (``searchsorted``) gives the exact statistic in O(n log m). The p-value is scipy's
    asymptotic one (``kstwo`` at the effective size), as ``ks_2samp`` computes it.
    """
    m, n = len(sample), len(live)
    points, ref_le = np.unique(sample, return_counts=True)
    ref_cdf = np.cumsum(ref_le) / m  # G(points[j])
    # side="right" numbers x by the points <= x, so indices up to j are the values below
    # points[j]; side="left" (points < x) makes them the values at or below it.
    smaller = np.bincount(np.searchsorted(points, live, side="right"), minlength=len(points) + 1)
    at_most = np.bincount(np.searchsorted(points, live, side="left"), minlength=len(points) + 1)
    live_lt = np.cumsum(smaller)[:-1] / n  # F just before points[j]
    live_le = np.cumsum(at_most)[:-1] / n  # F(points[j])
    ref_before = np.concatenate(([0.0], ref_cdf[:-1]))
    statistic = float(max(np.abs(live_le - ref_cdf).max(), np.abs(live_lt - ref_before).max()))
    effective = round(m * n / (m + n))
    return statistic, float(stats.kstwo.sf(statistic, max(effective, 1)))


def chi_square(baseline: np.ndarray, live: np.ndarray) -> float:
    """p-value of the chi-square test that two count vectors come from one distribution."""
    keep = (baseline + live) > 0
    if keep.sum() < 2 or baseline.sum() == 0 or live.sum() == 0:
        return 1.0
    table = np.vstack([baseline[keep], live[keep]])
    return float(stats.chi2_contingency(table, correction=False).pvalue)


def two_proportions(x1: int, n1: int, x2: int, n2: int) -> float:
    """Two-sided p-value of the pooled two-proportion z-test."""
    if n1 == 0 or n2 == 0:
        return 1.0
    pooled = (x1 + x2) / (n1 + n2)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    z = (x1 / n1 - x2 / n2) / se
    return float(2 * stats.norm.sf(abs(z)))


def value_counts(values: pl.Series) -> dict[str, int]:
    """How often each value occurs."""
    return {value: int(n) for value, n in values.value_counts(name="n").iter_rows()}
