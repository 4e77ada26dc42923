"""The JobRunner contract: what the local subprocess runner and SageMaker (on moto) share.

How a job ends is not in this suite: moto runs no code, so on moto a job is Completed the
moment it starts and its model must be put in S3 by the test (tests/integration/aws and
test_training_container_contract.py do that); the local runner's endings are in
test_subprocess_job_runner.py.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conveyor.errors import AlreadyExists, NotFound
from conveyor.jobs import JobRunner, TrainingJobSpec
from conveyor.types import JobStatus, ObjectRef
from tests.integration.contracts.conftest import JOB_CHANNEL

MakeRunner = Callable[[], JobRunner]


def spec(name: str = "contract-1", channel: ObjectRef | None = None) -> TrainingJobSpec:
    return TrainingJobSpec(
        job_name=name,
        channels={"train": channel or ObjectRef(*JOB_CHANNEL)},
        output=ObjectRef("models", f"p/{name}/model.tar.gz"),
        hyperparameters={"mode": "ok"},
        entrypoint="tests.integration.toy_entrypoint",
        max_runtime_seconds=600,
    )


def test_a_started_job_is_in_progress(make_job_runner: MakeRunner) -> None:
    runner = make_job_runner()
    assert isinstance(runner, JobRunner)
    started = runner.start_training_job(spec())
    assert started.job_name == "contract-1"
    assert started.status is JobStatus.IN_PROGRESS


def test_job_names_are_unique_across_instances(make_job_runner: MakeRunner) -> None:
    make_job_runner().start_training_job(spec())
    with pytest.raises(AlreadyExists, match="contract-1"):
        make_job_runner().start_training_job(spec())


def test_a_channel_without_objects_is_not_found(make_job_runner: MakeRunner) -> None:
    empty = ObjectRef("processed", "p/nothing-here/")
    with pytest.raises(NotFound, match="channel 'train'"):
        make_job_runner().start_training_job(spec("contract-2", empty))


@pytest.mark.parametrize("verb", ["describe_training_job", "get_logs", "stop_training_job"])
def test_an_unknown_job_is_not_found(make_job_runner: MakeRunner, verb: str) -> None:
    with pytest.raises(NotFound, match="no-such-job"):
        getattr(make_job_runner(), verb)("no-such-job")
