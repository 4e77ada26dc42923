"""``conveyor retrain``: start a run on the latest upload plus the feedback received."""

from __future__ import annotations

from typing import Annotated

import typer

from conveyor.cli._arguments import ProjectArg
from conveyor.cli._context import CliState
from conveyor.cli._output import console, print_json
from conveyor.errors import EXIT_NOT_RETRAINED


def retrain(
    ctx: typer.Context,
    project: ProjectArg,
    reason: Annotated[
        str, typer.Option("--reason", help="Why; kept in the run's trigger.")
    ] = "requested by hand",
    ignore_cooldown: Annotated[
        bool, typer.Option("--ignore-cooldown", help="Start even inside the cooldown.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Retrain PROJECT now: its latest upload plus every recorded inference with feedback.

    Exit status:
    0 a run started;
    6 no run started: inside the cooldown, a run still in progress,
      or no upload to retrain on (the reason is printed);
    4 no such project.
    """
    from conveyor.pipeline.retrain import request_retrain
    from conveyor.projects import get_project

    state: CliState = ctx.obj
    get_project(state.ports.table, project)  # a typo is "not found" (4), not "not retrained"
    outcome = request_retrain(
        state.ports,
        project,
        {"type": "manual", "reason": reason},
        cooldown_seconds=0.0 if ignore_cooldown else state.settings.retrain_cooldown_seconds,
    )
    if as_json:
        print_json(outcome.to_dict())
    elif outcome.started:
        console.print(f"{project}: {outcome.reason}; `conveyor runs list` follows it")
    else:
        console.print(f"{project}: not retraining: {outcome.reason}")
    if not outcome.started:
        raise typer.Exit(EXIT_NOT_RETRAINED)
