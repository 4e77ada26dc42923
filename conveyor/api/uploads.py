"""``POST /projects/{project}/uploads``: a CSV, Parquet or .xlsx file (multipart field ``file``)
stored in raw/<project>/ as ``conveyor upload`` stores it; its event starts a run in the
worker that ``conveyor up`` (or ``conveyor worker``) runs. ``conveyor serve`` alone runs no
worker: the run waits QUEUED until one starts.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import IO, Annotated, Any

from fastapi import APIRouter, Depends, Request
from python_multipart.multipart import parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from conveyor.api.deps import ApiContext, api_context
from conveyor.api.schemas import UploadAccepted
from conveyor.errors import InvalidInput, PayloadTooLarge
from conveyor.pipeline.runs import RunStore
from conveyor.pipeline.uploads import RawUpload, put_raw_file
from conveyor.pipeline.worker import live_workers
from conveyor.projects import get_project
from conveyor.serving.schemas import KEY_ERRORS, error_responses
from conveyor.storage import RAW
from conveyor.types import Run

router = APIRouter(tags=["uploads"])
Context = Annotated[ApiContext, Depends(api_context)]

_CHUNK = 1 << 20
# The form's own lines (boundaries, part headers) around the file's bytes.
_FORM_SLACK = 64 * 1024
# How long the request waits for a running worker to take the event and create the run,
# so the answer can name it; the worker polls its queue every 0.2 s.
RUN_WAIT_SECONDS = 3.0


_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "sheet": {
                            "type": "string",
                            "description": "An .xlsx workbook's sheet: its name or 0-based "
                            "position (default: the first); or the query parameter.",
                        },
                    },
                }
            }
        },
    }
}


@router.post(
    "/projects/{project}/uploads",
    response_model=UploadAccepted,
    status_code=202,
    openapi_extra=_FORM,
    responses=error_responses(400, 404, 413, 422, *KEY_ERRORS),
)
async def upload(
    project: str, request: Request, api: Context, force: bool = False, sheet: str | None = None
) -> Any:
    """Upload a file: its arrival starts a run (``conveyor upload``). ``force``: train again
    even if these exact bytes were trained before; ``sheet`` (or the form field): an .xlsx
    workbook's sheet, by name or 0-based position, the first by default."""
    await run_in_threadpool(get_project, api.ports.table, project)
    limit = api.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit + _FORM_SLACK:
        raise _too_large(limit)  # refused before a byte of the body is read
    form = await _read_form(request, limit)
    try:
        part = form.get("file")
        if not isinstance(part, UploadFile):
            raise InvalidInput("send the file as the multipart form field 'file'", field="file")
        sheet = _sheet_of(form, sheet)
        return await run_in_threadpool(_accept, api, project, part, limit, force, sheet)
    finally:
        await form.close()


async def _read_form(request: Request, limit: int) -> FormData:
    """The multipart form, its body read only up to the limit (plus the form's own lines):
    file parts spool to disk past 1 MiB, so no upload is ever held whole in memory."""
    content_type, _ = parse_options_header(request.headers.get("content-type"))
    if content_type != b"multipart/form-data":
        raise InvalidInput(
            "send the file as multipart/form-data, in the form field 'file'", field="file"
        )

    async def bounded() -> AsyncGenerator[bytes, None]:
        seen = 0
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > limit + _FORM_SLACK:
                raise _too_large(limit)
            yield chunk

    parser = MultiPartParser(request.headers, bounded(), max_files=1, max_fields=10)
    try:
        return await parser.parse()
    except MultiPartException as exc:
        raise InvalidInput(
            f"the multipart form could not be read: {exc.message}", field="file"
        ) from exc


def _sheet_of(form: FormData, query: str | None) -> str | None:
    field = form.get("sheet")
    if isinstance(field, UploadFile):
        raise InvalidInput("send the sheet as a plain form field, not a file", field="sheet")
    if field and query and field != query:
        raise InvalidInput(
            f"two sheets were given ({query!r} in the query, {field!r} in the form); send one",
            field="sheet",
        )
    return field or query or None


def _accept(
    api: ApiContext,
    project: str,
    part: UploadFile,
    limit: int,
    force: bool,
    sheet: str | None,
) -> dict[str, Any]:
    name = part.filename or ""
    with tempfile.TemporaryDirectory(prefix="conveyor-upload-") as folder:
        local = Path(folder) / "upload"
        with local.open("wb") as out:
            _copy_at_most(part.file, out, limit)
        uploaded = put_raw_file(
            api.ports, project, local, name=name, force=force, sheet=sheet, source="api"
        )
    worker_running = bool(
        live_workers(api.ports.table, max_age=api.settings.worker_heartbeat_seconds * 2)
    )
    run = _run_of(api, uploaded, wait=worker_running)
    return {
        "run_id": run.run_id if run else None,
        "state": run.state.value if run else "QUEUED",
        "bucket": RAW,
        "key": uploaded.key,
        "dataset_id": uploaded.dataset_id,
        "size": uploaded.info.size,
        "started": uploaded.published,
        "worker_running": worker_running,
    }


def _copy_at_most(source: IO[bytes], out: IO[bytes], limit: int) -> None:
    copied = 0
    while chunk := source.read(_CHUNK):
        copied += len(chunk)
        if copied > limit:
            raise _too_large(limit)
        out.write(chunk)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the file is larger than the server's limit of {limit:,} bytes "
        "(CONVEYOR_MAX_UPLOAD_BYTES); upload it with `conveyor upload`",
        field="file",
    )


def _run_of(api: ApiContext, uploaded: RawUpload, *, wait: bool) -> Run | None:
    """The run of the upload: the earlier one when nothing started, else the new one, once
    a worker created it (waiting a moment when one is running)."""
    if not uploaded.published:
        return uploaded.previous
    runs = RunStore(api.ports.table)
    project = uploaded.key.split("/", 1)[0]
    skip = uploaded.previous.run_id if uploaded.previous else None
    deadline = time.monotonic() + (RUN_WAIT_SECONDS if wait else 0.0)
    while True:
        run = runs.find_by_dataset(project, uploaded.dataset_id)
        if run is not None and run.run_id != skip:
            return run
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.1)
