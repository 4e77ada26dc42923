"""``conveyor predict``: score a whole file with a project's deployed (or a chosen) version."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from conveyor.cli._context import CliState
from conveyor.cli._output import console, err_console, print_json
from conveyor.errors import IntegrityError, NotFound
from conveyor.model.loading import load_verified, resolve_version
from conveyor.monitoring.integrity import raise_integrity_alarm
from conveyor.serving.batch import DEFAULT_CHUNK_ROWS, count_rows, output_format, predict_file


def predict(
    ctx: typer.Context,
    project: Annotated[str, typer.Argument(help="The project whose model scores the file.")],
    input_path: Annotated[Path, typer.Option("--input", "-i", help="CSV or Parquet to score.")],
    output_path: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Where to write it with predictions: .csv, .parquet, .json or .jsonl.",
        ),
    ],
    version: Annotated[
        int | None,
        typer.Option("--version", help="Score with this version instead of the deployed one."),
    ] = None,
    chunk_rows: Annotated[
        int, typer.Option("--chunk-rows", help="Rows per chunk.")
    ] = DEFAULT_CHUNK_ROWS,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable summary.")] = False,
) -> None:
    """Batch predict: stream the file through the model chunk by chunk, with a progress bar."""
    state: CliState = ctx.obj
    ports = state.ports
    if not input_path.is_file():
        raise NotFound(f"no file {str(input_path)!r}", field="input")
    output_format(output_path)  # an output it cannot write fails before any work
    version = resolve_version(ports, project, version, instead=" or pass --version")
    model = ports.registry.get_version(project, version)
    try:
        predictor = load_verified(
            ports.store,
            model.artifact,
            model.sha256,
            cache_dir=state.settings.serving_cache_dir,
            version=f"{project} v{version}",
        )
    except IntegrityError as exc:
        raise_integrity_alarm(ports.table, project, version, exc, where="batch predict")
        raise
    total = count_rows(input_path)
    started = time.perf_counter()
    columns = (
        TextColumn(f"scoring with {project} v{version}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console, disable=as_json) as progress:
        task = progress.add_task("rows", total=total)
        rows = predict_file(
            predictor,
            input_path,
            output_path,
            chunk_rows=chunk_rows,
            on_rows=lambda n: progress.advance(task, n),
        )
    seconds = time.perf_counter() - started
    summary = {
        "project": project,
        "version": version,
        "rows": rows,
        "seconds": round(seconds, 3),
        "rows_per_second": round(rows / seconds, 1) if seconds else None,
        "output": str(output_path),
    }
    if as_json:
        print_json(summary)
    else:
        console.print(
            f"wrote {rows:,} rows to {output_path} in {seconds:.1f}s "
            f"({summary['rows_per_second']:,} rows/s) with {project} v{version}"
        )
