"""The preprocess stage keeps what the reader did: the decoded UTF-8 text beside a raw upload
that was not UTF-8, the rows set aside as rejects.csv, and both in the report."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from conveyor.config import Settings
from conveyor.pipeline.preprocess import preprocess
from conveyor.samples.generate import write_churn_csv
from conveyor.storage import PROCESSED, RAW
from conveyor.types import ObjectRef, Project
from conveyor.wiring import build_ports


def test_a_cp1252_semicolon_file_with_a_bad_row_is_read_and_its_rejects_kept(
    tmp_path: Path,
) -> None:
    text = write_churn_csv(tmp_path / "churn.csv", rows=400, seed=4).read_text()
    rows = list(csv.reader(io.StringIO(text)))
    rows[0][2] = "plan é"  # an accent, so that the bytes are cp1252 and not UTF-8
    rows.insert(101, ["C9", "bad row"])  # on line 103, after the title and the header
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows(rows)
    raw_text = "Export\r\n" + out.getvalue()
    store = build_ports(Settings(home=tmp_path / "home")).store
    raw = ObjectRef(RAW, "churn/churn.csv")
    upload = tmp_path / "upload.csv"
    upload.write_bytes(raw_text.encode("cp1252"))
    store.put_file(raw.bucket, raw.key, upload)

    result = preprocess(
        store, raw, Project(name="churn", target="churned"), dataset_id="d1", workdir=tmp_path / "w"
    )

    file = json.loads(store.get(PROCESSED, "churn/d1/report.json"))["file"]
    assert file == result.report["file"]
    assert (file["encoding"], file["delimiter"], file["line_ending"]) == ("cp1252", ";", "\r\n")
    assert (file["header_line"], file["preamble_lines"], file["rows_rejected"]) == (2, 1, 1)
    decoded = store.get(PROCESSED, file["decoded_key"]).decode("utf-8")
    assert decoded.startswith("Export\r\n") and "plan é" in decoded
    rejects = list(csv.reader(io.StringIO(store.get(PROCESSED, file["rejects_key"]).decode())))
    assert rejects == [["line", "reason", "text"], ["103", "2 fields, expected 10", "C9;bad row"]]
    assert result.report["rows_read"] == 400
    assert any("rejects.csv" in note for note in result.report["notes"])
