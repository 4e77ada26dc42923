"""Drift of live traffic against the training baseline (``profile.json``): pure statistics.

Per feature: PSI on the training decile bins (numeric) or categories (categorical, with the
values training never saw counted in a bucket of their own); a significance test (the
two-sample KS test against the profile's reference sample, or chi-square on the counts);
the change of the missing rate. A feature drifts only when the effect is large enough *and*
unlikely to be chance (p below alpha shared out over every test of the check, Bonferroni),
so thirty features checked every hour do not cry wolf. Evidently's default rule runs beside
ours on the same values, as a second opinion and for comparison.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import numpy as np
import polars as pl

from conveyor.monitoring.drift import evidently_rule
from conveyor.monitoring.drift.stats import (
    bin_counts,
    chi_square,
    ks_against_sample,
    psi,
    sort_values,
    two_proportions,
    value_counts,
)
from conveyor.monitoring.profile import OTHER
from conveyor.tabular.parallel import map_columns

UNSEEN = "__unseen__"
OK, DRIFT, INSUFFICIENT_DATA = "OK", "DRIFT", "INSUFFICIENT_DATA"
_MIN_VALUES = 30  # fewer non-missing live values than this: no distribution test
_DASH = "\u2013"
_EPOCH = datetime(1970, 1, 1)
_MONTH_DAYS = 28


@dataclass(frozen=True)
class Thresholds:
    """When a feature drifts: ``psi`` and more, with p below ``alpha`` over all the tests;
    or a missing-rate change of ``missing_change`` or more, equally significant."""

    psi: float = 0.2
    alpha: float = 0.05
    missing_change: float = 0.1
    min_rows: int = 100

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class DriftResult:
    status: str
    rows: int
    features: dict[str, dict[str, Any]]
    prediction: dict[str, Any]
    evidently: dict[str, Any]
    thresholds: Thresholds

    @property
    def drifted(self) -> list[str]:
        return [name for name, f in self.features.items() if f["verdict"] == "drift"]


def compute_drift(
    profile: dict[str, Any],
    live: pl.DataFrame,
    *,
    live_predictions: np.ndarray | None = None,
    prediction_profile: dict[str, Any] | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> DriftResult:
    """Compare ``live`` (one typed column per profiled feature, as ``coerce_frame`` makes
    them) with ``profile``; predictions against ``prediction_profile`` when both are given."""
    baseline = profile["features"]
    rows = live.height
    # Two tests per feature (distribution, missing rate) share the family-wise alpha.
    alpha = thresholds.alpha / max(1, 2 * len(baseline))

    def one(item: tuple[str, dict[str, Any]]) -> dict[str, Any]:
        name, base = item
        column = live.get_column(name) if name in live.columns else pl.Series(name, [None] * rows)
        return feature_drift(
            base, column, alpha=alpha, thresholds=thresholds, reference_rows=profile["rows"]
        )

    # Features in parallel on large windows: the sorts and lookups release the GIL.
    results = map_columns(one, baseline.items(), rows=rows)
    features = dict(zip(baseline, results, strict=True))
    prediction = prediction_drift(
        prediction_profile, live_predictions, alpha=thresholds.alpha, thresholds=thresholds
    )
    if rows < thresholds.min_rows:
        status = INSUFFICIENT_DATA
    elif any(f["verdict"] == "drift" for f in features.values()):
        status = DRIFT
    else:
        status = OK
    return DriftResult(
        status=status,
        rows=rows,
        features=_drifted_first(features),
        prediction=prediction,
        evidently=evidently_rule.dataset_verdict(features),
        thresholds=thresholds,
    )


def feature_drift(
    base: dict[str, Any],
    column: pl.Series,
    *,
    alpha: float,
    thresholds: Thresholds,
    reference_rows: int,
) -> dict[str, Any]:
    """One feature's scores, tests and verdict; ``alpha`` is the per-test level."""
    kind = base["kind"]
    missing = _missing_change(base, column, alpha=alpha, thresholds=thresholds)
    if kind in ("numeric", "datetime"):
        values = _as_numbers(column)
        result = _numeric(
            base, values, alpha=alpha, thresholds=thresholds, dates=kind == "datetime"
        )
        result["evidently"] = evidently_rule.numeric(base, values, reference_rows)
    else:
        counts = value_counts(_as_text(column))
        result = _categorical(base, counts, alpha=alpha, thresholds=thresholds)
        result["evidently"] = evidently_rule.categorical(base, counts, reference_rows)
    result["kind"] = kind
    result["missing"] = missing
    reasons = list(result.pop("reasons"))
    if missing["verdict"] == "drift":
        reasons.append(
            f"missing rate {missing['baseline']:.1%} -> {missing['live']:.1%} "
            f"(p={missing['p_value']:.2g})"
        )
    result["verdict"] = "drift" if reasons else "ok"
    result["reasons"] = reasons
    return result


def prediction_drift(
    baseline: dict[str, Any] | None,
    predictions: np.ndarray | None,
    *,
    alpha: float,
    thresholds: Thresholds,
) -> dict[str, Any]:
    """The live predicted probability (or value) against the test split's."""
    if baseline is None:
        return {"available": False, "reason": "this version has no prediction profile"}
    if predictions is None or len(predictions) == 0:
        return {"available": False, "reason": "no predictions recorded in the window"}
    live = sort_values(predictions[np.isfinite(predictions)])
    result = _numeric(baseline, live, alpha=alpha, thresholds=thresholds)
    result.update(available=True, kind=baseline.get("kind", "value"))
    result["verdict"] = "drift" if result.pop("reasons") else "ok"
    return result


def _numeric(
    base: dict[str, Any],
    values: np.ndarray,
    *,
    alpha: float,
    thresholds: Thresholds,
    dates: bool = False,
) -> dict[str, Any]:
    """``values``: the live values, finite and sorted (``dates``: days since 1970, labelled
    as dates in the plot)."""
    edges = np.asarray(base.get("histogram", {}).get("edges", []), dtype=float)
    out: dict[str, Any] = {"live_values": len(values), "score": None, "psi": None, "ks": None}
    if len(edges) < 2 or len(values) < _MIN_VALUES:
        out.update(p_value=None, reasons=[], plot=None)
        out["note"] = "too few values to compare" if len(edges) >= 2 else "no training values"
        return out
    # Training's decile bins, plus one below its minimum and one above its maximum, where
    # training had nothing: live values out of the training range weigh as unseen categories.
    base_counts = np.concatenate(([0], np.asarray(base["histogram"]["counts"]), [0])).astype(float)
    live_counts = bin_counts(values, edges)
    score = psi(base_counts, live_counts)
    sample = np.asarray(base.get("sample") or [], dtype=float)
    if len(sample):
        statistic, p_value = ks_against_sample(sample, values)
        out["ks"] = {"statistic": statistic, "p_value": p_value}
        test = "KS"
    else:
        # An old profile without a sample: the chi-square test on the same bins instead.
        p_value = chi_square(base_counts, live_counts)
        test = "chi-square"
    out.update(score=score, psi=score, p_value=p_value, test=test)
    out["plot"] = _bins_plot(edges, base_counts, live_counts, dates=dates)
    out["reasons"] = _reasons(score, p_value, test, alpha=alpha, thresholds=thresholds)
    out["live_mean"] = float(values.mean())
    out["baseline_mean"] = base.get("mean")
    return out


def _categorical(
    base: dict[str, Any], live: dict[str, int], *, alpha: float, thresholds: Thresholds
) -> dict[str, Any]:
    """``live``: how often each live value occurs (missing values left out)."""
    frequencies: dict[str, int] = dict(base.get("frequencies") or {})
    named = [k for k in frequencies if k != OTHER]
    total = sum(live.values())
    unseen = {k: n for k, n in live.items() if k not in frequencies}
    # Values outside training's top categories: its "other" bucket when it had one (they
    # may be rare values training saw), else a bucket training never filled.
    rest = OTHER if OTHER in frequencies else UNSEEN
    buckets = [*named, rest]
    base_counts = np.array([frequencies.get(k, 0) for k in buckets], dtype=float)
    live_counts = np.array([live.get(k, 0) for k in named] + [sum(unseen.values())], dtype=float)
    out: dict[str, Any] = {
        "live_values": total,
        "unseen": int(sum(unseen.values())),
        "unseen_values": sorted(unseen, key=lambda k: -unseen[k])[:5],
    }
    if not frequencies or total < _MIN_VALUES:
        out.update(score=None, psi=None, p_value=None, plot=None, reasons=[])
        out["note"] = "too few values to compare" if frequencies else "no training values"
        return out
    score = psi(base_counts, live_counts)
    p_value = chi_square(base_counts, live_counts)
    out.update(score=score, psi=score, p_value=p_value, test="chi-square")
    out["plot"] = _categories_plot(buckets, base_counts, live_counts, unseen)
    out["reasons"] = _reasons(score, p_value, "chi-square", alpha=alpha, thresholds=thresholds)
    return out


def _reasons(
    score: float, p_value: float, test: str, *, alpha: float, thresholds: Thresholds
) -> list[str]:
    if score >= thresholds.psi and p_value < alpha:
        shown = "< 1e-16" if p_value < 1e-16 else f"= {p_value:.2g}"
        return [f"PSI {score:.3f} >= {thresholds.psi} and {test} p {shown} < {alpha:.2g}"]
    return []


def _missing_change(
    base: dict[str, Any], column: pl.Series, *, alpha: float, thresholds: Thresholds
) -> dict[str, Any]:
    n_base, x_base = int(base.get("count", 0)), int(base.get("missing", 0))
    n_live, x_live = len(column), column.null_count()
    if column.dtype.is_float():
        x_live += int(column.is_nan().sum())
    rate_base = x_base / n_base if n_base else 0.0
    rate_live = x_live / n_live if n_live else 0.0
    p_value = two_proportions(x_base, n_base, x_live, n_live)
    change = rate_live - rate_base
    drifted = abs(change) >= thresholds.missing_change and p_value < alpha
    return {
        "baseline": rate_base,
        "live": rate_live,
        "change": change,
        "p_value": p_value,
        "verdict": "drift" if drifted else "ok",
    }


def _as_numbers(column: pl.Series) -> np.ndarray:
    if isinstance(column.dtype, pl.Datetime) or column.dtype == pl.Date:
        column = column.cast(pl.Datetime("us")).dt.epoch("d")
    values = column.cast(pl.Float64).drop_nulls().to_numpy()
    return sort_values(values[np.isfinite(values)])


def _as_text(column: pl.Series) -> pl.Series:
    # Booleans as the profile wrote them ("true"/"false").
    return column.cast(pl.String).drop_nulls()


def _bins_plot(
    edges: np.ndarray, base: np.ndarray, live: np.ndarray, *, dates: bool
) -> dict[str, Any]:
    if dates:
        # Bins of a month or more are labelled by month: a day's precision is noise there,
        # and "2019-07 to 2020-01" fits under a bar where "2019-07-04 to 2020-01-01" does not.
        monthly = len(edges) > 1 and float(np.median(np.diff(edges))) >= _MONTH_DAYS
        pattern = "%Y-%m" if monthly else "%Y-%m-%d"
        labels = [f"< {_day(edges[0], pattern)}"]
        labels += [_day_range(a, b, pattern) for a, b in pairwise(edges)]
        labels.append(f"> {_day(edges[-1], pattern)}")
    else:
        labels = [f"< {_short(edges[0])}"]
        labels += [f"{_short(a)}{_DASH}{_short(b)}" for a, b in pairwise(edges)]
        labels.append(f"> {_short(edges[-1])}")
    keep = [i for i in range(len(labels)) if base[i] > 0 or live[i] > 0]
    return _plot([labels[i] for i in keep], base[keep], live[keep])


def _categories_plot(
    buckets: list[str], base: np.ndarray, live: np.ndarray, unseen: dict[str, int]
) -> dict[str, Any]:
    labels = list(buckets)
    if labels[-1] == UNSEEN:
        labels[-1] = "not in training"
    elif labels[-1] == OTHER:
        labels[-1] = "other"
    keep = [i for i in range(len(labels)) if base[i] > 0 or live[i] > 0]
    return _plot([labels[i] for i in keep], base[keep], live[keep])


def _plot(labels: list[str], base: np.ndarray, live: np.ndarray) -> dict[str, Any]:
    return {
        "labels": labels,
        "baseline": [float(v) for v in base / max(base.sum(), 1)],
        "live": [float(v) for v in live / max(live.sum(), 1)],
    }


def _short(value: float) -> str:
    return f"{value:.3g}"


def _day(value: float, pattern: str) -> str:
    """Days since 1970 (as datetimes are binned) as the date a person reads."""
    return (_EPOCH + timedelta(days=float(value))).strftime(pattern)


def _day_range(low: float, high: float, pattern: str) -> str:
    """Two dates, the second's year left out when it is the first's (2019-01-05 to 02-10)."""
    first, second = _day(low, pattern), _day(high, pattern)
    return f"{first}{_DASH}{second[5:] if first[:5] == second[:5] else second}"


def _drifted_first(features: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    def order(item: tuple[str, dict[str, Any]]) -> tuple[int, float]:
        f = item[1]
        return (0 if f["verdict"] == "drift" else 1, -(f.get("score") or 0.0))

    return dict(sorted(features.items(), key=order))
