"""SageMaker's inference container entry point: ``conveyor-sagemaker-serve serve``.

SageMaker hosting starts an inference image as ``docker run <image> serve`` with the model's
``model.tar.gz`` unpacked in ``/opt/ml/model``, then health-checks ``GET /ping`` on port 8080
and sends ``POST /invocations``. This loads the one model from that folder first (a model
that cannot be served stops the container at once, with the reason in its log, which
SageMaker shows as the endpoint's failure), then serves it with uvicorn until SIGTERM.

Environment (all optional): ``CONVEYOR_MODEL_DIR`` (default ``/opt/ml/model``),
``SAGEMAKER_BIND_TO_PORT`` (8080), ``SAGEMAKER_MODEL_SERVER_WORKERS`` (one per CPU),
``SAGEMAKER_MODEL_SERVER_TIMEOUT`` (60 s), ``CONVEYOR_SERVE_PROJECT`` and
``CONVEYOR_MODEL_VERSION`` (what the answers name).
"""

from __future__ import annotations

import argparse
import faulthandler
import io
import logging
import sys

import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError

from conveyor.errors import ConfigError, ConveyorError
from conveyor.monitoring.logs import setup_logging
from conveyor.serving.sagemaker.app import create_container_app
from conveyor.serving.sagemaker.model_dir import load_model_dir
from conveyor.serving.sagemaker.settings import ContainerSettings

PROG = "conveyor-sagemaker-serve"
log = logging.getLogger("conveyor.serving")


def app_from_environment() -> FastAPI:
    """The app of one worker process (uvicorn's factory when there are several)."""
    setup_logging(None, verbose=True)
    settings = ContainerSettings()
    model = load_model_dir(settings.model_dir, project=settings.project, version=settings.version)
    return create_container_app(model)


def serve(host: str) -> int:
    """Load the model, then serve it until SIGTERM; the exit code says how it ended."""
    setup_logging(None, verbose=True)
    try:
        settings = ContainerSettings()
        model = load_model_dir(
            settings.model_dir, project=settings.project, version=settings.version
        )
    except ValidationError as exc:
        return _fail(ConfigError(f"the container's environment is invalid: {exc}"))
    except ConveyorError as exc:
        return _fail(exc)
    # One worker serves the model loaded above; several each load it in their own process.
    target: FastAPI | str = (
        create_container_app(model)
        if settings.workers == 1
        else f"{__name__}:{app_from_environment.__name__}"
    )
    uvicorn.run(
        target,
        host=host,
        port=settings.port,
        workers=settings.workers,
        factory=isinstance(target, str),
        log_config=None,  # conveyor's console logging, set up above
        access_log=False,  # SageMaker pings every few seconds: no line per request
        timeout_graceful_shutdown=settings.timeout,
    )
    return 0


def _fail(error: ConveyorError) -> int:
    print(f"{PROG}: cannot serve: {error.message}", file=sys.stderr, flush=True)
    return error.exit_code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG, description="conveyor's model server as a SageMaker inference container."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve_command = commands.add_parser(
        "serve", help="serve the model in CONVEYOR_MODEL_DIR (what SageMaker hosting runs)"
    )
    serve_command.add_argument(
        "--host", default="0.0.0.0", help="address to listen on (default: every interface)"
    )
    args = parser.parse_args(argv)
    # A native library may crash on a damaged model file (LightGBM does on a truncated
    # model.txt) rather than raise: the log must still show its messages and where it crashed.
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # LightGBM logs through print
    faulthandler.enable()
    return serve(args.host)


def cli() -> None:
    sys.exit(main())


if __name__ == "__main__":
    cli()
