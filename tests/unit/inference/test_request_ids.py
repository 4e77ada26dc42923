"""Request ids a deployment can tell from made-up ones: each carries a tag keyed by a secret
every worker reads from the same table."""

from __future__ import annotations

from pathlib import Path

from conveyor.config import Settings
from conveyor.inference.request_ids import RequestIds
from conveyor.wiring import build_table


def test_an_id_verifies_for_its_project_only_and_on_another_worker(tmp_path: Path) -> None:
    table = build_table(Settings(home=tmp_path))
    issuer, other_worker = RequestIds(table), RequestIds(table)
    issued = issuer.issue("churn")
    assert len(issued) == 40 and int(issued, 16) >= 0
    assert issued != issuer.issue("churn")
    assert other_worker.verify("churn", issued)  # the key is the table's, not the process's
    assert not other_worker.verify("sales", issued)
    # One character off anywhere, as a typo makes it, fails.
    for at in (0, 23, 24, 39):
        typo = issued[:at] + ("0" if issued[at] != "0" else "1") + issued[at + 1 :]
        assert not issuer.verify("churn", typo)
    for made_up in ("", "nobody", "0" * 40, "é" * 40, issued.upper()):
        assert not issuer.verify("churn", made_up)
    # API Gateway's request id, tagged: readable and verifiable.
    tagged = issuer.issue("churn", "7f1b3c2e-9a4d")
    assert tagged.startswith("7f1b3c2e-9a4d-") and issuer.verify("churn", tagged)
    # Another deployment (another table) has another key.
    assert not RequestIds(build_table(Settings(home=tmp_path / "b"))).verify("churn", issued)
