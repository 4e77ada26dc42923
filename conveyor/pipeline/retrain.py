"""The closed loop: start a run on fresh data when an alarm (or a person, or a schedule) asks.

The data is the project's latest upload plus, where feedback exists, every recorded
inference that has its actual outcome, as rows with the target filled in. The run then goes
through the same stages and the same gate as any upload, and records what triggered it.
A loop guard keeps a flapping alarm from starting runs back to back.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from conveyor.events import object_created
from conveyor.pipeline.raw_objects import upload_of_etag
from conveyor.pipeline.runs import RunStore
from conveyor.ports import Ports
from conveyor.projects import find_project
from conveyor.storage import RAW
from conveyor.tables import Table
from conveyor.types import ObjectInfo, from_iso, to_iso, utcnow

log = logging.getLogger("conveyor.monitoring")
# polars, numpy and the model code are imported where a retrain builds its file: a Lambda
# function (which has none of them) imports this module for ``stored_trigger``.

RETRAIN_PREFIX = "retrain-"
DEFAULT_COOLDOWN_SECONDS = 3600.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def retrain_guard_key(project: str) -> tuple[str, str]:
    return "retrain", project


def trigger_key(project: str) -> str:
    return f"trigger#{project}"


@dataclass(frozen=True)
class RetrainOutcome:
    project: str
    started: bool
    reason: str
    key: str | None = None
    dataset_id: str | None = None
    feedback_rows: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "started": self.started,
            "reason": self.reason,
            "key": self.key,
            "dataset_id": self.dataset_id,
            "feedback_rows": self.feedback_rows,
        }


def request_retrain(
    ports: Ports,
    project: str,
    trigger: dict[str, Any],
    *,
    cooldown_seconds: float = DEFAULT_COOLDOWN_SECONDS,
    now: datetime | None = None,
) -> RetrainOutcome:
    """Start a retraining run for ``project`` unless the loop guard says not yet.

    ``trigger`` says why (``{"type": "alarm", "alarm": ..., "reason": ...}``); it is kept in
    the run's report, with the alarm's evidence (its threshold and last value; for a drift
    alarm the features the latest drift check flagged) so that the run can say why.
    """
    now = now or utcnow()
    refusal = _loop_guard(ports, project, cooldown_seconds, now)
    if refusal is not None:
        log.info("not retraining %s: %s", project, refusal)
        return RetrainOutcome(project, False, refusal)
    base = latest_upload(ports, project)
    if base is None:
        return RetrainOutcome(project, False, f"project {project!r} has no upload to retrain on")
    from conveyor.hashing import sha256_file, upload_dataset_id

    # A workbook uploaded with --sheet is retrained on that sheet.
    sheet = upload_of_etag(ports.table, project, base.key, base.etag).get("sheet")
    with tempfile.TemporaryDirectory(prefix="conveyor-retrain-") as tmp:
        data, key, feedback_rows = _training_file(ports, project, base, Path(tmp), now, sheet)
        sheet = sheet if key == base.key else None  # the combined file is CSV
        dataset_id = upload_dataset_id(sha256_file(data), sheet=sheet)
        # A run started by the same bytes before would swallow this one: train again anyway.
        force = RunStore(ports.table).find_by_dataset(project, dataset_id) is not None
        evidence = _alarm_evidence(ports, project, trigger)
        trigger = {**evidence, **trigger, "at": to_iso(now), "feedback_rows": feedback_rows}
        # Kept where the ObjectCreated handler finds it, whichever event (this one, the
        # folder watch's, an S3 notification's) reaches it first.
        ports.table.put({"pk": trigger_key(project), "sk": dataset_id, "trigger": trigger})
        info = ports.store.put_file(RAW, key, data) if key != base.key else base
    options = {"sheet": sheet} if sheet is not None else {}
    ports.events.publish(
        object_created(
            info, dataset_id=dataset_id, source="retrain", force=force, trigger=trigger, **options
        )
    )
    guard_pk, guard_sk = retrain_guard_key(project)
    ports.table.put({"pk": guard_pk, "sk": guard_sk, "started_at": to_iso(now), "key": key})
    reason = f"retraining on {RAW}/{key} with {feedback_rows} feedback row(s)"
    log.warning("retrain %s: %s (trigger: %s)", project, reason, trigger.get("type"))
    return RetrainOutcome(project, True, reason, key, dataset_id, feedback_rows)


def _alarm_evidence(ports: Ports, project: str, trigger: dict[str, Any]) -> dict[str, Any]:
    """What the alarm behind ``trigger`` saw: the trigger alone does not say which features
    drifted or how far quality fell, and both change before anyone reads the run."""
    if trigger.get("type") != "alarm" or not trigger.get("alarm"):
        return {}
    from conveyor.errors import NotFound
    from conveyor.monitoring.drift.store import latest_drift_check

    try:
        status = ports.alarms.get_alarm(project, str(trigger["alarm"]))
    except NotFound:
        return {}
    rule = status.rule
    seen = [p for p in status.datapoints if p is not None]
    evidence: dict[str, Any] = {
        "metric": rule.metric.value,
        "comparison": rule.comparison,
        "threshold": rule.threshold,
        "quality_metric": rule.quality_metric,
        "value": seen[-1] if seen else None,
    }
    check = (
        latest_drift_check(ports.table, project) if rule.metric.value == "drift_status" else None
    )
    if check is not None and check.get("status") == "DRIFT":
        evidence["drift"] = {
            "features": list(check.get("drifted") or []),
            "checked_at": check.get("checked_at"),
            "model_version": check.get("model_version"),
        }
    return evidence


def _loop_guard(ports: Ports, project: str, cooldown_seconds: float, now: datetime) -> str | None:
    if find_project(ports.table, project) is None:
        return f"no project {project!r}"
    busy = [r for r in RunStore(ports.table).active() if r.project == project]
    if busy:
        return f"run {busy[0].run_id} is still {busy[0].state.value}"
    last = ports.table.get(*retrain_guard_key(project))
    if last is not None:
        since = now - from_iso(last["started_at"])
        if since < timedelta(seconds=cooldown_seconds):
            return (
                f"the last retrain started {since.total_seconds():.0f} s ago, at "
                f"{last['started_at']}; the cooldown is {cooldown_seconds:.0f} s"
            )
    return None


def latest_upload(ports: Ports, project: str) -> ObjectInfo | None:
    """The project's most recent upload (retraining files left out)."""
    uploads = [
        info
        for info in ports.store.list(RAW, prefix=f"{project}/")
        if not info.key.split("/", 1)[1].startswith((RETRAIN_PREFIX, "."))
    ]
    return max(uploads, key=lambda info: info.last_modified, default=None)


_SAMPLE_SEED = 42


def _training_file(
    ports: Ports, project: str, base: ObjectInfo, tmp: Path, now: datetime, sheet: str | None
) -> tuple[Path, str, int]:
    """The file to train on, its key in raw/, and how many feedback rows it adds."""
    local = tmp / "base"
    ports.store.download(RAW, base.key, local)
    spec = find_project(ports.table, project)
    assert spec is not None  # checked by the loop guard
    import polars as pl

    from conveyor.monitoring.quality import labelled_rows

    rows = [r for r in labelled_rows(ports.table, project, since=_EPOCH, until=now) if r.inputs]
    if not rows:
        return local, base.key, 0
    from conveyor.config import MAX_TRAINING_ROWS
    from conveyor.tabular.read import read_for_training

    # A large upload is sampled as preprocessing would, leaving room for every feedback row
    # (the labelled traffic is what a retrain is for): the file made is never over the cap.
    room = max(MAX_TRAINING_ROWS - len(rows), 1)
    upload = read_for_training(local, max_rows=room, seed=_SAMPLE_SEED, sheet=sheet).frame
    upload = upload.select(pl.all().cast(pl.String))
    feedback = pl.DataFrame(
        [{**_as_text(r.inputs or {}), spec.target: _text(r.actual)} for r in rows],
        schema={name: pl.String for name in [*upload.columns]},
        strict=False,
    )
    combined = pl.concat([upload, feedback], how="vertical_relaxed")
    path = tmp / "combined.csv"
    combined.write_csv(path)
    return path, f"{project}/{RETRAIN_PREFIX}{now:%Y%m%d-%H%M%S}.csv", len(rows)


def _as_text(row: dict[str, Any]) -> dict[str, str | None]:
    return {name: _text(value) for name, value in row.items()}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def stored_trigger(table: Table, project: str, dataset_id: str) -> dict[str, Any] | None:
    """The trigger a retrain left for the run of these bytes (and forget it: used once)."""
    item = table.get(trigger_key(project), dataset_id)
    if item is None:
        return None
    table.delete(trigger_key(project), dataset_id)
    trigger: dict[str, Any] = item["trigger"]
    return trigger


def retrain_on_alarm(
    ports: Ports, *, cooldown_seconds: float = DEFAULT_COOLDOWN_SECONDS
) -> Callable[[str, dict[str, Any]], None]:
    """The ``retrain`` action of alarms: start a run (guarded), with the alarm as trigger."""

    def on_retrain(project: str, trigger: dict[str, Any]) -> None:
        request_retrain(
            ports, project, {"type": "alarm", **trigger}, cooldown_seconds=cooldown_seconds
        )

    return on_retrain
