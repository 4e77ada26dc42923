"""``conveyor serve`` and ``conveyor up``: the model server, alone or with the pipeline."""

from __future__ import annotations

import logging
import os
import threading
from typing import Annotated

import typer

from conveyor.cli._context import CliState
from conveyor.cli._output import console

HostOption = Annotated[str, typer.Option("--host", help="Interface to bind.")]
PortOption = Annotated[int, typer.Option("--port", help="TCP port.")]
WorkersOption = Annotated[int, typer.Option("--workers", help="Server processes.")]
ProjectOption = Annotated[
    str | None,
    typer.Option("--project", help="The project /invocations serves (SageMaker contract)."),
]


def _run_server(state: CliState, host: str, port: int, workers: int, project: str | None) -> None:
    import uvicorn

    os.environ["CONVEYOR_HOME"] = str(state.settings.home)
    if project:
        os.environ["CONVEYOR_SERVE_PROJECT"] = project
    console.print(f"serving on http://{host}:{port} (docs at /docs; Ctrl-C to stop)")
    uvicorn.run(
        "conveyor.serving.asgi:app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


def serve(
    ctx: typer.Context,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8080,
    workers: WorkersOption = 1,
    project: ProjectOption = None,
) -> None:
    """Serve every project's deployed version over HTTP (/predict/{project}, /invocations)."""
    _run_server(ctx.obj, host, port, workers, project)


def up(
    ctx: typer.Context,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8080,
    project: ProjectOption = None,
) -> None:
    """Run everything: the worker, the raw/ watch and the model server, until Ctrl-C."""
    from conveyor.cli.worker import start_pipeline_threads

    state: CliState = ctx.obj
    logging.getLogger("conveyor").setLevel(logging.INFO)
    stop = threading.Event()
    threads = start_pipeline_threads(state, stop)
    console.print(f"worker and raw/ watch running on {state.settings.home}")
    try:
        _run_server(state, host, port, 1, project)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        console.print("stopped")
