"""The registry and run store on a real SQLite table."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from conveyor.errors import Conflict, NotFound
from conveyor.pipeline.runs import RunStore
from conveyor.registry.table import TableRegistry
from conveyor.storage.local import LocalObjectStore
from conveyor.tables.sqlite import SqliteTable
from conveyor.types import (
    Algorithm,
    ApprovalStatus,
    ModelVersion,
    ObjectRef,
    RunState,
    Task,
)


@pytest.fixture
def table(tmp_path: Path) -> SqliteTable:
    return SqliteTable(path=tmp_path / "conveyor.db")


@pytest.fixture
def registry(table: SqliteTable, tmp_path: Path) -> TableRegistry:
    return TableRegistry(table=table, store=LocalObjectStore(root=tmp_path / "buckets"))


def draft(run_id: str, project: str = "churn") -> ModelVersion:
    return ModelVersion(
        project=project,
        version=0,
        run_id=run_id,
        artifact=ObjectRef("models", f"{project}/{run_id}/model.tar.gz"),
        sha256="a" * 64,
        dataset_id="d" * 64,
        raw=ObjectRef("raw", f"{project}/x.csv"),
        task=Task.BINARY,
        algorithm=Algorithm.LIGHTGBM,
        primary_metric="roc_auc",
        metrics={"test": {"roc_auc": 0.9}},
        hyperparameters={},
        input_schema={},
        package_version="0.1.0",
        git_commit=None,
    )


def test_versions_are_numbered_per_project_from_one(registry: TableRegistry) -> None:
    assert registry.create_version(draft("r1")).version == 1
    assert registry.create_version(draft("r2")).version == 2
    assert registry.create_version(draft("r3", project="other")).version == 1
    assert [v.version for v in registry.list_versions("churn")] == [2, 1]


def test_registering_the_same_run_twice_returns_the_first_version(registry: TableRegistry):
    first = registry.create_version(draft("r1"))
    again = registry.create_version(draft("r1"))
    assert again.version == first.version
    assert len(registry.list_versions("churn")) == 1


def test_concurrent_registrations_get_distinct_numbers(registry: TableRegistry) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        numbers = list(
            pool.map(lambda i: registry.create_version(draft(f"r{i}")).version, range(16))
        )
    assert sorted(numbers) == list(range(1, 17))


def test_approval_status_and_tags_round_trip(registry: TableRegistry) -> None:
    registry.create_version(draft("r1"))
    registry.update_approval_status("churn", 1, ApprovalStatus.APPROVED, "beats baseline")
    registry.set_tags("churn", 1, {"owner": "ana"})
    stored = registry.get_version("churn", 1)
    assert stored.approval_status is ApprovalStatus.APPROVED
    assert stored.status_reason == "beats baseline"
    assert stored.tags == {"owner": "ana"}
    with pytest.raises(NotFound):
        registry.get_version("churn", 7)


def test_same_dataset_makes_one_run_unless_it_failed(table: SqliteTable) -> None:
    runs = RunStore(table)
    raw = ObjectRef("raw", "churn/a.csv")
    first, created = runs.create("churn", raw, "d1")
    assert created
    again, created_again = runs.create("churn", ObjectRef("raw", "churn/b.csv"), "d1")
    assert not created_again and again.run_id == first.run_id
    runs.fail(runs.advance(first, RunState.PREPROCESSING), "bad file")
    retry, created_retry = runs.create("churn", raw, "d1")
    assert created_retry and retry.run_id != first.run_id
    assert retry.report["previous_failed_run"] == first.run_id


def test_a_stale_copy_of_a_run_cannot_overwrite_a_newer_state(table: SqliteTable) -> None:
    runs = RunStore(table)
    run, _ = runs.create("churn", ObjectRef("raw", "churn/a.csv"), "d1")
    moved = runs.advance(run, RunState.PREPROCESSING)
    with pytest.raises(Conflict):
        runs.advance(run, RunState.FAILED)  # `run` is the QUEUED copy
    assert runs.get(run.run_id).state is RunState.PREPROCESSING
    assert replace(moved, report={}).state is RunState.PREPROCESSING
