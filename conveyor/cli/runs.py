"""``conveyor runs``: what the pipeline did with each upload."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table as RichTable

from conveyor.cli._arguments import JsonOption
from conveyor.cli._context import CliState
from conveyor.cli._file_report import print_file_report
from conveyor.cli._output import console, fmt_metric, fmt_seconds, print_json
from conveyor.errors import InvalidInput
from conveyor.pipeline.cause import cause_of
from conveyor.pipeline.registration import candidate_settings, search_summary
from conveyor.pipeline.run_logs import training_log
from conveyor.pipeline.runs import RunStore
from conveyor.projects import describe_changes
from conveyor.types import Run, RunState

app = typer.Typer(help="Inspect pipeline runs.", no_args_is_help=True)


_STATE_STYLE = {
    RunState.FAILED: "red",
    RunState.REJECTED: "yellow",
    RunState.REGISTERED: "green",
    RunState.DEPLOYED: "bold green",
}


def styled_state(state: RunState) -> str:
    style = _STATE_STYLE.get(state, "cyan")
    return f"[{style}]{state.value}[/]"


def primary_test_metric(run: Run) -> tuple[str | None, float | None]:
    name = run.report.get("primary_metric")
    metrics: dict[str, Any] = run.report.get("metrics") or {}
    return name, (metrics.get("test") or {}).get(name) if name else None


@app.command("list")
def list_(
    ctx: typer.Context,
    of: Annotated[
        str | None,
        typer.Argument(
            metavar="PROJECT",
            help="Only this project (as `models list PROJECT`); every project's when left out.",
        ),
    ] = None,
    project: Annotated[
        str | None, typer.Option("--project", "-p", help="Only this project (same as PROJECT).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many runs.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """List runs, newest first: `conveyor runs list churn` or `--project churn`."""
    state: CliState = ctx.obj
    if of is not None and project is not None and of != project:
        raise InvalidInput(f"two projects given: {of!r} and --project {project!r}", field="project")
    items = RunStore(state.ports.table).list_runs(of or project, limit=limit)
    if as_json:
        print_json([{**r.to_dict(), "cause": cause_of(r).to_dict()} for r in items])
        return
    table = RichTable("run", "project", "state", "cause", "version", "metric (test)", "created")
    for run in items:
        name, value = primary_test_metric(run)
        table.add_row(
            run.run_id,
            run.project,
            styled_state(run.state),
            cause_of(run).short,
            str(run.model_version or "-"),
            f"{name}={fmt_metric(value)}" if name else "-",
            run.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    console.print(table)


def print_run(run: Run) -> None:
    console.print(
        f"[bold]run {run.run_id}[/]  project [cyan]{run.project}[/]  {styled_state(run.state)}"
    )
    console.print(f"  raw       {run.raw.uri}")
    console.print(f"  cause     {cause_of(run).sentence}", highlight=False)
    console.print(f"  dataset   {run.dataset_id}")
    changed = run.report.get("settings_changed")
    if changed:
        console.print(
            f"  settings  changed since run {changed['since_run']}: "
            f"{describe_changes(changed['changes'])}",
            highlight=False,
        )
    if run.job_name:
        console.print(f"  job       {run.job_name}")
    if run.model_version:
        console.print(f"  version   {run.model_version}")
    if run.failure_reason:
        console.print(f"  [red]reason[/]    {run.failure_reason}", highlight=False)
    if run.stages:
        stages = RichTable("stage", "started", "duration", box=None, padding=(0, 2))
        for name, timing in run.stages.items():
            stages.add_row(
                name, timing.started_at.strftime("%H:%M:%S"), fmt_seconds(timing.seconds)
            )
        console.print(stages)
    report = run.report
    if "rows_read" in report:
        console.print(
            f"  rows      read {report.get('rows_read')}, dropped for a missing target "
            f"{report.get('rows_dropped_missing_target', 0)}, split "
            f"{report.get('rows_train')}/{report.get('rows_validation')}/{report.get('rows_test')}"
        )
    for note in report.get("notes") or []:
        console.print(f"  note      {note}", highlight=False)
    print_file_report(report)
    metrics = report.get("metrics")
    if report.get("fit"):
        console.print(f"  fit       {report['fit']}", highlight=False)
    if metrics:
        print_metrics(metrics, report.get("primary_metric"))
    print_leaderboard(report.get("search"))
    if report.get("gate"):
        print_gate(report["gate"])


def print_leaderboard(search: dict[str, Any] | None, *, rows: int = 12) -> None:
    """The job's search: a sentence, then its best ``rows`` candidates (the winner starred)."""
    said = search_summary(search)
    if said is None or search is None:
        return
    console.print(f"  search    {said}", highlight=False)
    table = RichTable(
        "",
        "candidate",
        search["metric"],
        "fit s",
        "predict s/1k rows",
        "status",
        "settings",
        box=None,
        padding=(0, 2),
    )
    board = search.get("leaderboard") or []
    for row in board[:rows]:
        per_1000 = row.get("predict_seconds_per_1000")
        table.add_row(
            "*" if row.get("winner") else "",
            row["name"],
            fmt_metric(row.get("score")),
            f"{row['fit_seconds']:.2f}",
            "-" if per_1000 is None else f"{per_1000:.4f}",
            row["status"],
            candidate_settings(row),
        )
    console.print(table)
    if len(board) > rows:
        console.print(f"  ({len(board) - rows} more: `conveyor runs show --json`)")


def print_metrics(metrics: dict[str, dict[str, float]], primary: str | None) -> None:
    names = sorted({n for split in metrics.values() for n in split})
    splits = [s for s in ("validation", "test", "holdout", "baseline") if s in metrics]
    table = RichTable("metric", *splits)
    for name in names:
        label = f"[bold]{name}[/]" if name == primary else name
        table.add_row(label, *(fmt_metric(metrics[s].get(name)) for s in splits))
    console.print(table)


def print_gate(gate: dict[str, Any]) -> None:
    """The gate's decision, and the new version and the champion scored on the same rows:
    per split, its rows and the dataset they come from (the split decided on first)."""
    console.print(f"  gate      {gate.get('status')}: {gate.get('reason')}", highlight=False)
    for warning in gate.get("warnings") or []:
        console.print(f"  [yellow]warning[/]   {warning}", highlight=False)
    scores: dict[str, dict[str, Any]] = gate.get("scores") or {}
    if not scores:
        return
    metric = gate.get("metric")
    champion = gate.get("champion_version")
    table = RichTable(
        f"{metric} on the same rows",
        "rows",
        "this version",
        f"champion v{champion}" if champion else "champion",
        "trivial baseline",
        "dataset",
        box=None,
        padding=(0, 2),
    )
    decided = gate.get("split")
    for split in sorted(scores, key=lambda name: name != decided):
        same = scores[split]
        theirs = same.get("champion") or {}
        table.add_row(
            f"{split} (the gate's)" if split == decided else split,
            str(same.get("rows")),
            fmt_metric(same["challenger"].get(metric)),
            fmt_metric(theirs.get(metric)) if champion else "-",
            fmt_metric(same["baseline"].get(metric)),
            str(same.get("dataset_id", ""))[:12],
        )
    console.print(table)
    for note in gate.get("notes") or []:
        console.print(f"  note      {note}", highlight=False)


@app.command("show")
def show(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="The run id (from `conveyor runs list`).")],
    logs: Annotated[
        bool, typer.Option("--logs", help="Also print the training job's log.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Show a run: its stages, report, metrics or failure reason."""
    state: CliState = ctx.obj
    run = RunStore(state.ports.table).get(run_id)
    if as_json:
        print_json({**run.to_dict(), "cause": cause_of(run).to_dict()})
    else:
        print_run(run)
    if logs:
        text = training_log(state.ports, run)
        typer.echo("(no training log: the run did not reach training)" if text is None else text)
