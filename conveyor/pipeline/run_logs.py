"""What a run left to read: its stages with their outcome, its own log, its training job's
log. The CLI (``conveyor runs show``, ``conveyor logs --run``) and the management API share it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conveyor.errors import NotFound
from conveyor.logs import run_log_path
from conveyor.pipeline.handlers import training_log_key
from conveyor.ports import Ports
from conveyor.storage import REPORTS
from conveyor.types import Run, RunState

# The outcome of a stage the run left: the next stage started, or the run ended this way.
_LAST_STAGE_OUTCOME = {
    RunState.FAILED: "failed",
    RunState.REJECTED: "succeeded",
    RunState.REGISTERED: "succeeded",
    RunState.DEPLOYED: "succeeded",
}


def stage_list(run: Run) -> list[dict[str, Any]]:
    """The run's stages in the order they ran: ``{"stage", "started_at", "finished_at",
    "seconds", "outcome"}``, outcome ``succeeded`` | ``failed`` | ``running``."""
    names = list(run.stages)
    stages = []
    for index, name in enumerate(names):
        timing = run.stages[name]
        last = index == len(names) - 1
        if last and run.state in _LAST_STAGE_OUTCOME:
            outcome = _LAST_STAGE_OUTCOME[run.state]
        elif last and timing.finished_at is None:
            outcome = "running"
        else:
            outcome = "succeeded"
        stages.append({"stage": name, **timing.to_dict(), "outcome": outcome})
    return stages


def training_log(ports: Ports, run: Run) -> str | None:
    """The run's training job log: as kept in the reports bucket when the job ended, else
    from the job runner; None when the run started no job."""
    try:
        return ports.store.get(REPORTS, training_log_key(run)).decode(errors="replace")
    except NotFound:
        return ports.jobs.get_logs(run.job_name) if run.job_name else None


def run_log(home: Path, run_id: str) -> str:
    """The run's own structured log (JSON lines), empty when it wrote none."""
    try:
        return run_log_path(home, run_id).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
