"""Datapoints per period, from what the Table holds: inference records and drift checks.

A period is ``[start, end)``; the periods of one evaluation end at its ``now`` (a sliding
window, so an alarm sees a burst of errors as soon as the monitor runs, not at the next
clock minute). Every request counts toward the request metrics, whatever its status:
``error_rate`` is the share answered 5xx (the server's fault); ``client_error_rate`` the
share answered 4xx (bad input: the caller's), kept apart as CloudWatch keeps API
Gateway's 4XXError and 5XXError.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from conveyor.inference.records import partition as inference_partition
from conveyor.metrics.alarm_rules import AlarmMetric
from conveyor.monitoring.drift.store import drift_checks_since
from conveyor.tables import Table
from conveyor.types import to_iso

REQUEST_METRICS = (
    AlarmMetric.LATENCY_P99_MS,
    AlarmMetric.ERROR_RATE,
    AlarmMetric.CLIENT_ERROR_RATE,
    AlarmMetric.REQUEST_COUNT,
)
_RECORD_FIELDS = {
    "timestamp": pl.String,
    "latency_ms": pl.Float64,
    "status": pl.Int64,
    "model_version": pl.Int64,
}
_ISO = "%Y-%m-%dT%H:%M:%S%.f%:z"  # conveyor.types.to_iso's form

Period = tuple[datetime, datetime]


def periods_ending(end: datetime, period_seconds: float, count: int) -> list[Period]:
    """``count`` adjacent periods of ``period_seconds`` ending at ``end``, oldest first."""
    step = timedelta(seconds=period_seconds)
    return [(end - step * (count - i), end - step * (count - i - 1)) for i in range(count)]


@dataclass(frozen=True)
class Requests:
    """Inference records of one window as columns (in time order)."""

    seconds: np.ndarray  # unix time of each request
    latency_ms: np.ndarray
    status: np.ndarray
    version: np.ndarray  # -1 where no version answered

    def __len__(self) -> int:
        return len(self.seconds)


def load_requests(
    table: Table,
    project: str,
    start: datetime,
    end: datetime,
    *,
    model_version: int | None = None,
) -> Requests:
    """The project's records with a timestamp in ``[start, end)``, optionally of one version.

    Read as JSON text and parsed by polars, keeping only the four fields alarms need: the
    inputs and outputs a record carries are never turned into Python objects.
    """
    chunks = [
        pl.read_ndjson(io.BytesIO(b"\n".join(chunk)), schema=_RECORD_FIELDS)
        for chunk in table.query_json(
            inference_partition(project), sk_gte=to_iso(start), sk_lt=to_iso(end)
        )
    ]
    frame = pl.concat(chunks) if chunks else pl.DataFrame(schema=_RECORD_FIELDS)
    if model_version is not None:
        frame = frame.filter(pl.col("model_version") == model_version)
    seconds = frame.get_column("timestamp").str.to_datetime(_ISO, time_unit="us").dt.epoch("us")
    return Requests(
        seconds=seconds.to_numpy().astype(np.float64) / 1e6,
        latency_ms=frame.get_column("latency_ms").to_numpy(),
        status=frame.get_column("status").to_numpy(),
        version=frame.get_column("model_version").fill_null(-1).to_numpy(),
    )


def request_datapoints(
    requests: Requests, metric: AlarmMetric, periods: list[Period]
) -> list[float | None]:
    """One value of ``metric`` per period; None where the period had no request (except
    ``request_count``, which is 0 then)."""
    if metric not in REQUEST_METRICS:
        raise ValueError(f"{metric} is not computed from inference records")
    order = np.argsort(requests.seconds, kind="stable")
    seconds = requests.seconds[order]
    bounds = np.array([[s.timestamp(), e.timestamp()] for s, e in periods], dtype=float)
    lo = np.searchsorted(seconds, bounds[:, 0], side="left")
    hi = np.searchsorted(seconds, bounds[:, 1], side="left")
    values: list[float | None] = []
    for first, last in zip(lo.tolist(), hi.tolist(), strict=True):
        chosen = order[first:last]
        if metric is AlarmMetric.REQUEST_COUNT:
            values.append(float(len(chosen)))
        elif len(chosen) == 0:
            values.append(None)
        elif metric is AlarmMetric.LATENCY_P99_MS:
            values.append(float(np.percentile(requests.latency_ms[chosen], 99)))
        else:
            status = requests.status[chosen]
            if metric is AlarmMetric.ERROR_RATE:
                values.append(float(np.mean(status >= 500)))
            else:
                values.append(float(np.mean((status >= 400) & (status < 500))))
    return values


def drift_datapoints(
    table: Table, project: str, *, now: datetime, lookback_seconds: float, count: int
) -> list[float | None]:
    """The last ``count`` drift checks within ``lookback_seconds`` of ``now``, oldest first:
    1.0 for DRIFT, 0.0 for OK. A check that had too few rows to decide is no datapoint, and
    None fills the front when fewer checks were made.

    A check stamped a moment after ``now`` counts too: the monitor runs the drift check just
    before the alarms, in the same round, and that check must be seen in that round."""
    since = now - timedelta(seconds=lookback_seconds)
    items = drift_checks_since(table, project, since)
    decided = [
        1.0 if item.get("status") == "DRIFT" else 0.0
        for item in items
        if item.get("status") in ("DRIFT", "OK")
    ]
    recent: list[float | None] = list(decided[-count:])
    return [None] * (count - len(recent)) + recent
