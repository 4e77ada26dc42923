"""conveyor: a raw tabular file in, a trained, versioned, served and monitored model out."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def load_model(project: str, version: int | None = None, *, home: str | None = None) -> Any:
    """A project's model loaded as the server loads it: ``.predict(rows)`` answers what
    ``POST /predict`` does (see ``conveyor.loaded.load_model``)."""
    # Imported here: ``import conveyor`` stays light for the CLI and the Lambda functions.
    from conveyor.loaded import load_model as load

    return load(project, version, home=home)
