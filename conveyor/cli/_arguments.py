"""The arguments and options many commands take, said once so their help reads the same
everywhere."""

from __future__ import annotations

from typing import Annotated

import typer

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
ProjectArg = Annotated[str, typer.Argument(help="The project (from `conveyor project list`).")]
VersionArg = Annotated[
    int, typer.Argument(help="The model version (from `conveyor models list PROJECT`).")
]
AlarmArg = Annotated[
    str, typer.Argument(help="The alarm's name (from `conveyor alarms list PROJECT`).")
]
