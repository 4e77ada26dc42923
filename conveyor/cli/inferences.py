"""``conveyor inferences``: the recorded predictions of a project."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table as RichTable

from conveyor.cli._arguments import ProjectArg
from conveyor.cli._context import CliState
from conveyor.cli._output import console, print_json
from conveyor.errors import InvalidInput
from conveyor.types import utcnow

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_window(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if not match:
        raise InvalidInput(
            f"--since {text!r}: use a number and a unit, e.g. 30s, 10m, 2h, 7d", field="since"
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def inferences(
    ctx: typer.Context,
    project: ProjectArg,
    since: Annotated[str | None, typer.Option("--since", help="Only the last 10m, 2h, 7d…")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many records.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List recorded inferences, newest first: version, latency, status, outputs."""
    from conveyor.inference.records import list_inferences

    state: CliState = ctx.obj
    start = utcnow() - parse_window(since) if since else None
    records = list_inferences(state.ports.table, project, since=start, limit=limit)
    if as_json:
        print_json([r.to_item() for r in records])
        return
    table = RichTable("time", "request", "version", "status", "latency ms", "outputs")
    for r in records:
        table.add_row(
            r.timestamp.strftime("%H:%M:%S.%f")[:-3],
            r.request_id,
            str(r.model_version),
            str(r.status),
            f"{r.latency_ms:.2f}",
            str(r.outputs)[:60],
        )
    console.print(table)
