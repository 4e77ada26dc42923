"""``conveyor inspect FILE``: what conveyor would make of a file, before anything is trained."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table as RichTable

from conveyor.cli._context import CliState
from conveyor.cli._file_report import print_file_report
from conveyor.cli._output import console, print_json
from conveyor.cli.upload import SheetOption
from conveyor.errors import InvalidInput
from conveyor.pipeline.inspection import SHOWN_ROWS, Inspection, inspect_file
from conveyor.types import Task


def inspect(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(help="The file, as you would upload it.", exists=True, dir_okay=False),
    ],
    target: Annotated[
        str | None,
        typer.Option("--target", help="The column to predict (default: every column a feature)."),
    ] = None,
    task: Annotated[Task, typer.Option("--task", help="What kind of prediction.")] = Task.AUTO,
    project: Annotated[
        str | None,
        typer.Option(
            "--project", "-p", help="Use this project's target and the column kinds set on it."
        ),
    ] = None,
    sheet: SheetOption = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the table as parsed (typed) to this CSV."),
    ] = None,
    rows: Annotated[int, typer.Option("--rows", min=0, help="How many rows to show.")] = SHOWN_ROWS,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show what conveyor makes of a file (encoding, dialect, header, rejected rows, each
    column's kind and rule, the first rows as parsed) without storing or training anything."""
    overrides: dict[str, str] = {}
    if project is not None:
        from conveyor.projects import get_project

        state: CliState = ctx.obj
        found = get_project(state.ports.table, project)
        target = target or found.target
        task = found.task if task is Task.AUTO else task
        overrides = dict(found.column_kinds)
    result = inspect_file(file, target=target, task=task, overrides=overrides, sheet=sheet)
    if output is not None:
        _write_csv(result, output)
    if as_json:
        print_json(result.to_dict(rows))
        return
    _print(result, rows)
    if output is not None:
        console.print(f"wrote {result.table.height} row(s) as parsed to {output}", highlight=False)


def _print(result: Inspection, rows: int) -> None:
    about = f"{result.rows_read} data row(s)"
    if result.target is not None:
        about += f"; target [cyan]{escape(result.target)}[/] ({result.task})"
    else:
        about += "; no --target: every column is read as a feature"
    console.print(f"[bold]{escape(str(result.path))}[/]: {about}", highlight=False)
    print_file_report(result.report())
    for note in result.notes:
        console.print(f"  note      {escape(note)}", highlight=False)
    if rows == 0 or result.table.height == 0:
        return
    head = result.table.head(rows)
    title = f"first {head.height} row(s) as parsed"
    cells = [[_cell(v) for v in column] for column in head.iter_columns()]
    # "Datetime", not "Datetime(time_unit='us', time_zone=None)": one short word a column.
    kinds = [str(dtype.base_type()) for dtype in head.schema.values()]
    across = sum(
        max(len(name), len(kind), *(len(c) for c in column)) + 3
        for name, kind, column in zip(head.columns, kinds, cells, strict=True)
    )
    if across <= console.width:
        table = RichTable(title=title, title_justify="left")
        for name, kind in zip(head.columns, kinds, strict=True):
            table.add_column(f"{escape(name)}\n[dim]{kind}[/]", overflow="fold")
        for record in zip(*cells, strict=True):
            table.add_row(*record)
    else:
        # Too wide to read across (a column squeezed to two letters a line): one column a line.
        table = RichTable(title=f"{title}, one column a line", title_justify="left")
        table.add_column("column")
        for number in range(1, head.height + 1):
            table.add_column(f"row {number}", overflow="ellipsis", no_wrap=True)
        for name, kind, column in zip(head.columns, kinds, cells, strict=True):
            table.add_row(f"{escape(name)} [dim]{kind}[/]", *column)
    console.print(table)


def _cell(value: object) -> str:
    return "[dim]null[/]" if value is None else escape(str(value))


def _write_csv(result: Inspection, output: Path) -> None:
    try:
        result.table.write_csv(output)
    except OSError as exc:
        raise InvalidInput(f"cannot write {output}: {exc.strerror}", field="output") from exc
