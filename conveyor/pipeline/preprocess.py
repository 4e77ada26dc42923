"""The preprocess stage: raw object → validated, typed, split data with its schema and
baseline profile under ``processed/<project>/<dataset_id>/``.

Everything is validated before the first write, so a bad upload stores nothing.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from conveyor._memory import give_back_arrow_memory
from conveyor.config import MAX_TRAINING_ROWS
from conveyor.errors import InvalidInput
from conveyor.monitoring.profile import build_profile
from conveyor.pipeline.holdout import (
    Holdout,
    load_holdout,
    rows_digest,
    save_holdout,
    typed_holdout,
    without_rows,
)
from conveyor.storage import PROCESSED, ObjectStore
from conveyor.tabular.coerce import coerce_frame
from conveyor.tabular.infer import infer_schema
from conveyor.tabular.read import read_for_training
from conveyor.tabular.rejects import Reject
from conveyor.tabular.schema import DatasetSchema
from conveyor.tabular.split import split_parts
from conveyor.types import ObjectRef, Project, Task

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class PreprocessResult:
    dataset_id: str
    schema: DatasetSchema
    task: Task
    train: ObjectRef
    validation: ObjectRef
    test: ObjectRef
    schema_ref: ObjectRef
    profile_ref: ObjectRef
    report: dict[str, Any]


def preprocess(
    store: ObjectStore,
    raw: ObjectRef,
    project: Project,
    *,
    dataset_id: str,
    workdir: Path,
    seed: int = 42,
    max_training_rows: int = MAX_TRAINING_ROWS,
    max_reject_share: float | None = None,
    sheet: str | None = None,
) -> PreprocessResult:
    """Read, validate, clean, split and profile one raw object; a file of more than
    ``max_training_rows`` rows is sampled (seeded by ``seed``), and the report says so.
    Rows of the wrong width are set aside (``rejects.csv``) unless more than
    ``max_reject_share`` of them are (by default the project's share); text that is not the
    raw bytes (unpacked, transcoded, a workbook's sheet) is kept as ``decoded.csv``. ``sheet``
    names the workbook's sheet to read (a name or 0-based position; the first by default).

    Raises:
        InvalidInput: the file cannot be trained on; the message says why and what to fix.
    """
    local = workdir / "raw" / Path(raw.key).name
    store.download(raw.bucket, raw.key, local)
    decoded = workdir / "decoded.csv"
    decoded.unlink(missing_ok=True)
    read = read_for_training(
        local,
        max_rows=max_training_rows,
        seed=seed,
        max_reject_share=(
            project.max_reject_share if max_reject_share is None else max_reject_share
        ),
        keep_decoded=decoded,
        sheet=sheet,
    )
    frame, rows_read, file_report, rejects = read.frame, read.rows_read, read.report, read.rejects
    del read  # the frame is let go below, before the next copy is made
    target = project.target
    if target not in frame.columns:
        shown = ", ".join(repr(c) for c in frame.columns[:20])
        more = f" and {frame.width - 20} more" if frame.width > 20 else ""
        close = difflib.get_close_matches(target, frame.columns, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise InvalidInput(
            f"target column {target!r} is not in the file{hint}; its columns are: "
            f"{shown}{more}. If the project's target is wrong, change it with `conveyor "
            f"project update {project.name} --target COLUMN` (while the project has no "
            "versions) and upload again",
            field="target",
        )
    rows_kept = frame.height
    if frame.get_column(target).null_count():  # filtering copies the table: only if needed
        frame = frame.filter(pl.col(target).is_not_null())
    dropped_rows = rows_kept - frame.height
    if frame.height == 0:
        raise InvalidInput(
            f"target column {target!r} has no values: every row's target is missing", field="target"
        )
    kinds, kind_notes = applicable_kinds(project.column_kinds, frame.columns, target=target)
    schema, notes = infer_schema(
        frame, target=target, task=project.task, decimal=file_report.decimal, overrides=kinds
    )
    notes.extend(kind_notes)
    # Lenient: a cell its column's rule cannot read becomes missing (the rules were found on a
    # sample; the report's parsed_share counts what they read), never a failed run.
    typed = coerce_frame(frame, schema, with_target=True, lenient=True)
    columns = frame.width
    holdout = load_holdout(store, project.name, workdir)
    keep, holdout_report = _rows_to_split(typed, schema, holdout, notes)
    if keep is not None:
        typed = typed.filter(keep)
    part = split_parts(typed.get_column(target), task=schema.task, seed=seed, notes=notes)
    # The project's first run: its test split, as read, becomes the project's holdout.
    new_holdout = None
    if holdout is None:
        tested = part == 2
        if keep is not None:  # the test rows' places in the file, without copying the file
            tested = np.zeros(frame.height, dtype=bool)
            tested[keep.arg_true().to_numpy()[part == 2]] = True
        new_holdout = frame.filter(pl.Series(tested))
    # Each copy of a large table is let go as soon as the next exists: peak memory is what
    # decides the largest file a machine can take.
    del frame, holdout
    train, validation, test = (typed.filter(pl.Series(part == k)) for k in range(3))
    del typed
    profile = build_profile(train, schema)
    sampling = _sampling(rows_read, rows_kept, max_training_rows, seed)
    if sampling is not None:
        notes.append(sampling["reason"])
    if dropped_rows:
        notes.append(f"dropped {dropped_rows} row(s) whose target {target!r} is missing")
    if rejects:
        notes.append(
            f"set aside {len(rejects)} row(s) whose number of fields is not the header's "
            "(listed in rejects.csv)"
        )

    prefix = f"{project.name}/{dataset_id}"
    refs = {name: ObjectRef(PROCESSED, f"{prefix}/{name}.parquet") for name in SPLITS}
    report: dict[str, Any] = {
        "rows_read": rows_read,
        "rows_kept": rows_kept,
        "sampled": sampling is not None,
        "sampling": sampling,
        "rows_dropped_missing_target": dropped_rows,
        "rows_train": train.height,
        "rows_validation": validation.height,
        "rows_test": test.height,
        "rows_repeated": holdout_report.pop("rows_repeated"),
        "rows_digest": holdout_report.pop("rows_digest"),
        "holdout": holdout_report,
        "columns_read": columns,
        # What conveyor did with each raw column: name, kind, rule, missing_tokens,
        # parsed_share, reason (DatasetSchema.column_report).
        "columns": schema.column_report(),
        "features": [f.to_dict() for f in schema.features],
        "dropped_columns": [d.to_dict() for d in schema.dropped],
        "notes": notes,
        "file": file_report.to_dict(),
    }
    out = workdir / "processed"
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in zip(SPLITS, (train, validation, test), strict=True):
        # Uncompressed: half lz4's time to write (0.21 s against 0.45 s for a 700,000-row
        # split of 30 columns) and faster to read back, for files 1.6 times the size; they
        # are read by this run's training and evaluation, not kept for their size.
        frame.write_parquet(out / f"{name}.parquet", compression="uncompressed")
        store.put_file(PROCESSED, refs[name].key, out / f"{name}.parquet")
    if new_holdout is not None:
        info = save_holdout(
            store,
            project.name,
            new_holdout,
            dataset_id=dataset_id,
            source=report["rows_digest"],
            workdir=workdir,
        )
        report["holdout"] = {**info, "created": True, "used": True, "rows_left_out": 0}
    if decoded.exists():
        report["file"]["decoded_key"] = f"{prefix}/decoded.csv"
        store.put_file(PROCESSED, f"{prefix}/decoded.csv", decoded)
    if rejects:
        report["file"]["rejects_key"] = f"{prefix}/rejects.csv"
        store.put(PROCESSED, f"{prefix}/rejects.csv", _rejects_csv(rejects))
    schema_ref = ObjectRef(PROCESSED, f"{prefix}/schema.json")
    profile_ref = ObjectRef(PROCESSED, f"{prefix}/profile.json")
    store.put(PROCESSED, schema_ref.key, _json(schema.to_dict()))
    store.put(PROCESSED, profile_ref.key, _json(profile))
    store.put(PROCESSED, f"{prefix}/report.json", _json(report))
    # The training job reads these files next, beside this process: what the splits held
    # goes back to the machine now rather than when the allocator next gets round to it.
    del train, validation, test, frame, part
    give_back_arrow_memory()
    return PreprocessResult(
        dataset_id=dataset_id,
        schema=schema,
        task=schema.task,
        train=refs["train"],
        validation=refs["validation"],
        test=refs["test"],
        schema_ref=schema_ref,
        profile_ref=profile_ref,
        report=report,
    )


def applicable_kinds(
    kinds: Mapping[str, str], columns: Sequence[str], *, target: str | None
) -> tuple[dict[str, str], list[str]]:
    """The column kinds set on a project that this file's columns take, and a note for each
    one it cannot: a column the file lacks (renamed or gone) is not an error, the run goes on.

    The target is left to the project's task: its kind is what the task says.
    """
    present = set(columns)
    usable = {c: k for c, k in kinds.items() if c in present and c != target}
    notes = [
        f"the kind {kind!r} set for column {column!r} was not used: the file has no such "
        "column (`conveyor project set-column` with --clear forgets it)"
        for column, kind in kinds.items()
        if column not in present
    ]
    return usable, notes


def _rows_to_split(
    typed: pl.DataFrame, schema: DatasetSchema, holdout: Holdout | None, notes: list[str]
) -> tuple[pl.Series | None, dict[str, Any]]:
    """Which rows a run may train, validate and test on (None: all of them), and what was
    left out: a repeated row counts once (a copy in training and another in test would
    score the model on a row it trained on), and no row of the project's holdout is kept,
    unless these are the rows the holdout was set aside from (the first run's file again,
    or its rows repeated): those are split as the first run split them, the holdout as test.
    """
    # By a 64-bit hash of each row's values: three times faster than comparing the rows on a
    # million of them, and two distinct rows of a million share a hash with odds of 1 in 3e7.
    hashes = typed.hash_rows(seed=0)
    keep = hashes.is_first_distinct()
    repeated = keep.len() - int(keep.sum())
    digest = rows_digest(hashes.filter(keep))
    report: dict[str, Any] = {
        "rows_repeated": repeated,
        "created": False,
        "used": False,
        "rows_digest": digest,
    }
    if repeated and not _rows_identify_records(typed, schema, hashes):
        report["rows_repeated"] = 0
        notes.append(
            f"{repeated} row(s) repeat an earlier row's values and target and are kept: no "
            "column has many distinct values, so equal rows are different records (people "
            "of one class, sex and age), not copies; the project's holdout cannot be told "
            "apart from them by value and is not left out"
        )
        return None, report
    if repeated:
        notes.append(
            f"{repeated} repeated row(s) (the same values and target as an earlier row) "
            "counted once: a copy in training and another in test would score the model on "
            "rows it trained on"
        )
    if holdout is not None:
        report.update(holdout.info())
        rows = typed_holdout(holdout, schema)
        if isinstance(rows, str):
            report["reason"] = rows
            notes.append(f"the project's holdout is not used: {rows}")
        elif holdout.source == digest:
            report.update(used=True, rows_left_out=0)
            notes.append(
                "the rows of the project's first run: split as it split them, its holdout as "
                "the test split"
            )
        else:
            index = "__row__"
            kept = without_rows(typed.with_row_index(index), rows).get_column(index)
            outside = pl.Series(np.zeros(typed.height, dtype=bool))
            outside = outside.scatter(kept, True)
            left_out = int((keep & ~outside).sum())  # a repeated row counted once
            keep = keep & outside
            report.update(used=True, rows_left_out=left_out)
            if left_out:
                notes.append(
                    f"left out {left_out} row(s) of the project's holdout (set aside at its "
                    "first run and never trained on; versions are compared on it)"
                )
    return (None if bool(keep.all()) else keep), report


def _rows_identify_records(typed: pl.DataFrame, schema: DatasetSchema, hashes: pl.Series) -> bool:
    """Whether equal rows are copies of one record: some feature has at least half as many
    distinct values as there are distinct rows (a measurement, an amount, a date). Without
    one (a few categories and flags), repeated rows are the data itself, e.g. Titanic's
    2,201 passengers in 24 distinct rows, and counting them once would leave 24."""
    distinct_rows = hashes.n_unique()
    widest = max((typed.get_column(name).n_unique() for name in schema.feature_names), default=0)
    return 2 * widest >= distinct_rows


def _sampling(rows_read: int, rows_kept: int, cap: int, seed: int) -> dict[str, Any] | None:
    """Why a run trains on fewer rows than its file has, or None when it has them all."""
    if rows_kept >= rows_read:
        return None
    return {
        "max_training_rows": cap,
        "seed": seed,
        "reason": (
            f"sampled: the file has {rows_read:,} data rows, more than "
            f"CONVEYOR_MAX_TRAINING_ROWS ({cap:,}); training uses a uniform random sample of "
            f"{rows_kept:,} of them (seed {seed}); raise CONVEYOR_MAX_TRAINING_ROWS to train "
            "on more"
        ),
    }


def _json(data: Any) -> bytes:
    return json.dumps(data, indent=2, default=str).encode()


def _rejects_csv(rejects: tuple[Reject, ...]) -> bytes:
    """The rows set aside, as DuckDB's reject table lists them: line, reason, raw text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["line", "reason", "text"])
    writer.writerows([r.line if r.line is not None else "", r.reason, r.text] for r in rejects)
    return out.getvalue().encode("utf-8")
