"""A registered model outside the server: ``conveyor.load_model("churn")`` gives the version a
project serves (or any other) loaded as the server loads it, checked against the registry's
sha256, so ``predict`` answers what ``POST /predict`` answers for the same rows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conveyor.errors import NotDeployed
from conveyor.model.artifact import Prediction, Predictor
from conveyor.tabular.schema import DatasetSchema


@dataclass(frozen=True)
class LoadedModel:
    """One version of a project's model, loaded."""

    project: str
    version: int
    sha256: str
    predictor: Predictor

    @property
    def schema(self) -> DatasetSchema:
        """The inputs the model reads (names, kinds, parse rules), its target and classes."""
        return self.predictor.schema

    def predict(self, rows: dict[str, Any] | list[dict[str, Any]]) -> Prediction:
        """Predictions for ``rows`` (one row or a list, column -> value, read as an upload's
        cells are: ``"$1,200"`` and ``"8/6/20"`` as the project's file wrote them).

        Raises:
            InvalidInput: a value the model cannot read; the message names the column.
        """
        return self.predictor.predict_records([rows] if isinstance(rows, dict) else rows)


def load_model(
    project: str, version: int | None = None, *, home: str | Path | None = None
) -> LoadedModel:
    """Load a project's model as the server does.

    Args:
        project: the project's name.
        version: the version to load; None: the one the project serves.
        home: conveyor's home (default: ``CONVEYOR_HOME``, else the settings' default), or
            whatever backend the environment's ``CONVEYOR_*`` settings name.

    Raises:
        NotFound: no such project or version.
        NotDeployed: ``version`` is None and the project serves nothing.
        IntegrityError: the stored artifact is not the bytes the registry recorded.
    """
    from conveyor.config import load_settings
    from conveyor.model.loading import load_verified
    from conveyor.wiring import build_ports

    settings = load_settings(home=Path(home).expanduser() if home is not None else None)
    ports = build_ports(settings)
    if version is None:
        deployment = ports.endpoint.describe_endpoint(project)
        if deployment is None:
            raise NotDeployed(project, instead=" or pass version=")
        version = deployment.version
    model = ports.registry.get_version(project, version)
    predictor = load_verified(
        ports.store,
        model.artifact,
        model.sha256,
        cache_dir=settings.serving_cache_dir,
        version=f"{project} v{version}",
    )
    return LoadedModel(project, version, model.sha256, predictor)
