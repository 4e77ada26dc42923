"""What a server's ``/metrics`` reads from the Table when Prometheus scrapes: pipeline runs,
queue depth, drift, live quality. They are right whichever process ran the pipeline, and are
cached for a few seconds so that a tight scrape loop does not hammer SQLite. The request
metrics beside them are ``conveyor.metrics.prometheus``'s.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from conveyor.errors import ConveyorError
from conveyor.events import EventPublisher, queue_depth
from conveyor.metrics.labels import failed_stage
from conveyor.metrics.prometheus import RequestMetrics, exposition
from conveyor.monitoring.drift.store import latest_drift_check
from conveyor.pipeline.runs import RunStore
from conveyor.projects import list_projects
from conveyor.registry import Registry
from conveyor.tables import Table
from conveyor.types import Run, from_iso, utcnow

log = logging.getLogger("conveyor.monitoring")

# Pipeline stages take from under a second (a small preprocess) to hours (a large training).
STAGE_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0)
TABLE_CACHE_SECONDS = 5.0
# Live quality joins a day of feedback to a week of records: heavy, and it changes slowly.
QUALITY_CACHE_SECONDS = 300.0
QUALITY_WINDOW = timedelta(hours=24)
DRIFT_STATUSES = ("OK", "DRIFT", "INSUFFICIENT_DATA")


class TableCollector:
    """Metrics read from the Table at scrape time, cached for ``cache_seconds``."""

    def __init__(
        self,
        table: Table,
        events: EventPublisher,
        *,
        registry: Registry | None = None,
        cache_seconds: float = TABLE_CACHE_SECONDS,
        quality_cache_seconds: float = QUALITY_CACHE_SECONDS,
    ) -> None:
        self.table = table
        self.events = events
        self.registry = registry
        self._lock = threading.Lock()
        self._table_cache = _Cached(self._read_table, cache_seconds)
        self._quality_cache = _Cached(self._read_quality, quality_cache_seconds)

    def collect(self) -> Iterator[Metric]:
        with self._lock:  # scrapes arrive on a thread pool; one reads the Table at a time
            yield from self._table_cache.get()
            yield from self._quality_cache.get()

    def _read_table(self) -> list[Metric]:
        runs = RunStore(self.table).list_runs()
        projects = sorted({p.name for p in list_projects(self.table)})
        return [
            *pipeline_metrics(runs),
            _queue_depth(queue_depth(self.events)),
            *drift_metrics(self.table, projects),
        ]

    def _read_quality(self) -> list[Metric]:
        projects = sorted({p.name for p in list_projects(self.table)})
        return quality_metrics(self.table, projects, registry=self.registry)


class _Cached:
    """A function's last answer, kept for ``seconds``; on a Table error, the last answer."""

    def __init__(self, read: Callable[[], list[Metric]], seconds: float) -> None:
        self.read = read
        self.seconds = seconds
        self._value: list[Metric] = []
        self._read_at = float("-inf")

    def get(self) -> list[Metric]:
        now = time.monotonic()
        if now - self._read_at >= self.seconds:
            try:
                self._value = self.read()
            except ConveyorError as exc:
                # The request metrics must still be scraped when the Table is down.
                log.warning("metrics: could not read the Table (%s); serving the last values", exc)
            except Exception:  # a scrape is an entry point: a bug here must not blank /metrics
                log.exception("metrics: reading the Table failed; serving the last values")
            self._read_at = now
        return self._value


def pipeline_metrics(runs: Iterable[Run]) -> list[Metric]:
    """Stage durations of every finished stage, and runs by state.

    The stage histogram is rebuilt from every stored run at each read: runs are never
    deleted and a finished stage never changes, so its counts only grow, as a Prometheus
    histogram's must. A stage's outcome is ``failure`` when the run failed during it.
    """
    stages: dict[tuple[str, str, str], list[float]] = {}
    finished: dict[tuple[str, str], int] = {}
    active: dict[tuple[str, str], int] = {}
    for run in runs:
        counts = finished if run.state.is_terminal else active
        counts[(run.project, run.state.value)] = counts.get((run.project, run.state.value), 0) + 1
        failed_in = failed_stage(run)
        for stage, timing in run.stages.items():
            seconds = timing.seconds
            if seconds is None:
                continue
            outcome = "failure" if stage == failed_in else "success"
            stages.setdefault((run.project, stage, outcome), []).append(seconds)

    duration = HistogramMetricFamily(
        "conveyor_pipeline_stage_duration_seconds",
        "Duration of each finished pipeline stage (preprocess, train, evaluate), by outcome.",
        labels=["project", "stage", "outcome"],
    )
    for labels, values in sorted(stages.items()):
        duration.add_metric(list(labels), _buckets(values, STAGE_BUCKETS), sum(values))
    runs_total = CounterMetricFamily(
        "conveyor_pipeline_runs",
        "Pipeline runs that ended, by their final state.",
        labels=["project", "state"],
    )
    for (project, state), count in sorted(finished.items()):
        runs_total.add_metric([project, state], count)
    runs_active = GaugeMetricFamily(
        "conveyor_pipeline_runs_active",
        "Pipeline runs under way, by the state they are in.",
        labels=["project", "state"],
    )
    for (project, state), count in sorted(active.items()):
        runs_active.add_metric([project, state], count)
    return [duration, runs_total, runs_active]


def _buckets(values: list[float], bounds: tuple[float, ...]) -> list[tuple[str, float]]:
    cumulative = [(str(bound), float(sum(1 for v in values if v <= bound))) for bound in bounds]
    return [*cumulative, ("+Inf", float(len(values)))]


def _queue_depth(depth: int) -> Metric:
    gauge = GaugeMetricFamily(
        "conveyor_queue_depth", "Pipeline events waiting in the queue or being handled."
    )
    gauge.add_metric([], depth)
    return gauge


def drift_metrics(table: Table, projects: Iterable[str]) -> list[Metric]:
    """Per-feature drift scores and the status of each project's latest drift check."""
    scores = GaugeMetricFamily(
        "conveyor_drift_score",
        "Population stability index of each feature in the latest drift check.",
        labels=["project", "feature"],
    )
    status = GaugeMetricFamily(
        "conveyor_drift_status",
        "Status of the latest drift check: 1 for the current status, 0 for the others.",
        labels=["project", "status"],
    )
    checked = GaugeMetricFamily(
        "conveyor_drift_check_timestamp_seconds",
        "When the latest drift check ran (Unix time).",
        labels=["project"],
    )
    for project in projects:
        check = latest_drift_check(table, project)
        if check is None:
            continue
        for feature, result in sorted((check.get("features") or {}).items()):
            score = result.get("score") if isinstance(result, dict) else None
            if isinstance(score, int | float):
                scores.add_metric([project, feature], float(score))
        for name in DRIFT_STATUSES:
            status.add_metric([project, name], 1.0 if check.get("status") == name else 0.0)
        if check.get("checked_at"):
            checked.add_metric([project], from_iso(check["checked_at"]).timestamp())
    return [scores, status, checked]


def quality_metrics(
    table: Table, projects: Iterable[str], *, registry: Registry | None = None
) -> list[Metric]:
    """Live quality of each model version, from feedback received in the last day."""
    try:
        from conveyor.monitoring.quality import live_quality
    except ImportError:  # an installation without the feedback module has no live quality
        return []

    quality = GaugeMetricFamily(
        "conveyor_model_quality",
        f"Live quality of each model version from ground truth received in the last "
        f"{QUALITY_WINDOW.total_seconds() / 3600:g} hours, by metric.",
        labels=["project", "version", "metric"],
    )
    labelled = GaugeMetricFamily(
        "conveyor_model_quality_labelled_rows",
        "Predictions with ground truth behind conveyor_model_quality.",
        labels=["project", "version"],
    )
    since = utcnow() - QUALITY_WINDOW
    for project in projects:
        for version in live_quality(table, project, since=since, registry=registry):
            labelled.add_metric([project, str(version.version)], version.count)
            if version.value is None:
                continue  # too few labelled rows to say anything
            for metric, value in sorted(version.metrics.items()):
                quality.add_metric([project, str(version.version), metric], value)
    return [quality, labelled]


class ServerMetrics:
    """Everything a server exposes on ``/metrics``."""

    def __init__(
        self, table: Table, events: EventPublisher, *, registry: Registry | None = None
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.requests = RequestMetrics(self.registry)
        self.registry.register(TableCollector(table, events, registry=registry))

    def render(self, accept: str = "") -> tuple[bytes, str]:
        """The exposition in the format the scraper's ``Accept`` header asks for (Prometheus
        text by default, OpenMetrics on request), and its content type."""
        return exposition(self.registry, accept)
