"""An evaluated artifact and its registration, without the heavy stack.

``Evaluation`` is what the evaluate stage measures; it travels as ``evaluation.json`` from
the AWS pipeline job (which has polars and numpy) to the Lambda handler that registers it
(which has neither), so this module imports only the standard library and conveyor's types.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import conveyor
from conveyor.registry import Registry
from conveyor.tabular.schema import DatasetSchema
from conveyor.types import ModelVersion, ObjectRef, Project, Run


@dataclass(frozen=True)
class Evaluation:
    primary_metric: str
    metrics: dict[str, dict[str, float]]  # "validation" | "test" | "baseline" -> name -> value
    schema: DatasetSchema
    training: dict[str, Any]
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "primary_metric": self.primary_metric,
            "metrics": self.metrics,
            "schema": self.schema.to_dict(),
            "training": self.training,
            "sha256": self.sha256,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Evaluation:
        return cls(
            primary_metric=data["primary_metric"],
            metrics={
                split: {name: float(value) for name, value in values.items()}
                for split, values in data["metrics"].items()
            },
            schema=DatasetSchema.from_dict(data["schema"]),
            training=dict(data.get("training") or {}),
            sha256=data["sha256"],
        )


def register(
    registry: Registry, run: Run, project: Project, artifact: ObjectRef, evaluation: Evaluation
) -> ModelVersion:
    """Register the evaluated artifact as the project's next version (idempotent per run)."""
    draft = ModelVersion(
        project=run.project,
        version=0,
        run_id=run.run_id,
        artifact=artifact,
        sha256=evaluation.sha256,
        dataset_id=run.dataset_id,
        raw=run.raw,
        task=evaluation.schema.task,
        algorithm=project.algorithm,
        primary_metric=evaluation.primary_metric,
        metrics=evaluation.metrics,
        hyperparameters=dict(evaluation.training.get("hyperparameters") or {}),
        input_schema=evaluation.schema.to_dict(),
        package_version=conveyor.__version__,
        git_commit=git_commit(),
    )
    return registry.create_version(draft)


def git_commit() -> str | None:
    """The commit of the conveyor checkout this code runs from, when it is one."""
    source = Path(conveyor.__file__).resolve().parent.parent
    try:
        result = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None
