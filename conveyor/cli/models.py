"""``conveyor models``: the registry — versions, their metrics, approval."""

from __future__ import annotations

import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table as RichTable

from conveyor.cli._arguments import JsonOption, ProjectArg, VersionArg
from conveyor.cli._context import CliState
from conveyor.cli._file_report import print_file_report
from conveyor.cli._output import console, fmt_metric, print_json
from conveyor.cli.runs import print_gate, print_leaderboard, print_metrics
from conveyor.errors import IntegrityError
from conveyor.model.loading import download_verified
from conveyor.monitoring.integrity import raise_integrity_alarm
from conveyor.pipeline import lifecycle
from conveyor.pipeline.compare import compare_versions
from conveyor.pipeline.file_report import dataset_report, report_view
from conveyor.pipeline.lifecycle import Outcome
from conveyor.pipeline.registration import decision_summary, version_search
from conveyor.ports import Ports
from conveyor.projects import get_project
from conveyor.serving.mlflow_export import write_mlflow_model
from conveyor.types import ApprovalStatus, ModelVersion

app = typer.Typer(help="Inspect and approve registered model versions.", no_args_is_help=True)

ReasonOption = Annotated[str | None, typer.Option("--reason", help="Why; kept on the version.")]

_STATUS_STYLE = {
    ApprovalStatus.APPROVED: "green",
    ApprovalStatus.REJECTED: "red",
    ApprovalStatus.PENDING: "yellow",
}


def styled_status(status: ApprovalStatus) -> str:
    return f"[{_STATUS_STYLE[status]}]{status.value}[/]"


@app.command("list")
def list_(ctx: typer.Context, project: ProjectArg, as_json: JsonOption = False) -> None:
    """List a project's versions, newest first."""
    state: CliState = ctx.obj
    get_project(state.ports.table, project)
    versions = state.ports.registry.list_versions(project)
    aliases = state.ports.registry.get_aliases(project)

    def names(v: ModelVersion) -> list[str]:
        return sorted(a for a, n in aliases.items() if n == v.version)

    if as_json:
        print_json([{**v.to_dict(), "aliases": names(v)} for v in versions])
        return
    table = RichTable(
        "version", "status", "aliases", "metric", "test", "baseline", "algorithm", "run", "created"
    )
    for v in versions:
        metric = v.primary_metric
        table.add_row(
            str(v.version),
            styled_status(v.approval_status),
            ", ".join(names(v)),
            metric,
            fmt_metric(v.metrics.get("test", {}).get(metric)),
            fmt_metric(v.metrics.get("baseline", {}).get(metric)),
            v.algorithm,
            v.run_id,
            v.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    console.print(table)


def print_version(v: ModelVersion) -> None:
    console.print(f"[bold]{v.project} version {v.version}[/]  {styled_status(v.approval_status)}")
    if v.status_reason:
        console.print(f"  reason       {v.status_reason}", highlight=False)
    console.print(f"  task         {v.task} ({v.algorithm}), primary metric {v.primary_metric}")
    console.print(f"  artifact     {v.artifact.uri}")
    console.print(f"  sha256       {v.sha256}")
    console.print(f"  dataset      {v.dataset_id} (from {v.raw.uri})")
    console.print(f"  run          {v.run_id}")
    console.print(
        f"  code         conveyor {v.package_version}"
        + (f", commit {v.git_commit[:12]}" if v.git_commit else "")
    )
    features = v.input_schema.get("features", [])
    console.print(
        "  inputs       " + ", ".join(f"{f['name']} ({f['kind']})" for f in features),
        highlight=False,
    )
    if v.tags:
        console.print("  tags         " + ", ".join(f"{k}={val}" for k, val in v.tags.items()))
    decision = decision_summary(v)
    if decision:
        console.print(f"  decision     {decision}", highlight=False)
    print_metrics(v.metrics, v.primary_metric)
    if v.gate:
        print_gate(v.gate)


@app.command("show")
def show(
    ctx: typer.Context, project: ProjectArg, version: VersionArg, as_json: JsonOption = False
) -> None:
    """Show one version: metrics, lineage, inputs, approval."""
    state: CliState = ctx.obj
    v = state.ports.registry.get_version(project, version)
    report = dataset_report(state.ports.store, state.ports.table, v)
    if as_json:
        search = version_search(state.ports.table, v)
        print_json({**v.to_dict(), "dataset_report": report_view(report), "search": search})
    else:
        print_version(v)
        print_leaderboard(version_search(state.ports.table, v))
        print_file_report(report)


def _said(outcome: Outcome, as_json: bool) -> None:
    """Print what a person's action did: the version (with the deployment it made) as JSON,
    else the version's status and one sentence."""
    v = outcome.version
    if as_json:
        deployment = outcome.deployment.to_dict() if outcome.deployment else None
        print_json({**v.to_dict(), "deployment": deployment, "message": outcome.message})
    else:
        console.print(f"{v.project} version {v.version}: {styled_status(v.approval_status)}")
        console.print(outcome.message)


@app.command("compare")
def compare(
    ctx: typer.Context,
    project: ProjectArg,
    versions: Annotated[list[int], typer.Argument(help="Two or more versions, e.g. 2 3.")],
    as_json: JsonOption = False,
) -> None:
    """Versions side by side: metrics on every split, how each was trained, what it leaned
    on, and what differs between them."""
    state: CliState = ctx.obj
    compared = compare_versions(state.ports, project, versions)
    if as_json:
        print_json(compared)
        return
    columns = compared["versions"]
    heads = [f"v{c['version']}" for c in columns]
    table = RichTable("", *heads, title=f"{project}: versions side by side")
    table.add_row("status", *(c["approval_status"] for c in columns))
    table.add_row("algorithm", *(c["algorithm"] for c in columns))
    table.add_row("data set", *(c["dataset_id"][:12] for c in columns))
    splits = ("validation", "test", "holdout", "baseline")
    names = sorted({m for c in columns for split in c["metrics"].values() for m in split})
    primary = columns[0]["primary_metric"]
    for split in splits:
        for name in names:
            values = [c["metrics"].get(split, {}).get(name) for c in columns]
            if any(value is not None for value in values):
                label = f"{split} {name}" + (" ★" if name == primary else "")
                table.add_row(label, *(fmt_metric(value) for value in values))
    for rank in range(max(len(c["top_inputs"]) for c in columns)):
        cells = [
            f"{c['top_inputs'][rank]['feature']} {c['top_inputs'][rank]['share']:.0%}"
            if rank < len(c["top_inputs"])
            else ""
            for c in columns
        ]
        table.add_row(f"input #{rank + 1}", *cells)
    console.print(table)
    for difference in compared["differences"] or ["settings and data set: the same"]:
        console.print(f"  differs   {difference}", highlight=False)


def _download(ports: Ports, model: ModelVersion, path: Path, *, where: str) -> None:
    """The version's artifact to ``path``, checked against its sha256; a mismatch raises the
    project's integrity alarm (``where`` says which command found it) before it is raised."""
    try:
        download_verified(
            ports.store,
            model.artifact,
            model.sha256,
            path,
            version=f"{model.project} v{model.version}",
        )
    except IntegrityError as exc:
        raise_integrity_alarm(ports.table, model.project, model.version, exc, where=where)
        raise


@app.command("download")
def download(
    ctx: typer.Context,
    project: ProjectArg,
    version: VersionArg,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Where to write it (default: PROJECT-vVERSION.tar.gz here)."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Download a version's artifact (model.tar.gz), checked against the registry's sha256.
    In Python, `conveyor.load_model(PROJECT, VERSION)` loads it as the server does."""
    state: CliState = ctx.obj
    ports = state.ports
    model = ports.registry.get_version(project, version)
    target = output or Path(f"{project}-v{version}.tar.gz")
    target.parent.mkdir(parents=True, exist_ok=True)
    _download(ports, model, target, where="models download")
    if as_json:
        print_json(
            {"project": project, "version": version, "path": str(target), "sha256": model.sha256}
        )
        return
    console.print(
        f"wrote {project} v{version} to {target} (sha256 {model.sha256[:16]}…, as registered); "
        f"in Python: conveyor.load_model({project!r}, {version})",
        highlight=False,
    )


class ExportFormat(StrEnum):
    MLFLOW = "mlflow"


@app.command("export")
def export(
    ctx: typer.Context,
    project: ProjectArg,
    version: VersionArg,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="The folder to write (default: PROJECT-vVERSION-FORMAT here)."
        ),
    ] = None,
    format_: Annotated[
        ExportFormat, typer.Option("--format", help="mlflow: an MLflow pyfunc model directory.")
    ] = ExportFormat.MLFLOW,
    as_json: JsonOption = False,
) -> None:
    """Export a version for another tool: `--format mlflow` writes an MLflow pyfunc model
    directory that `mlflow models serve -m DIR` serves with conveyor's own parsing (conveyor
    must be installed where it serves: its requirements.txt names it)."""
    state: CliState = ctx.obj
    ports = state.ports
    model = ports.registry.get_version(project, version)
    target = output or Path(f"{project}-v{version}-{format_.value}")
    with tempfile.TemporaryDirectory() as tmp:
        tarball = Path(tmp) / "model.tar.gz"
        _download(ports, model, tarball, where="models export")
        write_mlflow_model(tarball, target, model)
    if as_json:
        print_json(
            {"project": project, "version": version, "format": format_.value, "path": str(target)}
        )
        return
    console.print(
        f"wrote {project} v{version} as an MLflow model to {target}; serve it with "
        f"`mlflow models serve -m {target} --env-manager local` where conveyor is installed",
        highlight=False,
    )


@app.command("approve")
def approve(
    ctx: typer.Context,
    project: ProjectArg,
    version: VersionArg,
    reason: ReasonOption = None,
    as_json: JsonOption = False,
) -> None:
    """Approve a version; it is deployed too unless the project deploys by hand. An
    approved version is left as it is."""
    state: CliState = ctx.obj
    outcome = lifecycle.approve_version(
        state.ports, project, version, reason, cache_dir=state.settings.serving_cache_dir
    )
    _said(outcome, as_json)


@app.command("deploy")
def deploy(
    ctx: typer.Context,
    project: ProjectArg,
    version: VersionArg,
    approve: Annotated[
        bool,
        typer.Option(
            "--approve",
            help="Approve it too: a PendingManualApproval version is deployed only with it.",
        ),
    ] = False,
    reason: ReasonOption = None,
    as_json: JsonOption = False,
) -> None:
    """Serve this version (its sha256 checked and the model loaded first); running servers
    swap to it without dropping a request. A rejected version is never deployed."""
    state: CliState = ctx.obj
    deployment = lifecycle.deploy_version(
        state.ports,
        project,
        version,
        approve=approve,
        reason=reason,
        cache_dir=state.settings.serving_cache_dir,
    )
    if as_json:
        print_json(deployment.to_dict())
    else:
        console.print(f"{project} now serves version {deployment.version}")


@app.command("rollback")
def rollback(ctx: typer.Context, project: ProjectArg, as_json: JsonOption = False) -> None:
    """Serve the previously deployed version again."""
    state: CliState = ctx.obj
    deployment = lifecycle.rollback(state.ports, project)
    if as_json:
        print_json(deployment.to_dict())
    else:
        console.print(f"{project} rolled back to version {deployment.version}")


@app.command("reject")
def reject(
    ctx: typer.Context,
    project: ProjectArg,
    version: VersionArg,
    reason: ReasonOption = None,
    as_json: JsonOption = False,
) -> None:
    """Reject a version (it will not be deployed). Rejecting the version that serves rolls
    back to the previous approved one first; with none, the rejection is refused."""
    state: CliState = ctx.obj
    outcome = lifecycle.reject_version(
        state.ports, project, version, reason, cache_dir=state.settings.serving_cache_dir
    )
    _said(outcome, as_json)


__all__ = ["app", "fmt_metric"]
