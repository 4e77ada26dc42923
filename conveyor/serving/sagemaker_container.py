"""SageMaker's inference container entry point: ``conveyor-sagemaker-serve serve``.

SageMaker hosting starts an inference image as ``docker run <image> serve`` with the model's
``model.tar.gz`` unpacked in ``/opt/ml/model``, then health-checks ``GET /ping`` on port 8080
and sends ``POST /invocations``. This first loads the one model from that folder in a child
process (a model that cannot be served stops the container at once, with the reason in its
log, and the endpoint fails to create), then serves it with uvicorn until SIGTERM.

Environment (all optional): ``CONVEYOR_MODEL_DIR`` (default ``/opt/ml/model``),
``SAGEMAKER_BIND_TO_PORT`` (8080), ``SAGEMAKER_MODEL_SERVER_WORKERS`` (one per CPU),
``SAGEMAKER_MODEL_SERVER_TIMEOUT`` (60 s), ``CONVEYOR_SERVE_PROJECT`` and
``CONVEYOR_MODEL_VERSION`` (what the answers name), ``CONVEYOR_MODEL_CONTENT_SHA256`` (the
content the deploy checked: a folder holding anything else is refused), and the request limits of
``conveyor serve``: ``CONVEYOR_MAX_BODY_BYTES``, ``CONVEYOR_MAX_ROWS_PER_REQUEST``,
``CONVEYOR_REQUEST_TIMEOUT_SECONDS``.
"""

from __future__ import annotations

import argparse
import sys

import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError

from conveyor.errors import ConfigError, ConveyorError
from conveyor.logs import setup_logging
from conveyor.serving.sagemaker.app import create_container_app
from conveyor.serving.sagemaker.model_dir import load_model_dir
from conveyor.serving.sagemaker.probe import probe_model_dir
from conveyor.serving.sagemaker.settings import ContainerSettings

PROG = "conveyor-sagemaker-serve"
WORKER_STARTUP_SECONDS = 120


def app_from_environment() -> FastAPI:
    """The app of one server process: uvicorn's factory, called in each worker."""
    setup_logging(None, verbose=True)
    settings = ContainerSettings()
    model = load_model_dir(settings.model_dir, project=settings.project, version=settings.version)
    return create_container_app(model, settings.limits())


def serve(host: str) -> int:
    """Prove the model loads, then serve it until SIGTERM; the exit code says how it ended."""
    setup_logging(None, verbose=True)
    try:
        settings = ContainerSettings()
        probe_model_dir(
            settings.model_dir,
            project=settings.project,
            version=settings.version,
            content_digest=settings.content_digest,
        )
    except ValidationError as exc:
        return _fail(ConfigError(f"the container's environment is invalid: {exc}"))
    except ConveyorError as exc:
        return _fail(exc)
    uvicorn.run(
        f"{__name__}:{app_from_environment.__name__}",
        factory=True,
        host=host,
        port=settings.port,
        workers=settings.workers,  # one: served in this process; more: each loads the model
        log_config=None,  # conveyor's console logging, set up above
        access_log=False,  # SageMaker pings every few seconds: no line per request
        timeout_graceful_shutdown=settings.timeout,
        # uvicorn kills a worker that does not answer its supervisor within 5 s by default;
        # a worker busy loading its model on a loaded machine must not be killed for it.
        timeout_worker_healthcheck=max(WORKER_STARTUP_SECONDS, settings.timeout),
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
    return serve(args.host)


def cli() -> None:
    sys.exit(main())


if __name__ == "__main__":
    cli()
