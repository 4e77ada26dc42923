"""A project with a long history, written straight into its home: many registry versions and
many recorded inferences. Shared by the dashboard's page-load benchmark (bench/ui_load.py) and
its browser test, so both look at the same page."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from conveyor.config import Settings
from conveyor.inference.records import InferenceRecord
from conveyor.types import ApprovalStatus, utcnow
from conveyor.wiring import build_ports

# The spread of the recorded inferences: inside the last hour, which the page's charts show.
SPREAD_SECONDS = 3500


def fill_history(home: Path, project: str, *, versions: int, inferences: int) -> None:
    """Grow ``project`` (deployed as v1) to ``versions`` registry versions (copies of v1 under
    other runs, pending) and ``inferences`` records spread over the last hour, one in a hundred
    answered 500."""
    ports = build_ports(Settings(home=home))
    first = ports.registry.get_version(project, 1)
    for n in range(2, versions + 1):
        draft = replace(
            first,
            version=0,
            run_id=f"r-copy-{n}",
            approval_status=ApprovalStatus.PENDING,
            gate=None,
        )
        ports.registry.create_version(draft)
    now = utcnow()
    ports.table.put_many(
        InferenceRecord(
            project,
            now - timedelta(seconds=SPREAD_SECONDS * i / inferences),
            f"req-{i}",
            1,
            1.0 + (i % 50) / 10,
            None,
            None,
            500 if i % 100 == 0 else 200,
        ).to_item()
        for i in range(inferences)
    )
