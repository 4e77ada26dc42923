"""The drift engine on realistic synthetic traffic: false alarms measured, real drift found."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy import stats

from conveyor.monitoring.drift import evidently_rule
from conveyor.monitoring.drift.compute import DRIFT, INSUFFICIENT_DATA, OK, compute_drift
from conveyor.monitoring.drift.stats import (
    bin_counts,
    chi_square,
    ks_against_sample,
    psi,
    two_proportions,
)
from conveyor.monitoring.profile import build_profile
from tests.unit.monitoring.drift import synthetic

WINDOWS = 20
WINDOW_ROWS = 500


@pytest.fixture(scope="module")
def profile() -> dict:
    return build_profile(synthetic.frame(5000, seed=1), synthetic.schema())


@pytest.mark.parametrize("training_rows", [5000, 1000], ids=["large-reference", "small-reference"])
def test_in_distribution_windows_rarely_raise_a_false_alarm(training_rows: int) -> None:
    # Evidently switches tests at 1,000 reference rows: measure both regimes.
    profile = build_profile(synthetic.frame(training_rows, seed=1), synthetic.schema())
    ours = evidently_any = evidently_dataset = evidently_features = 0
    for window in range(WINDOWS):
        result = compute_drift(profile, synthetic.frame(WINDOW_ROWS, seed=1000 + window))
        ours += bool(result.drifted)
        evidently_any += bool(result.evidently["drifted_features"])
        evidently_features += len(result.evidently["drifted_features"])
        evidently_dataset += result.evidently["dataset_drift"]
    print(
        f"\n{WINDOWS} in-distribution windows of {WINDOW_ROWS} rows x 30 features, "
        f"{training_rows} training rows: windows with a feature flagged: ours "
        f"{ours / WINDOWS:.0%}, Evidently's default rule {evidently_any / WINDOWS:.0%} "
        f"({evidently_features / WINDOWS:.1f} features a window; its dataset-drift verdict: "
        f"{evidently_dataset / WINDOWS:.0%})"
    )
    assert ours / WINDOWS <= 0.05


def test_a_scaled_numeric_and_a_new_dominant_category_are_exactly_what_drifts(
    profile: dict,
) -> None:
    live = synthetic.frame(WINDOW_ROWS, seed=77)
    dominant = pl.Series(np.where(np.arange(WINDOW_ROWS) % 10 < 7, "brand-new", live["c5"]))
    live = live.with_columns(pl.col("n0") * 3, c5=dominant)

    result = compute_drift(profile, live)

    evidently = result.evidently
    print(
        f"\nn0 x3 and c5 with a new dominant value: ours flags {sorted(result.drifted)}; "
        f"Evidently's default rule flags {sorted(evidently['drifted_features'])}, "
        f"dataset drift {evidently['dataset_drift']}"
    )
    assert result.status == DRIFT
    assert sorted(result.drifted) == ["c5", "n0"]
    assert list(result.features)[:2] == result.drifted  # drifted features come first
    assert result.features["c5"]["unseen"] == 350
    assert result.features["c5"]["unseen_values"] == ["brand-new"]
    assert result.features["n0"]["psi"] > 1 and result.features["n0"]["ks"]["p_value"] < 1e-10


def test_a_missing_rate_that_jumps_is_flagged(profile: dict) -> None:
    live = synthetic.frame(WINDOW_ROWS, seed=78)
    live = live.with_columns(
        n1=pl.when(pl.int_range(pl.len()) % 2 == 0).then(None).otherwise(pl.col("n1"))
    )

    result = compute_drift(profile, live)

    assert result.drifted == ["n1"]
    missing = result.features["n1"]["missing"]
    assert missing["baseline"] == 0 and missing["live"] == 0.5 and missing["verdict"] == "drift"


def test_too_few_rows_is_insufficient_data_not_ok(profile: dict) -> None:
    result = compute_drift(profile, synthetic.frame(60, seed=5))
    assert result.status == INSUFFICIENT_DATA
    assert compute_drift(profile, synthetic.frame(0, seed=5)).status == INSUFFICIENT_DATA


def test_a_profile_without_a_reference_sample_still_gives_psi(profile: dict) -> None:
    old = {**profile, "features": {k: dict(v) for k, v in profile["features"].items()}}
    for feature in old["features"].values():
        feature.pop("sample", None)
    live = synthetic.frame(WINDOW_ROWS, seed=79).with_columns(pl.col("n0") * 3)

    result = compute_drift(old, live)

    n0 = result.features["n0"]
    assert n0["ks"] is None and n0["test"] == "chi-square" and n0["psi"] > 1
    assert result.drifted == ["n0"]
    assert result.features["n0"]["evidently"]["test"] is None


def test_prediction_drift_is_reported_apart_from_the_features(profile: dict) -> None:
    rng = np.random.default_rng(0)
    test_split = rng.beta(2, 5, 3000)
    baseline = build_profile(
        pl.DataFrame({"p": test_split, "y": [0] * 3000}),
        synthetic.DatasetSchema(
            target="y",
            task=synthetic.Task.REGRESSION,
            features=(synthetic.FeatureSpec("p", synthetic.FeatureKind.NUMERIC),),
        ),
    )["features"]["p"]
    live = synthetic.frame(WINDOW_ROWS, seed=80)

    same = compute_drift(
        profile, live, live_predictions=rng.beta(2, 5, 500), prediction_profile=baseline
    )
    shifted = compute_drift(
        profile, live, live_predictions=rng.beta(5, 2, 500), prediction_profile=baseline
    )
    missing = compute_drift(profile, live, live_predictions=rng.beta(2, 5, 500))

    assert same.prediction["verdict"] == "ok" and same.status == OK
    assert shifted.prediction["verdict"] == "drift" and shifted.status == OK
    assert missing.prediction == {
        "available": False,
        "reason": "this version has no prediction profile",
    }


@pytest.mark.parametrize(
    "draw",
    [
        lambda rng, n: rng.normal(0, 1, n),
        lambda rng, n: rng.poisson(2, n).astype(float),  # ties everywhere
        lambda rng, n: rng.normal(0.3, 1.2, n),
    ],
    ids=["continuous", "ties", "shifted"],
)
def test_ks_from_sample_lookups_equals_scipy(draw) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(3)
    sample = np.sort(draw(np.random.default_rng(4), 2000))
    live = draw(rng, 5000)

    statistic, p_value = ks_against_sample(sample, np.sort(live))

    expected = stats.ks_2samp(sample, live, method="asymp")
    assert statistic == pytest.approx(expected.statistic, abs=1e-12)
    # Twice the one-sided tail: equal where a verdict turns on it, close elsewhere.
    if expected.pvalue < 0.01:
        assert p_value == pytest.approx(expected.pvalue, rel=1e-3)
    else:  # far from any alpha a check uses
        assert p_value >= 0.01 and p_value == pytest.approx(expected.pvalue, abs=0.05)


def test_wasserstein_on_sorted_values_equals_scipy() -> None:
    rng = np.random.default_rng(5)
    sample = rng.lognormal(0, 1, 2000)
    ties = rng.poisson(3, 700).astype(float)
    for live in (rng.lognormal(0, 1, 500), rng.lognormal(0.5, 1, 20000), rng.normal(3, 1, 999)):
        expected = stats.wasserstein_distance(sample, live)
        assert evidently_rule.wasserstein(sample, np.sort(live)) == pytest.approx(expected)
    expected = stats.wasserstein_distance(ties, ties[::-1] + 1)
    assert evidently_rule.wasserstein(ties, np.sort(ties + 1)) == pytest.approx(expected)


def test_psi_is_zero_for_equal_shares_and_grows_with_the_shift() -> None:
    base = np.array([100.0, 100.0, 100.0, 100.0])
    assert psi(base, base * 3) == pytest.approx(0.0)
    assert 0 < psi(base, np.array([120.0, 100, 90, 90])) < psi(base, np.array([300.0, 50, 30, 20]))
    assert np.isfinite(psi(base, np.array([0.0, 0, 0, 400])))


def test_bins_match_numpys_histogram_with_a_bin_below_and_above() -> None:
    edges = np.array([0.0, 1.0, 1.0 + 1e-9, 2.0, 5.0])
    live = np.sort(np.array([-3, 0, 0.5, 1, 1.5, 2, 2, 4.99, 5, 5, 7.5]))

    counts = bin_counts(live, edges)

    inside, _ = np.histogram(live, bins=edges)
    assert counts.tolist() == [1, *inside.tolist(), 1]


def test_chi_square_and_proportions_equal_scipy_stats() -> None:
    baseline = np.array([500.0, 300, 150, 50, 0])
    for live in (np.array([48.0, 33, 14, 5, 0]), np.array([20.0, 30, 30, 10, 10])):
        expected = stats.chi2_contingency(
            np.vstack([baseline, live])[:, : 4 + (live[4] > 0)], correction=False
        ).pvalue
        assert chi_square(baseline, live) == pytest.approx(expected, rel=1e-9)
    z = (40 / 500 - 90 / 700) / np.sqrt(130 / 1200 * (1 - 130 / 1200) * (1 / 500 + 1 / 700))
    assert two_proportions(40, 500, 90, 700) == pytest.approx(2 * stats.norm.sf(abs(z)))


def test_evidentlys_tests_equal_scipys() -> None:
    from scipy.spatial.distance import jensenshannon

    ref = np.array([500.0, 300, 150, 50])
    cur = np.array([45.0, 35, 12, 8])
    expected_js = jensenshannon(ref / ref.sum(), cur / cur.sum())
    assert evidently_rule._jensen_shannon(ref, cur) == pytest.approx(expected_js, rel=1e-9)
    expected_chi = stats.chisquare(cur, ref * cur.sum() / ref.sum()).pvalue
    assert evidently_rule._chi_square_goodness(ref, cur) == pytest.approx(expected_chi, rel=1e-9)


def test_a_date_columns_bins_are_labelled_with_dates() -> None:
    from datetime import date, timedelta

    from conveyor.tabular.schema import DatasetSchema, FeatureKind, FeatureSpec
    from conveyor.types import Task

    def dates(rows: int, seed: int) -> pl.DataFrame:
        days = np.random.default_rng(seed).integers(0, 300, rows)
        start = date(2019, 1, 1)
        signed = [start + timedelta(days=int(d)) for d in days]
        return pl.DataFrame({"signed": signed, "y": days % 2})

    DASH = "\u2013"
    schema = DatasetSchema(
        target="y",
        task=Task.BINARY,
        features=(FeatureSpec("signed", FeatureKind.DATETIME, nullable=True),),
        classes=(0, 1),
    )
    result = compute_drift(build_profile(dates(2000, 1), schema), dates(500, 2))
    labels = result.features["signed"]["plot"]["labels"]
    # Days since 1970 were drawn as 1.79e+04-1.8e+04: now dates, by month for bins of a
    # month (300 days in 10 bins), the year said once a bin.
    assert labels[0] == f"2019-01{DASH}02", labels
    assert all(label.startswith(("2019-", "< 2019-", "> 2019-")) for label in labels), labels
