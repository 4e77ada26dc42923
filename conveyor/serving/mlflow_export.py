"""``conveyor models export --format mlflow``: a registered version as an MLflow ``pyfunc``
model directory, which ``mlflow models serve -m DIR`` serves and ``mlflow.pyfunc.load_model``
loads, answering what ``POST /predict`` answers for the same rows.

The directory (MLflow's pyfunc filesystem format, written without MLflow)::

    MLmodel             python_function flavor: loader_module, code, data, env, python_version
    model/              the version's model.tar.gz, unpacked (schema, encoder, model, record)
    conveyor.json       project, version, the artifact's sha256 and content digest
    code/conveyor_mlflow.py   the loader (``conveyor.serving.mlflow_pyfunc``, copied)
    requirements.txt    mlflow, conveyor and the libraries the model was trained with, pinned
    python_env.yaml     the Python it was trained with; what ``--env-manager virtualenv`` builds

The loader imports conveyor, so the serving environment needs conveyor installed (requirements
name it; from a checkout, ``pip install /path/to/conveyor``).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conveyor import __version__
from conveyor.errors import InvalidInput
from conveyor.model.artifact import TRAINING_FILE, unpack
from conveyor.model.content_digest import folder_digest
from conveyor.serving import mlflow_pyfunc
from conveyor.serving.sagemaker.model_dir import load_model_dir
from conveyor.types import ModelVersion

LOADER_MODULE = "conveyor_mlflow"
DATA_DIR = "model"
CODE_DIR = "code"
# The model's answers depend on these; the training record keeps the versions it used.
_PINNED = ("lightgbm", "scikit-learn", "polars", "numpy")


def write_mlflow_model(tarball: Path, output: Path, version: ModelVersion) -> Path:
    """Write ``version``'s artifact (``tarball``, already checked against its sha256) as an
    MLflow pyfunc model directory at ``output``; the model is loaded and answers a warm-up
    row before the directory appears (it is built beside and renamed into place).

    Returns:
        ``output``.

    Raises:
        InvalidInput: ``output`` exists and is not an empty folder.
        IntegrityError: the artifact does not load.
    """
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise InvalidInput(
            f"{output} already exists and is not an empty folder: choose another --output, "
            "or remove it first",
            field="output",
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=output.parent, prefix=f".{output.name}-"))
    try:
        data = unpack(tarball, staging / DATA_DIR)
        load_model_dir(data, project=version.project, version=version.version)
        training = json.loads((data / TRAINING_FILE).read_text())
        record = {
            "project": version.project,
            "version": version.version,
            "sha256": version.sha256,
            "content_sha256": folder_digest(data),
            "conveyor_version": __version__,
        }
        (staging / mlflow_pyfunc.EXPORT_RECORD).write_text(json.dumps(record, indent=2) + "\n")
        (staging / CODE_DIR).mkdir()
        shutil.copyfile(mlflow_pyfunc.__file__, staging / CODE_DIR / f"{LOADER_MODULE}.py")
        versions: dict[str, str] = training.get("versions") or {}
        python = versions.get("python", "3.11")
        (staging / "requirements.txt").write_text(_requirements(versions))
        (staging / "python_env.yaml").write_text(_python_env(python))
        (staging / "MLmodel").write_text(_mlmodel(version, python))
        if output.exists():
            output.rmdir()  # empty (checked above): the rename needs the name free
        staging.rename(output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return output


def _requirements(versions: dict[str, str]) -> str:
    pins = [f"{name}=={versions[name]}" for name in _PINNED if name in versions]
    return "\n".join(["mlflow", f"conveyor=={__version__}", *pins]) + "\n"


def _python_env(python: str) -> str:
    return _yaml(
        {
            "python": python,
            "build_dependencies": ["pip", "setuptools", "wheel"],
            "dependencies": ["-r requirements.txt"],
        }
    )


def _mlmodel(version: ModelVersion, python: str) -> str:
    return _yaml(
        {
            "flavors": {
                "python_function": {
                    "loader_module": LOADER_MODULE,
                    "code": CODE_DIR,
                    "data": DATA_DIR,
                    "env": {"virtualenv": "python_env.yaml"},
                    "python_version": python,
                }
            },
            "model_uuid": uuid.uuid4().hex,
            "utc_time_created": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),
            "metadata": {
                "conveyor": {
                    "project": version.project,
                    "version": version.version,
                    "sha256": version.sha256,
                    "task": version.task.value,
                    "algorithm": version.algorithm,
                }
            },
        }
    )


def _yaml(value: dict[str, Any], indent: int = 0) -> str:
    """Block-style YAML of nested dicts and lists of strings and numbers; every string is
    written as a JSON string, which YAML reads back as the same string."""
    lines: list[str] = []
    pad = "  " * indent
    for key, item in value.items():
        if isinstance(item, dict):
            lines.append(f"{pad}{key}:")
            lines.append(_yaml(item, indent + 1).rstrip("\n"))
        elif isinstance(item, list):
            lines.append(f"{pad}{key}:")
            lines.extend(f"{pad}- {json.dumps(element)}" for element in item)
        else:
            lines.append(f"{pad}{key}: {json.dumps(item)}")
    return "\n".join(lines) + "\n"
