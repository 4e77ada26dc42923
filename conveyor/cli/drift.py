"""``conveyor drift``: has the traffic of a project's deployed version drifted from its
training data?"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table as RichTable

from conveyor.cli._arguments import ProjectArg
from conveyor.cli._context import CliState
from conveyor.cli._output import console, print_json
from conveyor.cli.inferences import parse_window
from conveyor.errors import EXIT_DRIFT, InvalidInput
from conveyor.types import utcnow

if TYPE_CHECKING:
    from conveyor.monitoring.drift.check import DriftReport

_STYLES = {"OK": "bold green", "DRIFT": "bold red", "INSUFFICIENT_DATA": "bold yellow"}


def parse_moment(text: str, field: str) -> datetime:
    """An ISO 8601 date or time; without a zone it is UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidInput(
            f"--{field} {text!r} is not an ISO 8601 time; write e.g. 2026-03-01T09:00 or "
            "2026-03-01T09:00:00+02:00",
            field=field,
        ) from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def drift(
    ctx: typer.Context,
    project: ProjectArg,
    window: Annotated[
        str, typer.Option("--window", help="How far back from --until: 30m, 1h, 7d…")
    ] = "1h",
    since: Annotated[
        str | None, typer.Option("--since", help="Window start, ISO 8601 (wins over --window).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Window end, ISO 8601 (default: now).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write a self-contained HTML report here.")
    ] = None,
    save: Annotated[
        bool, typer.Option("--save/--no-save", help="Keep the result in the table.")
    ] = True,
) -> None:
    """Compare the deployed version's recent requests with its training data, per feature.

    Exit status:
    0 no drift, or too few requests to tell (INSUFFICIENT_DATA);
    3 drift found;
    other codes are errors (2 a bad option, 4 no deployed version).
    """
    from conveyor.monitoring.drift.check import run_drift_check, save_drift_check

    state: CliState = ctx.obj
    end = parse_moment(until, "until") if until else utcnow()
    start = parse_moment(since, "since") if since else end - _window(window)
    report = run_drift_check(state.ports, project, since=start, until=end)
    if save:
        save_drift_check(state.ports.table, report)
    if html is not None:
        from conveyor.monitoring.drift.html import render_html

        html.parent.mkdir(parents=True, exist_ok=True)
        html.write_text(render_html(report), encoding="utf-8")
    if as_json:
        print_json(report.to_dict())
    else:
        _print(report)
        if html is not None:
            console.print(f"HTML report: {html}")
    if report.status == "DRIFT":
        raise typer.Exit(EXIT_DRIFT)  # so that `conveyor drift P || ...` can act on it


def _window(text: str) -> timedelta:
    try:
        return parse_window(text)
    except InvalidInput as exc:
        raise InvalidInput(
            f"--window {text!r}: use a number and a unit, e.g. 30m, 1h, 7d", field="window"
        ) from exc


def _print(report: DriftReport) -> None:
    window = f"{report.window_start:%Y-%m-%d %H:%M:%S} to {report.window_end:%Y-%m-%d %H:%M:%S}"
    style = _STYLES.get(report.status, "bold")
    console.print(
        f"[{style}]{report.status}[/]  {report.project} v{report.model_version}: "
        f"{report.rows:,} request rows, {window} UTC"
    )
    if report.rows == 0:
        console.print(
            f"No requests answered by version {report.model_version} were recorded in this "
            "window (with their inputs): widen it with --window or --since."
        )
        return
    table = RichTable(
        "feature",
        "kind",
        "PSI",
        "test p",
        "missing",
        "verdict (decides)",
        "Evidently (for reference)",
    )
    for name, f in report.features.items():
        missing = f["missing"]
        evidently = f.get("evidently") or {}
        verdict = "[red]drift[/]" if f["verdict"] == "drift" else "ok"
        table.add_row(
            name,
            f["kind"],
            _num(f.get("psi")),
            _num(f.get("p_value")),
            f"{missing['baseline']:.1%} -> {missing['live']:.1%}",
            verdict,
            f"{evidently.get('test') or '-'} {'drift' if evidently.get('drift') else 'ok'}",
        )
    console.print(table)
    prediction = report.prediction
    if prediction.get("available"):
        console.print(f"predictions: {prediction['verdict']} (PSI {_num(prediction['psi'])})")
    else:
        console.print(f"predictions: not compared ({prediction.get('reason')})")
    ev = report.evidently
    console.print(
        f"Evidently's default rule, for reference: {len(ev['drifted_features'])} of "
        f"{len(report.features)} features ({ev['share']:.0%}), dataset drift "
        f"{'yes' if ev['dataset_drift'] else 'no'}. conveyor's verdict above is what decides "
        f"{report.status}, the drift alarm and a retrain."
    )


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"
