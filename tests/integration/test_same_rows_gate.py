"""The gate decides on numbers from one set of rows, on real local ports: the case of the
issue, a retrain whose own test split flatters it (RMSE 45.0 on its split against the
champion's 49.26 on the champion's) but which is worse on the same holdout rows (54.81
against 49.26), is not approved; nor is one whose champion was not scored on its rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.config import Settings
from conveyor.pipeline.promotion import gate_version
from conveyor.pipeline.registration import Comparison, SameRows
from conveyor.ports import Ports
from conveyor.projects import create_project
from conveyor.registry.gate import GateDecision
from conveyor.types import Algorithm, ApprovalStatus, ModelVersion, ObjectRef, Project, Task
from conveyor.wiring import build_ports

HOLDOUT_ID = "h" * 64


def _version(ports: Ports, run_id: str, test_rmse: float) -> ModelVersion:
    return ports.registry.create_version(
        ModelVersion(
            project="sugar",
            version=0,
            run_id=run_id,
            artifact=ObjectRef("models", f"sugar/{run_id}/model.tar.gz"),
            sha256="a" * 64,
            dataset_id="d" * 64,
            raw=ObjectRef("raw", "sugar/x.csv"),
            task=Task.REGRESSION,
            algorithm=Algorithm.LIGHTGBM,
            primary_metric="rmse",
            metrics={"test": {"rmse": test_rmse}, "baseline": {"rmse": 77.0}},
            hyperparameters={},
            input_schema={},
            package_version="0.1.0",
            git_commit=None,
        )
    )


@pytest.fixture
def served(tmp_path: Path) -> tuple[Ports, Project, ModelVersion]:
    """Project sugar serving v1 (RMSE 49.26 on its own test split), and v2 registered."""
    ports = build_ports(Settings(home=tmp_path / "home"))
    project = create_project(ports.table, "sugar", target="progression")
    champion = _version(ports, "r1", 49.26)
    ports.endpoint.update_endpoint("sugar", 1, champion.artifact, champion.sha256)
    return ports, project, _version(ports, "r2", 45.0)


def _comparison(challenger: float, champion: float | None, version: int | None = 1) -> Comparison:
    holdout = SameRows(
        "holdout",
        45,
        HOLDOUT_ID,
        {"rmse": challenger},
        {"rmse": 77.0},
        None if champion is None else {"rmse": champion},
    )
    test = SameRows("test", 60, "d" * 64, {"rmse": 45.0}, {"rmse": 70.0}, {"rmse": 47.0})
    return Comparison(version, "holdout", {"holdout": holdout, "test": test}, HOLDOUT_ID)


def _gate(
    served: tuple[Ports, Project, ModelVersion], comparison: Comparison | None
) -> tuple[ModelVersion, GateDecision]:
    ports, project, v2 = served
    return gate_version(
        ports.registry, ports.endpoint, project, v2, comparison, greater_is_better=False
    )


def test_a_challenger_worse_on_the_same_rows_is_not_approved_whatever_its_own_split_says(
    served: tuple[Ports, Project, ModelVersion],
) -> None:
    ports = served[0]
    updated, decision = _gate(served, _comparison(challenger=54.81, champion=49.26))
    assert decision.status is ApprovalStatus.PENDING
    assert updated.approval_status is ApprovalStatus.PENDING
    assert decision.candidate == 54.81 and decision.champion == 49.26
    assert "54.8100 on the 45 holdout rows does not beat champion v1's 49.2600" in decision.reason
    gate = updated.gate or {}
    assert gate["split"] == "holdout" and gate["rows"] == 45
    assert gate["dataset_id"] == gate["holdout_id"] == HOLDOUT_ID
    assert gate["scores"]["test"]["champion"] == {"rmse": 47.0}  # both splits on record
    assert ports.endpoint.describe_endpoint("sugar").version == 1  # type: ignore[union-attr]


def test_better_on_the_same_rows_is_approved(
    served: tuple[Ports, Project, ModelVersion],
) -> None:
    _, decision = _gate(served, _comparison(challenger=47.5, champion=49.26))
    assert decision.status is ApprovalStatus.APPROVED
    assert "beats champion v1's 49.2600 on the same rows" in decision.reason


@pytest.mark.parametrize(
    ("comparison", "why"),
    [
        (None, "the evaluation did not score it"),
        (_comparison(challenger=40.0, champion=None), "approve by hand"),
        (_comparison(challenger=40.0, champion=49.26, version=None), "champion changed"),
    ],
    ids=["no comparison", "champion not scored", "champion changed"],
)
def test_without_the_champion_on_the_same_rows_a_person_decides(
    served: tuple[Ports, Project, ModelVersion], comparison: Comparison | None, why: str
) -> None:
    _, decision = _gate(served, comparison)
    assert decision.status is ApprovalStatus.PENDING
    assert why in decision.reason
