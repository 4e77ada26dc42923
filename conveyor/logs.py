"""Structured logs: one JSON object per line, correlated by run, request, project and version.

Every process (a CLI command, the worker, the server) writes ``<home>/logs/conveyor.jsonl``
(rotated at 20 MB, five files kept); a record that belongs to a pipeline run is also
written to ``<home>/logs/runs/<run_id>.jsonl``, so a run's log is kept whole however long
the main log rotates. ``conveyor logs`` reads them back.

Correlation fields come from ``extra={...}`` on the call or, when absent, from context
variables: the worker binds ``run_id`` and ``project`` while it handles an event, so every
line logged under it, by any module, carries them.

The stdlib formatter with orjson (already a dependency) is enough for a flat object of
known fields; no logging library is added for it.
"""

from __future__ import annotations

import contextvars
import logging
import logging.handlers
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

MAIN_LOG = "conveyor.jsonl"
RUNS_DIR = "runs"
MAX_BYTES = 20 * 1024 * 1024
BACKUPS = 5
CONSOLE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Fields a line may carry to tie it to a run, a request or a model.
CORRELATION = ("run_id", "request_id", "project", "version")
# The server's line per failed request: in the files, and on the console only when a 5xx.
REQUEST_LOGGER = "conveyor.requests"
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")

_context: dict[str, contextvars.ContextVar[Any]] = {
    name: contextvars.ContextVar(f"conveyor_log_{name}", default=None) for name in CORRELATION
}
# What every LogRecord has; anything else on a record came from ``extra`` and is logged.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def log_dir(home: Path) -> Path:
    return home / "logs"


def run_log_path(home: Path, run_id: str) -> Path:
    return log_dir(home) / RUNS_DIR / f"{run_id}.jsonl"


def bind(**fields: Any) -> None:
    """Tie what is logged from here on (in this thread or task) to these fields.

    Call inside ``log_context()``, which undoes it; keys are those of ``CORRELATION``.
    """
    for name, value in fields.items():
        _context[name].set(value)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """A scope for correlation fields: set these now, and restore every field on exit."""
    tokens = [(var, var.set(var.get())) for var in _context.values()]
    try:
        bind(**fields)
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def current_context() -> dict[str, Any]:
    return {name: var.get() for name, var in _context.items() if var.get() is not None}


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", <correlation>, <extra>..., "exception"?}``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="microseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = vars(record)
        for name in CORRELATION:
            if fields.get(name) is not None:
                entry[name] = fields[name]
        for name, value in fields.items():
            if name not in _STANDARD and name not in entry and value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return orjson.dumps(entry, default=str).decode()


class _StampContext(logging.Filter):
    """Copies the bound correlation fields onto a record that does not carry them itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _context.items():
            if getattr(record, name, None) is None:
                value = var.get()
                if value is not None:
                    setattr(record, name, value)
        return True


class _OursAtInfo(logging.Filter):
    """conveyor's own records from INFO up; other libraries' from WARNING (they are chatty)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or record.name.startswith("conveyor")


class _ConsoleThreshold(logging.Filter):
    """The console shows what it showed before the JSON files existed.

    The root logger lets INFO through now (the files want it), so the console applies the
    old threshold itself: INFO with --verbose, else WARNING, except that a command which set
    the ``conveyor`` logger's own level (``worker`` and ``up`` set INFO) keeps that level
    for conveyor's records. A failed request's line reaches the console only when it is a
    server error: a client sending bad rows must not flood it.
    """

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == REQUEST_LOGGER:
            return record.levelno >= logging.ERROR
        threshold = self.level
        if record.name == "conveyor" or record.name.startswith("conveyor."):
            own = logging.getLogger("conveyor").level
            if own != logging.NOTSET:
                threshold = own
        return record.levelno >= threshold


class RunFileHandler(logging.Handler):
    """Appends each record that has a ``run_id`` to ``<folder>/<run_id>.jsonl``.

    The file is opened per record, in append mode: run logs are a few lines a stage, and
    several processes (a worker, an ``upload --wait``) may write to one run.
    """

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder

    def emit(self, record: logging.LogRecord) -> None:
        run_id = getattr(record, "run_id", None)
        if not isinstance(run_id, str) or not _SAFE_NAME.fullmatch(run_id):
            return
        try:
            line = self.format(record) + "\n"
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(self.folder / f"{run_id}.jsonl", "a", encoding="utf-8") as out:
                out.write(line)
        except Exception:
            self.handleError(record)


class _ConveyorHandler:
    """Marks the handlers this module installed, so a second setup replaces them."""


class _MainFile(logging.handlers.RotatingFileHandler, _ConveyorHandler):
    pass


class _RunFiles(RunFileHandler, _ConveyorHandler):
    pass


class _Console(logging.StreamHandler, _ConveyorHandler):  # type: ignore[type-arg]
    pass


def setup_logging(home: Path | None, *, verbose: bool | None = None) -> None:
    """Log to the JSON files under ``<home>/logs`` and, for people, to stderr.

    Called by the CLI root and by the server factory. Calling it again (``conveyor up``
    does, once per side) keeps what is already set up for the same home, so the worker
    thread never writes through a handler being replaced; another home replaces the files.

    Args:
        home: the conveyor home whose ``logs/`` folder receives the files; None for the
            console alone (the settings could not be read).
        verbose: the console shows INFO, not only warnings; None keeps the console's
            current threshold (WARNING when there was none).
    """
    root = logging.getLogger()
    root.setLevel(logging.INFO)  # the files want INFO; the console filters for itself
    ours = [h for h in root.handlers if isinstance(h, _ConveyorHandler)]
    stream: _Console | None = next((h for h in root.handlers if isinstance(h, _Console)), None)
    if stream is None:
        stream = _Console(sys.stderr)
        stream.setFormatter(logging.Formatter(CONSOLE_FORMAT))
        stream.addFilter(_ConsoleThreshold(logging.WARNING))
        root.addHandler(stream)
    if verbose is not None:
        stream.filters = [_ConsoleThreshold(logging.INFO if verbose else logging.WARNING)]
    folder = log_dir(home) if home is not None else None
    main_file = str((folder / MAIN_LOG).absolute()) if folder is not None else None
    for handler in ours:
        if isinstance(handler, _MainFile) and handler.baseFilename == main_file:
            return  # already writing this home's files
    for handler in ours:
        if not isinstance(handler, _Console):
            root.removeHandler(handler)
            handler.close()
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        logging.getLogger("conveyor").warning("not writing log files to %s: %s", folder, exc)
        return
    formatter = JsonFormatter()
    main = _MainFile(
        folder / MAIN_LOG, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=True
    )
    runs = _RunFiles(folder / RUNS_DIR)
    for file_handler in (main, runs):
        file_handler.setFormatter(formatter)
        file_handler.addFilter(_StampContext())
        file_handler.addFilter(_OursAtInfo())
        root.addHandler(file_handler)


def close_logging() -> None:
    """Remove (and close) every handler ``setup_logging`` installed."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _ConveyorHandler):
            root.removeHandler(handler)
            handler.close()
