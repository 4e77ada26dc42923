"""The deployed version of a conveyor home, unpacked as SageMaker unpacks it in /opt/ml/model."""

from __future__ import annotations

from pathlib import Path

from conveyor.config import Settings
from conveyor.model.artifact import unpack
from conveyor.wiring import build_ports


def unpacked_deployed_model(home: Path, root: Path) -> Path:
    """The home's one deployed version's model.tar.gz, downloaded and unpacked under ``root``."""
    ports = build_ports(Settings(home=home))
    (deployment,) = ports.endpoint.list_endpoints()
    tarball = root / "model.tar.gz"
    ports.store.download(deployment.artifact.bucket, deployment.artifact.key, tarball)
    return unpack(tarball, root / "model")
