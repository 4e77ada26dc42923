"""A registered model outside the server: ``conveyor.load_model("churn")`` gives the version a
project serves (or any other) loaded as the server loads it, checked against the registry's
sha256, so ``predict`` answers what ``POST /predict`` answers for the same rows."""

from __future__ import annotations

from pathlib import Path

from conveyor.model.loading import LoadedModel

__all__ = ["LoadedModel", "load_model"]


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
    from conveyor.model.loading import load_verified, resolve_version
    from conveyor.wiring import build_ports

    settings = load_settings(home=Path(home).expanduser() if home is not None else None)
    ports = build_ports(settings)
    version = resolve_version(ports, project, version, instead=" or pass version=")
    model = ports.registry.get_version(project, version)
    predictor = load_verified(
        ports.store,
        model.artifact,
        model.sha256,
        cache_dir=settings.serving_cache_dir,
        version=f"{project} v{version}",
    )
    return LoadedModel(project, version, model.sha256, predictor)
