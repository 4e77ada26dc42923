from __future__ import annotations

import pytest

from conveyor.registry.gate import GatePolicy, decide
from conveyor.types import ApprovalStatus


def gate(
    candidate: float,
    *,
    baseline: float = 0.5,
    champion: float | None = None,
    policy: GatePolicy | None = None,
    greater: bool = True,
):  # type: ignore[no-untyped-def]
    return decide(
        metric="m",
        greater_is_better=greater,
        candidate=candidate,
        baseline=baseline,
        champion=champion,
        champion_version=1 if champion is not None else None,
        policy=policy or GatePolicy(),
    )


@pytest.mark.parametrize(
    ("candidate", "champion", "policy", "expected"),
    [
        (0.8, None, GatePolicy(), ApprovalStatus.APPROVED),
        (0.4, None, GatePolicy(), ApprovalStatus.REJECTED),
        (0.5, None, GatePolicy(), ApprovalStatus.PENDING),
        (0.8, None, GatePolicy(floor=0.9), ApprovalStatus.PENDING),
        (0.81, 0.80, GatePolicy(), ApprovalStatus.APPROVED),
        (0.80, 0.80, GatePolicy(), ApprovalStatus.PENDING),
        (0.81, 0.80, GatePolicy(min_absolute_change=0.02), ApprovalStatus.PENDING),
        (0.83, 0.80, GatePolicy(min_absolute_change=0.02), ApprovalStatus.APPROVED),
        (0.85, 0.80, GatePolicy(min_relative_change=0.1), ApprovalStatus.PENDING),
        (0.89, 0.80, GatePolicy(min_relative_change=0.1), ApprovalStatus.APPROVED),
    ],
    ids=[
        "first beats baseline",
        "worse than baseline",
        "equals baseline",
        "under floor",
        "beats champion",
        "ties champion",
        "short of absolute margin",
        "meets absolute margin",
        "short of relative margin",
        "meets relative margin",
    ],
)
def test_gate_decisions(
    candidate: float, champion: float | None, policy: GatePolicy, expected: ApprovalStatus
) -> None:
    assert gate(candidate, champion=champion, policy=policy).status is expected


def test_lower_is_better_metrics_flip_every_comparison() -> None:
    assert gate(40.0, baseline=80.0, champion=50.0, greater=False).status is ApprovalStatus.APPROVED
    assert gate(90.0, baseline=80.0, greater=False).status is ApprovalStatus.REJECTED
    decision = gate(
        49.0, baseline=80.0, champion=50.0, greater=False, policy=GatePolicy(min_absolute_change=5)
    )
    assert decision.status is ApprovalStatus.PENDING
    assert decision.required == 45.0
    assert "45.0000" in decision.reason
