"""Load the model once in a child process before the container opens its port.

A damaged model file does not always raise: LightGBM crashes the process (SIGSEGV) on a
truncated ``model.txt``. Loaded in a child first, such a file becomes an error with a
reason, like any other, instead of a container that dies with a native stack; and the
server processes start only once the model is known to load.
"""

from __future__ import annotations

import faulthandler
import io
import multiprocessing
import signal
import sys
from multiprocessing.connection import Connection
from pathlib import Path

from conveyor.errors import ConveyorError, IntegrityError
from conveyor.logs import setup_logging
from conveyor.serving.sagemaker.model_dir import check_content, check_model_dir, load_model_dir


def probe_model_dir(
    model_dir: Path, *, project: str, version: int, content_digest: str | None = None
) -> None:
    """Check the folder, then load and warm the model up in a child process.

    Raises:
        ConfigError: the folder is missing, empty, or lacks a file of the artifact.
        IntegrityError: the folder does not hold ``content_digest``'s content, the model does
            not load, or loading it crashed the process.
    """
    check_model_dir(model_dir)  # the cheap look first, without a process
    check_content(model_dir, content_digest)  # before a byte of it is parsed
    context = multiprocessing.get_context("spawn")  # no fork of a process with threads
    receive, send = context.Pipe(duplex=False)
    child = context.Process(
        target=_load, args=(model_dir, project, version, send), name="model-probe"
    )
    child.start()
    send.close()
    child.join()
    if child.exitcode == 0:
        return
    reason = _reason(receive)
    if reason is not None:
        kind, message, field = reason
        raise kind(message, field=field)
    code = child.exitcode or 1
    if code < 0:
        raise IntegrityError(
            f"loading the model in {model_dir} crashed the process "
            f"({signal.Signals(-code).name}): a file of the artifact is damaged "
            "(the model library's messages above say which)"
        )
    raise IntegrityError(
        f"loading the model in {model_dir} failed (exit code {code}); see the messages above"
    )


def _reason(receive: Connection) -> tuple[type[ConveyorError], str, str | None] | None:
    """The error the child sent, if it sent one before it ended."""
    try:
        reason: tuple[type[ConveyorError], str, str | None] = receive.recv()
    except EOFError:  # it ended without a word: crashed, or a bug's traceback is above
        return None
    return reason


def _load(model_dir: Path, project: str, version: int, send: Connection) -> None:
    """The child: load, and send the reason back if the load raised one."""
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # LightGBM logs through print
    faulthandler.enable()
    setup_logging(None, verbose=True)
    try:
        load_model_dir(model_dir, project=project, version=version)
    except ConveyorError as exc:
        send.send((type(exc), exc.message, exc.field))
        sys.exit(1)
