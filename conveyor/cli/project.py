"""``conveyor project``: create and inspect projects."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table as RichTable

from conveyor.cli._context import CliState
from conveyor.cli._output import console, print_json
from conveyor.errors import InvalidInput
from conveyor.projects import create_project, get_project, list_projects
from conveyor.types import Algorithm, Project, Task

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
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


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


def show_project(item: Project, as_json: bool) -> None:
    if as_json:
        print_json(item.to_dict())
        return
    console.print(
        f"[bold]{item.name}[/]: predicts [cyan]{item.target}[/] "
        f"(task {item.task}, metric {item.metric or 'default'}, algorithm {item.algorithm})"
    )


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Project name (lower-case, digits, hyphens).")],
    target: Annotated[str, typer.Option("--target", help="The column to predict.")],
    task: TaskOption = Task.AUTO,
    metric: MetricOption = None,
    algorithm: AlgorithmOption = Algorithm.LIGHTGBM,
    params: ParamsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a project: what to predict and how to train."""
    state: CliState = ctx.obj
    item = create_project(
        state.ports.table,
        name,
        target=target,
        task=task,
        metric=metric,
        algorithm=algorithm,
        hyperparameters=parse_params(params),
    )
    show_project(item, as_json)


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
def show(ctx: typer.Context, name: str, as_json: JsonOption = False) -> None:
    """Show a project."""
    state: CliState = ctx.obj
    show_project(get_project(state.ports.table, name), as_json)
