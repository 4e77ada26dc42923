"""The preprocess stage on a messy file: money, decimal commas, sentinels, dates and free text
are read (not refused), a class of one row stays in training, and the report says what was
done with every column."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from conveyor.config import Settings
from conveyor.pipeline.preprocess import preprocess
from conveyor.storage import PROCESSED, RAW
from conveyor.tabular.schema import DatasetSchema
from conveyor.types import ObjectRef, Project, Task
from conveyor.wiring import build_ports

ROWS = 120
WORDS = ["great", "slow", "service", "price", "room", "staff", "clean", "food", "rude"]


def messy_csv(path: Path) -> Path:
    frame = pl.DataFrame(
        {
            "price": [f"${1000 + 37 * i:,}.50" for i in range(ROWS)],
            "rate": [f"{i % 17},{i % 10}" for i in range(ROWS)],
            "horsepower": [str(60 + i) if i % 9 else "?" for i in range(ROWS)],
            "seats": [str(2 + i % 5) if i % 11 else "unknown" for i in range(ROWS)],
            "sold": [f"{1 + i % 12}/{1 + i % 28}/{10 + i % 12} 18:57" for i in range(ROWS)],
            "review": [
                f"the {WORDS[i % 9]} was {WORDS[(i * 4) % 9]} and {WORDS[(i * 7) % 9]} {i}"
                for i in range(ROWS)
            ],
            "customer id": [f"C{i:05d}" for i in range(ROWS)],
            "class": ["a", "b"] * (ROWS // 2 - 1) + ["a", "rare"],
        }
    )
    frame.write_csv(path)
    return path


def test_a_messy_file_is_read_and_every_column_reported(tmp_path: Path) -> None:
    store = build_ports(Settings(home=tmp_path / "home")).store
    raw = ObjectRef(RAW, "cars/cars.csv")
    store.put_file(raw.bucket, raw.key, messy_csv(tmp_path / "cars.csv"))
    result = preprocess(
        store, raw, Project(name="cars", target="class"), dataset_id="d1", workdir=tmp_path / "w"
    )
    assert result.task is Task.MULTICLASS
    columns = {c["name"]: c for c in result.report["columns"]}
    assert list(columns) == [
        "price", "rate", "horsepower", "seats", "sold", "review", "customer id", "class"
    ]  # fmt: skip
    assert columns["price"]["rule"] == "currency `$`, thousands `,`"
    assert columns["rate"]["rule"] == "decimal comma"
    assert columns["seats"]["missing_tokens"] == ["unknown"]
    assert columns["sold"]["kind"] == "datetime"
    assert columns["review"]["kind"] == "text"
    assert columns["customer id"]["kind"] == "dropped"
    assert any("'rare' (1 row)" in note for note in result.report["notes"])
    train = pl.read_parquet(store.get(PROCESSED, result.train.key))
    assert train.filter(pl.col("class") == "rare").height == 1
    assert train.get_column("price").dtype == pl.Float64
    assert set(train.get_column("rate").to_list()) <= {
        a + b / 10 for a in range(17) for b in range(10)
    }
    assert train.get_column("rate").is_not_null().all()
    schema = DatasetSchema.from_dict(json.loads(store.get(PROCESSED, result.schema_ref.key)))
    assert schema.column_report() == result.report["columns"]
