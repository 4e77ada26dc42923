"""The Registry contract, run on every registry adapter (see conftest.py REGISTRIES)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conveyor.errors import NotFound
from conveyor.registry import Registry
from conveyor.types import Algorithm, ApprovalStatus, ModelVersion, ObjectRef, Task


def draft(run_id: str, project: str = "churn") -> ModelVersion:
    return ModelVersion(
        project=project,
        version=0,
        run_id=run_id,
        artifact=ObjectRef("models", f"{project}/{run_id}/model.tar.gz"),
        sha256="a" * 64,
        dataset_id="d" * 64,
        raw=ObjectRef("raw", f"{project}/{run_id}.csv"),
        task=Task.BINARY,
        algorithm=Algorithm.LIGHTGBM,
        primary_metric="roc_auc",
        metrics={"test": {"roc_auc": 0.91, "accuracy": 0.85}, "baseline": {"roc_auc": 0.5}},
        hyperparameters={"num_leaves": 31, "learning_rate": 0.05},
        input_schema={"features": [{"name": "age", "dtype": "Int64"}], "target": "churned"},
        package_version="0.1.0",
        git_commit="0123456789abcdef0123456789abcdef01234567",
    )


def test_implements_the_protocol(registry: Registry) -> None:
    assert isinstance(registry, Registry)


def test_delete_model_group_deletes_the_projects_versions_only(
    make_registry: Callable[[], Registry],
) -> None:
    registry = make_registry()
    registry.create_version(draft("r1"))
    second = registry.create_version(draft("r2"))
    registry.set_alias("churn", "champion", second.version)
    registry.create_version(draft("r1", project="fraud"))

    assert registry.delete_model_group("churn") == 2
    fresh = make_registry()
    assert fresh.list_versions("churn") == []
    assert fresh.get_aliases("churn") == {}
    with pytest.raises(NotFound):
        fresh.get_version("churn", 1)
    assert [v.version for v in fresh.list_versions("fraud")] == [1]
    assert fresh.delete_model_group("churn") == 0
    # A project made again under the name starts from version 1, not after the deleted ones.
    again = fresh.create_version(draft("r3"))
    assert again.version == 1 and again.run_id == "r3"


def test_versions_are_numbered_from_one_per_project_and_listed_newest_first(
    registry: Registry,
) -> None:
    assert [registry.create_version(draft(f"r{i}")).version for i in (1, 2, 3)] == [1, 2, 3]
    assert registry.create_version(draft("o1", project="fraud")).version == 1
    assert [v.version for v in registry.list_versions("churn")] == [3, 2, 1]
    assert [v.run_id for v in registry.list_versions("fraud")] == ["o1"]


def test_a_version_keeps_its_whole_document(registry: Registry) -> None:
    created = registry.create_version(draft("r1"))
    stored = registry.get_version("churn", 1)
    assert stored == created
    assert stored.metrics["baseline"] == {"roc_auc": 0.5}
    assert stored.hyperparameters == {"num_leaves": 31, "learning_rate": 0.05}
    assert stored.input_schema["target"] == "churned"
    assert stored.approval_status is ApprovalStatus.PENDING
    assert stored.git_commit == "0123456789abcdef0123456789abcdef01234567"


def test_registering_the_same_run_again_returns_the_first_version(registry: Registry) -> None:
    first = registry.create_version(draft("r1"))
    again = registry.create_version(draft("r1"))
    assert again.version == first.version == 1
    assert [v.version for v in registry.list_versions("churn")] == [1]
    assert registry.create_version(draft("r2")).version == 2


def test_a_new_instance_sees_what_another_registered(
    make_registry: Callable[[], Registry],
) -> None:
    make_registry().create_version(draft("r1"))
    other = make_registry()
    assert other.get_version("churn", 1).run_id == "r1"
    assert other.create_version(draft("r1")).version == 1


def test_approval_is_recorded_with_its_reason(registry: Registry) -> None:
    registry.create_version(draft("r1"))
    approved = registry.update_approval_status(
        "churn", 1, ApprovalStatus.APPROVED, "beats the champion by 0.02"
    )
    assert approved.approval_status is ApprovalStatus.APPROVED
    stored = registry.get_version("churn", 1)
    assert stored.approval_status is ApprovalStatus.APPROVED
    assert stored.status_reason == "beats the champion by 0.02"
    assert registry.list_versions("churn")[0].approval_status is ApprovalStatus.APPROVED

    registry.update_approval_status("churn", 1, ApprovalStatus.REJECTED, "drift found")
    assert registry.get_version("churn", 1).approval_status is ApprovalStatus.REJECTED


def test_the_gate_decision_and_its_numbers_are_recorded(registry: Registry) -> None:
    registry.create_version(draft("r1"))
    gate = {"passed": False, "candidate": 0.91, "champion": 0.95, "rule": "min_absolute_change"}
    updated = registry.update_approval_status(
        "churn", 1, ApprovalStatus.REJECTED, "worse than the champion", gate=gate
    )
    assert updated.gate == gate
    stored = registry.get_version("churn", 1)
    assert stored.gate == gate
    assert stored.approval_status is ApprovalStatus.REJECTED
    assert stored.status_reason == "worse than the champion"


def test_aliases_point_at_versions(registry: Registry) -> None:
    registry.create_version(draft("r1"))
    registry.create_version(draft("r2"))
    assert registry.get_aliases("churn") == {}
    registry.set_alias("churn", "champion", 1)
    registry.set_alias("churn", "champion", 2)
    registry.set_alias("churn", "previous", 1)
    assert registry.get_aliases("churn") == {"champion": 2, "previous": 1}
    assert registry.get_aliases("fraud") == {}


def test_tags_are_merged(registry: Registry) -> None:
    registry.create_version(draft("r1"))
    registry.set_tags("churn", 1, {"owner": "ana", "stage": "trial"})
    merged = registry.set_tags("churn", 1, {"stage": "production"})
    assert merged.tags == {"owner": "ana", "stage": "production"}
    assert registry.get_version("churn", 1).tags == {"owner": "ana", "stage": "production"}


def test_a_project_without_versions_lists_none(registry: Registry) -> None:
    assert registry.list_versions("nothing-here") == []


@pytest.mark.parametrize(
    "action",
    [
        lambda r: r.get_version("churn", 7),
        lambda r: r.get_version("nothing-here", 1),
        lambda r: r.update_approval_status("churn", 7, ApprovalStatus.APPROVED, "ok"),
        lambda r: r.update_approval_status("churn", 7, ApprovalStatus.REJECTED, "no", gate={}),
        lambda r: r.set_alias("churn", "champion", 7),
        lambda r: r.set_tags("churn", 7, {"owner": "ana"}),
    ],
    ids=["get", "get-unknown-project", "approve", "gate", "alias", "tags"],
)
def test_an_unknown_version_is_not_found(
    registry: Registry, action: Callable[[Registry], object]
) -> None:
    registry.create_version(draft("r1"))
    with pytest.raises(NotFound):
        action(registry)
    assert registry.get_aliases("churn") == {}
