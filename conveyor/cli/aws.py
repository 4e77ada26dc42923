"""``conveyor aws``: operations on a deployed AWS stack."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table as RichTable

from conveyor.cli._context import CliState
from conveyor.cli._output import console, print_json
from conveyor.errors import InvalidInput

if TYPE_CHECKING:
    from conveyor.aws.teardown import Leftovers

app = typer.Typer(help="Operations on a deployed AWS stack.", no_args_is_help=True)

_KINDS = {
    "endpoints": "endpoint",
    "endpoint_configs": "endpoint config",
    "models": "model",
    "model_packages": "model package",
    "model_package_groups": "model package group",
    "alarms": "CloudWatch alarm",
}


@app.command()
def teardown(
    ctx: typer.Context,
    prefix: Annotated[
        str | None,
        typer.Option(
            "--prefix",
            help="The stack's ProjectName (default: CONVEYOR_AWS_NAME_PREFIX).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be deleted; delete nothing.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Delete what the pipeline created at run time for the stack's projects (SageMaker
    endpoints, endpoint configs, models, model package groups and their packages; the
    projects' CloudWatch alarms), before `sam delete`. Training jobs cannot be deleted:
    running ones are listed. The projects are those of the stack's table
    (CONVEYOR_TABLE_URI)."""
    from conveyor.aws.sagemaker_common import settings_clients
    from conveyor.aws.teardown import delete_leftovers, find_leftovers
    from conveyor.projects import list_projects

    state: CliState = ctx.obj
    settings = state.settings.aws
    clients = settings_clients(settings)
    projects = [project.name for project in list_projects(state.ports.table)]
    found = find_leftovers(clients, prefix=prefix or settings.name_prefix, projects=projects)
    if dry_run or not found.deletable():
        _report(found, projects, deleted=False, as_json=as_json)
        return
    if not yes:
        _report(found, projects, deleted=False, as_json=False)
        if not typer.confirm(
            f"Delete these {found.deletable()} resources? This cannot be undone.",
            default=False,
            err=True,
        ):
            raise InvalidInput("nothing deleted", field="confirmation")
    deleted = delete_leftovers(clients, found)
    deleted.running_training_jobs = found.running_training_jobs
    _report(deleted, projects, deleted=True, as_json=as_json)


def _report(found: Leftovers, projects: list[str], *, deleted: bool, as_json: bool) -> None:
    if as_json:
        print_json({"projects": projects, "deleted": deleted, **found.to_dict()})
        return
    table = RichTable(title=("Deleted" if deleted else "To delete") + f" ({', '.join(projects)})")
    table.add_column("kind")
    table.add_column("name")
    for kind, label in _KINDS.items():
        for name in getattr(found, kind):
            table.add_row(label, name)
    if found.deletable():
        console.print(table)
    else:
        console.print("Nothing to delete: the stack's projects have no endpoint, model or alarm.")
    for job in found.running_training_jobs:
        console.print(
            f"training job {job} is still running (training jobs cannot be deleted; stop it "
            f"with `aws sagemaker stop-training-job --training-job-name {job}`)"
        )
