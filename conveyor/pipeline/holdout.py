"""The project's holdout: rows set aside at its first run and never trained on, on which every
later version and the champion are scored alike.

The holdout is the first run's test split, kept as the upload's rows were read (before a
schema typed them), under ``processed/<project>/holdout/``. Every later run reads it with
its own schema, leaves its rows out of training, validation and test (an upload or a retrain
that holds them again, feedback included, does not train on them), and its model and the
champion are scored on it. A row is the holdout's when its typed values, target included,
equal a holdout row's on the columns both have.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from conveyor.errors import NotFound
from conveyor.storage import PROCESSED, ObjectStore
from conveyor.tabular.coerce import coerce_frame
from conveyor.tabular.schema import DatasetSchema


@dataclass(frozen=True)
class Holdout:
    """``id`` is the dataset id of the run that set the rows aside; ``source`` the digest of
    that run's rows (``rows_digest``), so that a later run of the same rows (the same file,
    or one that only repeats its rows) splits them as that run did."""

    id: str
    rows: int
    key: str
    frame: pl.DataFrame
    source: str | None = None

    def info(self) -> dict[str, Any]:
        return {"id": self.id, "rows": self.rows, "key": self.key}


def _rows_key(project: str) -> str:
    return f"{project}/holdout/rows.parquet"


def _info_key(project: str) -> str:
    return f"{project}/holdout/holdout.json"


def holdout_info(store: ObjectStore, project: str) -> dict[str, Any] | None:
    """The id, rows and key of the project's holdout, or None before its first run."""
    try:
        info: dict[str, Any] = json.loads(store.get(PROCESSED, _info_key(project)))
    except NotFound:
        return None
    return info


def load_holdout(store: ObjectStore, project: str, workdir: Path) -> Holdout | None:
    """The project's holdout rows, or None before its first run set them aside."""
    info = holdout_info(store, project)
    if info is None:
        return None
    local = workdir / "holdout.parquet"
    try:
        store.download(PROCESSED, _rows_key(project), local)
    except NotFound:
        return None
    return Holdout(
        str(info["id"]),
        int(info["rows"]),
        str(info["key"]),
        pl.read_parquet(local),
        info.get("source"),
    )


def save_holdout(
    store: ObjectStore,
    project: str,
    frame: pl.DataFrame,
    *,
    dataset_id: str,
    source: str,
    workdir: Path,
) -> dict[str, Any]:
    """Keep ``frame`` (rows as read) as the project's holdout, set aside from the rows whose
    ``rows_digest`` is ``source``; returns its info."""
    local = workdir / "holdout.parquet"
    frame.write_parquet(local)
    store.put_file(PROCESSED, _rows_key(project), local)
    info = {"id": dataset_id, "rows": frame.height, "key": f"{PROCESSED}/{_rows_key(project)}"}
    store.put(PROCESSED, _info_key(project), json.dumps({**info, "source": source}).encode())
    return info


def rows_digest(hashes: pl.Series) -> str:
    """A digest of a run's typed rows, in order, from their row hashes."""
    return hashlib.sha256(hashes.to_numpy().tobytes()).hexdigest()


def typed_holdout(holdout: Holdout, schema: DatasetSchema) -> pl.DataFrame | str:
    """The holdout's rows read with ``schema`` (as preprocessing reads an upload), those with
    a target; or why it cannot be: a column the schema needs is not in it."""
    frame = holdout.frame
    missing = [name for name in (*schema.feature_names, schema.target) if name not in frame.columns]
    if missing:
        shown = ", ".join(repr(name) for name in missing[:5])
        return f"the holdout (rows of the first upload) has no column(s) {shown}"
    typed = coerce_frame(frame, schema, with_target=True, lenient=True)
    return typed.filter(pl.col(schema.target).is_not_null())


def without_rows(frame: pl.DataFrame, rows: pl.DataFrame) -> pl.DataFrame:
    """``frame``'s rows that equal none of ``rows`` on their shared columns (missing equals
    missing); both typed by one schema."""
    shared = [name for name in frame.columns if name in rows.columns]
    keys = rows.select(shared).unique()
    return frame.join(keys, on=shared, how="anti", nulls_equal=True, maintain_order="left")
