"""``conveyor upload``: put a file in raw/<project>/ and (with --wait) follow its run."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from conveyor.cli._arguments import JsonOption
from conveyor.cli._context import CliState
from conveyor.cli._output import console, err_console, print_json
from conveyor.cli.project import (
    MetricOption,
    ParamsOption,
    PresetOption,
    TimeBudgetOption,
    parse_params,
    parse_time_budget,
)
from conveyor.cli.runs import print_run
from conveyor.errors import InvalidInput, NotFound, RunFailed
from conveyor.pipeline.runs import RunStore
from conveyor.pipeline.uploads import put_raw_file
from conveyor.pipeline.worker import Worker, live_workers
from conveyor.projects import (
    check_upload_flags,
    create_project,
    describe_changes,
    find_project,
    validate_name,
)
from conveyor.storage import RAW
from conveyor.types import Algorithm, Preset, Run, RunState, Task

SheetOption = Annotated[
    str | None,
    typer.Option(
        "--sheet",
        help="An .xlsx workbook's sheet: its name or 0-based position (default: the first).",
    ),
]

_STAGES = [
    ("preprocess", "Preprocess: read, infer schema, clean, split, profile"),
    ("train", "Train: training job"),
    ("evaluate", "Evaluate on the test split"),
    ("register", "Register, gate and deploy"),
]
_REACHED = {
    RunState.QUEUED: -1,
    RunState.PREPROCESSING: 0,
    RunState.TRAINING: 1,
    RunState.EVALUATING: 2,
    RunState.REGISTERED: 4,
    RunState.DEPLOYED: 4,
    RunState.REJECTED: 4,
}


def upload(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A CSV, Parquet or .xlsx file.")],
    project: Annotated[str, typer.Option("--project", "-p", help="The project to train.")],
    target: Annotated[
        str | None,
        typer.Option("--target", help="Column to predict; creates the project on first upload."),
    ] = None,
    task: Annotated[
        Task | None,
        typer.Option("--task", help="What kind of prediction (default auto; first upload only)."),
    ] = None,
    metric: MetricOption = None,
    algorithm: Annotated[
        Algorithm | None,
        typer.Option("--algorithm", help="Model family (default lightgbm; first upload only)."),
    ] = None,
    params: ParamsOption = None,
    preset: PresetOption = None,
    time_budget: TimeBudgetOption = None,
    sheet: SheetOption = None,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Follow the run to its end.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Train again even if these exact bytes were trained before."),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Upload a file; its arrival starts a run (preprocess → train → evaluate → register)."""
    state: CliState = ctx.obj
    validate_name(project)
    if not file.is_file():
        raise NotFound(f"no file {str(file)!r}", field="file")
    ports = state.ports
    existing = find_project(ports.table, project)
    if existing is None:
        if target is None:
            raise NotFound(
                f"no project {project!r}: pass --target COLUMN to create it with this upload, "
                f"or run `conveyor project create {project} --target COLUMN`",
                field="project",
            )
        create_project(
            ports.table,
            project,
            target=target,
            task=task or Task.AUTO,
            metric=metric,
            algorithm=algorithm or Algorithm.LIGHTGBM,
            hyperparameters=parse_params(params),
            preset=preset or Preset.FAST,
            time_budget=parse_time_budget(time_budget),
        )
    elif target is not None and target != existing.target:
        raise InvalidInput(
            f"project {project!r} predicts {existing.target!r}, not {target!r}; "
            "use another project name for another target",
            field="target",
        )
    else:
        # Before anything is stored: a flag the project would not follow fails the upload.
        check_upload_flags(
            existing,
            {
                "task": task,
                "metric": metric,
                "algorithm": algorithm,
                "hyperparameters": parse_params(params) if params is not None else None,
                "preset": preset,
                "time_budget": parse_time_budget(time_budget),
            },
        )

    upload = put_raw_file(ports, project, file, force=force, sheet=sheet, source="cli")
    previous, key, dataset_id = upload.previous, upload.key, upload.dataset_id
    if not upload.published:
        assert previous is not None
        if not as_json:
            console.print(
                f"these bytes were uploaded before: run {previous.run_id} "
                f"({previous.state.value}); not training again (--force to retrain)"
            )
        _finish(state, previous, wait=wait, as_json=as_json)
        return

    if not as_json:
        console.print(f"uploaded {file} to {RAW}/{key} ({upload.info.size:,} bytes)")
        if upload.changed and previous is not None:
            console.print(
                f"these bytes made run {previous.run_id}; the project's settings changed since "
                f"({describe_changes(upload.changed)}): training again",
                highlight=False,
            )
    if not wait:
        if not live_workers(ports.table, max_age=state.settings.worker_heartbeat_seconds * 2):
            console.print(
                "no worker is running: start one with `conveyor worker`, "
                "or upload with --wait to run it here"
            )
        if as_json:
            print_json({"bucket": RAW, "key": key, "dataset_id": dataset_id})
        return
    skip = previous.run_id if previous is not None else None
    run = _follow(state, project, dataset_id, skip_run_id=skip, quiet=as_json)
    _finish(state, run, wait=True, as_json=as_json)


def _finish(state: CliState, run: Run, *, wait: bool, as_json: bool) -> None:
    if wait and not run.state.is_terminal:
        run = _follow(state, run.project, run.dataset_id, skip_run_id=None, quiet=as_json)
    if as_json:
        print_json(run.to_dict())
    else:
        print_run(run)
    if run.state is RunState.FAILED:
        raise RunFailed(run.failure_reason or "no reason recorded")


def _follow(
    state: CliState, project: str, dataset_id: str, *, skip_run_id: str | None, quiet: bool
) -> Run:
    """Show the run's progress until it ends, processing it here if no worker is running."""
    ports = state.ports
    runs = RunStore(ports.table)
    stop = threading.Event()
    current: dict[str, Run] = {}

    def latest() -> Run | None:
        run = runs.find_by_dataset(project, dataset_id)
        if run is None or run.run_id == skip_run_id:
            return None
        current["run"] = run
        return run

    def finished() -> bool:
        run = latest()
        return run is not None and run.state.is_terminal

    background: threading.Thread | None = None
    if not live_workers(ports.table, max_age=state.settings.worker_heartbeat_seconds * 2):
        worker = Worker(
            state.pipeline(),
            daemon=False,
            heartbeat_seconds=state.settings.worker_heartbeat_seconds,
        )
        errors: list[BaseException] = []

        def work() -> None:
            try:
                worker.run(stop, until=finished)
            except BaseException as exc:  # surfaced in the foreground below
                errors.append(exc)
                stop.set()

        background = threading.Thread(target=work, name="conveyor-worker", daemon=True)
        background.start()
    try:
        _show_progress(finished, current, stop, quiet=quiet)
    finally:
        stop.set()
        if background is not None:
            background.join(timeout=30)
    if background is not None and errors:
        raise errors[0]
    run = latest()
    if run is None:
        raise NotFound("the upload's run did not start; is the event queue reachable?")
    return run


def _show_progress(
    finished: object, current: dict[str, Run], stop: threading.Event, *, quiet: bool
) -> None:
    assert callable(finished)
    if quiet:
        while not finished() and not stop.is_set():
            time.sleep(0.2)
        return
    columns = (
        SpinnerColumn(finished_text="[green]✓[/]"),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console) as progress:
        tasks = [progress.add_task(label, total=1, start=False) for _, label in _STAGES]
        while True:
            done = finished()
            run = current.get("run")
            reached = _REACHED.get(run.state, -1) if run is not None else -1
            for index, task_id in enumerate(tasks):
                if index < reached:
                    progress.start_task(task_id)
                    progress.update(task_id, completed=1)
                elif index == reached:
                    progress.start_task(task_id)
            if done or stop.is_set():
                if run is not None and run.state is RunState.FAILED and 0 <= reached < len(tasks):
                    failed = tasks[reached]
                    progress.update(failed, description=f"[red]{_STAGES[reached][1]}: failed[/]")
                    progress.stop_task(failed)
                return
            time.sleep(0.2)
