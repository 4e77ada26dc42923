"""``conveyor logs``: the structured logs, filtered, as JSON lines.

``--run ID`` reads that run's own log file and adds its training job's log; ``--request ID``
finds the request's log lines and prints its inference record too.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from conveyor.cli._context import CliState
from conveyor.errors import ConveyorError, InvalidInput, NotFound
from conveyor.logs import BACKUPS, MAIN_LOG, log_dir, run_log_path, setup_logging
from conveyor.tables import Item, Table
from conveyor.types import from_iso, to_iso, utcnow

LEVELS = ("debug", "info", "warning", "error", "critical")
DEFAULT_LINES = 100
# A record is written within moments of its request's log line; look this far either side.
_RECORD_NEAR = timedelta(minutes=5)
_PAGE = 5000


def setup_cli_logging(state: CliState, *, verbose: bool) -> None:
    """The CLI root's logging: the JSON files of the home, and the console."""
    try:
        home: Path | None = state.settings.home
    except ConveyorError:
        home = None  # the command reports the bad setting itself; log to the console only
    setup_logging(home, verbose=verbose)


def logs(
    ctx: typer.Context,
    run: Annotated[
        str | None, typer.Option("--run", help="Only this run, with its training log.")
    ] = None,
    request: Annotated[
        str | None,
        typer.Option("--request", help="Only this request, with its inference record."),
    ] = None,
    project: Annotated[
        str | None, typer.Option("--project", "-p", help="Only this project.")
    ] = None,
    level: Annotated[
        str | None, typer.Option("--level", help="At least this level: info, warning, error.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only the last 30s, 10m, 2h, 7d, or since an ISO time."),
    ] = None,
    lines: Annotated[
        int | None,
        typer.Option(
            "-n",
            "--lines",
            help=f"The last N lines (default {DEFAULT_LINES}; all with --run or --request).",
        ),
    ] = None,
) -> None:
    """Print structured log lines (JSON, one object a line), oldest first."""
    state: CliState = ctx.obj
    home = state.settings.home
    minimum = _level_rank(level) if level else 0
    start = _since(since) if since else None
    if run:
        entries = list(_read(run_log_path(home, run)))
        entries += _training_log(state, run, have_run_lines=bool(entries))
        entries.sort(key=lambda e: str(e.get("ts", "")))
    else:
        entries = list(_main_log(log_dir(home)))
    kept = [
        e
        for e in entries
        if (request is None or e.get("request_id") == request)
        and (project is None or e.get("project") == project)
        and _level_rank(str(e.get("level", "info"))) >= minimum
        and (start is None or str(e.get("ts", "")) >= start)
    ]
    limit = lines if lines is not None else (None if run or request else DEFAULT_LINES)
    if limit is not None:
        kept = kept[-limit:] if limit > 0 else []
    if request:
        near = from_iso(kept[-1]["ts"]) if kept and "ts" in kept[-1] else None
        record = find_inference(state.ports.table, request, project=project, near=near)
        if record is not None:
            kept.append(record)
        elif not kept:
            raise NotFound(
                f"no log line and no inference record for request {request!r}"
                + (f" in project {project!r}" if project else ""),
                field="request",
            )
    out = sys.stdout.buffer
    for entry in kept:
        out.write(orjson.dumps(entry) + b"\n")
    out.flush()


def _level_rank(name: str) -> int:
    try:
        return LEVELS.index(name.lower())
    except ValueError:
        raise InvalidInput(
            f"--level {name!r}: use one of {', '.join(LEVELS)}", field="level"
        ) from None


def _since(text: str) -> str:
    from conveyor.cli.inferences import parse_window

    try:
        return to_iso(from_iso(text)) if "T" in text or "-" in text else _ago(parse_window(text))
    except ValueError as exc:
        raise InvalidInput(
            f"--since {text!r}: use a number and a unit (30s, 10m, 2h, 7d) or an ISO time",
            field="since",
        ) from exc


def _ago(window: timedelta) -> str:
    return to_iso(utcnow() - window)


def _main_log(folder: Path) -> Iterator[dict[str, Any]]:
    """The main log and its rotated files, oldest first."""
    for index in range(BACKUPS, 0, -1):
        yield from _read(folder / f"{MAIN_LOG}.{index}")
    yield from _read(folder / MAIN_LOG)


def _read(path: Path) -> Iterator[dict[str, Any]]:
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return
    with handle:
        for line in handle:
            try:
                entry = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # a line cut short by a crash mid-write
            if isinstance(entry, dict):
                yield entry


def _training_log(state: CliState, run_id: str, *, have_run_lines: bool) -> list[dict[str, Any]]:
    """The run's training job log, one entry a line, stamped with the train stage's start."""
    from conveyor.pipeline.run_logs import training_log
    from conveyor.pipeline.runs import RunStore

    try:
        run = RunStore(state.ports.table).get(run_id)
    except NotFound:
        if have_run_lines:
            return []
        raise
    text = training_log(state.ports, run) or ""
    train = run.stages.get("train")
    stamp = to_iso(train.started_at if train else run.updated_at)
    return [
        {
            "ts": stamp,
            "level": "info",
            "logger": "training",
            "message": line,
            "run_id": run.run_id,
            "project": run.project,
            "source": "training.log",
        }
        for line in text.splitlines()
        if line.strip()
    ]


def find_inference(
    table: Table, request_id: str, *, project: str | None = None, near: datetime | None = None
) -> dict[str, Any] | None:
    """The inference record of a request, as a log entry ``{"event": "inference", ...}``.

    Searched in one project, or every project; first around ``near`` (the time of the
    request's log line), then through the whole partition, newest first, a page at a time.
    """
    from conveyor.inference.records import partition
    from conveyor.projects import list_projects

    projects = [project] if project else [p.name for p in list_projects(table)]
    suffix = f"#{request_id}"
    for name in projects:
        pk = partition(name)
        found = None
        if near is not None:
            window = table.query(
                pk, sk_gte=to_iso(near - _RECORD_NEAR), sk_lt=to_iso(near + _RECORD_NEAR)
            )
            found = _ending(window, suffix)
        if found is None:
            found = _ending(_pages(table, pk), suffix)
        if found is not None:
            found = {k: v for k, v in found.items() if k not in ("pk", "sk")}
            return {"ts": found.get("timestamp"), "event": "inference", **found}
    return None


def _ending(items: Iterable[Item], suffix: str) -> Item | None:
    return next((item for item in items if str(item["sk"]).endswith(suffix)), None)


def _pages(table: Table, pk: str) -> Iterator[Item]:
    before: str | None = None
    while True:
        page = table.query(pk, sk_lt=before, descending=True, limit=_PAGE)
        yield from page
        if len(page) < _PAGE:
            return
        before = page[-1]["sk"]
