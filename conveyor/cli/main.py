"""The ``conveyor`` command: the root group and its one error handler."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from typer.core import TyperGroup, TyperOption

from conveyor import __version__
from conveyor._memory import give_back_freed_memory
from conveyor.cli import logs
from conveyor.cli._context import CliState
from conveyor.cli._output import err_console
from conveyor.errors import ConveyorError

if TYPE_CHECKING:
    # Typer (0.29) carries its own copy of click, whose types it has no public name for.
    from typer._click.core import Command, Context

# Each command's module is imported when that command runs: some need polars, pyarrow or
# the model libraries (a third of a second), which `conveyor upload` or `conveyor runs list`
# should not wait for.  name -> (module, attribute): a Typer group or a command function.
COMMANDS = {
    "project": ("conveyor.cli.project", "app"),
    "runs": ("conveyor.cli.runs", "app"),
    "models": ("conveyor.cli.models", "app"),
    "alarms": ("conveyor.cli.alarms", "app"),
    "init": ("conveyor.cli.init", "init"),
    "upload": ("conveyor.cli.upload", "upload"),
    "inspect": ("conveyor.cli.inspect_file", "inspect"),
    "worker": ("conveyor.cli.worker", "worker"),
    "serve": ("conveyor.cli.serve", "serve"),
    "up": ("conveyor.cli.serve", "up"),
    "predict": ("conveyor.cli.predict", "predict"),
    "inferences": ("conveyor.cli.inferences", "inferences"),
    "drift": ("conveyor.cli.drift", "drift"),
    "logs": ("conveyor.cli.logs", "logs"),
    "retrain": ("conveyor.cli.retrain", "retrain"),
    "aws": ("conveyor.cli.aws", "app"),
}


_typed = TyperOption.display_type_rich


def _flag_type(option: TyperOption, ctx: Context) -> str | None:
    """No type for a flag: typer 0.29 shows ``<bool>`` beside ``--wait`` and ``--help``,
    a value nobody types."""
    return None if option.is_bool_flag else _typed(option, ctx)


TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign,assignment]


class _LazyGroup(TyperGroup):
    def list_commands(self, ctx: Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name not in COMMANDS:
            return None
        if cmd_name not in self.commands:
            self.add_command(load_command(cmd_name), cmd_name)
        return self.commands[cmd_name]


def load_command(name: str) -> Command:
    """The click command ``name`` is, its module imported now."""
    module, attribute = COMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    if isinstance(target, typer.Typer):
        command: Command = typer.main.get_group(target)
    else:
        single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    return command


app = typer.Typer(
    name="conveyor",
    cls=_LazyGroup,
    help="Turn a raw tabular file into a trained, versioned, served model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"conveyor {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            envvar="CONVEYOR_HOME",
            help="Where conveyor keeps everything.",
            show_default="./.conveyor",
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log progress to stderr.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    ctx.obj = CliState(home=home)
    logs.setup_cli_logging(ctx.obj, verbose=verbose)


def main() -> None:
    # Click itself answers usage errors (exit 2), ^C and typer.Exit; conveyor's own errors
    # get one line naming the problem and their exit code.
    give_back_freed_memory()  # before any command imports polars
    try:
        app()
    except ConveyorError as exc:
        err_console.print(f"[bold red]{exc.headline}:[/] {exc.message}", highlight=False)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
