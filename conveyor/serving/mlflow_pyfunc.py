"""conveyor's model as an MLflow ``python_function`` model: the loader module of the directory
``conveyor models export P N --format mlflow`` writes.

The export copies this file into its ``code/`` folder (MLflow puts that folder on ``sys.path``
before it imports the loader) and names it in ``MLmodel`` as the ``loader_module``. MLflow calls
``_load_pyfunc`` with the ``data`` folder: the version's artifact, unpacked. The model is
loaded by conveyor's own code (``load_model_dir``, as SageMaker's container loads it), so the
rows MLflow hands over are parsed as ``POST /predict`` parses them; conveyor must therefore be
installed in the environment that serves the directory (its requirements.txt names it).
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

from conveyor.errors import InvalidInput
from conveyor.model.artifact import Prediction
from conveyor.model.loading import LoadedModel
from conveyor.serving.instances import columns_to_rows
from conveyor.serving.sagemaker.model_dir import check_content, load_model_dir

# Beside the data folder: which version the directory holds and its artifact's digests.
EXPORT_RECORD = "conveyor.json"


def _load_pyfunc(data_path: str) -> ConveyorPyfunc:
    """The MLflow loader's entry point: the model in ``data_path``, checked and loaded.

    Raises:
        IntegrityError: the folder's files are not the ones exported, or do not load.
    """
    folder = Path(data_path)
    record = json.loads((folder.parent / EXPORT_RECORD).read_text())
    check_content(folder, record["content_sha256"])
    loaded = load_model_dir(folder, project=record["project"], version=int(record["version"]))
    return ConveyorPyfunc(dataclasses.replace(loaded, sha256=record["sha256"]))


class ConveyorPyfunc:
    """What MLflow's ``PyFuncModel`` wraps: ``predict`` of a DataFrame (MLflow's
    ``dataframe_split`` and ``dataframe_records`` bodies), a list of rows or a dict of columns.
    """

    def __init__(self, model: LoadedModel) -> None:
        self.model = model

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> list[Any]:
        """One answer per row: ``{"prediction": label, "proba_<class>": p, ...}`` for a
        classifier (the columns of ``conveyor predict``'s output), ``{"prediction": value}``
        for a regression.

        Raises:
            InvalidInput: a value the model cannot read; the message names the column.
        """
        return answers(self.model.predict(rows_of(model_input)))


def rows_of(model_input: Any) -> list[dict[str, Any]]:
    """The rows of what MLflow passes: a pandas DataFrame (its missing cells, NaN, as None:
    pandas writes a JSON null as NaN in a column of numbers), a list of rows or a dict of
    columns (MLflow's ``inputs``).

    Raises:
        InvalidInput: none of those.
    """
    if hasattr(model_input, "to_dict") and hasattr(model_input, "columns"):
        records = model_input.to_dict(orient="records")
    elif isinstance(model_input, dict):  # MLflow hands each column over as a numpy array
        records = columns_to_rows({k: _listed(v) for k, v in model_input.items()})
    elif isinstance(model_input, list) and all(isinstance(row, dict) for row in model_input):
        records = model_input
    else:
        raise InvalidInput(
            f"conveyor's model reads rows of named columns, not a {type(model_input).__name__}: "
            'send "dataframe_split" or "dataframe_records"',
            field="model_input",
        )
    return [{name: _cell(value) for name, value in row.items()} for row in records]


def _listed(column: Any) -> Any:
    return column.tolist() if hasattr(column, "tolist") else column


def _cell(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


def answers(prediction: Prediction) -> list[Any]:
    """One dict per row: its prediction and, for a classifier, ``proba_<class>`` per class."""
    if prediction.probabilities is None or prediction.classes is None:
        return [{"prediction": value} for value in prediction.predictions]
    names = [f"proba_{label}" for label in prediction.classes]
    return [
        {"prediction": label, **dict(zip(names, probabilities, strict=True))}
        for label, probabilities in zip(
            prediction.predictions, prediction.probabilities, strict=True
        )
    ]
