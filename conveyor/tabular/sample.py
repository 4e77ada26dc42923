"""A seeded, uniform sample of at most ``max_rows`` rows, taken from a stream of record batches
or from a whole frame, the same rows either way.

Every row of the file gets a random key, drawn in file order from one seeded generator, and
the rows with the ``max_rows`` smallest keys are kept (in file order). The keys do not depend
on how the file is cut into batches, so a file read whole and the same file streamed keep
the same rows; and every row is equally likely to be kept, wherever it is in the file.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

# Mixed into the run's seed so the sample's keys are not the very numbers the split draws.
_SAMPLE_STREAM = 0x5A3D1E


def _keys(seed: int) -> np.random.Generator:
    return np.random.default_rng([_SAMPLE_STREAM, seed])


class RowSample:
    """Rows kept from the batches given to ``add``; never more than ``capacity`` rows held.

    Until ``max_rows`` rows have come, every row is held. Past that, a row is held only if its
    key is at most the largest key kept so far; when the held rows pass ``capacity`` (a
    quarter more than ``max_rows``), the ones whose keys are not among the ``max_rows``
    smallest are let go, one held part at a time. Memory is bounded by ``max_rows`` (and one
    batch), never by the length of the stream.
    """

    def __init__(self, *, max_rows: int, seed: int) -> None:
        if max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, not {max_rows}")
        self.max_rows = max_rows
        self.capacity = max_rows + max(max_rows // 4, 1)
        self.rows_seen = 0
        self._rng = _keys(seed)
        self._parts: list[pa.Table] = []
        self._part_keys: list[np.ndarray] = []
        self._bound = np.inf  # a row whose key is above it can never be among the kept

    @property
    def held_rows(self) -> int:
        return sum(len(keys) for keys in self._part_keys)

    def add(self, batch: pa.RecordBatch | pa.Table) -> None:
        rows = batch.num_rows
        keys = self._rng.random(rows)  # drawn for every row, kept or not: keys stay aligned
        self.rows_seen += rows
        table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        wanted = keys <= self._bound
        if not wanted.all():
            table, keys = table.filter(pa.array(wanted)), keys[wanted]
        if len(keys):
            self._parts.append(table)
            self._part_keys.append(keys)
            if self.held_rows > self.capacity:
                self._shrink()

    def take(self) -> pa.Table:
        """The kept rows, in the order they came (at most ``max_rows``); the sample is empty
        afterwards, so the caller holds the only copy."""
        if not self._parts:
            raise ValueError("no rows were added")
        if self.held_rows > self.max_rows:
            self._shrink()
        table = pa.concat_tables(self._parts)
        self._parts, self._part_keys = [], []
        return table

    def _shrink(self) -> None:
        held_keys = np.concatenate(self._part_keys)
        kept = _kept(held_keys, self.max_rows)
        self._bound = float(held_keys[kept].max())
        start = 0
        for i, keys in enumerate(self._part_keys):
            mask = kept[start : start + len(keys)]
            start += len(keys)
            if not mask.all():  # each part copied and let go in turn: no second full copy
                self._parts[i] = self._parts[i].filter(pa.array(mask))
                self._part_keys[i] = keys[mask]
        self._parts = [p for p in self._parts if p.num_rows]
        self._part_keys = [k for k in self._part_keys if len(k)]


def sample_frame(frame: pl.DataFrame, *, max_rows: int, seed: int) -> pl.DataFrame:
    """``frame``'s rows that ``RowSample`` keeps from the same rows streamed, in their order."""
    if frame.height <= max_rows:
        return frame
    return frame.filter(pl.Series(_kept(_keys(seed).random(frame.height), max_rows)))


def _kept(keys: np.ndarray, count: int) -> np.ndarray:
    """A mask of the ``count`` smallest keys; equal keys are taken in order of position, so the
    whole and the streamed sample agree even then."""
    if len(keys) <= count:
        return np.ones(len(keys), dtype=bool)
    bound = np.partition(keys, count - 1)[count - 1]
    mask: np.ndarray = keys < bound
    ties = np.flatnonzero(keys == bound)[: count - int(mask.sum())]
    mask[ties] = True
    return mask
