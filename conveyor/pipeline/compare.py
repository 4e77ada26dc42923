"""Versions side by side (``conveyor models compare``, ``GET .../compare``): each one's
metrics on every split, how it was trained (algorithm, hyperparameters, data set, rows), its
approval, and the model inputs it leaned on most; with what differs between them named."""

from __future__ import annotations

import json
from typing import Any

from conveyor.errors import InvalidInput, NotFound
from conveyor.pipeline.details import details_key
from conveyor.ports import Ports
from conveyor.storage import REPORTS
from conveyor.types import ModelVersion

TOP_INPUTS = 5
MAX_VERSIONS = 10


def compare_versions(ports: Ports, project: str, versions: list[int]) -> dict[str, Any]:
    """The versions of ``project`` side by side, in the order asked.

    Raises:
        InvalidInput: fewer than two versions, more than ``MAX_VERSIONS``, or one twice.
        NotFound: no such project or version (the message names it).
    """
    if len(versions) < 2 or len(versions) > MAX_VERSIONS or len(set(versions)) != len(versions):
        raise InvalidInput(
            f"name two to {MAX_VERSIONS} different versions to compare, e.g. 2 3",
            field="versions",
        )
    found = [ports.registry.get_version(project, number) for number in versions]
    return {
        "project": project,
        "versions": [_column(ports, v) for v in found],
        "differences": _differences(found),
    }


def _column(ports: Ports, v: ModelVersion) -> dict[str, Any]:
    return {
        "version": v.version,
        "approval_status": v.approval_status.value,
        "algorithm": v.algorithm,
        "primary_metric": v.primary_metric,
        "metrics": v.metrics,
        "hyperparameters": v.hyperparameters,
        "dataset_id": v.dataset_id,
        "raw": v.raw.key,
        "run_id": v.run_id,
        "created_at": v.created_at.isoformat(),
        "top_inputs": _top_inputs(ports, v),
    }


def _top_inputs(ports: Ports, v: ModelVersion) -> list[dict[str, Any]]:
    """The model inputs with the largest importance, as shares of the whole (none recorded:
    versions evaluated before importance was kept)."""
    try:
        details = json.loads(ports.store.get(REPORTS, details_key(v.project, v.run_id)))
    except NotFound:
        return []
    ranked = details.get("feature_importance") or []
    total = sum(max(0.0, float(item["importance"])) for item in ranked)
    if total <= 0:
        return []
    return [
        {"feature": item["feature"], "share": max(0.0, float(item["importance"])) / total}
        for item in ranked[:TOP_INPUTS]
    ]


def _differences(found: list[ModelVersion]) -> list[str]:
    """What is not the same across the versions, in words."""
    said: list[str] = []
    for name, values in (
        ("algorithm", [v.algorithm for v in found]),
        ("data set", [v.dataset_id[:12] for v in found]),
        ("primary metric", [v.primary_metric for v in found]),
    ):
        if len(set(values)) > 1:
            said.append(f"{name}: {' / '.join(values)}")
    keys = sorted({k for v in found for k in v.hyperparameters})
    for key in keys:
        values = [json.dumps(v.hyperparameters.get(key)) for v in found]
        if len(set(values)) > 1:
            said.append(f"{key}: {' / '.join(values)}")
    return said
