"""A blend of classifiers explained in its own output space: the probability.

An ensemble of classifiers serves ``p = sum_k w_k link(s_k)``: member k's probabilities are the
sigmoid (binary) or softmax (multiclass) of its raw scores ``s_k``, whose exact contributions
``phi_kj`` (TreeSHAP, CatBoost's SHAP values, the linear terms) sum with its base score ``b_k``
to ``s_k``. The log-odds of a weighted sum of sigmoids is no sum of per-member terms, so nothing
adds up in log-odds; in probability it can:

member k's change ``link(s_k) - link(b_k)`` is the link's Jacobian averaged along the straight
path from ``b_k`` to ``s_k`` (``Jbar_k``) times ``s_k - b_k = sum_j phi_kj``, so column j is
given ``sum_k w_k Jbar_k phi_kj``, and the columns' values sum to the blend's probability less the
base value ``sum_k w_k link(b_k)``. This is integrated gradients (Sundararajan et al., 2017) on
the link alone; for one score it is the ratio ``(sigmoid(s) - sigmoid(b)) / (s - b)``, DeepLIFT's
rescale rule (Shrikumar et al., 2017), computed in closed form. A softmax's path average is taken
by Gauss-Legendre quadrature on panels short enough that its error is below rounding.

What they are: exact in sum; zero for a column no member uses; for a binary blend each member's
share of a column has that column's sign in the member's log-odds (the sigmoid rises). What they
are not: the Shapley values of the blend's probability, which would need the blend scored on
coalitions of background rows (interventional SHAP): many predicts per row, against a request's
budget. The answer says which they are (``conveyor.model.explain``'s ``space``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

# Gauss-Legendre nodes per panel, and a panel's length in score units: the softmax along the
# path is analytic within pi of the real line (in score units), so 8 nodes on a panel of one
# unit leave an error near 1e-18, below a double's rounding.
_NODES = 8
_PANEL = 1.0
_GRID, _WEIGHTS = np.polynomial.legendre.leggauss(_NODES)


def probability_contributions(
    parts: Sequence[np.ndarray],
    weights: Sequence[float],
    in_probability: Sequence[bool] | None = None,
) -> np.ndarray:
    """The blend's probability split into its inputs' contributions.

    Args:
        parts: each member's contributions to its raw scores, (rows, scores, inputs + 1) as
            ``conveyor.model.explain.Explainable`` gives them (the last column the base score;
            one score: the log-odds of class 1; several: each class's score before the softmax).
        weights: each member's weight in the blend.
        in_probability: per member, whether its contributions are to its probabilities
            already (a forest's, ``conveyor.model.forest``): those are weighted as they are.

    Returns:
        (rows, scores, inputs + 1): the probability of class 1 (one score) or of each class;
        the last column is the base value, and a row's values sum to the blend's probability.
    """
    total: np.ndarray | None = None
    flags = in_probability if in_probability is not None else [False] * len(parts)
    for weight, part, ready in zip(weights, parts, flags, strict=True):
        phi = np.asarray(part, dtype=np.float64)
        carried = phi if ready else _binary(phi) if phi.shape[1] == 1 else _softmax(phi)
        total = weight * carried if total is None else total + weight * carried
    assert total is not None  # an ensemble has members
    return total


def _sigmoid(s: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.exp(-np.logaddexp(0.0, -s))
    return out


def _binary(phi: np.ndarray) -> np.ndarray:
    base = phi[:, :, -1]
    delta = phi[:, :, :-1].sum(axis=2)
    score = base + delta
    # Near b, sigmoid(s) - sigmoid(b) cancels: there it is sigmoid(s) sigmoid(-b) (1 - exp(b - s)),
    # whose ratio to s - b tends to the slope; far from b the difference is exact enough.
    near = np.abs(delta) <= 1.0
    small = np.where(near & (delta != 0.0), delta, 1.0)  # where the near formula is read
    slope = np.where(delta == 0.0, 1.0, -np.expm1(-small) / small)
    close = _sigmoid(score) * _sigmoid(-base) * slope
    safe = np.where(delta == 0.0, 1.0, delta)
    far = (_sigmoid(score) - _sigmoid(base)) / safe
    ratio = np.where(near, close, far)
    out = phi[:, :, :-1] * ratio[:, :, None]
    return np.concatenate([out, _sigmoid(base)[:, :, None]], axis=2)


def _softmax(phi: np.ndarray) -> np.ndarray:
    out = np.empty_like(phi)
    for i in range(len(phi)):
        base = phi[i, :, -1]
        delta = phi[i].sum(axis=1) - base
        average = _average_jacobian(base, delta)
        out[i, :, :-1] = average @ phi[i, :, :-1]
        out[i, :, -1] = _softmax_rows(base[None, :])[0]
    return out


def _average_jacobian(base: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """The softmax's Jacobian ``diag(p) - p p^T`` averaged over ``base + t delta``, t in
    [0, 1], by composite Gauss-Legendre quadrature."""
    spread = float(delta.max() - delta.min())  # a shift of every score changes nothing
    panels = max(1, math.ceil(spread / _PANEL))
    starts = np.arange(panels) / panels
    t = (starts[:, None] + (_GRID[None, :] + 1.0) / (2 * panels)).ravel()
    w = np.tile(_WEIGHTS / (2 * panels), panels)
    p = _softmax_rows(base[None, :] + t[:, None] * delta[None, :])  # (nodes, classes)
    mean = w @ p
    jacobian: np.ndarray = np.diag(mean) - (p * w[:, None]).T @ p
    return jacobian


def _softmax_rows(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    out: np.ndarray = shifted / shifted.sum(axis=1, keepdims=True)
    return out
