"""A tiny script-mode training job for the job runner's tests (modes via a hyperparameter)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def main() -> int:
    config = Path(os.environ["SM_INPUT_CONFIG_DIR"])
    hps = json.loads((config / "hyperparameters.json").read_text())
    mode = hps.get("mode", "ok")
    print(f"toy job mode={mode}", flush=True)
    if mode == "sleep":
        time.sleep(float(hps.get("seconds", "30")))
    if mode == "fail":
        failure = Path(os.environ["SM_OUTPUT_DIR"]) / "failure"
        failure.write_text("the toy failed on purpose\n")
        return 1
    if mode == "crash":
        print("about to crash", file=sys.stderr, flush=True)
        return 3
    train = Path(os.environ["SM_CHANNEL_TRAIN"])
    seen = sorted(p.name for p in train.iterdir())
    model = Path(os.environ["SM_MODEL_DIR"])
    (model / "model.json").write_text(
        json.dumps({"seen": seen, "hps": hps, "channels": os.environ["SM_CHANNELS"]})
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
