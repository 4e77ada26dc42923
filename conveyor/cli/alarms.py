"""``conveyor alarms``: each project's alarms, their state and history; edit and evaluate."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table as RichTable

from conveyor.cli._arguments import AlarmArg, JsonOption, ProjectArg
from conveyor.cli._context import CliState
from conveyor.cli._output import console, print_json
from conveyor.errors import InvalidInput
from conveyor.metrics import LocalAlarmStates
from conveyor.metrics.alarm_rules import (
    AlarmMetric,
    AlarmRule,
    AlarmState,
    TreatMissing,
    parse_choice,
)
from conveyor.metrics.alarm_store import AlarmStatus, AlarmTransition
from conveyor.monitoring.alarms.defaults import ensure_default_alarms
from conveyor.pipeline.alarms import evaluate_alarms
from conveyor.pipeline.guardrail import guardrail_items
from conveyor.pipeline.retrain import retrain_on_alarm
from conveyor.projects import get_project
from conveyor.types import from_iso, utcnow

app = typer.Typer(help="Alarms: state, history, rules.", no_args_is_help=True)


_STATE_STYLE = {
    AlarmState.OK: "green",
    AlarmState.ALARM: "bold red",
    AlarmState.INSUFFICIENT_DATA: "yellow",
}


def styled_state(state: str) -> str:
    try:
        return f"[{_STATE_STYLE[AlarmState(state)]}]{state}[/]"
    except ValueError:
        return state


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def _ready(state: CliState, project: str) -> None:
    get_project(state.ports.table, project)
    ensure_default_alarms(state.ports, project)


@app.command("list")
def list_(ctx: typer.Context, project: ProjectArg, as_json: JsonOption = False) -> None:
    """List a project's alarms: state (OK | ALARM | INSUFFICIENT_DATA), since when, why."""
    state: CliState = ctx.obj
    _ready(state, project)
    statuses = state.ports.alarms.list_alarms(project)
    if as_json:
        print_json([s.to_dict() for s in statuses])
        return
    table = RichTable("alarm", "metric", "condition", "state", "since", "reason")
    for status in statuses:
        rule = status.rule
        shown = styled_state(status.state.value) if rule.enabled else "[dim]off[/]"
        table.add_row(
            rule.name,
            rule.metric.value,
            rule.condition,
            shown,
            _when(status.state_updated_at),
            status.reason,
        )
    console.print(table)


@app.command("history")
def history(
    ctx: typer.Context,
    project: ProjectArg,
    alarm: Annotated[str | None, typer.Option("--alarm", help="Only this alarm.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many entries.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """State changes and guardrail rollbacks, newest first."""
    state: CliState = ctx.obj
    get_project(state.ports.table, project)
    entries = state.ports.alarms.alarm_history(project, alarm=alarm, limit=limit)
    if as_json:
        print_json([e.to_dict() for e in entries])
        return
    _print_transitions(entries)


def _print_transitions(entries: list[AlarmTransition]) -> None:
    table = RichTable("time", "alarm", "change", "reason", "actions")
    for entry in entries:
        actions = ", ".join(
            f"{a.get('type')}{'' if a.get('ok') else ' (failed)'}" for a in entry.actions
        )
        table.add_row(
            _when(entry.timestamp),
            entry.alarm,
            f"{styled_state(entry.old_state)} -> {styled_state(entry.new_state)}",
            entry.reason,
            actions or "-",
        )
    console.print(table)


@app.command("guardrail")
def guardrail(
    ctx: typer.Context,
    project: ProjectArg,
    limit: Annotated[int, typer.Option("--limit", help="At most this many deployments.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Each deployment's baking: BAKING, BAKED, ROLLED_BACK (and why), newest first."""
    state: CliState = ctx.obj
    get_project(state.ports.table, project)
    items = guardrail_items(state.ports, project, limit=limit)
    if as_json:
        print_json([{k: v for k, v in i.items() if k not in ("pk", "sk")} for i in items])
        return
    table = RichTable("revision", "version", "state", "deployed", "baking until", "reason")
    for item in items:
        style = {"ROLLED_BACK": "bold red", "BAKING": "yellow", "BAKED": "green"}.get(
            item["state"], "dim"
        )
        table.add_row(
            str(item["revision"]),
            str(item["version"]),
            f"[{style}]{item['state']}[/]",
            _when(from_iso(item["deployed_at"])),
            _when(from_iso(item["baking_until"])),
            item["reason"],
        )
    console.print(table)


@app.command("put")
def put(
    ctx: typer.Context,
    project: ProjectArg,
    name: AlarmArg,
    metric: Annotated[
        str | None,
        typer.Option(
            "--metric",
            help="latency_p99_ms | error_rate | client_error_rate | request_count | "
            "drift_status | live_quality",
        ),
    ] = None,
    threshold: Annotated[float | None, typer.Option("--threshold")] = None,
    comparison: Annotated[
        str | None, typer.Option("--comparison", help="> | >= | < | <= (default >)")
    ] = None,
    period: Annotated[float | None, typer.Option("--period", help="Seconds (default 60).")] = None,
    evaluation_periods: Annotated[
        int | None, typer.Option("--evaluation-periods", help="M (default 3).")
    ] = None,
    datapoints: Annotated[
        int | None, typer.Option("--datapoints", help="N of the M that must breach (default M).")
    ] = None,
    treat_missing: Annotated[
        str | None,
        typer.Option("--treat-missing", help="missing | ignore | breaching | notBreaching"),
    ] = None,
    action: Annotated[
        list[str] | None,
        typer.Option(
            "--action", help="log | retrain (repeatable; with --webhook, replaces the actions)."
        ),
    ] = None,
    webhook: Annotated[
        list[str] | None, typer.Option("--webhook", help="POST the change here (repeatable).")
    ] = None,
    quality_metric: Annotated[
        str | None, typer.Option("--quality-metric", help="live_quality: e.g. roc_auc.")
    ] = None,
    enabled: Annotated[
        bool | None, typer.Option("--enable/--disable", help="Evaluate it or not.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create an alarm, or change the given fields of an existing one (it keeps its state)."""
    state: CliState = ctx.obj
    _ready(state, project)
    existing = {s.rule.name: s.rule for s in state.ports.alarms.list_alarms(project)}
    changes: dict[str, object] = {}
    if metric is not None:
        changes["metric"] = parse_choice(AlarmMetric, metric, what="alarm metric", field="metric")
    if threshold is not None:
        changes["threshold"] = threshold
    if comparison is not None:
        changes["comparison"] = comparison
    if period is not None:
        changes["period_seconds"] = period
    if evaluation_periods is not None:
        changes["evaluation_periods"] = evaluation_periods
        if datapoints is None and name not in existing:
            changes["datapoints_to_alarm"] = evaluation_periods
    if datapoints is not None:
        changes["datapoints_to_alarm"] = datapoints
    if treat_missing is not None:
        changes["treat_missing_data"] = parse_choice(
            TreatMissing, treat_missing, what="treat_missing_data", field="treat_missing_data"
        )
    if action is not None or webhook is not None:
        actions = [{"type": kind} for kind in action or []]
        actions += [{"type": "webhook", "url": url} for url in webhook or []]
        changes["actions"] = tuple(actions)
    if quality_metric is not None:
        changes["quality_metric"] = quality_metric
    if enabled is not None:
        changes["enabled"] = enabled
    if name in existing:
        rule = existing[name].with_changes(**changes)
    else:
        if "metric" not in changes or "threshold" not in changes:
            raise InvalidInput(
                f"a new alarm needs --metric and --threshold (project {project!r} has no alarm "
                f"{name!r} yet)",
                field="metric" if "metric" not in changes else "threshold",
            )
        changes.setdefault("comparison", ">")
        rule = AlarmRule(name=name, project=project, **changes)  # type: ignore[arg-type]
    status = state.ports.alarms.put_alarm(rule)
    if as_json:
        print_json(status.to_dict())
    else:
        console.print(f"alarm {project}/{name}: {rule.metric.value} {rule.condition}")


@app.command("delete")
def delete(ctx: typer.Context, project: ProjectArg, name: AlarmArg) -> None:
    """Delete an alarm (a default one stays deleted)."""
    state: CliState = ctx.obj
    _ready(state, project)
    state.ports.alarms.delete_alarm(project, name)
    console.print(f"alarm {project}/{name} deleted")


@app.command("evaluate")
def evaluate(ctx: typer.Context, project: ProjectArg, as_json: JsonOption = False) -> None:
    """Evaluate the project's alarms now and print what changed."""
    state: CliState = ctx.obj
    _ready(state, project)
    on_retrain = retrain_on_alarm(
        state.ports, cooldown_seconds=state.settings.retrain_cooldown_seconds
    )
    if not isinstance(state.ports.alarms, LocalAlarmStates):
        console.print(
            f"{state.ports.alarms.scheme} evaluates the alarms of {project}: "
            f"`conveyor alarms list {project}` shows their state"
        )
        return
    transitions = evaluate_alarms(state.ports, project, now=utcnow(), on_retrain=on_retrain)
    if as_json:
        print_json([t.to_dict() for t in transitions])
    elif transitions:
        _print_transitions(transitions)
    else:
        console.print(f"no alarm of {project} changed state")


__all__ = ["AlarmStatus", "app"]
