"""Load the one model a container serves from the folder SageMaker unpacked it into.

The local server checks an artifact's sha256 before it unpacks it; here SageMaker has
downloaded and unpacked ``model.tar.gz`` already, so the bytes the registry hashed are gone.
What is checked instead: the folder's content digest is the one the deploy took from the bytes
it checked (``check_content``), the folder holds every file of conveyor's artifact, they parse,
the training record and the encoder agree on the features the model was fitted on, and the
model answers a warm-up row, before the container reports itself healthy.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from conveyor.errors import ConfigError, IntegrityError
from conveyor.model.artifact import ENCODER_FILE, SCHEMA_FILE, TRAINING_FILE, Predictor
from conveyor.model.content_digest import folder_digest
from conveyor.model.loading import LoadedModel

log = logging.getLogger("conveyor.serving")

REQUIRED_FILES = (SCHEMA_FILE, ENCODER_FILE, TRAINING_FILE)


def check_model_dir(model_dir: Path) -> None:
    """The folder holds conveyor's artifact files (a look, no load).

    Raises:
        ConfigError: the folder is missing, empty, or lacks a file of the artifact.
    """
    if not model_dir.is_dir() or not any(model_dir.iterdir()):
        state = "is empty" if model_dir.is_dir() else "does not exist"
        raise ConfigError(
            f"the model folder {model_dir} {state}: SageMaker unpacks the model's "
            "model.tar.gz there (set CONVEYOR_MODEL_DIR to serve another folder)",
            field="model_dir",
        )
    missing = [name for name in REQUIRED_FILES if not (model_dir / name).is_file()]
    if missing:
        raise ConfigError(
            f"the model folder {model_dir} lacks {', '.join(missing)}: it does not hold a "
            "conveyor model artifact",
            field="model_dir",
        )


def check_content(model_dir: Path, expected: str | None) -> None:
    """The folder holds what the deploy checked (nothing to compare with when ``expected`` is
    None: a folder served by hand).

    Raises:
        IntegrityError: its content digest is another.
    """
    if expected is None:
        return
    found = folder_digest(model_dir)
    if found != expected:
        raise IntegrityError(
            f"the model folder {model_dir} does not hold what was deployed: its content digest "
            f"is {found}, the deploy checked {expected} (CONVEYOR_MODEL_CONTENT_SHA256). The "
            "model.tar.gz changed after the deploy's check; nothing is served. Restore the "
            "object, or deploy the version again",
            field="model_dir",
        )


def load_model_dir(model_dir: Path, *, project: str, version: int) -> LoadedModel:
    """The model in ``model_dir``, loaded and warmed up.

    Raises:
        ConfigError: the folder is missing, empty, or lacks a file of the artifact.
        IntegrityError: a file does not parse, or the files disagree with each other.
    """
    started = time.perf_counter()
    check_model_dir(model_dir)
    try:
        predictor = Predictor.load(model_dir)
    except Exception as exc:  # damaged JSON, a missing or unreadable model file, ...
        raise IntegrityError(
            f"the model in {model_dir} cannot be loaded: {type(exc).__name__}: {exc}"
        ) from exc
    _check_consistent(predictor, model_dir)
    try:
        predictor.predict_records([dict.fromkeys(predictor.schema.feature_names)])
    except Exception as exc:
        raise IntegrityError(
            f"the model in {model_dir} fails on a warm-up row: {type(exc).__name__}: {exc}"
        ) from exc
    log.info(
        "loaded %s v%d from %s in %.3f s",
        project,
        version,
        model_dir,
        time.perf_counter() - started,
        extra={"project": project, "version": version},
    )
    # The artifact's sha256 is of the tarball SageMaker unpacked and dropped: unknown here.
    return LoadedModel(project, version, "", predictor)


def _check_consistent(predictor: Predictor, model_dir: Path) -> None:
    """The encoder and the training record must describe the same fitted features."""
    trained = predictor.training.get("feature_names_out")
    encoded = predictor.encoder.feature_names_out_
    if trained is not None and list(trained) != list(encoded):
        raise IntegrityError(
            f"{model_dir / TRAINING_FILE} and {model_dir / ENCODER_FILE} disagree on the "
            f"model's features ({len(trained)} vs {len(encoded)}): the files come from "
            "different trainings"
        )
    task = predictor.training.get("task")
    if task is not None and task != predictor.schema.task.value:
        raise IntegrityError(
            f"{model_dir / TRAINING_FILE} says task {task!r} but {model_dir / SCHEMA_FILE} "
            f"says {predictor.schema.task.value!r}"
        )
