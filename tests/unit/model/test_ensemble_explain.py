"""Carrying a member's raw-score contributions to its probability: exact sums at the edges of
float arithmetic (a score at its base, far from it, past exp's range), and the softmax's
quadrature agreeing with the sigmoid's closed form on two classes."""

from __future__ import annotations

import numpy as np
from scipy.special import expit as _sigmoid

from conveyor.model.ensemble_explain import probability_contributions


def _parts(deltas: list[float], base: float) -> np.ndarray:
    """One score per row: the change split over two inputs in thirds, then the base."""
    return np.array([[[d / 3, 2 * d / 3, base]] for d in deltas])


def test_binary_sums_exactly_from_a_zero_change_to_past_exps_range() -> None:
    deltas = [0.0, 1e-13, -1e-7, 0.5, -1.0, 1.0001, 7.0, -30.0, 900.0, -900.0]
    for base in (-3.0, 0.0, 2.5, 40.0):
        parts = _parts(deltas, base)
        with np.errstate(over="raise", divide="raise", invalid="raise"):
            out = probability_contributions([parts], [1.0])
        expected = _sigmoid(np.array(deltas) + base)
        assert np.abs(out[:, 0, :].sum(axis=1) - expected).max() < 1e-15
        assert np.allclose(out[:, 0, -1], _sigmoid(np.array(base)))
        # Each input keeps its share of the change (the rescale rule's ratio is per row).
        assert np.allclose(out[:, 0, 1], 2 * out[:, 0, 0], rtol=1e-12, atol=0)


def test_the_softmaxs_quadrature_on_two_classes_is_the_sigmoids_closed_form() -> None:
    rng = np.random.default_rng(3)
    binary = np.concatenate([rng.normal(0, 4, (20, 1, 5)), rng.normal(0, 1, (20, 1, 1))], axis=2)
    binary[0, 0, :5] = [20.0, 15.0, -5.0, 8.0, 1.0]  # a change of 39 in log-odds
    two = np.concatenate([np.zeros_like(binary), binary], axis=1)  # class 0's scores all zero
    closed = probability_contributions([binary], [1.0])
    quadrature = probability_contributions([two], [1.0])
    assert np.abs(quadrature[:, 1, :] - closed[:, 0, :]).max() < 1e-13
    assert (
        np.abs(quadrature.sum(axis=2) - [[1 - p, p] for p in closed.sum(axis=2)[:, 0]]).max()
        < 1e-13
    )


def test_multiclass_sums_to_the_weighted_softmaxes() -> None:
    rng = np.random.default_rng(5)
    parts = [rng.normal(0, scale, (30, 4, 7)) for scale in (0.3, 3.0, 12.0)]
    weights = [0.2, 0.5, 0.3]
    out = probability_contributions(parts, weights)
    expected = sum(
        w * np.exp(p.sum(axis=2)) / np.exp(p.sum(axis=2)).sum(axis=1, keepdims=True)
        for w, p in zip(weights, parts, strict=True)
    )
    # Rounding over the quadrature's hundreds of nodes (score changes near 100 here), not
    # the quadrature's error: more nodes make it no smaller.
    assert np.abs(out.sum(axis=2) - expected).max() < 1e-11
