"""How the data libraries' allocators take and give back memory.

polars allocates with its own jemalloc, which by default keeps freed pages for ten seconds
and returns them only when it next allocates: a worker idle after preprocessing a large upload
kept about 400 MB of freed pages while its training job ran beside it. A background purge of
pages unused for a second gives them back in the idle time.

Arrow allocates with mimalloc by default. On this project's 2-core virtual machines, reading
the 1,000,000-row benchmark CSV with it spent 1.4-2.2 s of system time taking pages from the
kernel and handing them back (1.3-1.9 s of wall time in the worker); with the C library's
allocator the same read spent 0.4-0.6 s and took 0.9-1.1 s, and the whole preprocess stage
went from 3.0-3.5 s to 2.5-2.8 s.
"""

from __future__ import annotations

import os

# Read by polars' jemalloc when it starts (the first import of polars).
JEMALLOC_VARIABLE = "_RJEM_MALLOC_CONF"
JEMALLOC_SETTINGS = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0"
# Read by pyarrow when it is first imported.
ARROW_POOL_VARIABLE = "ARROW_DEFAULT_MEMORY_POOL"
ARROW_POOL = "system"


def give_back_freed_memory() -> None:
    """Set the allocator settings for this process and its children (before polars and
    pyarrow are imported), unless the user has set them."""
    os.environ.setdefault(JEMALLOC_VARIABLE, JEMALLOC_SETTINGS)
    os.environ.setdefault(ARROW_POOL_VARIABLE, ARROW_POOL)


def give_back_arrow_memory() -> None:
    """Return the pages Arrow's allocator kept after frees (it keeps them otherwise: a
    quarter of a gigabyte after preprocessing a 200 MB upload)."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
