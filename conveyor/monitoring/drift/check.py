"""A drift check of a project's deployed version: find its baselines, load the window, compare,
and keep the result in the Table (``drift#<project>`` / ``<checked_at>``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from conveyor.errors import InvalidInput, NotDeployed, NotFound
from conveyor.monitoring.drift.compute import DEFAULT_THRESHOLDS, Thresholds, compute_drift
from conveyor.monitoring.drift.store import partition
from conveyor.monitoring.drift.window import load_window
from conveyor.monitoring.profile import prediction_profile_key
from conveyor.ports import Ports
from conveyor.storage import PROCESSED, REPORTS, ObjectStore
from conveyor.tables import Item, Table
from conveyor.tabular.schema import DatasetSchema
from conveyor.types import ModelVersion, from_iso, to_iso, utcnow


@dataclass(frozen=True)
class DriftReport:
    project: str
    checked_at: datetime
    window_start: datetime
    window_end: datetime
    model_version: int
    records: int  # inference records in the window
    rows: int  # request rows compared (answered 200 by this version, inputs captured)
    status: str  # "OK" | "DRIFT" | "INSUFFICIENT_DATA"
    features: dict[str, dict[str, Any]]  # drifted first
    prediction: dict[str, Any]
    evidently: dict[str, Any]
    thresholds: dict[str, Any]

    @property
    def drifted(self) -> list[str]:
        return [name for name, f in self.features.items() if f["verdict"] == "drift"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "checked_at": to_iso(self.checked_at),
            "window_start": to_iso(self.window_start),
            "window_end": to_iso(self.window_end),
            "model_version": self.model_version,
            "records": self.records,
            "rows": self.rows,
            "status": self.status,
            "drifted": self.drifted,
            "features": self.features,
            "prediction": self.prediction,
            "evidently": self.evidently,
            "thresholds": self.thresholds,
        }

    def to_item(self) -> Item:
        return {"pk": partition(self.project), "sk": to_iso(self.checked_at), **self.to_dict()}

    @classmethod
    def from_item(cls, item: Item) -> DriftReport:
        return cls(
            project=item["project"],
            checked_at=from_iso(item["checked_at"]),
            window_start=from_iso(item["window_start"]),
            window_end=from_iso(item["window_end"]),
            model_version=int(item["model_version"]),
            records=int(item.get("records") or item["rows"]),
            rows=int(item["rows"]),
            status=item["status"],
            features=item["features"],
            prediction=item.get("prediction") or {},
            evidently=item.get("evidently") or {},
            thresholds=item.get("thresholds") or {},
        )


def run_drift_check(
    ports: Ports,
    project: str,
    *,
    since: datetime,
    until: datetime,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> DriftReport:
    """Drift of the requests answered by ``project``'s deployed version in ``[since, until)``
    against that version's training profile.

    Raises:
        NotFound: the project has no deployed version, or its version has no profile.
        InvalidInput: ``since`` is not before ``until``.
    """
    if since >= until:
        raise InvalidInput(
            f"the window must start before it ends: since {to_iso(since)} is not before "
            f"until {to_iso(until)}",
            field="since",
        )
    deployment = ports.endpoint.describe_endpoint(project)
    if deployment is None:
        raise NotDeployed(project, why=", so there is no traffic to check")
    version = ports.registry.get_version(project, deployment.version)
    profile = _profile(ports.store, version)
    prediction_profile = _optional_json(
        ports.store, REPORTS, prediction_profile_key(project, version.run_id)
    )
    window = load_window(
        ports.table,
        project,
        since=since,
        until=until,
        schema=DatasetSchema.from_dict(version.input_schema),
        version=version.version,
        store=ports.store,
    )
    result = compute_drift(
        profile,
        window.frame,
        live_predictions=window.predictions,
        prediction_profile=prediction_profile,
        thresholds=thresholds,
    )
    return DriftReport(
        project=project,
        checked_at=utcnow(),
        window_start=since,
        window_end=until,
        model_version=version.version,
        records=window.records,
        rows=result.rows,
        status=result.status,
        features=result.features,
        prediction=result.prediction,
        evidently=result.evidently,
        thresholds=thresholds.to_dict(),
    )


def save_drift_check(table: Table, report: DriftReport) -> None:
    """Keep ``report`` as the item ``drift#<project>`` / ``<checked_at>``."""
    table.put(report.to_item())


def _profile(store: ObjectStore, version: ModelVersion) -> dict[str, Any]:
    key = f"{version.project}/{version.dataset_id}/profile.json"
    profile = _optional_json(store, PROCESSED, key)
    if profile is None:
        raise NotFound(
            f"version {version.version} of {version.project!r} has no training profile at "
            f"{PROCESSED}/{key}, so there is no baseline to compare with; a new upload of "
            "the training data makes one",
            field="version",
        )
    return profile


def _optional_json(store: ObjectStore, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = orjson.loads(store.get(bucket, key))
    except NotFound:
        return None
    return data
