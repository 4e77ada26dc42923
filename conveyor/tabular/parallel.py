"""Per-column work spread over the cores: polars and numpy release the GIL inside their
kernels, so threads run one column each in parallel. Small frames stay on the caller's
thread, where a pool's hand-off would cost more than the work."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")
PARALLEL_MIN_ROWS = 50_000


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="columns")


def map_columns(function: Callable[[T], R], items: Iterable[T], *, rows: int) -> list[R]:
    """``[function(item) for item in items]``, in parallel for frames of many rows; the first
    failing item (in order) raises, as it would in the loop."""
    if rows < PARALLEL_MIN_ROWS or (os.cpu_count() or 1) == 1:
        return [function(item) for item in items]
    return list(_pool().map(function, items))
