"""``GET /projects/{project}/traffic``: requests/s, latency p50/p99 and error rates per step
over a window, from the project's inference records.

Two error rates, kept apart as SageMaker's Invocation5XXErrors and Invocation4XXErrors are:
``error_rate`` is the share of requests answered 5xx (the server's fault, what the
``error_rate`` alarm counts), ``client_error_rate`` the share answered 4xx (requests the
server refused: a caller sending bad rows shows here, not as a flat zero).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Query

from conveyor.api.deps import ApiContext, api_context
from conveyor.api.schemas import Traffic
from conveyor.errors import InvalidInput
from conveyor.monitoring.alarms.windows import Requests, load_requests
from conveyor.projects import get_project
from conveyor.serving.schemas import KEY_ERRORS, error_responses
from conveyor.types import to_iso, utcnow

router = APIRouter(tags=["monitoring"])
Context = Annotated[ApiContext, Depends(api_context)]

MAX_POINTS = 2000
MAX_WINDOW = 31 * 86400


@router.get(
    "/projects/{project}/traffic",
    response_model=Traffic,
    responses=error_responses(400, 404, 422, *KEY_ERRORS),
)
def traffic(
    project: str,
    api: Context,
    window: Annotated[float, Query(gt=0, le=MAX_WINDOW, description="Seconds.")] = 3600,
    # Bounded both ways: a step past the end of time, or one so small that now / step is
    # infinite, cannot place its last point.
    step: Annotated[float, Query(ge=1, le=MAX_WINDOW, description="Seconds per point.")] = 60,
) -> dict[str, Any]:
    """One point per ``step`` over the last ``window`` seconds, the last ending at the next
    multiple of ``step`` (so points stay put between polls); null where nothing came."""
    get_project(api.ports.table, project)
    points = math.ceil(window / step)
    if points > MAX_POINTS:
        raise InvalidInput(
            f"window / step gives {points} points; at most {MAX_POINTS}: take a larger step",
            field="step",
        )
    end_seconds = math.ceil(utcnow().timestamp() / step) * step
    end = datetime.fromtimestamp(end_seconds, UTC)
    start = end - timedelta(seconds=points * step)
    requests = load_requests(api.ports.table, project, start, end)
    return traffic_series(requests, start, step, points)


def traffic_series(requests: Requests, start: datetime, step: float, points: int) -> dict[str, Any]:
    """Bucket ``requests`` into ``points`` steps from ``start``."""
    index = np.floor((requests.seconds - start.timestamp()) / step).astype(np.int64)
    keep = (index >= 0) & (index < points)
    index, latency, status = index[keep], requests.latency_ms[keep], requests.status[keep]
    counts = np.bincount(index, minlength=points)
    errors = np.bincount(index, weights=(status >= 500).astype(float), minlength=points)
    refused = ((status >= 400) & (status < 500)).astype(float)
    client_errors = np.bincount(index, weights=refused, minlength=points)
    order = np.lexsort((latency, index))  # by bucket, then latency within it
    bounds = np.concatenate([[0], np.cumsum(counts)])
    sorted_latency = latency[order]
    p50: list[float | None] = []
    p99: list[float | None] = []
    for bucket in range(points):
        chunk = sorted_latency[bounds[bucket] : bounds[bucket + 1]]
        if len(chunk) == 0:
            p50.append(None)
            p99.append(None)
            continue
        low, high = np.percentile(chunk, [50, 99])
        p50.append(float(low))
        p99.append(float(high))
    return {
        "start": to_iso(start),
        "step": step,
        "t": [to_iso(start + timedelta(seconds=i * step)) for i in range(points)],
        "requests_per_second": (counts / step).tolist(),
        "latency_p50_ms": p50,
        "latency_p99_ms": p99,
        "error_rate": _shares(errors, counts),
        "client_error_rate": _shares(client_errors, counts),
    }


def _shares(parts: np.ndarray, counts: np.ndarray) -> list[float | None]:
    return [float(p / c) if c else None for p, c in zip(parts, counts, strict=True)]
