"""Each kind of pollution of a real table reads back as the clean table (Pollock's measures:
header, record and cell F1 all 1), through the reader a run uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.tabular.read import read_table
from tests.pollution import KINDS, Table, corpus, score, variants

# Two tables of the corpus, cut short: numbers only (iris) and text, numbers and gaps (churn).
TABLES = {t.name: t for t in corpus(rows=40) if t.name in ("iris", "churn")}


def _read(tmp_path: Path, table: Table, kind: str) -> tuple[float, object]:
    (variant,) = variants(table, [kind])
    path = tmp_path / f"{table.name}-{kind}{variant.suffix}"
    path.write_bytes(variant.content)
    frame, report = read_table(path)
    measured = score(variant.expected, frame.columns, frame.rows())
    return measured.total, (measured, report)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("table", list(TABLES))
def test_each_pollution_reads_back_as_the_clean_table(
    kind: str, table: str, tmp_path: Path
) -> None:
    total, detail = _read(tmp_path, TABLES[table], kind)
    assert total == pytest.approx(10.0), detail


def test_the_score_is_pollocks_ten_measures() -> None:
    clean = Table(["a", "b"], [["1", "x"], ["2", "y"]])
    assert score(clean, ["a", "b"], [[1, "x"], [2.0, "y"]]).total == 10.0
    half = score(clean, ["a", "b"], [[1, "x"]])
    assert half.record == pytest.approx((1.0, 0.5, 2 / 3))
    assert half.total < 10.0
