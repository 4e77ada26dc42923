"""The /ui routes: one HTML page each, and the package's own scripts and styles.

Pages are drawn on the server from the ports; their scripts (static/ui.js) call /api/v1 for
live data and for every action, so the dashboard does nothing the API (and the CLI) cannot.
"""

from __future__ import annotations

import mimetypes
from datetime import datetime
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from conveyor.errors import InvalidInput, NotFound
from conveyor.pipeline.cause import cause_of
from conveyor.pipeline.registration import candidate_settings, search_summary
from conveyor.ports import Ports
from conveyor.projects import describe_changes
from conveyor.types import to_iso
from conveyor.ui import views

HERE = Path(__file__).parent
STATIC = (HERE / "static").resolve()


def _when(moment: datetime | None) -> str:
    return to_iso(moment).replace("T", " ")[:19] + " UTC" if moment else "—"


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


def _metric(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def _percent(share: float | None) -> str:
    return "—" if share is None else f"{100 * share:.1f}%"


def build_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(HERE / "templates"))  # autoescapes .html
    filters = templates.env.filters
    filters.update(when=_when, seconds=_seconds, metric=_metric, changes=describe_changes)
    filters.update(percent=_percent)
    filters.update(cause=cause_of, search_summary=search_summary)
    filters.update(candidate_settings=candidate_settings)
    return templates


def build_ui_router(ports: Ports, *, drift_check_seconds: float | None = None) -> APIRouter:
    """The dashboard's routes, all under /ui (one dependency can guard them all);
    ``drift_check_seconds``: how often the monitor checks drift (None: it does not say)."""
    router = APIRouter(prefix="/ui", include_in_schema=False)
    templates = build_templates()

    def not_found(request: Request, error: NotFound | InvalidInput) -> Response:
        # A page, not the API's JSON body: a person followed a link or typed the address.
        context = {"message": error.message}
        return templates.TemplateResponse(request, "error.html", context, status_code=404)

    @router.get("", response_class=HTMLResponse)
    def projects(request: Request) -> Response:
        rows = views.projects_overview(ports)
        return templates.TemplateResponse(request, "projects.html", {"rows": rows})

    @router.get("/projects/{project}", response_class=HTMLResponse)
    def project(request: Request, project: str) -> Response:
        try:
            page = views.project_page(ports, project)
        except NotFound as error:
            return not_found(request, error)
        context = {"page": page, "drift_check_seconds": drift_check_seconds}
        return templates.TemplateResponse(request, "project.html", context)

    @router.get("/runs/{run_id}", response_class=HTMLResponse)
    def run(request: Request, run_id: str) -> Response:
        try:
            run, stages = views.run_page(ports, run_id)
        except NotFound as error:
            return not_found(request, error)
        context = {"run": run, "stages": stages, "file": views.file_section(run.report)}
        return templates.TemplateResponse(request, "run.html", context)

    @router.get("/projects/{project}/versions/{version}", response_class=HTMLResponse)
    def version(request: Request, project: str, version: int) -> Response:
        try:
            context = views.version_page(ports, project, version)
        except NotFound as error:
            return not_found(request, error)
        return templates.TemplateResponse(request, "version.html", context)

    @router.get("/projects/{project}/datasets/{dataset_id}", response_class=HTMLResponse)
    def data(request: Request, project: str, dataset_id: str) -> Response:
        try:
            context = views.data_page(ports, project, dataset_id)
        except (NotFound, InvalidInput) as error:
            return not_found(request, error)
        return templates.TemplateResponse(request, "data.html", context)

    @router.get("/projects/{project}/compare", response_class=HTMLResponse)
    def compare(request: Request, project: str) -> Response:
        asked = request.query_params.getlist("versions")
        try:
            context = views.compare_page(ports, project, asked)
        except NotFound as error:
            return not_found(request, error)
        return templates.TemplateResponse(request, "compare.html", context)

    @router.get("/static/{path:path}")
    def static(path: str) -> Response:
        try:
            target = (STATIC / path).resolve()
            found = target.is_relative_to(STATIC) and target.is_file()
        except (ValueError, OSError):  # a NUL byte, a name too long: no such file either
            found = False
        if not found:
            raise NotFound(f"no static file {path!r}", field="path")
        media_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        return FileResponse(target, media_type=media_type)

    @router.get("/", include_in_schema=False)
    def slash() -> Response:
        return RedirectResponse("/ui")

    return router
