"""An upload: a file put in ``raw/<project>/<name>`` and its ObjectCreated event published,
which starts its run in whichever worker takes the event. ``conveyor upload`` and the
management API's upload both go through ``put_raw_file``."""

from __future__ import annotations

import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conveyor.errors import InvalidInput, NotFound
from conveyor.events import object_created
from conveyor.hashing import sha256_file, upload_dataset_id
from conveyor.pipeline.raw_objects import remember_upload
from conveyor.pipeline.runs import RunStore
from conveyor.ports import Ports
from conveyor.projects import changed_settings, get_project, run_settings
from conveyor.storage import RAW
from conveyor.types import ObjectInfo, Run, RunState

_MAX_NAME = 255


@dataclass(frozen=True)
class RawUpload:
    key: str  # in the raw bucket: <project>/<name>
    info: ObjectInfo
    dataset_id: str  # sha256 of the bytes
    previous: Run | None  # the run these bytes made before, if any
    published: bool  # False: the bytes already made a run that did not fail, and no force
    # The project settings that changed since ``previous`` (then the bytes train again).
    changed: dict[str, Any] = field(default_factory=dict)


def validate_file_name(name: str) -> str:
    """A file name the pipeline takes as an upload: one path component, not hidden."""
    if (
        not name
        or len(name.encode("utf-8", "surrogatepass")) > _MAX_NAME  # the file system's limit
        or "/" in name
        or "\\" in name
        or name.startswith(".")
        # Control and invisible format characters (NUL, right-to-left override, zero-width
        # space) let a name hide what it is; surrogates cannot be stored.
        or any(unicodedata.category(char) in ("Cc", "Cf", "Cs") for char in name)
    ):
        raise InvalidInput(
            f"file name {name!r} is not valid: use a plain file name such as 'churn.csv' "
            f"(no folders, not starting with '.', no control or invisible characters, at "
            f"most {_MAX_NAME} bytes)",
            field="file",
        )
    return name


def put_raw_file(
    ports: Ports,
    project: str,
    file: Path,
    *,
    name: str | None = None,
    force: bool = False,
    sheet: str | None = None,
    source: str,
) -> RawUpload:
    """Store ``file`` as ``raw/<project>/<name>`` (``name`` defaults to the file's own) and
    publish its ObjectCreated event, unless these exact bytes (and sheet) already made a run
    that did not fail with the project's current settings (and ``force`` is off): then
    nothing is published and ``previous`` is that run. ``sheet`` (a workbook's sheet name
    or 0-based position) goes with the upload to its run, whichever event of it the worker
    takes first.
    """
    key = f"{project}/{validate_file_name(name or file.name)}"
    sheet = sheet or None
    # The dataset id (sha256) and the store's etag (md5) are two passes over the file;
    # hashlib lets go of the GIL, so on a large upload they run side by side on two cores.
    with ThreadPoolExecutor(1) as pool:
        hashing = pool.submit(sha256_file, file)
        info = ports.store.put_file(RAW, key, file)
        dataset_id = upload_dataset_id(hashing.result(), sheet=sheet)
    remember_upload(ports.table, project, key, info.etag, dataset_id, sheet=sheet)
    previous = RunStore(ports.table).find_by_dataset(project, dataset_id)
    changed = _settings_changed_since(ports, project, previous)
    if previous is not None and previous.state is not RunState.FAILED and not force:
        if not changed:
            return RawUpload(key, info, dataset_id, previous, published=False)
        # A person changed how the project trains (a column left out, another metric)
        # and uploaded the same file to see it: that is a new run, as --force makes.
        force = True
    options = {"sheet": sheet} if sheet is not None else {}
    ports.events.publish(
        object_created(info, dataset_id=dataset_id, source=source, force=force, **options)
    )
    return RawUpload(key, info, dataset_id, previous, published=True, changed=changed)


def _settings_changed_since(ports: Ports, project: str, previous: Run | None) -> dict[str, Any]:
    if previous is None or "settings" not in previous.report:
        return {}
    try:
        current = get_project(ports.table, project)
    except NotFound:
        return {}
    return changed_settings(previous.report["settings"], run_settings(current))
