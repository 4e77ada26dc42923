"""An artifact refused for its sha256, as an alarm: an ERROR log line and an item in the
project's alarm history (``conveyor alarms history``), so a person sees it without reading
server logs."""

from __future__ import annotations

import logging

from conveyor.errors import ConveyorError, IntegrityError
from conveyor.monitoring.alarm_store import AlarmTransition, record_history
from conveyor.tables import Table
from conveyor.types import utcnow

log = logging.getLogger("conveyor.integrity")

INTEGRITY_ALARM = "artifact-integrity"


def raise_integrity_alarm(
    table: Table | None, project: str, version: int, error: IntegrityError, *, where: str
) -> None:
    """Log ``error`` at ERROR and record it in ``project``'s alarm history (when a table is
    given). Never raises: the refusal itself must still reach whoever asked for the load.

    Args:
        where: what refused the artifact (e.g. "the model server", "deploy").
    """
    log.error(
        "integrity alarm: %s refused %s v%d: %s",
        where,
        project,
        version,
        error.message,
        extra={"project": project, "version": version},
    )
    if table is None:
        return
    try:
        record_history(
            table,
            AlarmTransition(
                project=project,
                alarm=INTEGRITY_ALARM,
                metric="artifact_sha256",
                old_state=f"v{version} registered",
                new_state="ALARM",
                reason=f"{where} refused v{version}: {error.message}",
                timestamp=utcnow(),
                kind="IntegrityFailure",
                details={"version": version, "refused_by": where},
            ),
        )
    except ConveyorError:
        log.exception("could not record the integrity alarm of %s v%d", project, version)
