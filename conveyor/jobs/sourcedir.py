"""``sourcedir.tar.gz``: the code a SageMaker training job runs, packaged for script mode.

SageMaker's framework images (the scikit-learn one by default) carry Python, numpy,
scikit-learn, pyarrow and the SageMaker training toolkit. For a job whose hyperparameters
name ``sagemaker_submit_directory`` (this tarball's S3 URI) and ``sagemaker_program``
(``train.py``), the toolkit downloads the tarball, unpacks it in ``/opt/ml/code``, runs
``pip install -r requirements.txt`` there, then ``python train.py`` with ``/opt/ml/code`` as
the working directory and the SM_* variables set.

The tarball holds:

- ``train.py``: runs the entrypoint module named by ``CONVEYOR_ENTRYPOINT`` (default
  ``conveyor.jobs.entrypoint``) as ``__main__``, so the job's exit code and
  ``/opt/ml/output/failure`` are the entrypoint's own;
- ``requirements.txt`` (``conveyor/jobs/requirements-sagemaker.txt``): what the image lacks,
  LightGBM and polars above all, and what conveyor's other jobs (pipeline, drift, retrain:
  entrypoints of their own through ``CONVEYOR_ENTRYPOINT``) import, such as pydantic-settings.
  Left out for conveyor's own training image (``containers/training``, built by the stack's
  CodeBuild project from its lock file), which has them: the toolkit installs a
  requirements.txt only when there is one, so such a job starts without internet;
- ``conveyor/``: conveyor's own source tree. Python puts the script's folder first on
  ``sys.path``, so ``import conveyor`` finds this copy: no wheel to build, and the job runs
  the very code that started it.

conveyor needs Python 3.11 or later. The scikit-learn image 1.4-2 ships Python 3.10, on
which ``train.py`` stops at once with that reason in ``output/failure`` (SageMaker's
FailureReason): point ``CONVEYOR_AWS_TRAINING_IMAGE`` at a framework image with Python 3.11+
that runs the same training toolkit (e.g. SageMaker's PyTorch training image, py311).

The tarball is byte-for-byte reproducible (sorted entries, fixed times and owners), so its
key is content-addressed: the same code uploads once and keeps its URI.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from importlib import resources
from pathlib import Path, PurePosixPath

import conveyor
from conveyor.errors import NotFound
from conveyor.storage import MODELS, ObjectStore
from conveyor.types import ObjectRef

TRAIN_PROGRAM = "train.py"
REQUIREMENTS_FILE = "requirements.txt"
ENTRYPOINT_VARIABLE = "CONVEYOR_ENTRYPOINT"
MIN_PYTHON = (3, 11)

TRAIN_SCRIPT = f'''"""The program SageMaker's training toolkit runs: ``python {TRAIN_PROGRAM}``."""

import os
import runpy
import sys
from pathlib import Path

if sys.version_info < {MIN_PYTHON!r}:
    # Say why in output/failure, which SageMaker reports as the job's FailureReason.
    reason = (
        "conveyor needs Python {MIN_PYTHON[0]}.{MIN_PYTHON[1]} or later; this image has "
        + sys.version.split()[0]
        + ": set CONVEYOR_AWS_TRAINING_IMAGE to an image with a newer Python"
    )
    output = Path(os.environ.get("SM_OUTPUT_DIR", "/opt/ml/output"))
    output.mkdir(parents=True, exist_ok=True)
    (output / "failure").write_text(reason + "\\n")
    print(reason, file=sys.stderr)
    sys.exit(1)

import conveyor

module = os.environ.get("{ENTRYPOINT_VARIABLE}") or "conveyor.jobs.entrypoint"
source = Path(conveyor.__file__).parent
print(f"conveyor {{conveyor.__version__}} from {{source}}; running {{module}}", flush=True)
runpy.run_module(module, run_name="__main__", alter_sys=True)
'''

_FIXED_MTIME = 0


def requirements_text() -> str:
    """The ``requirements.txt`` the training container installs."""
    return resources.files("conveyor.jobs").joinpath("requirements-sagemaker.txt").read_text()


def _conveyor_sources() -> list[tuple[str, Path]]:
    """(name in the tarball, file) for every module of the installed conveyor package."""
    package = Path(conveyor.__file__).parent
    files = [
        path
        for path in package.rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and (path.suffix == ".py" or path.name in {"py.typed", "requirements-sagemaker.txt"})
    ]
    return sorted(
        (str(PurePosixPath("conveyor", *path.relative_to(package).parts)), path) for path in files
    )


def build_sourcedir(*, requirements: bool = True) -> bytes:
    """The bytes of ``sourcedir.tar.gz``; the same code gives the same bytes.

    Args:
        requirements: ship ``requirements.txt``, which the toolkit pip-installs at every
            start; False for an image that has them already (``containers/training``).
    """
    members: list[tuple[str, bytes]] = [(TRAIN_PROGRAM, TRAIN_SCRIPT.encode())]
    if requirements:
        members.append((REQUIREMENTS_FILE, requirements_text().encode()))
    members.extend((name, path.read_bytes()) for name, path in _conveyor_sources())
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = _FIXED_MTIME
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            archive.addfile(info, io.BytesIO(data))
    # gzip stamps its header with a time and file name unless told not to.
    return gzip.compress(raw.getvalue(), compresslevel=9, mtime=_FIXED_MTIME)


def content_addressed_key(source_key: str, data: bytes) -> str:
    """``code/sourcedir.tar.gz`` → ``code/sourcedir-<sha256 prefix>.tar.gz``."""
    folder, _, name = source_key.rpartition("/")
    stem, dot, suffixes = name.partition(".")
    digest = hashlib.sha256(data).hexdigest()[:16]
    keyed = f"{stem}-{digest}{dot}{suffixes}"
    return f"{folder}/{keyed}" if folder else keyed


def upload_sourcedir(
    store: ObjectStore, source_key: str, *, requirements: bool = True
) -> ObjectRef:
    """Build the tarball (see ``build_sourcedir``) and put it in the models bucket under its
    content-addressed key, unless an earlier upload put the same bytes there already."""
    data = build_sourcedir(requirements=requirements)
    ref = ObjectRef(MODELS, content_addressed_key(source_key, data))
    try:
        store.head(ref.bucket, ref.key)
    except NotFound:
        store.put(ref.bucket, ref.key, data)
    return ref
