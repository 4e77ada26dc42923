"""GET /metrics over real HTTP from `conveyor serve`, after real requests and a real run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import conveyor
from tests.e2e.conftest import CONVEYOR, free_port, post
from tests.rows import CHURN_ROW as ROW

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def server(home: Path) -> Iterator[int]:
    port = free_port()
    process = subprocess.Popen(
        [str(CONVEYOR), "serve", "--port", str(port)],
        env={**os.environ, "CONVEYOR_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_health(port)
        yield port
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr


def _wait_for_health(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as answer:
                if json.loads(answer.read())["models"]:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("conveyor serve did not load a model within 60 s")


def scrape(port: int) -> tuple[str, Samples]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        content_type = answer.headers["content-type"]
        text = answer.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return content_type, samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def test_metrics_count_requests_by_status_latency_and_rows(server: int) -> None:
    for _ in range(3):
        assert post(server, "/predict/churn", {"instances": [ROW]})[0] == 200
    assert post(server, "/predict/churn", {"instances": [ROW, ROW]})[0] == 200
    assert post(server, "/predict/churn", {"instances": [{**ROW, "age": "old"}]})[0] == 400
    assert post(server, "/predict/churn", {"instances": "no"})[0] == 400
    assert post(server, "/predict/made-up", {"instances": [ROW]})[0] == 404
    assert post(server, "/invocations", {"instances": [ROW]})[0] == 200  # FastAPI route
    assert post(server, "/invocations", [{"age": "old"}])[0] == 400

    content_type, samples = scrape(server)

    assert content_type.startswith("text/plain; version=0.0.4")
    requests = "conveyor_requests_total"
    assert value(samples, requests, project="churn", version="1", status="200") == 5
    assert value(samples, requests, project="churn", version="1", status="400") == 3
    # A project nobody serves is counted, under one label whatever the name asked for.
    assert value(samples, requests, project="_unknown", version="", status="404") == 1
    duration = "conveyor_request_duration_seconds"
    assert value(samples, f"{duration}_count", project="churn") == 8
    assert value(samples, f"{duration}_bucket", project="churn", le="+Inf") == 8
    assert 0 < (value(samples, f"{duration}_sum", project="churn") or 0) < 8
    assert value(samples, "conveyor_rows_predicted_total", project="churn", version="1") == 6
    load = value(samples, "conveyor_model_load_seconds", project="churn", version="1")
    assert load is not None and 0 < load < 60


def test_metrics_show_the_pipeline_run_that_trained_the_model(server: int, home: Path) -> None:
    (run,) = conveyor(home, "runs", "list")  # type: ignore[misc]
    _, samples = scrape(server)

    stage = "conveyor_pipeline_stage_duration_seconds"
    for name, timing in run["stages"].items():
        labels = {"project": "churn", "stage": name, "outcome": "success"}
        assert value(samples, f"{stage}_count", **labels) == 1, name
        assert value(samples, f"{stage}_sum", **labels) == pytest.approx(timing["seconds"])
    assert set(run["stages"]) == {"preprocess", "train", "evaluate"}
    assert value(samples, "conveyor_pipeline_runs_total", project="churn", state="DEPLOYED") == 1
    assert value(samples, "conveyor_queue_depth") == 0


def test_metrics_are_documented_and_speak_openmetrics_when_asked(server: int) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{server}/openapi.json", timeout=10) as answer:
        paths = json.loads(answer.read())["paths"]
    assert "get" in paths["/metrics"]
    request = urllib.request.Request(
        f"http://127.0.0.1:{server}/metrics",
        headers={"accept": "application/openmetrics-text; version=1.0.0"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.headers["content-type"].startswith("application/openmetrics-text")
        assert answer.read().decode().rstrip().endswith("# EOF")
