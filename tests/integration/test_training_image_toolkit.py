"""conveyor's training image without Docker: a virtualenv made from
``containers/training/requirements.lock`` (hash-checked, nothing else) runs SageMaker's real
training toolkit, whose ``train`` command unpacks the sourcedir a job on that image gets (no
requirements.txt) and runs it, installing nothing. Marked slow (it builds that virtualenv;
``make bench`` runs it): `make test` checks the lock file statically (test_images.py)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conveyor.config import AwsSettings
from tests.integration.test_training_container_contract import lay_out_container, submit_job

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "containers" / "training" / "requirements.lock"
UV = ROOT / ".venvs-iac" / "uv" / "bin" / "uv"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def image_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ folder of a virtualenv holding exactly what the image installs."""
    venv = tmp_path_factory.mktemp("training-image") / "venv"
    subprocess.run([str(UV), "venv", "--quiet", "--python", "3.11", str(venv)], check=True)
    install = ["--require-hashes", "--no-deps", "--requirement", str(LOCK)]
    python = str(venv / "bin" / "python")
    subprocess.run([str(UV), "pip", "install", "--quiet", "--python", python, *install], check=True)
    return venv / "bin"


@pytest.fixture
def job_root(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """An /opt/ml root laid out for a training job started with conveyor's image, its
    sourcedir as a local tarball, and the job's Environment."""
    from conveyor.aws.clients import client

    settings = AwsSettings(training_image_has_dependencies=True)
    with submit_job(tmp_path / "submit", settings) as job:
        container = lay_out_container(job.request, tmp_path)
        source = urlsplit(json.loads(job.request["HyperParameters"]["sagemaker_submit_directory"]))
        body = client("s3").get_object(Bucket=source.netloc, Key=source.path.lstrip("/"))
        tarball = tmp_path / "sourcedir.tar.gz"
        tarball.write_bytes(body["Body"].read())
    # SageMaker downloads the tarball for the toolkit; here it reads the local copy. The
    # host is localhost: the toolkit waits until each host's name resolves (algo-1 does only
    # on SageMaker).
    hyperparameters = json.loads(container.paths.hyperparameters_file.read_text())
    hyperparameters["sagemaker_submit_directory"] = json.dumps(str(tarball))
    container.paths.hyperparameters_file.write_text(json.dumps(hyperparameters))
    (container.paths.input_config / "resourceconfig.json").write_text(
        json.dumps({"current_host": "localhost", "hosts": ["localhost"]})
    )
    return container.paths.root, dict(job.request.get("Environment", {}))


def test_the_toolkit_runs_the_job_on_the_image_s_packages_installing_nothing(
    image_python: Path, job_root: tuple[Path, dict[str, str]]
) -> None:
    root, job_environment = job_root
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SM_", "CONVEYOR_", "PYTHONPATH", "VIRTUAL_ENV"))
    }
    environment |= job_environment | {
        "SAGEMAKER_BASE_DIR": str(root),
        "PATH": f"{image_python}:{environment['PATH']}",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_REGION": "us-east-1",
    }
    # SageMaker starts the container as `docker run <image> train`.
    done = subprocess.run(
        [str(image_python / "train")],
        env=environment,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Reporting training SUCCESS" in done.stderr
    assert "Installing" not in done.stderr + done.stdout
    assert f"from {root / 'code' / 'conveyor'}; running conveyor.jobs.entrypoint" in done.stdout
    assert {"model.txt", "training.json", "encoder.json", "schema.json"} <= {
        path.name for path in (root / "model").iterdir()
    }
