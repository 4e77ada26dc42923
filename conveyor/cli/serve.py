"""``conveyor serve`` and ``conveyor up``: the model server, alone or with the pipeline."""

from __future__ import annotations

import gc
import logging
import os
import socket
import threading
from typing import Annotated, Any

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
    base = f"http://{host}:{port}"
    console.print(
        f"serving on {base}: dashboard {base}/ui, API docs {base}/docs, metrics {base}/metrics "
        "(Ctrl-C to stop)",
        highlight=False,
    )
    options: dict[str, Any] = {"host": host, "port": port}
    if workers > 1:
        # uvicorn's own shared socket for several workers has left Nagle's algorithm on in
        # some versions (Kludex/uvicorn#3149), holding each response on a kept-alive
        # connection ~40 ms; connections accepted from a TCP_NODELAY socket inherit it.
        listener = listening_socket(host, port)
        options = {"fd": listener.fileno()}
    if workers == 1:
        # No collection while the server imports its libraries and loads its models: each
        # walks every object made so far, for nothing (a start makes few garbage cycles). The
        # app's lifespan freezes what the start made and collects again from then on. (With
        # workers, this process only supervises, and runs no lifespan to turn it back on.)
        gc.disable()
    uvicorn.run(
        "conveyor.serving.asgi:app",
        factory=True,
        workers=workers,
        log_level="warning",
        access_log=False,
        # uvicorn kills a worker that does not answer its supervisor within 5 s by default;
        # one loading its models on a busy machine must not be killed for it.
        timeout_worker_healthcheck=120,
        **options,
    )


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket with TCP_NODELAY set, for uvicorn's worker processes to share."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    listener.bind((host, port))
    listener.set_inheritable(True)
    return listener


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
