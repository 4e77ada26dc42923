"""What each page shows of the domain, read through the functions the API answers with.

Only what is fixed when the page is drawn lives here; live figures (traffic, drift, alarms, a
run in progress) and every action are fetched by the page from /api/v1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conveyor.api.summaries import project_summaries
from conveyor.endpoint import Deployment
from conveyor.errors import NotFound
from conveyor.model.metrics import METRICS
from conveyor.pipeline.cause import RunCause, cause_of
from conveyor.pipeline.data_view import dataset_view
from conveyor.pipeline.file_report import (
    column_rows,
    dataset_report,
    fact_lines,
    file_facts,
    rejects,
)
from conveyor.pipeline.registration import decision_summary
from conveyor.pipeline.run_logs import stage_list
from conveyor.pipeline.runs import RunStore
from conveyor.ports import Ports
from conveyor.projects import get_project
from conveyor.tabular.schema import ColumnReport
from conveyor.types import ModelVersion, Project, Run

RECENT_RUNS = 20


@dataclass(frozen=True)
class ProjectPage:
    project: Project
    deployment: Deployment | None
    aliases: dict[str, int]
    versions: list[ModelVersion]
    runs: list[tuple[Run, list[dict[str, Any]]]]


def projects_overview(ports: Ports) -> list[dict[str, Any]]:
    """One line per project, as ``GET /api/v1/projects`` answers it."""
    return project_summaries(ports)


def project_page(ports: Ports, name: str) -> ProjectPage:
    project = get_project(ports.table, name)
    runs = RunStore(ports.table).list_runs(project.name, limit=RECENT_RUNS)
    return ProjectPage(
        project=project,
        deployment=ports.endpoint.describe_endpoint(project.name),
        aliases=ports.registry.get_aliases(project.name),
        versions=ports.registry.list_versions(project.name),
        runs=[(run, stage_list(run)) for run in runs],
    )


def run_page(ports: Ports, run_id: str) -> tuple[Run, list[dict[str, Any]]]:
    run = RunStore(ports.table).get(run_id)
    return run, stage_list(run)


@dataclass(frozen=True)
class FileSection:
    """What the run did with its file, for the run page's "your file" panel."""

    facts: list[tuple[str, str]]
    rejects: list[dict[str, Any]]
    rows_rejected: int
    columns: list[ColumnReport]

    @property
    def empty(self) -> bool:
        return not self.facts and not self.columns


def file_section(report: dict[str, Any]) -> FileSection:
    facts = file_facts(report)
    return FileSection(
        facts=fact_lines(facts) if facts else [],
        rejects=rejects(facts, 20) if facts else [],
        rows_rejected=int((facts or {}).get("rows_rejected") or 0),
        columns=column_rows(report),
    )


def version_page(ports: Ports, project: str, version: int) -> dict[str, Any]:
    get_project(ports.table, project)
    model = ports.registry.get_version(project, version)
    deployment = ports.endpoint.describe_endpoint(project)
    return {
        "version": model,
        "deployed": deployment is not None and deployment.version == version,
        "cause": _cause_of_run(ports, model.run_id),
        "decision": decision_summary(model),
        "file": file_section(dataset_report(ports.store, ports.table, model)),
        "metric_names": sorted({m for split in model.metrics.values() for m in split}),
        "splits": [s for s in ("test", "validation", "baseline") if s in model.metrics]
        + sorted(s for s in model.metrics if s not in ("test", "validation", "baseline")),
    }


def data_page(ports: Ports, project: str, dataset_id: str) -> dict[str, Any]:
    """The data view of one data set, and the versions trained on it."""
    get_project(ports.table, project)
    view = dataset_view(ports.store, project, dataset_id)
    trained = [
        v.version for v in ports.registry.list_versions(project) if v.dataset_id == dataset_id
    ]
    return {"data": view, "versions": sorted(trained)}


def compare_page(ports: Ports, project: str, asked: list[str]) -> dict[str, Any]:
    """The compare page: the project's versions to pick from and those picked (``asked``:
    the query's ``versions``, repeated or comma-separated; none: the two newest)."""
    found = get_project(ports.table, project)
    versions = ports.registry.list_versions(project)
    parts = [part.strip() for value in asked for part in value.split(",") if part.strip()]
    problem = None
    try:
        selected = sorted(int(part) for part in parts)  # oldest on the left, as checked
    except ValueError:
        selected, problem = [], f"versions must be numbers, e.g. 2,3; got {','.join(parts)!r}"
    if not parts:
        selected = sorted(v.version for v in versions[:2])
    if problem is None and len(selected) < 2:
        problem = "Pick two or more versions to compare."
    return {
        "project": found,
        "versions": versions,
        "selected": selected,
        "problem": problem,
        "lower_is_better": sorted(m.name for m in METRICS.values() if not m.greater_is_better),
    }


def _cause_of_run(ports: Ports, run_id: str) -> RunCause | None:
    try:
        return cause_of(RunStore(ports.table).get(run_id))
    except NotFound:  # a version registered by hand, or its run record gone
        return None
