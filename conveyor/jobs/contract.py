"""SageMaker's script-mode contract as code: where a training job finds its inputs and
leaves its outputs, and the environment it runs with. The local runner lays out this tree
in a temporary root; SageMaker lays it out at /opt/ml."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

SAGEMAKER_ROOT = Path("/opt/ml")


@dataclass(frozen=True)
class ScriptModePaths:
    root: Path = SAGEMAKER_ROOT
    # Where SM_CHANNEL_<NAME> puts a channel, when it says (else input/data/<name>).
    channel_dirs: Mapping[str, Path] = field(default_factory=dict)

    @property
    def input_dir(self) -> Path:
        return self.root / "input"

    @property
    def input_config(self) -> Path:
        return self.input_dir / "config"

    @property
    def hyperparameters_file(self) -> Path:
        return self.input_config / "hyperparameters.json"

    @property
    def input_data_config_file(self) -> Path:
        return self.input_config / "inputdataconfig.json"

    def channel(self, name: str) -> Path:
        return self.channel_dirs.get(name) or self.input_dir / "data" / name

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def output_dir(self) -> Path:
        return self.root / "output"

    @property
    def failure_file(self) -> Path:
        return self.output_dir / "failure"

    @property
    def output_data_dir(self) -> Path:
        return self.output_dir / "data"

    def make_dirs(self, channels: list[str]) -> None:
        for folder in (
            self.input_config,
            self.model_dir,
            self.output_data_dir,
            *(self.channel(c) for c in channels),
        ):
            folder.mkdir(parents=True, exist_ok=True)


def environment(
    paths: ScriptModePaths, channels: list[str], hyperparameters: dict[str, str]
) -> dict[str, str]:
    """The SM_* variables SageMaker's training toolkit sets for a script-mode entrypoint."""
    env = {
        "SM_MODEL_DIR": str(paths.model_dir),
        "SM_CHANNELS": json.dumps(sorted(channels)),
        "SM_HPS": json.dumps(hyperparameters),
        "SM_OUTPUT_DATA_DIR": str(paths.output_data_dir),
        "SM_OUTPUT_DIR": str(paths.output_dir),
        "SM_INPUT_DIR": str(paths.input_dir),
        "SM_INPUT_CONFIG_DIR": str(paths.input_config),
        "SM_NUM_CPUS": str(os.cpu_count() or 1),
        "SM_HOSTS": json.dumps(["algo-1"]),
        "SM_CURRENT_HOST": "algo-1",
    }
    for name in channels:
        env[f"SM_CHANNEL_{name.upper()}"] = str(paths.channel(name))
    return env


def paths_from_environment(environ: dict[str, str] | None = None) -> ScriptModePaths:
    """The contract's root as seen from inside a job (SM_MODEL_DIR's parent, else /opt/ml),
    with the channel folders SM_CHANNEL_<NAME> names."""
    env = dict(os.environ) if environ is None else environ
    model_dir = env.get("SM_MODEL_DIR")
    channels = {
        name.removeprefix("SM_CHANNEL_").lower(): Path(folder)
        for name, folder in env.items()
        if name.startswith("SM_CHANNEL_") and folder
    }
    return ScriptModePaths(Path(model_dir).parent if model_dir else SAGEMAKER_ROOT, channels)


def read_hyperparameters(paths: ScriptModePaths) -> dict[str, str]:
    """Hyperparameters as SageMaker passes them: every value a string.

    A value that is a JSON-encoded string (``"\\"lightgbm\\""``, as the SageMaker Python SDK
    and the ``sagemaker_*`` keys send them) is decoded once, as the training toolkit does;
    other values (``"42"``, ``'{"num_leaves": 8}'``) stay as their text.
    """
    if not paths.hyperparameters_file.exists():
        return {}
    data = json.loads(paths.hyperparameters_file.read_text())
    return {str(k): hyperparameter_text(v) for k, v in data.items()}


def hyperparameter_text(value: object) -> str:
    """One hyperparameter as the training toolkit reads it: a JSON-encoded string decoded
    once, anything else as its text (also how a job's state change event is read)."""
    if not isinstance(value, str):
        return json.dumps(value)
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    return decoded if isinstance(decoded, str) else value


def exception_reason(exc: BaseException) -> str:
    """A failed job's reason: the error's class and its message."""
    return f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}"


def fail_job(paths: ScriptModePaths, reason: str) -> int:
    """Leave ``reason`` where SageMaker reads a job's FailureReason (``output/failure``) and
    on stderr (the job's log); 1, the job's exit status."""
    paths.failure_file.parent.mkdir(parents=True, exist_ok=True)
    paths.failure_file.write_text(reason + "\n")
    print(reason, file=sys.stderr, flush=True)
    return 1


def run_job(work: Callable[[dict[str, str]], None]) -> int:
    """A job's ``main``: ``work`` on the job's hyperparameters; 0, or 1 with what it raised
    as the job's failure reason."""
    from conveyor.logs import log_context  # light; the training entrypoint skips it

    paths = paths_from_environment()
    hyperparameters = read_hyperparameters(paths)
    try:
        with log_context():  # what the job binds (its run) ends with it
            work(hyperparameters)
    except Exception as exc:  # the job boundary: the reason goes to SageMaker's FailureReason
        return fail_job(paths, exception_reason(exc))
    return 0
