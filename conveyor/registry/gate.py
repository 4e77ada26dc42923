"""The promotion gate: a pure policy deciding a new version's approval status.

Semantics of MLflow's ``MetricThreshold``: an absolute floor, and a minimum absolute and
relative improvement over the champion (the deployed version). A version must also beat the
trivial baseline; one that is worse than it is rejected outright. Every number it is given
comes from one set of rows (``on`` names them in its reasons): a champion that could not be
scored on them leaves the decision to a person.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from conveyor.types import ApprovalStatus


@dataclass(frozen=True)
class GatePolicy:
    floor: float | None = None
    min_absolute_change: float = 0.0
    min_relative_change: float = 0.0


@dataclass(frozen=True)
class GateDecision:
    status: ApprovalStatus
    reason: str
    metric: str
    candidate: float
    baseline: float
    champion: float | None
    champion_version: int | None
    required: float | None
    # The rows the numbers come from and every split's scores (``Comparison``), kept beside
    # the decision on the version.
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["status"] = self.status.value
        data.update(data.pop("evidence"))
        return data


def decide(
    *,
    metric: str,
    greater_is_better: bool,
    candidate: float,
    baseline: float,
    champion: float | None,
    champion_version: int | None,
    policy: GatePolicy,
    on: str = "on the test split",
    unscored: str | None = None,
) -> GateDecision:
    """The decision on numbers measured ``on`` one set of rows (e.g. "on the 45 holdout
    rows"). ``unscored`` says why champion ``champion_version`` has no number there."""
    sign = 1.0 if greater_is_better else -1.0

    def verdict(status: ApprovalStatus, reason: str, required: float | None = None) -> GateDecision:
        return GateDecision(
            status, reason, metric, candidate, baseline, champion, champion_version, required
        )

    if math.isnan(candidate):
        return verdict(ApprovalStatus.PENDING, f"{metric} is undefined {on}")
    if sign * (candidate - baseline) < 0:
        return verdict(
            ApprovalStatus.REJECTED,
            f"{metric} {candidate:.4f} {on} is worse than the trivial baseline's {baseline:.4f}",
        )
    if sign * (candidate - baseline) == 0:
        return verdict(
            ApprovalStatus.PENDING,
            f"{metric} {candidate:.4f} {on} only equals the trivial baseline",
        )
    if policy.floor is not None and sign * (candidate - policy.floor) < 0:
        return verdict(
            ApprovalStatus.PENDING,
            f"{metric} {candidate:.4f} {on} misses the floor {policy.floor:.4f}",
            policy.floor,
        )
    if champion_version is not None and (champion is None or math.isnan(champion)):
        return verdict(
            ApprovalStatus.PENDING,
            f"{metric} {candidate:.4f} {on}; champion v{champion_version} has no number on the "
            f"same rows ({unscored or 'not scored'}): approve by hand if it should serve",
        )
    if champion is None or math.isnan(champion):
        return verdict(
            ApprovalStatus.APPROVED,
            f"no champion yet; {metric} {candidate:.4f} {on} beats the baseline's {baseline:.4f}",
        )
    margin = max(policy.min_absolute_change, abs(champion) * policy.min_relative_change)
    required = champion + sign * margin
    improvement = sign * (candidate - champion)
    if improvement > 0 and improvement >= margin:
        return verdict(
            ApprovalStatus.APPROVED,
            f"{metric} {candidate:.4f} {on} beats champion v{champion_version}'s "
            f"{champion:.4f} on the same rows (margin {margin:g})",
            required,
        )
    needed = f"better than {required:.4f}" if margin == 0 else f"at least as good as {required:.4f}"
    return verdict(
        ApprovalStatus.PENDING,
        f"{metric} {candidate:.4f} {on} does not beat champion v{champion_version}'s "
        f"{champion:.4f} on the same rows by the margin (needed {needed})",
        required,
    )
