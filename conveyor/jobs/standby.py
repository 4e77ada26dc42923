"""A warm training process: ``python -m conveyor.jobs.standby OWNER_PID``.

Starting Python and importing numpy, polars, LightGBM and scikit-learn takes a training job
about a second and a half before it reads its first row. A worker that expects a job keeps
one standby process that has paid for that already (as SageMaker's warm pools keep an
instance): it waits in a folder of its own until the runner renames that folder into a job's
and writes the job's environment to ``handover.json``; then it runs the job's entrypoint as
``python -m`` would, and is that job from then on (its pid, its log, its exit code). A
standby is used once. One whose owner exits before handing it a job exits too.
"""

from __future__ import annotations

import importlib
import json
import os
import runpy
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from conveyor._process import pid_exists

HANDOVER = "handover.json"
READY = "ready"
# What the training entrypoint imports; a module that is not installed is skipped.
WARM_MODULES = (
    "numpy",
    "polars",
    "lightgbm",
    "sklearn.metrics",
    "conveyor.jobs.entrypoint",
    "conveyor.model.encode",
    "conveyor.model.estimators",
    "conveyor.model.metrics",
    "conveyor.tabular.schema",
)
_POLL_SECONDS = 0.02
_OWNER_CHECK_SECONDS = 0.5
# The exit status of a standby whose owner went away: the job it was kept for never came.
ORPHANED = 75


def main(owner: int) -> int:
    # Anything said while warming would land in the log of the job it becomes.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in WARM_MODULES:
            try:
                importlib.import_module(name)
            except ImportError:
                continue
    Path(READY).touch()
    handover = _wait_for_handover(owner)
    if handover is None:
        return ORPHANED
    os.environ.clear()
    os.environ.update(handover["env"])
    module = handover["module"]
    sys.argv = [module]
    # Warmed as an import, it would be run a second time as __main__, which runpy warns of in
    # the job's log; as ``python -m`` runs it, it is run once, fresh.
    sys.modules.pop(module, None)
    # As ``python -m module``: a job that calls sys.exit(code) ends the process with it.
    runpy.run_module(module, run_name="__main__", alter_sys=True)
    return 0


def _wait_for_handover(owner: int) -> dict[str, Any] | None:
    # Relative paths: the folder is renamed under this process when it is handed a job.
    handover = Path(HANDOVER)
    next_check = 0.0
    while not handover.exists():
        now = time.monotonic()
        if now >= next_check:
            if not pid_exists(owner):
                return None
            next_check = now + _OWNER_CHECK_SECONDS
        time.sleep(_POLL_SECONDS)
    loaded: dict[str, Any] = json.loads(handover.read_text())
    return loaded


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
