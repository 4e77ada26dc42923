"""Pipeline runs: the state machine, and their storage in the Table.

A run moves QUEUED → PREPROCESSING → TRAINING → EVALUATING → REGISTERED (→ DEPLOYED), or to
REJECTED, or to FAILED with a reason. Every transition is a conditional put on the run's
revision, so two workers racing on one run cannot both move it.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Any

from conveyor.errors import AlreadyExists, Conflict, NotFound
from conveyor.tables import Table
from conveyor.types import ObjectRef, Run, RunState, StageTiming, utcnow

_RUNS_PK = "run"

# The stage a state stands for; its timing starts on entry and ends on exit.
STAGE_OF = {
    RunState.PREPROCESSING: "preprocess",
    RunState.TRAINING: "train",
    RunState.EVALUATING: "evaluate",
}

ALLOWED: dict[RunState, frozenset[RunState]] = {
    RunState.QUEUED: frozenset({RunState.PREPROCESSING, RunState.FAILED}),
    RunState.PREPROCESSING: frozenset({RunState.PREPROCESSING, RunState.TRAINING, RunState.FAILED}),
    RunState.TRAINING: frozenset({RunState.EVALUATING, RunState.FAILED}),
    RunState.EVALUATING: frozenset(
        {
            RunState.EVALUATING,
            RunState.REGISTERED,
            RunState.DEPLOYED,
            RunState.REJECTED,
            RunState.FAILED,
        }
    ),
    RunState.REGISTERED: frozenset({RunState.DEPLOYED}),
    RunState.DEPLOYED: frozenset(),
    RunState.REJECTED: frozenset(),
    RunState.FAILED: frozenset(),
}


def dataset_partition(project: str) -> str:
    """The index from a project's dataset ids (sha256 of an upload) to their runs."""
    return f"dataset#{project}"


def new_run_id() -> str:
    # Sortable by creation time (to the microsecond), unique without coordination.
    now = utcnow()
    return f"r-{now:%Y%m%d-%H%M%S}-{now.microsecond:06d}-{secrets.token_hex(2)}"


def transition(run: Run, state: RunState, **changes: Any) -> Run:
    """The run after moving to ``state``; pure, so it is tested without storage.

    Raises:
        Conflict: the state machine does not allow the move.
    """
    if state not in ALLOWED[run.state]:
        raise Conflict(f"run {run.run_id} cannot go from {run.state} to {state}")
    now = utcnow()
    stages = dict(run.stages)
    left = STAGE_OF.get(run.state)
    if left and left in stages and stages[left].finished_at is None and state != run.state:
        stages[left] = StageTiming(stages[left].started_at, now)
    entered = STAGE_OF.get(state)
    if entered and (state != run.state or entered not in stages):
        stages[entered] = StageTiming(now)
    return replace(run, state=state, stages=stages, updated_at=now, **changes)


class RunStore:
    """Runs in the Table, keyed by id, plus an index from (project, dataset id) to run."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def create(
        self, project: str, raw: ObjectRef, dataset_id: str, *, force: bool = False
    ) -> tuple[Run, bool]:
        """Create the run for these bytes, or return the run that already took them.

        Returns:
            (run, created): ``created`` is False when the same bytes already made a run.
        """
        run = Run(run_id=new_run_id(), project=project, raw=raw, dataset_id=dataset_id)
        # The run is written before the index that points to it, so a reader following the
        # index never finds it dangling.
        self._put(run, revision=0)
        index = {"pk": dataset_partition(project), "sk": dataset_id, "run_id": run.run_id}
        try:
            self.table.put(index, if_not_exists=not force)
        except AlreadyExists:
            existing = self.table.get(dataset_partition(project), dataset_id)
            previous = self.table.get(_RUNS_PK, existing["run_id"]) if existing else None
            if previous is not None and previous["state"] != RunState.FAILED:
                self.table.delete(_RUNS_PK, run.run_id)
                return Run.from_dict(previous), False
            # A failed run does not hold its bytes hostage: uploading them again retries.
            if previous is not None:
                run.report["previous_failed_run"] = previous["run_id"]
                self._put(run, revision=0)
            self.table.put(index)
        return run, True

    def _put(self, run: Run, *, revision: int) -> None:
        self.table.put({"pk": _RUNS_PK, "sk": run.run_id, "revision": revision, **run.to_dict()})

    def get(self, run_id: str) -> Run:
        item = self.table.get(_RUNS_PK, run_id)
        if item is None:
            raise NotFound(f"no run {run_id!r}; `conveyor runs list` shows the runs", field="run")
        return Run.from_dict(item)

    def find_by_dataset(self, project: str, dataset_id: str) -> Run | None:
        index = self.table.get(dataset_partition(project), dataset_id)
        item = self.table.get(_RUNS_PK, index["run_id"]) if index else None
        return Run.from_dict(item) if item else None

    def delete(self, run_id: str) -> None:
        """Forget a run (its project is being deleted); a missing run is not an error."""
        self.table.delete(_RUNS_PK, run_id)

    def list_runs(self, project: str | None = None, *, limit: int | None = None) -> list[Run]:
        runs = [Run.from_dict(i) for i in self.table.query(_RUNS_PK, descending=True)]
        if project is not None:
            runs = [r for r in runs if r.project == project]
        return runs[:limit] if limit is not None else runs

    def active(self) -> list[Run]:
        return [r for r in self.list_runs() if not r.state.is_terminal]

    def advance(self, run: Run, state: RunState, **changes: Any) -> Run:
        """Move a stored run to ``state`` if nobody moved it since it was read.

        Raises:
            Conflict: the move is not allowed, or another worker changed the run first.
        """
        moved = transition(run, state, **changes)
        item = self.table.get(_RUNS_PK, run.run_id)
        if item is None:
            raise NotFound(f"no run {run.run_id!r}", field="run")
        revision = int(item.get("revision", 0))
        if Run.from_dict(item).state != run.state:
            raise Conflict(f"run {run.run_id} is {item['state']} now, not {run.state}")
        try:
            self.table.put(
                {"pk": _RUNS_PK, "sk": run.run_id, "revision": revision + 1, **moved.to_dict()},
                if_match={"revision": revision},
            )
        except AlreadyExists as exc:
            raise Conflict(f"run {run.run_id} was changed by another worker") from exc
        return moved

    def fail(self, run: Run, reason: str) -> Run:
        return self.advance(run, RunState.FAILED, failure_reason=reason)

    def update_report(self, run: Run, **report: Any) -> Run:
        """Merge entries into the run's report without changing its state."""
        current = self.get(run.run_id)
        merged = replace(current, report={**current.report, **report}, updated_at=utcnow())
        item = self.table.get(_RUNS_PK, run.run_id) or {}
        revision = int(item.get("revision", 0))
        self.table.put(
            {"pk": _RUNS_PK, "sk": run.run_id, "revision": revision + 1, **merged.to_dict()},
            if_match={"revision": revision},
        )
        return merged
