"""Printing for people (rich tables) and for machines (``--json``)."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

console = Console()
err_console = Console(stderr=True)
# Piped output (CI logs, `| less`) gets rich's 80 columns by default, which cuts tables.
for _console in (console, err_console):
    if not _console.is_terminal:
        _console.width = 160


_WRITE_BYTES = 1 << 20


def print_json(data: Any) -> None:
    encoded = (json.dumps(data, indent=2, default=str) + "\n").encode()
    sys.stdout.flush()
    # In pieces: one write of more than 2 GiB to a pipe is cut at 2 GiB without an error.
    out = sys.stdout.buffer
    for start in range(0, len(encoded), _WRITE_BYTES):
        out.write(encoded[start : start + _WRITE_BYTES])
    out.flush()


def fmt_metric(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    return f"{int(seconds // 60)}m{seconds % 60:04.1f}s"
