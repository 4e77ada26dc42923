"""The preprocess stage reads the column kinds from the Project it is given: one the file has
no column for is noted in the run's report, and the run goes on."""

from __future__ import annotations

from pathlib import Path

from conveyor.config import Settings
from conveyor.pipeline.preprocess import preprocess
from conveyor.samples.generate import write_churn_csv
from conveyor.storage import RAW
from conveyor.types import ObjectRef, Project
from conveyor.wiring import build_ports


def test_a_kind_for_a_column_the_file_lacks_is_noted_not_fatal(tmp_path: Path) -> None:
    store = build_ports(Settings(home=tmp_path / "home")).store
    raw = ObjectRef(RAW, "churn/churn.csv")
    store.put_file(raw.bucket, raw.key, write_churn_csv(tmp_path / "c.csv", rows=300, seed=2))
    project = Project(name="churn", target="churned", column_kinds={"zip code": "categorical"})
    result = preprocess(store, raw, project, dataset_id="d1", workdir=tmp_path / "work")
    assert any("'zip code'" in note for note in result.report["notes"])
    assert "zip code" not in result.schema.feature_names
