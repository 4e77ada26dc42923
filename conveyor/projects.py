"""Projects: a name, a target column and how to train on it, stored in the Table."""

from __future__ import annotations

import re

from conveyor.errors import AlreadyExists, InvalidInput, NotFound
from conveyor.tables import Table
from conveyor.types import Algorithm, Project, Task

_PK = "project"
# SageMaker model package group names allow letters, digits and hyphens, 63 at most;
# lower case keeps bucket keys and folder names portable.
_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def validate_name(name: str) -> str:
    if not _NAME.match(name):
        raise InvalidInput(
            f"project name {name!r} is not valid: use 1-63 lower-case letters, digits and "
            "hyphens, starting and ending with a letter or digit (e.g. 'churn-2024')",
            field="project",
        )
    return name


def create_project(
    table: Table,
    name: str,
    *,
    target: str,
    task: Task = Task.AUTO,
    metric: str | None = None,
    algorithm: Algorithm = Algorithm.LIGHTGBM,
    hyperparameters: dict[str, object] | None = None,
    metric_floor: float | None = None,
    min_absolute_change: float = 0.0,
    min_relative_change: float = 0.0,
    manual_deploy: bool = False,
) -> Project:
    """Create a project.

    Raises:
        InvalidInput: bad name, empty target or unknown metric.
        AlreadyExists: a project of this name exists.
    """
    validate_name(name)
    if not target.strip():
        raise InvalidInput("--target must name the column to predict", field="target")
    if metric is not None:
        from conveyor.model.metrics import greater_is_better

        greater_is_better(metric)  # raises InvalidInput listing the valid names
    project = Project(
        name=name,
        target=target,
        task=task,
        metric=metric,
        algorithm=algorithm,
        hyperparameters=dict(hyperparameters or {}),
        metric_floor=metric_floor,
        min_absolute_change=min_absolute_change,
        min_relative_change=min_relative_change,
        manual_deploy=manual_deploy,
    )
    try:
        table.put({"pk": _PK, "sk": name, **project.to_dict()}, if_not_exists=True)
    except AlreadyExists as exc:
        raise AlreadyExists(f"project {name!r} already exists", field="project") from exc
    return project


def get_project(table: Table, name: str) -> Project:
    item = table.get(_PK, name)
    if item is None:
        raise NotFound(
            f"no project {name!r}; create it with `conveyor project create {name} --target COLUMN` "
            "or upload with --target",
            field="project",
        )
    return Project.from_dict(item)


def find_project(table: Table, name: str) -> Project | None:
    item = table.get(_PK, name)
    return Project.from_dict(item) if item is not None else None


def list_projects(table: Table) -> list[Project]:
    return [Project.from_dict(item) for item in table.query(_PK)]
