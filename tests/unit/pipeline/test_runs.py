from __future__ import annotations

import pytest

from conveyor.errors import Conflict
from conveyor.pipeline.runs import ALLOWED, new_run_id, transition
from conveyor.types import ObjectRef, Run, RunState


def make_run(state: RunState = RunState.QUEUED) -> Run:
    return Run(
        run_id=new_run_id(),
        project="churn",
        raw=ObjectRef("raw", "churn/a.csv"),
        dataset_id="d" * 64,
        state=state,
    )


def test_happy_path_records_each_stage_with_a_duration() -> None:
    run = make_run()
    for state in (
        RunState.PREPROCESSING,
        RunState.TRAINING,
        RunState.EVALUATING,
        RunState.REGISTERED,
    ):
        run = transition(run, state)
    assert list(run.stages) == ["preprocess", "train", "evaluate"]
    assert all(timing.seconds is not None and timing.seconds >= 0 for timing in run.stages.values())


def test_failure_closes_the_running_stage_and_keeps_the_reason() -> None:
    run = transition(make_run(), RunState.PREPROCESSING)
    failed = transition(run, RunState.FAILED, failure_reason="target column 'y' is missing")
    assert failed.state is RunState.FAILED
    assert failed.failure_reason == "target column 'y' is missing"
    assert failed.stages["preprocess"].finished_at is not None


@pytest.mark.parametrize("state", [s for s in RunState if s.is_terminal], ids=lambda s: s.value)
def test_terminal_runs_cannot_restart(state: RunState) -> None:
    with pytest.raises(Conflict):
        transition(make_run(state), RunState.PREPROCESSING)


def test_skipping_training_is_refused() -> None:
    with pytest.raises(Conflict, match="cannot go from QUEUED to EVALUATING"):
        transition(make_run(), RunState.EVALUATING)


def test_every_non_terminal_state_can_fail() -> None:
    for state, allowed in ALLOWED.items():
        if not state.is_terminal:
            assert RunState.FAILED in allowed, state


def test_run_ids_sort_by_creation_time_and_are_unique() -> None:
    ids = [new_run_id() for _ in range(50)]
    assert len(set(ids)) == 50
    assert ids[0] <= ids[-1]
