"""Projects: a name, a target column and how to train on it, stored in the Table."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import replace
from enum import Enum
from typing import Any

from conveyor.errors import AlreadyExists, InvalidInput, NotFound
from conveyor.tables import Table
from conveyor.types import Algorithm, ColumnKind, Preset, Project, Task

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
    preset: Preset = Preset.FAST,
    time_budget: float | None = None,
) -> Project:
    """Create a project.

    Raises:
        InvalidInput: bad name, empty target, unknown metric, a hyperparameter the algorithm
            does not know, or a setting out of range.
        AlreadyExists: a project of this name exists.
    """
    validate_name(name)
    project = _checked(
        Project(
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
            preset=preset,
            time_budget=time_budget,
        )
    )
    try:
        table.put({"pk": _PK, "sk": name, **project.to_dict()}, if_not_exists=True)
    except AlreadyExists as exc:
        raise AlreadyExists(f"project {name!r} already exists", field="project") from exc
    return project


# What ``update_project`` may change; the run that follows records them (``run_settings``).
UPDATABLE = (
    "target",
    "task",
    "metric",
    "algorithm",
    "hyperparameters",
    "metric_floor",
    "min_absolute_change",
    "min_relative_change",
    "manual_deploy",
    "max_reject_share",
    "preset",
    "time_budget",
)
# Settings added after runs were recorded without them: such a run trained as their default.
_LATER_DEFAULTS: dict[str, Any] = {"preset": Preset.FAST.value, "time_budget": None}


def update_project(
    table: Table, name: str, changes: Mapping[str, Any], *, has_versions: bool
) -> Project:
    """Change a project's settings; its next run trains, gates and deploys with them.

    Args:
        changes: setting (one of ``UPDATABLE``) -> new value; the rest stay as they are.
        has_versions: the project has registered versions (its target is then fixed: they
            predict that column).
    Returns:
        The project as stored.
    Raises:
        NotFound: no such project.
        InvalidInput: an unknown setting or a bad value (as ``create_project``), or a new
            target once versions exist.
    """
    project = get_project(table, name)
    unknown = sorted(set(changes) - set(UPDATABLE))
    if unknown:
        raise InvalidInput(
            f"cannot change {', '.join(unknown)}; a project's settings are: {', '.join(UPDATABLE)}",
            field=unknown[0],
        )
    values = dict(changes)
    if "task" in values:
        values["task"] = Task(values["task"])
    if "algorithm" in values:
        values["algorithm"] = Algorithm(values["algorithm"])
    if "hyperparameters" in values:
        values["hyperparameters"] = dict(values["hyperparameters"] or {})
    if "preset" in values:
        values["preset"] = Preset(values["preset"])
    new_target = values.get("target", project.target)
    if new_target != project.target and has_versions:
        raise InvalidInput(
            f"project {name!r} has versions trained to predict {project.target!r}; its target "
            f"cannot change. Create another project for {new_target!r}",
            field="target",
        )
    updated = replace(project, **values)
    try:
        _checked(updated)
    except InvalidInput as exc:
        if exc.field == "params" and "hyperparameters" not in values:
            raise InvalidInput(
                f"{exc.message}. The project's --params were set for "
                f"{project.algorithm.value}: give new ones with --algorithm (--params '{{}}' "
                "clears them)",
                field="params",
            ) from exc
        raise
    table.put({"pk": _PK, "sk": name, **updated.to_dict()})
    return updated


def _checked(project: Project) -> Project:
    """The project, once its settings are ones a run can use.

    Raises:
        InvalidInput: the first setting that is not, with what to give instead.
    """
    if not project.target.strip():
        raise InvalidInput("--target must name the column to predict", field="target")
    if not 0.0 <= project.max_reject_share <= 1.0:
        raise InvalidInput(
            f"--max-reject-share must be between 0 and 1 (0.1 sets aside up to 10% of the "
            f"rows), got {project.max_reject_share}",
            field="max_reject_share",
        )
    for field, value in (
        ("min_absolute_change", project.min_absolute_change),
        ("min_relative_change", project.min_relative_change),
    ):
        if not value >= 0.0:
            raise InvalidInput(
                f"{field} is how much a new version must beat the champion by: 0 or more, "
                f"got {value}",
                field=field,
            )
    if project.metric is not None:
        from conveyor.model.metrics import METRICS, greater_is_better

        greater_is_better(project.metric)  # raises InvalidInput listing the valid names
        fits = METRICS[project.metric].tasks
        if project.task is not Task.AUTO and project.task not in fits:
            raise InvalidInput(
                f"metric {project.metric!r} does not score a {project.task.value} model; "
                f"for {project.task.value} use one of: "
                f"{', '.join(m.name for m in METRICS.values() if project.task in m.tasks)}",
                field="metric",
            )
    if project.time_budget is not None:
        from conveyor.model.budget import parse_budget

        parse_budget(project.time_budget)  # raises InvalidInput saying what to give
    if project.hyperparameters:
        from conveyor.model.params import check_parameters

        check_parameters(project.algorithm, project.hyperparameters)
    return project


def check_upload_flags(project: Project, given: Mapping[str, Any]) -> None:
    """Refuse an upload's project flags that differ from the project's settings: an upload
    does not change a project, ``conveyor project update`` does.

    Args:
        given: setting (one of ``UPDATABLE``) -> the value the upload was given; settings not
            given are left out (or None).
    Raises:
        InvalidInput: a given value differs from the project's; the message names the
            command that changes it.
    """
    current = project.to_dict()
    for key, value in given.items():
        if value is None:
            continue
        wanted = value.value if isinstance(value, Enum) else value
        if wanted != current[key]:
            flag = _FLAGS.get(key, "--" + key.replace("_", "-"))
            shown = f"'{json.dumps(wanted)}'" if isinstance(wanted, dict) else wanted
            raise InvalidInput(
                f"project {project.name!r} has {flag} {current[key]!r}, and an upload does not "
                f"change it: to train with {flag} {shown}, run `conveyor project update "
                f"{project.name} {flag} {shown}` first (or leave {flag} out of the upload)",
                field=key,
            )


_FLAGS = {"hyperparameters": "--params", "metric_floor": "--floor", "time_budget": "--time-budget"}


def run_settings(project: Project) -> dict[str, Any]:
    """The settings a run of ``project`` trains, gates and deploys with (what a run records)."""
    data = project.to_dict()
    return {key: data[key] for key in (*UPDATABLE, "column_kinds")}


def changed_settings(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """The settings that differ: name -> ``{"from": old, "to": new}``."""

    def was(key: str) -> Any:
        return before.get(key, _LATER_DEFAULTS.get(key))

    return {
        key: {"from": was(key), "to": value} for key, value in after.items() if was(key) != value
    }


def get_project(table: Table, name: str) -> Project:
    item = table.get(_PK, name)
    if item is None:
        raise NotFound(
            f"no project {name!r}; create it with `conveyor project create {name} --target COLUMN` "
            "or upload with --target",
            field="project",
        )
    return Project.from_dict(item)


def delete_project_item(table: Table, name: str) -> None:
    """Remove the project's own entry (``pipeline.project_delete`` removes what it owns
    first)."""
    table.delete(_PK, name)


def find_project(table: Table, name: str) -> Project | None:
    item = table.get(_PK, name)
    return Project.from_dict(item) if item is not None else None


def list_projects(table: Table) -> list[Project]:
    return [Project.from_dict(item) for item in table.query(_PK)]


def describe_changes(changed: Mapping[str, Any]) -> str:
    """``changed_settings``'s result as one line: ``algorithm lightgbm → sklearn, …``."""

    def shown(value: Any) -> str:
        return json.dumps(value, sort_keys=True) if isinstance(value, dict) else str(value)

    return ", ".join(
        f"{key} {shown(change['from'])} → {shown(change['to'])}" for key, change in changed.items()
    )


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
