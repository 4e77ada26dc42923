"""The Prometheus exporter: the request metrics of a server, counted on the request path, and
the exposition ``/metrics`` answers with (the ``Metrics`` port's local adapter).

Each server owns a ``CollectorRegistry`` of its own (not prometheus_client's global one), so
that several apps in one process, as in the tests, never share or collide on a metric.
prometheus_client's ``labels()`` lookup costs more than the increment, so each label
combination's children are made once and kept in a dict: a request costs a dict lookup, two
``inc`` and one ``observe``. What the server reads from the Table at scrape time is
``conveyor.serving.table_metrics``.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder

# One-row predictions take a fraction of a millisecond; large batches up to a second or so.
REQUEST_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)


class RequestMetrics:
    """The counters of the request path, with each label combination's children cached."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "conveyor_requests",
            "Prediction requests answered, by project, model version and HTTP status.",
            ["project", "version", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "conveyor_request_duration_seconds",
            "Time to answer a prediction request, from its body read to its answer encoded.",
            ["project"],
            buckets=REQUEST_BUCKETS,
            registry=registry,
        )
        self.rows = Counter(
            "conveyor_rows_predicted",
            "Rows scored by successful prediction requests.",
            ["project", "version"],
            registry=registry,
        )
        self.model_load = Gauge(
            "conveyor_model_load_seconds",
            "Time the server took to verify, load and warm up the model version it serves.",
            ["project", "version"],
            registry=registry,
        )
        self._children: dict[tuple[str, int | None, int], tuple[Any, Any, Any]] = {}
        self._loaded_version: dict[str, str] = {}

    def observe(
        self, project: str, version: int | None, status: int, seconds: float, rows: int
    ) -> None:
        """Count one answered request (``rows`` scored when it succeeded)."""
        children = self._children.get((project, version, status))
        if children is None:
            children = self._make_children(project, version, status)
        requests, duration, rows_counter = children
        requests.inc()
        duration.observe(seconds)
        if rows and rows_counter is not None:
            rows_counter.inc(rows)

    def _make_children(self, project: str, version: int | None, status: int) -> tuple[Any, ...]:
        label = "" if version is None else str(version)
        children = (
            self.requests.labels(project, label, str(status)),
            self.duration.labels(project),
            self.rows.labels(project, label) if status < 400 else None,
        )
        self._children[(project, version, status)] = children
        return children

    def model_loaded(self, project: str, version: int, seconds: float) -> None:
        """Record a load; the version it replaces leaves the gauge."""
        previous = self._loaded_version.get(project)
        if previous is not None and previous != str(version):
            self.model_load.remove(project, previous)
        self._loaded_version[project] = str(version)
        self.model_load.labels(project, str(version)).set(seconds)


def exposition(registry: CollectorRegistry, accept: str = "") -> tuple[bytes, str]:
    """The exposition of ``registry`` in the format the scraper's ``Accept`` header asks for
    (Prometheus text by default, OpenMetrics on request), and its content type."""
    encode, content_type = choose_encoder(accept)
    return encode(registry), content_type
