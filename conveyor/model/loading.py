"""Fetch a registry version's artifact, verify it, unpack it once, and load its Predictor."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.errors import IntegrityError, NotDeployed
from conveyor.hashing import sha256_mismatch
from conveyor.model.artifact import Prediction, Predictor, scored_dir, unpack
from conveyor.storage import ObjectStore
from conveyor.tabular.schema import DatasetSchema
from conveyor.types import ObjectRef

if TYPE_CHECKING:
    from conveyor.ports import Ports


@dataclass(frozen=True)
class LoadedModel:
    """One version of a project's model, loaded (by a server, or ``conveyor.load_model``)."""

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

    def explain(self, rows: dict[str, Any] | list[dict[str, Any]]) -> dict[str, Any]:
        """Each row's contributions per column to its raw score, as ``/predict?explain=true``
        answers them (``explanation``: method, what the score is, one entry per row).

        Raises:
            InvalidInput: a value the model cannot read, or a model family with no exact
                contributions; the message says which.
        """
        return self.predictor.explain_records([rows] if isinstance(rows, dict) else rows)


def resolve_version(ports: Ports, project: str, version: int | None, *, instead: str) -> int:
    """``version``, or the one ``project`` serves when it is None.

    Raises:
        NotDeployed: it serves none (``instead`` says what else would do).
    """
    if version is not None:
        return version
    deployment = ports.endpoint.describe_endpoint(project)
    if deployment is None:
        raise NotDeployed(project, instead=instead)
    return deployment.version


def load_verified(
    store: ObjectStore,
    artifact: ObjectRef,
    sha256: str,
    *,
    cache_dir: Path,
    version: str | None = None,
    scored: bool = False,
) -> Predictor:
    """The Predictor of ``artifact``, checked against the registry's ``sha256`` first; with
    ``scored``, of the model its held-out metrics are of (``scored_dir``).

    Unpacked folders are cached under ``cache_dir/<sha256>`` (content-addressed, so a folder
    is never half-replaced: it is unpacked beside and renamed into place). The stored bytes
    are checked on every load, cached or not: a changed artifact is refused, not served from
    an old unpacking. ``version`` (e.g. "churn v2") names it in the error.

    Raises:
        NotFound: the artifact is gone.
        IntegrityError: its bytes do not match ``sha256``.
    """
    target = cache_dir / sha256
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".load-") as tmp:
        tarball = Path(tmp) / "model.tar.gz"
        download_verified(store, artifact, sha256, tarball, version=version)
        if not (target / "training.json").exists():
            staged = unpack(tarball, Path(tmp) / "model")
            try:
                staged.rename(target)
            except OSError:
                if not (target / "training.json").exists():  # not a concurrent loader's win
                    shutil.rmtree(target, ignore_errors=True)
                    staged.rename(target)
    return Predictor.load(scored_dir(target) if scored else target)


def download_verified(
    store: ObjectStore, artifact: ObjectRef, sha256: str, path: Path, *, version: str | None = None
) -> None:
    """Write the artifact to ``path`` and check it is the bytes the registry recorded.

    Raises:
        NotFound: the artifact is not in the store.
        IntegrityError: its sha256 is not ``sha256`` (``path`` is deleted).
    """
    store.download(artifact.bucket, artifact.key, path)
    with path.open("rb") as handle:
        found = sha256_mismatch(handle, sha256)
    if found is not None:
        path.unlink(missing_ok=True)
        what = f"{version + ' ' if version else ''}({artifact.bucket}/{artifact.key})"
        raise IntegrityError(
            f"{what} has sha256 {found}, but the registry recorded {sha256}; the "
            "artifact was changed or damaged: refusing to load it"
        )
