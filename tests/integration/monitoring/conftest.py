"""A real SQLite home with inference records written as the server writes them."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from conveyor.config import Settings
from conveyor.inference.records import InferenceRecord
from conveyor.metrics.alarm_rules import AlarmMetric, AlarmRule
from conveyor.ports import Ports
from conveyor.types import Algorithm, ApprovalStatus, ModelVersion, ObjectRef, Task
from conveyor.wiring import build_ports

WriteRecords = Callable[..., int]


@pytest.fixture
def ports(tmp_path: Path) -> Ports:
    return build_ports(Settings(home=tmp_path / "home"))


@pytest.fixture
def write_records(ports: Ports) -> WriteRecords:
    """Write ``count`` records evenly spread over ``[start, start + seconds)``."""

    def write(
        start: datetime,
        seconds: float,
        count: int,
        *,
        latency_ms: float = 5.0,
        status: int = 200,
        version: int = 1,
        project: str = "churn",
    ) -> int:
        step = seconds / count
        records = [
            InferenceRecord(
                project=project,
                timestamp=start + timedelta(seconds=i * step),
                request_id=f"{version}-{status}-{start.timestamp()}-{i}",
                model_version=version,
                latency_ms=latency_ms,
                inputs=None,
                outputs=None if status != 200 else {"predictions": ["no"]},
                status=status,
                error=None if status == 200 else "boom",
            ).to_item()
            for i in range(count)
        ]
        return ports.table.put_many(records)

    return write


def register_version(ports: Ports, version: int, project: str = "churn") -> ModelVersion:
    """A registry version whose artifact is never loaded (the guardrail moves deployment
    records; loading is the deploy stage's job, tested elsewhere); its stored bytes match
    its sha256, which a rollback checks."""
    artifact = ObjectRef("models", f"{project}/run-{version}/model.tar.gz")
    body = f"the artifact of {project} run-{version}".encode()
    ports.store.put(artifact.bucket, artifact.key, body)
    draft = ModelVersion(
        project=project,
        version=0,
        run_id=f"run-{version}",
        artifact=artifact,
        sha256=hashlib.sha256(body).hexdigest(),
        dataset_id="d",
        raw=ObjectRef("raw", f"{project}/data.csv"),
        task=Task.BINARY,
        algorithm=Algorithm.LIGHTGBM,
        primary_metric="roc_auc",
        metrics={"test": {"roc_auc": 0.8}, "baseline": {"roc_auc": 0.5}},
        hyperparameters={},
        input_schema={"features": []},
        package_version="0",
        git_commit=None,
        approval_status=ApprovalStatus.APPROVED,
    )
    created = ports.registry.create_version(draft)
    assert created.version == version
    return created


def deploy(ports: Ports, model: ModelVersion) -> None:
    ports.endpoint.update_endpoint(model.project, model.version, model.artifact, model.sha256)
    ports.registry.set_alias(model.project, "champion", model.version)


def errors_fast(*actions: dict[str, str]) -> AlarmRule:
    """An error-rate alarm of churn that one 10 s period of mostly 5xx answers sets off."""
    return AlarmRule(
        "errors-fast",
        "churn",
        AlarmMetric.ERROR_RATE,
        ">",
        0.1,
        period_seconds=10,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        actions=actions,
    )
