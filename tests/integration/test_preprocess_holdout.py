"""The project's holdout at preprocessing: the first run's test split is kept as the holdout;
a later upload that holds its rows again (written another way, repeated, with new rows)
trains, validates and tests on none of them, and counts a repeated row once; the first run's
rows again (only repeated) are split as the first run split them."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from conveyor.config import Settings
from conveyor.pipeline.holdout import load_holdout, typed_holdout, without_rows
from conveyor.pipeline.preprocess import PreprocessResult, preprocess
from conveyor.samples.generate import write_churn_csv
from conveyor.storage import PROCESSED, RAW, ObjectStore
from conveyor.types import ObjectRef, Project

PROJECT = Project(name="churn", target="churned")


def _preprocess(store: ObjectStore, path: Path, dataset_id: str, work: Path) -> PreprocessResult:
    raw = ObjectRef(RAW, f"churn/{path.name}")
    store.put_file(raw.bucket, raw.key, path)
    return preprocess(store, raw, PROJECT, dataset_id=dataset_id, workdir=work / dataset_id)


def _split(store: ObjectStore, dataset_id: str, name: str, work: Path) -> pl.DataFrame:
    local = work / f"{dataset_id}-{name}.parquet"
    store.download(PROCESSED, f"churn/{dataset_id}/{name}.parquet", local)
    return pl.read_parquet(local)


def test_a_later_upload_never_splits_the_holdouts_rows_and_counts_repeats_once(
    tmp_path: Path,
) -> None:
    store = build_store(tmp_path)
    first_csv = write_churn_csv(tmp_path / "first.csv", rows=600, seed=4)
    first = _preprocess(store, first_csv, "d1", tmp_path)
    assert first.report["holdout"]["created"] and first.report["rows_repeated"] == 0
    holdout = load_holdout(store, "churn", tmp_path)
    assert holdout is not None and holdout.id == "d1"
    assert holdout.rows == first.report["rows_test"] == first.report["holdout"]["rows"]

    # The same rows again, then 100 of them a second time and 200 new ones, numbers written
    # with a trailing zero: the typed values are what make a row the same.
    frame = pl.read_csv(first_csv, infer_schema=False)
    new = pl.read_csv(write_churn_csv(tmp_path / "new.csv", rows=200, seed=9), infer_schema=False)
    again = pl.concat([frame, frame.head(100), new]).with_columns(
        pl.col("monthly charges")
        + pl.when(pl.col("monthly charges").str.contains(r"\."))
        .then(pl.lit("0"))
        .otherwise(pl.lit(".0"))
    )
    later_csv = tmp_path / "later.csv"
    again.write_csv(later_csv)
    later = _preprocess(store, later_csv, "d2", tmp_path)

    report = later.report
    assert report["rows_repeated"] == 100
    assert report["holdout"]["used"] and not report["holdout"]["created"]
    assert report["holdout"]["rows_left_out"] == holdout.rows
    total = report["rows_train"] + report["rows_validation"] + report["rows_test"]
    assert total == 600 - holdout.rows + 200
    rows = typed_holdout(holdout, later.schema)
    assert isinstance(rows, pl.DataFrame)
    for name in ("train", "validation", "test"):
        part = _split(store, "d2", name, tmp_path)
        assert without_rows(part, rows).height == part.height, name
    # The holdout itself is still the first run's.
    assert load_holdout(store, "churn", tmp_path).id == "d1"  # type: ignore[union-attr]


def build_store(tmp_path: Path) -> ObjectStore:
    from conveyor.wiring import build_ports

    return build_ports(Settings(home=tmp_path / "home")).store


def test_the_first_runs_test_split_is_the_holdout_and_its_rows_again_split_alike(
    tmp_path: Path,
) -> None:
    store = build_store(tmp_path)
    frame = pl.read_csv(write_churn_csv(tmp_path / "c.csv", rows=400, seed=5), infer_schema=False)
    path = tmp_path / "repeated.csv"
    pl.concat([frame, frame.slice(7, 60)]).write_csv(path)
    result = _preprocess(store, path, "d1", tmp_path)
    assert result.report["rows_repeated"] == 60
    holdout = load_holdout(store, "churn", tmp_path)
    assert holdout is not None and holdout.rows == result.report["rows_test"]
    rows = typed_holdout(holdout, result.schema)
    assert isinstance(rows, pl.DataFrame)
    test = _split(store, "d1", "test", tmp_path)
    assert rows.sort(rows.columns).equals(test.sort(test.columns))

    # The same rows once more, other ones repeated: split as the first run split them.
    twice = tmp_path / "twice.csv"
    pl.concat([frame, frame.slice(100, 60)]).write_csv(twice)
    again = _preprocess(store, twice, "d2", tmp_path)
    assert again.report["holdout"]["used"] and again.report["holdout"]["rows_left_out"] == 0
    for name in ("train", "validation", "test"):
        assert _split(store, "d2", name, tmp_path).equals(_split(store, "d1", name, tmp_path))


def test_repeated_rows_of_a_few_categories_are_the_data_and_all_of_them_train(
    tmp_path: Path,
) -> None:
    # Titanic's shape: 4 columns of 2-4 values, 1,200 passengers in at most 32 distinct rows.
    # Counting equal rows once would leave a few dozen; they are different people.
    store = build_store(tmp_path)
    rows = [
        (cls, sex, age, "yes" if (i * 7 + len(cls)) % 3 == 0 else "no")
        for i, (cls, sex, age) in enumerate(
            (c, s, a)
            for _ in range(50)
            for c in ("1st", "2nd", "3rd")
            for s in ("male", "female")
            for a in ("child", "adult", "adult", "adult")
        )
    ]
    path = tmp_path / "titanic.csv"
    pl.DataFrame(rows, schema=["class", "sex", "age", "survived"], orient="row").write_csv(path)
    project = Project(name="churn", target="survived")
    raw = ObjectRef(RAW, "churn/titanic.csv")
    store.put_file(raw.bucket, raw.key, path)
    result = preprocess(store, raw, project, dataset_id="t1", workdir=tmp_path / "t1")
    report = result.report
    assert report["rows_train"] + report["rows_validation"] + report["rows_test"] == 1200
    assert report["rows_repeated"] == 0
    assert any("are kept" in note and "different records" in note for note in report["notes"])
