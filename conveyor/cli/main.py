"""The ``conveyor`` command: the root group and its one error handler."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from conveyor import __version__
from conveyor.cli import (
    alarms,
    drift,
    inferences,
    init,
    logs,
    models,
    predict,
    project,
    retrain,
    runs,
    serve,
    upload,
    worker,
)
from conveyor.cli._context import CliState
from conveyor.cli._output import err_console
from conveyor.errors import ConveyorError

app = typer.Typer(
    name="conveyor",
    help="Turn a raw tabular file into a trained, versioned, served model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(project.app, name="project")
app.add_typer(runs.app, name="runs")
app.add_typer(models.app, name="models")
app.add_typer(alarms.app, name="alarms")
app.command("init")(init.init)
app.command("upload")(upload.upload)
app.command("worker")(worker.worker)
app.command("serve")(serve.serve)
app.command("up")(serve.up)
app.command("predict")(predict.predict)
app.command("inferences")(inferences.inferences)
app.command("drift")(drift.drift)
app.command("logs")(logs.logs)
app.command("retrain")(retrain.retrain)


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
    try:
        app(standalone_mode=False)
    except ConveyorError as exc:
        err_console.print(f"[bold red]{exc.headline}:[/] {exc.message}", highlight=False)
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click's usage errors carry their own exit code
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
