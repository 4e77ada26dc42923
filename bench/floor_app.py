"""The floor: a minimal ASGI app that parses the JSON row and calls the same LightGBM booster
directly — no validation, no recording. What serving costs beyond this is conveyor's overhead.

Run as ``python bench/floor_app.py MODEL_DIR PORT``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import uvicorn

from conveyor.model.artifact import Predictor


def make_app(model_dir: Path) -> Any:
    predictor = Predictor.load(model_dir)
    booster = predictor.model.booster  # type: ignore[attr-defined]
    names = predictor.schema.feature_names

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        rows = json.loads(body)["instances"]
        matrix = np.array([[row[n] for n in names] for row in rows], dtype=np.float64)
        predictions = booster.predict(matrix).tolist()
        payload = json.dumps({"predictions": predictions}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    return app


if __name__ == "__main__":
    uvicorn.run(
        make_app(Path(sys.argv[1])),
        host="127.0.0.1",
        port=int(sys.argv[2]),
        log_level="warning",
        access_log=False,
    )
