"""One side of bench/explain.py's hot-path comparison: the server's ASGI app called in this
process, without sockets, on a one-row /predict body, in blocks its parent starts.

    python bench/hot_path_child.py SOURCE HOME PROJECT BODY_FILE CALLS

SOURCE is a conveyor source tree to import instead of this checkout's ("-": this checkout).
For each line the parent writes, CALLS requests are answered and one line comes back: the
process's CPU microseconds per request, measured over the block.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any


def _use_source(source: str) -> None:
    """Import conveyor from ``source``: the editable install's finder would take this
    checkout's otherwise."""
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f)]
    sys.path.insert(0, source)


async def _blocks(app: Any, project: str, body: bytes, calls: int) -> None:
    scope = {
        "type": "http",
        "method": "POST",
        "path": f"/predict/{project}",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
    }
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    for _ in sys.stdin:
        statuses.clear()
        started = time.process_time()
        for _ in range(calls):
            await app(dict(scope), receive, send)
        spent = time.process_time() - started
        assert statuses == [200] * calls, statuses[:3]
        print(round(spent / calls * 1e6, 3), flush=True)


def main() -> None:
    source, home, project, body_file, calls = sys.argv[1:6]
    if source != "-":
        _use_source(source)
    from conveyor.config import Settings
    from conveyor.serving.app import create_app
    from conveyor.wiring import build_ports

    settings = Settings(home=Path(home))
    app = create_app(build_ports(settings), settings, record=False)
    app.state.holder.refresh()  # what the lifespan's start does: load the deployed model
    print("ready", flush=True)
    asyncio.run(_blocks(app, project, Path(body_file).read_bytes(), int(calls)))


if __name__ == "__main__":
    main()
