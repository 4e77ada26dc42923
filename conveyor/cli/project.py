"""``conveyor project``: create and inspect projects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table as RichTable

from conveyor.cli._arguments import JsonOption, ProjectArg
from conveyor.cli._context import CliState
from conveyor.cli._output import console, print_json
from conveyor.errors import InvalidInput
from conveyor.model.budget import parse_budget
from conveyor.projects import (
    create_project,
    get_project,
    list_projects,
    set_column_kinds,
    update_project,
)
from conveyor.types import Algorithm, ColumnKind, ModelVersion, Preset, Project, Task

app = typer.Typer(help="Create and inspect projects.", no_args_is_help=True)

TaskOption = Annotated[Task, typer.Option("--task", help="What kind of prediction.")]
MetricOption = Annotated[
    str | None,
    typer.Option("--metric", help="Primary metric (default: roc_auc, f1_macro or rmse by task)."),
]
AlgorithmOption = Annotated[Algorithm, typer.Option("--algorithm", help="Model family.")]
ParamsOption = Annotated[
    str | None,
    typer.Option("--params", help="Model hyperparameters as JSON, e.g. '{\"num_leaves\": 15}'."),
]
PresetOption = Annotated[
    Preset | None,
    typer.Option(
        "--preset",
        help="How hard training looks for the model: fast (one fit of --algorithm, the "
        "default), balanced or best (a search of model families and LightGBM settings "
        "within --time-budget).",
    ),
]
TimeBudgetOption = Annotated[
    str | None,
    typer.Option(
        "--time-budget",
        help="The search's time budget: seconds, or 30s, 5m, 1h ('default' scales it with the "
        "data's rows x columns).",
    ),
]
FloorOption = Annotated[
    str | None,
    typer.Option(
        "--floor", help="The primary metric a version must reach to be approved, or 'none'."
    ),
]
MinImprovementOption = Annotated[
    float | None,
    typer.Option(
        "--min-improvement",
        help="How much a version must beat the champion's metric by (absolute, e.g. 0.01).",
    ),
]
MinRelativeOption = Annotated[
    float | None,
    typer.Option(
        "--min-relative-improvement",
        help="The same margin as a share of the champion's metric (0.02 = 2%).",
    ),
]
ManualDeployOption = Annotated[
    bool | None,
    typer.Option(
        "--manual-deploy/--auto-deploy",
        help="Manual: the gate never deploys; a version it would approve waits, "
        "PendingManualApproval, for `conveyor models approve`.",
    ),
]
RejectShareOption = Annotated[
    float | None,
    typer.Option(
        "--max-reject-share",
        help="Share of rows of the wrong width set aside before a run fails (0 to 1; default 0.1).",
    ),
]


def parse_params(params: str | None) -> dict[str, object]:
    if not params:
        return {}
    try:
        parsed = json.loads(params)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"--params is not JSON: {exc.msg}", field="params") from exc
    if not isinstance(parsed, dict):
        raise InvalidInput("--params must be a JSON object", field="params")
    return parsed


def parse_time_budget(text: str | None) -> float | None:
    """``--time-budget`` in seconds; None for 'default' (or not given).

    Raises:
        InvalidInput: not a duration.
    """
    if text is None or text.strip().lower() == "default":
        return None
    return parse_budget(text)


def show_project(item: Project, as_json: bool, latest: ModelVersion | None = None) -> None:
    """The project's settings; ``latest`` (its newest version) says what "auto" and
    "default" came to when it was trained."""
    if as_json:
        print_json(item.to_dict())
        return
    task, metric = str(item.task), item.metric or "default"
    if latest is not None and item.task is Task.AUTO:
        task += f" ({latest.task} in v{latest.version})"
    if latest is not None and not item.metric:
        metric += f" ({latest.primary_metric} in v{latest.version})"
    console.print(
        f"[bold]{item.name}[/]: predicts [cyan]{item.target}[/] "
        f"(task {task}, metric {metric}, algorithm {item.algorithm})",
        highlight=False,
    )
    if item.hyperparameters:
        console.print(f"hyperparameters {json.dumps(item.hyperparameters, sort_keys=True)}")
    if item.preset is not Preset.FAST:
        budget = (
            "the default for the data's size"
            if item.time_budget is None
            else f"{item.time_budget:g} s"
        )
        console.print(f"preset {item.preset}: searches models within {budget}", highlight=False)
    floor = "none" if item.metric_floor is None else f"{item.metric_floor:g}"
    margin = f"{item.min_absolute_change:g}"
    if item.min_relative_change:
        margin += f" or {item.min_relative_change:.1%} of the champion's"
    deploys = (
        "waits for a person (manual deploy)" if item.manual_deploy else "deploys automatically"
    )
    console.print(
        f"gate: floor {floor}, beat the champion by {margin}; an approved version {deploys}",
        highlight=False,
    )
    console.print(
        f"rows of the wrong width set aside up to {item.max_reject_share:.0%} of a file "
        "before its run fails"
    )
    if item.column_kinds:
        kinds = RichTable("column", "kind (set by you)", box=None, padding=(0, 2))
        for column, kind in sorted(item.column_kinds.items()):
            kinds.add_row(column, kind)
        console.print(kinds)


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Project name (lower-case, digits, hyphens).")],
    target: Annotated[str, typer.Option("--target", help="The column to predict.")],
    task: TaskOption = Task.AUTO,
    metric: MetricOption = None,
    algorithm: AlgorithmOption = Algorithm.LIGHTGBM,
    params: ParamsOption = None,
    max_reject_share: RejectShareOption = None,
    preset: PresetOption = None,
    time_budget: TimeBudgetOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a project: what to predict and how to train (`conveyor project update` sets how
    its versions are gated and deployed)."""
    state: CliState = ctx.obj
    item = create_project(
        state.ports.table,
        name,
        target=target,
        task=task,
        metric=metric,
        algorithm=algorithm,
        hyperparameters=parse_params(params),
        max_reject_share=0.10 if max_reject_share is None else max_reject_share,
        preset=preset or Preset.FAST,
        time_budget=parse_time_budget(time_budget),
    )
    show_project(item, as_json)


@app.command("update")
def update(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The project.")],
    target: Annotated[
        str | None,
        typer.Option("--target", help="The column to predict (only while it has no versions)."),
    ] = None,
    task: Annotated[Task | None, typer.Option("--task", help="What kind of prediction.")] = None,
    metric: MetricOption = None,
    algorithm: Annotated[
        Algorithm | None, typer.Option("--algorithm", help="Model family.")
    ] = None,
    params: ParamsOption = None,
    floor: FloorOption = None,
    min_improvement: MinImprovementOption = None,
    min_relative_improvement: MinRelativeOption = None,
    manual_deploy: ManualDeployOption = None,
    max_reject_share: RejectShareOption = None,
    preset: PresetOption = None,
    time_budget: TimeBudgetOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change a project's settings; its next run (an upload, `conveyor retrain`) uses them and
    records what changed."""
    state: CliState = ctx.obj
    given: dict[str, object | None] = {
        "target": target,
        "task": task,
        "metric": metric,
        "algorithm": algorithm,
        "hyperparameters": parse_params(params) if params is not None else None,
        "metric_floor": _parse_floor(floor) if floor is not None else None,
        "min_absolute_change": min_improvement,
        "min_relative_change": min_relative_improvement,
        "manual_deploy": manual_deploy,
        "max_reject_share": max_reject_share,
        "preset": preset,
        "time_budget": parse_time_budget(time_budget),
    }
    changes = {key: value for key, value in given.items() if value is not None}
    if floor is not None:
        changes["metric_floor"] = given["metric_floor"]  # 'none' clears it
    if time_budget is not None:
        changes["time_budget"] = given["time_budget"]  # 'default' clears it
    if not changes:
        raise InvalidInput(
            "nothing to change: give at least one setting, e.g. --params '{\"num_leaves\": 15}'",
            field="project",
        )
    item = update_project(
        state.ports.table,
        name,
        changes,
        has_versions=bool(state.ports.registry.list_versions(name)),
    )
    show_project(item, as_json)
    if not as_json:
        console.print(
            f"the next run of {name} uses these settings: upload a file, or "
            f"`conveyor retrain {name}`",
            highlight=False,
        )


@app.command("delete")
def delete(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The project.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Delete it even while it serves a model.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Delete a project and everything it owns: its deployment, registry versions, runs,
    inference records, feedback, alarms, drift reports and files. Refused while it serves a
    model unless --force."""
    from conveyor.pipeline.project_delete import check_deletable, delete_project

    state: CliState = ctx.obj
    ports = state.ports
    # A missing project, or one that serves without --force, is said before asking anything.
    deployment = check_deletable(ports, name, force=force)
    if not yes:
        serving = f" It serves version {deployment.version}." if deployment else ""
        versions = len(ports.registry.list_versions(name))
        if not typer.confirm(
            f"Delete project {name!r}, its {versions} version(s), runs, records, alarms and "
            f"files? This cannot be undone.{serving}",
            default=False,
            err=True,
        ):
            raise InvalidInput(f"not deleted: {name!r} is as it was", field="project")
    deleted = delete_project(ports, name, force=force)
    if as_json:
        print_json(deleted.to_dict())
        return
    files = sum(deleted.objects.values())
    records = sum(deleted.records.values())
    console.print(
        f"deleted project {name}: {deleted.versions} version(s), {deleted.runs} run(s), "
        f"{records} record(s), {files} file(s)"
        + (f", {deleted.job_folders} training job folder(s)" if deleted.job_folders else "")
        + (
            f"; it no longer serves version {deleted.served_version}"
            if deleted.served_version
            else ""
        ),
        highlight=False,
    )


def _parse_floor(text: str) -> float | None:
    if text.strip().lower() == "none":
        return None
    try:
        return float(text)
    except ValueError:
        raise InvalidInput(
            f"--floor must be a number (the primary metric's minimum) or 'none', not {text!r}",
            field="metric_floor",
        ) from None


@app.command("list")
def list_(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List projects."""
    state: CliState = ctx.obj
    items = list_projects(state.ports.table)
    if as_json:
        print_json([p.to_dict() for p in items])
        return
    table = RichTable("project", "target", "task", "metric", "algorithm", "created")
    for p in items:
        table.add_row(
            p.name,
            p.target,
            p.task,
            p.metric or "default",
            p.algorithm,
            p.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


@app.command("show")
def show(ctx: typer.Context, name: ProjectArg, as_json: JsonOption = False) -> None:
    """Show a project."""
    state: CliState = ctx.obj
    item = get_project(state.ports.table, name)
    versions = state.ports.registry.list_versions(name)
    show_project(item, as_json, versions[0] if versions else None)  # newest first


_KINDS = "|".join(k.value for k in ColumnKind)


@app.command("set-column")
def set_column(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The project.")],
    column: Annotated[str, typer.Argument(help="The column, named as in the file's header.")],
    kind: Annotated[
        ColumnKind | None,
        typer.Option(
            "--kind", help="What the column is; the next run follows it.", case_sensitive=False
        ),
    ] = None,
    clear: Annotated[
        bool, typer.Option("--clear", help="Forget the kind set before: inference decides.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Say what a column is (categorical, numeric, date, text or ignore) instead of letting
    inference decide; the project's next run follows it."""
    if (kind is None) == (not clear):
        raise InvalidInput(f"give either --kind {_KINDS} or --clear", field="kind")
    state: CliState = ctx.obj
    item = set_column_kinds(state.ports.table, name, {column: None if clear else kind})
    show_project(item, as_json)
    _next_run_hint(item, as_json)


@app.command("set-columns")
def set_columns(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The project.")],
    file: Annotated[
        Path,
        typer.Option(
            "--file",
            help='A JSON object, column -> kind, e.g. {"zip": "categorical", "notes": "text"}; '
            "null clears a column.",
            exists=True,
            dir_okay=False,
        ),
    ],
    replace_all: Annotated[
        bool, typer.Option("--replace", help="Forget every kind not in the file.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Set many columns' kinds from a JSON file (a schema file); the next run follows them."""
    state: CliState = ctx.obj
    item = set_column_kinds(state.ports.table, name, read_kinds_file(file), replace_all=replace_all)
    show_project(item, as_json)
    _next_run_hint(item, as_json)


def _next_run_hint(item: Project, as_json: bool) -> None:
    if not as_json:
        console.print(
            f"the next run of {item.name} follows these kinds: upload a file (the same one "
            f"again with --force), or `conveyor retrain {item.name}`",
            highlight=False,
        )


def read_kinds_file(path: Path) -> dict[str, str | None]:
    """The column -> kind object in ``path``.

    Raises:
        InvalidInput: not JSON, or not an object of strings (or nulls).
    """
    try:
        parsed = json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path} is not a JSON file: {exc}", field="file") from exc
    if not isinstance(parsed, dict) or not all(
        isinstance(v, str) or v is None for v in parsed.values()
    ):
        raise InvalidInput(
            f"{path} must hold one JSON object of column -> kind ({_KINDS}), e.g. "
            '{"zip": "categorical"}',
            field="file",
        )
    return parsed
