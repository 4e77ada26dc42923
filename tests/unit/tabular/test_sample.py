from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from scipy import stats

from conveyor.tabular.sample import RowSample, sample_frame


def numbered(rows: int) -> pl.DataFrame:
    return pl.DataFrame({"row": np.arange(rows), "text": [f"r{i}" for i in range(rows)]})


def streamed(frame: pl.DataFrame, *, max_rows: int, seed: int, batch: int) -> RowSample:
    sample = RowSample(max_rows=max_rows, seed=seed)
    table = frame.to_arrow()
    for start in range(0, frame.height, batch):
        sample.add(table.slice(start, batch))
    return sample


def kept_rows(sample: RowSample) -> list[int]:
    rows: list[int] = sample.take().column("row").to_pylist()
    return rows


def test_the_same_seed_keeps_the_same_rows_and_another_seed_others() -> None:
    frame = numbered(20_000)
    first = kept_rows(streamed(frame, max_rows=500, seed=7, batch=1000))
    again = kept_rows(streamed(frame, max_rows=500, seed=7, batch=1000))
    other = kept_rows(streamed(frame, max_rows=500, seed=8, batch=1000))
    assert first == again
    assert len(first) == 500 and first == sorted(first)  # the file's order
    assert len(set(first) & set(other)) < 100  # two seeds share about 500 * 500 / 20,000


@pytest.mark.parametrize("batch", [1, 333, 4096, 50_000], ids=lambda b: f"batches of {b}")
def test_streamed_and_whole_samples_keep_the_same_rows_however_the_file_is_cut(
    batch: int,
) -> None:
    frame = numbered(12_345)
    whole = sample_frame(frame, max_rows=1000, seed=3).get_column("row").to_list()
    assert kept_rows(streamed(frame, max_rows=1000, seed=3, batch=batch)) == whole


def test_every_part_of_the_file_is_equally_likely_to_be_kept() -> None:
    rows, keep = 100_000, 10_000
    kept = np.asarray(kept_rows(streamed(numbered(rows), max_rows=keep, seed=11, batch=7919)))
    per_tenth = np.bincount(kept * 10 // rows, minlength=10)
    # A uniform sample puts about 1,000 rows in each tenth of the file; a sample biased to
    # the head or the tail (a reservoir gone wrong) fails this by far.
    assert stats.chisquare(per_tenth).pvalue > 0.001, per_tenth
    # And each row's chance is the same: over many seeds the first and last rows are kept
    # as often as the middle ones (about a tenth of the time).
    counts = np.zeros(100)
    for seed in range(400):
        counts[sample_frame(numbered(100), max_rows=10, seed=seed).get_column("row")] += 1
    assert stats.chisquare(counts).pvalue > 0.001
    assert 20 <= counts[0] <= 65 and 20 <= counts[-1] <= 65


def test_memory_is_bounded_by_the_cap_not_by_the_stream() -> None:
    sample = RowSample(max_rows=1000, seed=5)
    batch = numbered(10_000).to_arrow()
    most = 0
    for _ in range(200):  # two million rows through a sample of a thousand
        sample.add(batch)
        most = max(most, sample.held_rows)
    assert sample.rows_seen == 2_000_000
    assert most <= sample.capacity == 1250
    assert sample.take().num_rows == 1000
    assert sample.held_rows == 0  # taken: the caller holds the only copy


def test_a_stream_no_longer_than_the_cap_is_kept_whole_in_order() -> None:
    frame = numbered(900)
    sample = streamed(frame, max_rows=1000, seed=1, batch=128)
    assert kept_rows(sample) == list(range(900))
    assert sample_frame(frame, max_rows=1000, seed=1) is frame


def test_record_batches_are_taken_as_the_reader_gives_them() -> None:
    sample = RowSample(max_rows=2, seed=0)
    for start in range(0, 10, 3):
        sample.add(pa.record_batch({"row": list(range(start, min(start + 3, 10)))}))
    assert sample.rows_seen == 10
    assert len(sample.take().column("row")) == 2


def test_a_cap_below_one_row_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RowSample(max_rows=0, seed=0)
