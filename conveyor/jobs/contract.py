"""SageMaker's script-mode contract as code: where a training job finds its inputs and
leaves its outputs, and the environment it runs with. The local runner lays out this tree
in a temporary root; SageMaker lays it out at /opt/ml."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

SAGEMAKER_ROOT = Path("/opt/ml")


@dataclass(frozen=True)
class ScriptModePaths:
    root: Path = SAGEMAKER_ROOT

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
        return self.input_dir / "data" / name

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
    """The contract's root as seen from inside a job (SM_MODEL_DIR's parent, else /opt/ml)."""
    env = dict(os.environ) if environ is None else environ
    model_dir = env.get("SM_MODEL_DIR")
    return ScriptModePaths(Path(model_dir).parent if model_dir else SAGEMAKER_ROOT)


def read_hyperparameters(paths: ScriptModePaths) -> dict[str, str]:
    """Hyperparameters as SageMaker passes them: every value a string."""
    if not paths.hyperparameters_file.exists():
        return {}
    data = json.loads(paths.hyperparameters_file.read_text())
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}
