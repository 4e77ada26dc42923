"""The contract battery follows the adapter registry (scikit-learn's ``all_estimators()``
idea): every backend a setting can choose passes its port's suite, and no suite runs a
backend nothing can choose."""

from __future__ import annotations

from conveyor import _schemes
from tests.integration.contracts.conftest import CONTRACT_SUITES


def test_every_registered_adapter_has_a_contract_suite() -> None:
    missing = [
        f"{port}: {scheme} ({target})"
        for port, adapters in _schemes.ADAPTERS.items()
        for scheme, target in adapters.items()
        if scheme not in CONTRACT_SUITES.get(port, {})
    ]

    assert not missing, (
        "registered in conveyor._schemes.ADAPTERS without a contract suite (add a backend "
        f"to tests/integration/contracts/conftest.py): {', '.join(missing)}"
    )


def test_every_contract_suite_runs_a_registered_adapter() -> None:
    stale = [
        f"{port}: {scheme}"
        for port, suites in CONTRACT_SUITES.items()
        for scheme in suites
        if scheme not in _schemes.ADAPTERS.get(port, {})
    ]

    assert not stale, f"contract backends no setting can choose: {', '.join(stale)}"
