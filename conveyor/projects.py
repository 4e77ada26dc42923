"""Projects: a name, a target column and how to train on it, stored in the Table."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from conveyor.errors import AlreadyExists, InvalidInput, NotFound
from conveyor.tables import Table
from conveyor.types import Algorithm, ColumnKind, Project, Task

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
    max_reject_share: float = 0.10,
) -> Project:
    """Create a project.

    Raises:
        InvalidInput: bad name, empty target or unknown metric.
        AlreadyExists: a project of this name exists.
    """
    validate_name(name)
    if not target.strip():
        raise InvalidInput("--target must name the column to predict", field="target")
    if not 0.0 <= max_reject_share <= 1.0:
        raise InvalidInput(
            f"--max-reject-share must be between 0 and 1 (0.1 sets aside up to 10% of the "
            f"rows), got {max_reject_share}",
            field="max_reject_share",
        )
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
        max_reject_share=max_reject_share,
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


def column_kind(kind: str, *, column: str | None = None) -> ColumnKind:
    """``kind`` as a ColumnKind.

    Raises:
        InvalidInput: not one of the kinds; the message lists them.
    """
    try:
        return ColumnKind(kind.strip().lower())
    except ValueError:
        where = f" for column {column!r}" if column is not None else ""
        valid = ", ".join(k.value for k in ColumnKind)
        raise InvalidInput(f"kind {kind!r}{where} is not one of: {valid}", field="kind") from None


def set_column_kinds(
    table: Table, name: str, kinds: Mapping[str, str | None], *, replace_all: bool = False
) -> Project:
    """Set (or, with a ``None`` kind, clear) what columns of project ``name`` are; the next
    run's preprocessing follows them.

    Args:
        kinds: column name (as in the file) -> a ColumnKind value, or None to clear it.
        replace_all: drop every kind set before instead of merging into them.
    Returns:
        The project as stored.
    Raises:
        NotFound: no such project.
        InvalidInput: an unknown kind, an empty column name, or the project's target.
    """
    project = get_project(table, name)
    merged = {} if replace_all else dict(project.column_kinds)
    for column, kind in kinds.items():
        if not isinstance(column, str) or not column.strip():
            raise InvalidInput("a column name must not be empty", field="column")
        if kind is None:
            merged.pop(column, None)
            continue
        parsed = column_kind(kind, column=column)
        if column == project.target:
            raise InvalidInput(
                f"{column!r} is the project's target: how it is read follows the project's "
                f"task ({project.task.value}: auto, binary, multiclass or regression), not a "
                "column kind",
                field="column",
            )
        merged[column] = parsed.value
    updated = replace(project, column_kinds=merged)
    table.put({"pk": _PK, "sk": name, **updated.to_dict()})
    return updated
