"""An artifact refused for its sha256, as an alarm: an ERROR log line and an item in the
project's alarm history (``conveyor alarms history``), so a person sees it without reading
server logs.

Every path that swaps what a project serves (deploy, the worker's deploy after the gate,
rollback, the AWS deploy) refuses an artifact through ``refuse_artifact``: one message that
names the version, the file, both hashes and the two ways out, and one alarm item.
"""

from __future__ import annotations

import logging
from contextlib import closing
from typing import Any

from conveyor.errors import ConveyorError, IntegrityError
from conveyor.hashing import sha256_mismatch
from conveyor.metrics.alarm_store import AlarmTransition, record_history
from conveyor.storage import ObjectStore
from conveyor.storage.stream import open_object
from conveyor.tables import Table
from conveyor.types import ModelVersion, ObjectRef, utcnow

log = logging.getLogger("conveyor.integrity")

INTEGRITY_ALARM = "artifact-integrity"
SHOWN_PREFIX = 12  # hex digits of a sha256 a person compares by eye


def check_artifact(
    store: ObjectStore,
    table: Table | None,
    model: ModelVersion,
    *,
    artifact: ObjectRef | None = None,
    where: str,
    serving: int | None = None,
) -> None:
    """Refuse ``model``'s stored artifact (or ``artifact``, the copy a deployment record
    names) unless its bytes, read as a stream, have the sha256 the registry recorded.

    Args:
        where: what is checking ("deploy", "rollback", ...).
        serving: the version that keeps serving, when there is one.

    Raises:
        NotFound: the artifact is gone.
        IntegrityError: other bytes (the integrity alarm is raised first).
    """
    ref = artifact or model.artifact
    body, _ = open_object(store, ref)
    with closing(body):
        found = sha256_mismatch(body, model.sha256)
    if found is not None:
        raise refuse_artifact(
            table,
            model.project,
            model.version,
            ref,
            expected=model.sha256,
            found=found,
            where=where,
            serving=serving,
        )


def tampered_message(
    project: str,
    version: int,
    artifact: ObjectRef,
    *,
    expected: str,
    found: str,
    serving: int | None = None,
) -> str:
    """What a person reads when ``version``'s artifact is not the file that was registered:
    which version and file, both hashes (prefixes to compare, the registered one whole to
    find the right backup), and what to do."""
    keeps = f"; v{serving} keeps serving" if serving is not None else ""
    return (
        f"{project} v{version} refused: its artifact {artifact.uri} was tampered with or "
        f"damaged (sha256 expected {expected[:SHOWN_PREFIX]}..., found "
        f"{found[:SHOWN_PREFIX]}...){keeps}. Restore the original file (sha256 {expected}) "
        f"to {artifact.uri}, or retrain {project} (`conveyor retrain {project}`) and deploy "
        "the new version"
    )


def refuse_artifact(
    table: Table | None,
    project: str,
    version: int,
    artifact: ObjectRef,
    *,
    expected: str,
    found: str,
    where: str,
    serving: int | None = None,
) -> IntegrityError:
    """The refusal of an artifact whose sha256 is ``found`` instead of the registry's
    ``expected``, with its integrity alarm raised; the caller raises it.

    Args:
        where: what refused the artifact ("deploy", "rollback", ...).
        serving: the version that keeps serving, when there is one.
    """
    error = IntegrityError(
        tampered_message(
            project, version, artifact, expected=expected, found=found, serving=serving
        )
    )
    details = {"artifact": artifact.uri, "expected_sha256": expected, "found_sha256": found}
    raise_integrity_alarm(table, project, version, error, where=where, details=details)
    return error


def raise_integrity_alarm(
    table: Table | None,
    project: str,
    version: int,
    error: IntegrityError,
    *,
    where: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Log ``error`` at ERROR and record it in ``project``'s alarm history (when a table is
    given). Never raises: the refusal itself must still reach whoever asked for the load.

    Args:
        where: what refused the artifact (e.g. "the model server", "deploy").
        details: more to keep in the history item (the artifact, both hashes).
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
                details={"version": version, "refused_by": where, **(details or {})},
            ),
        )
    except ConveyorError:
        log.exception("could not record the integrity alarm of %s v%d", project, version)
