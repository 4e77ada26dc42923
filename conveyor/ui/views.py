"""What each page shows of the domain, read from the ports (the same objects the API reads).

Only what is fixed when the page is drawn lives here; live figures (traffic, drift, alarms, a
run in progress) and every action are fetched by the page from /api/v1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conveyor.endpoint import Deployment
from conveyor.errors import NotFound
from conveyor.pipeline.runs import RunStore
from conveyor.projects import get_project, list_projects
from conveyor.types import ModelVersion, Project, Run, RunState
from conveyor.wiring import Ports

RECENT_RUNS = 20


@dataclass(frozen=True)
class StageRow:
    stage: str
    seconds: float | None
    outcome: str  # "ok" | "running" | "failed"


@dataclass(frozen=True)
class ProjectRow:
    project: Project
    deployed: ModelVersion | None


@dataclass(frozen=True)
class ProjectPage:
    project: Project
    deployment: Deployment | None
    aliases: dict[str, int]
    versions: list[ModelVersion]
    runs: list[tuple[Run, list[StageRow]]]


def stage_rows(run: Run) -> list[StageRow]:
    """Each stage the run entered, with its time and how it ended."""
    rows = []
    for name, timing in run.stages.items():
        if timing.finished_at is not None:
            outcome = "ok"
        elif run.state is RunState.FAILED:
            outcome = "failed"  # the stage the run was in when it failed
        else:
            outcome = "running"
        rows.append(StageRow(name, timing.seconds, outcome))
    return rows


def _deployed_version(ports: Ports, deployment: Deployment | None) -> ModelVersion | None:
    if deployment is None:
        return None
    try:
        return ports.registry.get_version(deployment.project, deployment.version)
    except NotFound:
        return None


def projects_overview(ports: Ports) -> list[ProjectRow]:
    rows = []
    for project in list_projects(ports.table):
        deployment = ports.endpoint.describe_endpoint(project.name)
        rows.append(ProjectRow(project, _deployed_version(ports, deployment)))
    return rows


def project_page(ports: Ports, name: str) -> ProjectPage:
    project = get_project(ports.table, name)
    runs = RunStore(ports.table).list_runs(project.name, limit=RECENT_RUNS)
    return ProjectPage(
        project=project,
        deployment=ports.endpoint.describe_endpoint(project.name),
        aliases=ports.registry.get_aliases(project.name),
        versions=ports.registry.list_versions(project.name),
        runs=[(run, stage_rows(run)) for run in runs],
    )


def run_page(ports: Ports, run_id: str) -> tuple[Run, list[StageRow]]:
    run = RunStore(ports.table).get(run_id)
    return run, stage_rows(run)


def version_page(ports: Ports, project: str, version: int) -> dict[str, Any]:
    get_project(ports.table, project)
    model = ports.registry.get_version(project, version)
    deployment = ports.endpoint.describe_endpoint(project)
    return {
        "version": model,
        "deployed": deployment is not None and deployment.version == version,
        "metric_names": sorted({m for split in model.metrics.values() for m in split}),
        "splits": [s for s in ("test", "validation", "baseline") if s in model.metrics]
        + sorted(s for s in model.metrics if s not in ("test", "validation", "baseline")),
    }
