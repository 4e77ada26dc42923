"""The Metrics port's two adapters: the Prometheus request metrics a server exposes, and the
EMF documents a Lambda handler prints; both count the same request the same way."""

from __future__ import annotations

import io
import json

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from conveyor.metrics import Metrics
from conveyor.metrics.cloudwatch import EmfMetrics
from conveyor.metrics.prometheus import RequestMetrics

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples_of(*collectors: object) -> Samples:
    registry = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        registry.register(collector)  # type: ignore[arg-type]
    found: Samples = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


class Families:
    def __init__(self, families: list[object]) -> None:
        self.families = families

    def collect(self) -> list[object]:
        return self.families


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def test_a_model_swap_replaces_the_load_time_series() -> None:
    registry = CollectorRegistry()
    metrics = RequestMetrics(registry)
    metrics.model_loaded("churn", 1, 0.5)
    metrics.model_loaded("churn", 2, 0.25)
    samples = samples_of(Families(list(registry.collect())))
    assert value(samples, "conveyor_model_load_seconds", project="churn", version="2") == 0.25
    assert value(samples, "conveyor_model_load_seconds", project="churn", version="1") is None


def test_both_adapters_count_a_request_as_the_port_says() -> None:
    registry = CollectorRegistry()
    stream = io.StringIO()
    adapters: list[Metrics] = [RequestMetrics(registry), EmfMetrics("Conveyor", stream)]
    for metrics in adapters:
        assert isinstance(metrics, Metrics)
        metrics.observe("churn", 3, 200, 0.012, 5)

    samples = samples_of(Families(list(registry.collect())))
    labels = {"project": "churn", "version": "3"}
    assert value(samples, "conveyor_requests_total", **labels, status="200") == 1
    assert value(samples, "conveyor_rows_predicted_total", **labels) == 5
    document = json.loads(stream.getvalue())
    assert document["Requests"] == 1.0 and document["RowsPredicted"] == 5.0
    assert document["Latency"] == 12.0 and document["Project"] == "churn"
