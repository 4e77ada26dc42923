"""What is known of each object stored in ``raw/``, keyed by its key and etag: the dataset id
of its bytes, the options it was uploaded with (a workbook's sheet), and the run its latest
write made.

Every event of one upload (the uploader's, the folder watch's, an S3 notification, a
redelivery) finds here what the first one learnt, so none of them hashes a large file again or
loses the options the uploader gave.
"""

from __future__ import annotations

from typing import Any

from conveyor.tables import Table


def _etag_key(project: str, key: str, etag: str) -> tuple[str, str]:
    return f"rawetag#{project}", f"{key}#{etag}"


def upload_of_etag(table: Table, project: str, key: str, etag: str | None) -> dict[str, Any]:
    """What is known of the bytes stored under ``raw/<key>`` with this etag (empty if
    nothing): ``dataset_id``, and ``sheet`` for a workbook uploaded with one."""
    if not etag:
        return {}
    return table.get(*_etag_key(project, key, etag)) or {}


def remember_upload(
    table: Table,
    project: str,
    key: str,
    etag: str,
    dataset_id: str,
    *,
    sheet: str | None,
    run_id: str | None = None,
    written: str | None = None,
) -> None:
    """Record the dataset id (and sheet) of the bytes under ``raw/<key>`` with this etag, for
    the other events of the same upload (see ``upload_of_etag``); and, once a run is made,
    which write of them (``written``: the object's last-modified time, S3's sequencer) made
    which run, so that another announcement of that same write does not make a second."""
    pk, sk = _etag_key(project, key, etag)
    item: dict[str, Any] = {"pk": pk, "sk": sk, "dataset_id": dataset_id}
    optional = {"sheet": sheet, "run_id": run_id, "written": written}
    item.update({name: value for name, value in optional.items() if value is not None})
    table.put(item)
