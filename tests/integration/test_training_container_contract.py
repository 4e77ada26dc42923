"""The packaged training program run for real under SageMaker's training-container conventions.

The SageMaker job runner submits a job on moto from conveyor's real preprocess output (a
sample of churn.csv). The test then does what SageMaker and the framework image's training
toolkit do with that request: it writes ``input/config/hyperparameters.json`` with the
hyperparameters SageMaker received, copies each channel's S3 objects to
``input/data/<channel>/``, unpacks the ``sagemaker_submit_directory`` tarball into a code
folder, sets the SM_* variables and runs ``python train.py <hyperparameters as arguments>``
there. When the program succeeds, ``model/`` is packed into model.tar.gz at SageMaker's output
path, and the runner and the pipeline's evaluate stage take it from there.

What ``test_training_entrypoint.py`` already checks of the entrypoint itself (a missing
channel, LightGBM's own errors) is not repeated here.
"""

from __future__ import annotations

import ast
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import conveyor
from conveyor.config import AwsSettings
from conveyor.jobs.contract import ScriptModePaths
from conveyor.jobs.sagemaker import SageMakerJobRunner
from conveyor.model.artifact import pack_model_dir
from conveyor.pipeline.evaluate import evaluate_artifact
from conveyor.pipeline.preprocess import preprocess
from conveyor.pipeline.train import artifact_ref, split_rows, training_job_spec
from conveyor.storage import BUCKETS, MODELS, RAW
from conveyor.storage.s3 import S3ObjectStore
from conveyor.types import ObjectRef, Project, Run

SAMPLE = Path(__file__).parents[2] / "conveyor" / "samples" / "churn.csv"
SAMPLE_ROWS = 600
REAL = {bucket: f"conveyor-contract-{bucket}" for bucket in BUCKETS}
# The scikit-learn framework image's Python (docker/1.4-2 of its container repository).
IMAGE_PYTHON = Path.home() / ".pyenv" / "versions" / "3.10.13" / "bin" / "python3.10"


@dataclass(frozen=True)
class SubmittedJob:
    runner: SageMakerJobRunner
    store: S3ObjectStore
    project: Project
    run: Run
    request: dict[str, Any]  # DescribeTrainingJob: the request as SageMaker holds it


@pytest.fixture(scope="module")
def submitted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SubmittedJob]:
    with submit_job(tmp_path_factory.mktemp("submit")) as job:
        yield job


@contextmanager
def submit_job(workdir: Path, settings: AwsSettings | None = None) -> Iterator[SubmittedJob]:
    """A training job of the churn sample submitted on moto by a runner with ``settings``
    (the defaults: the framework image); moto's account lasts as long as the context."""
    from moto import mock_aws

    from conveyor.aws.clients import clear_clients, client

    with pytest.MonkeyPatch.context() as env:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            env.setenv(name, "testing")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.delenv("CONVEYOR_AWS_ENDPOINT_URL", raising=False)
        clear_clients()
        with mock_aws():
            for real in REAL.values():
                client("s3").create_bucket(Bucket=real)
            store = S3ObjectStore(REAL)
            sample = b"".join(SAMPLE.read_bytes().splitlines(keepends=True)[: SAMPLE_ROWS + 1])
            raw = ObjectRef(RAW, "churn/churn.csv")
            store.put(raw.bucket, raw.key, sample)
            project = Project(name="churn", target="churned", hyperparameters={"num_leaves": 8})
            result = preprocess(store, raw, project, dataset_id="d1", workdir=workdir)
            run = Run(run_id="r-0001", project="churn", raw=raw, dataset_id="d1")
            runner = SageMakerJobRunner(store=store, settings=settings or AwsSettings())
            spec = training_job_spec(run, project, seed=7, rows=split_rows(result.report))
            runner.start_training_job(spec)
            request = client("sagemaker").describe_training_job(TrainingJobName=spec.job_name)
            yield SubmittedJob(runner, store, project, run, request)
        clear_clients()


@dataclass(frozen=True)
class Container:
    paths: ScriptModePaths
    code: Path
    env: dict[str, str]
    args: list[str]


def lay_out_container(
    request: dict[str, Any],
    root: Path,
    hyperparameters: dict[str, str] | None = None,
    *,
    s3: Any = None,
) -> Container:
    """What SageMaker and the training toolkit prepare before they run ``sagemaker_program``
    for the CreateTrainingJob ``request`` (its channels and the tarball read with ``s3``, by
    default this process's mocked client); its ``Environment`` is the program's, as SageMaker
    sets it."""
    from conveyor.aws.clients import client

    s3 = s3 or client("s3")
    hps = dict(request["HyperParameters"] if hyperparameters is None else hyperparameters)
    channels = [channel["ChannelName"] for channel in request["InputDataConfig"]]
    paths = ScriptModePaths(root / "ml")
    paths.make_dirs(channels)
    paths.hyperparameters_file.write_text(json.dumps(hps))
    paths.input_data_config_file.write_text(
        json.dumps(
            {
                name: {
                    "TrainingInputMode": "File",
                    "S3DistributionType": "FullyReplicated",
                    "RecordWrapperType": "None",
                }
                for name in channels
            }
        )
    )
    (paths.input_config / "resourceconfig.json").write_text(
        json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]})
    )
    for channel in request["InputDataConfig"]:
        uri = urlsplit(channel["DataSource"]["S3DataSource"]["S3Uri"])
        listing = s3.list_objects_v2(Bucket=uri.netloc, Prefix=uri.path.lstrip("/"))
        for item in listing["Contents"]:
            target = paths.channel(channel["ChannelName"]) / Path(item["Key"]).name
            s3.download_file(uri.netloc, item["Key"], str(target))

    source = urlsplit(json.loads(request["HyperParameters"]["sagemaker_submit_directory"]))
    tarball = s3.get_object(Bucket=source.netloc, Key=source.path.lstrip("/"))["Body"].read()
    code = root / "code"
    with tarfile.open(fileobj=io.BytesIO(tarball)) as archive:
        archive.extractall(code, filter="data")

    # The toolkit decodes each value that is JSON, and passes the user's as arguments.
    decoded = {key: _json_or_text(value) for key, value in hps.items()}
    user = {key: value for key, value in decoded.items() if not key.startswith("sagemaker_")}
    args = [
        part
        for key, value in sorted(user.items())
        for part in (f"--{key}", value if isinstance(value, str) else json.dumps(value))
    ]
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SM_", "CONVEYOR_", "PYTHONPATH"))
    }
    env |= request.get("Environment", {})
    env |= {
        "SM_MODEL_DIR": str(paths.model_dir),
        "SM_CHANNELS": json.dumps(channels),
        "SM_HPS": json.dumps(user),
        "SM_USER_ARGS": json.dumps(args),
        "SM_USER_ENTRY_POINT": decoded["sagemaker_program"],
        "SM_MODULE_DIR": decoded["sagemaker_submit_directory"],
        "SM_OUTPUT_DIR": str(paths.output_dir),
        "SM_OUTPUT_DATA_DIR": str(paths.output_data_dir),
        "SM_INPUT_DIR": str(paths.input_dir),
        "SM_INPUT_CONFIG_DIR": str(paths.input_config),
        "SM_HOSTS": json.dumps(["algo-1"]),
        "SM_CURRENT_HOST": "algo-1",
        "SM_NUM_CPUS": "2",
        "SM_NUM_GPUS": "0",
        **{f"SM_CHANNEL_{name.upper()}": str(paths.channel(name)) for name in channels},
    }
    return Container(paths, code, env, args)


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def run_program(
    container: Container, python: Path | str = sys.executable, *flags: str
) -> subprocess.CompletedProcess[str]:
    program = container.env["SM_USER_ENTRY_POINT"]
    return subprocess.run(
        [str(python), *flags, program, *container.args],
        cwd=container.code,
        env=container.env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_the_packaged_program_trains_the_model_the_pipeline_evaluates(
    submitted: SubmittedJob, tmp_path: Path
) -> None:
    container = lay_out_container(submitted.request, tmp_path)
    # -X importtime lists every module the program imports (on stderr).
    result = run_program(container, sys.executable, "-X", "importtime")
    assert result.returncode == 0, result.stderr[-3000:]
    # It ran the conveyor inside the tarball, not the one installed here.
    assert f"from {container.code / 'conveyor'}; running conveyor.jobs.entrypoint" in result.stdout
    assert "validation:roc_auc=" in result.stdout
    assert not container.paths.failure_file.exists()

    training = json.loads((container.paths.model_dir / "training.json").read_text())
    assert training["algorithm"] == "lightgbm"
    assert training["seed"] == 7
    assert training["hyperparameters"]["num_leaves"] == 8
    assert training["rows_train"] + training["rows_validation"] < SAMPLE_ROWS
    # A small file: the model that serves is fitted on all three splits, the one the test
    # split scores is kept beside it.
    assert training["refit"]["rows"] == SAMPLE_ROWS
    assert (container.paths.model_dir / "assessment" / "model.txt").exists()

    # SageMaker packs model/ and uploads it to <S3OutputPath>/<job>/output/model.tar.gz.
    job_name = submitted.request["TrainingJobName"]
    produced = urlsplit(submitted.request["ModelArtifacts"]["S3ModelArtifacts"])
    assert produced.netloc == REAL[MODELS]
    packed = pack_model_dir(container.paths.model_dir, tmp_path / "model.tar.gz")
    submitted.store.put_file(MODELS, produced.path.lstrip("/"), packed)

    job = submitted.runner.describe_training_job(job_name)
    assert job.model_artifact == artifact_ref(submitted.run)
    evaluation = evaluate_artifact(
        submitted.store,
        submitted.run,
        job.model_artifact,
        submitted.project,
        workdir=tmp_path / "evaluate",
    )
    assert evaluation.training["seed"] == 7  # the model the program wrote, read back
    assert 0.5 < evaluation.metrics["test"]["roc_auc"] <= 1.0

    imported = _third_party_distributions(result.stderr, container.code)
    needed = _with_dependencies((container.code / "requirements.txt").read_text())
    assert {"lightgbm", "polars", "numpy"} <= imported
    assert imported <= needed, f"imported but not in requirements.txt: {imported - needed}"


def test_on_sagemaker_the_training_job_searches_within_its_budget(
    submitted: SubmittedJob, tmp_path: Path
) -> None:
    # What pipeline/train.py sends for a project with --preset balanced --time-budget 8s: the
    # one training job searches, as it does locally, with what the sourcedir installs.
    hps = dict(submitted.request["HyperParameters"], preset="balanced", time_budget="8", metric="")
    container = lay_out_container(submitted.request, tmp_path, hps)
    began = time.monotonic()
    result = run_program(container, sys.executable, "-X", "importtime")
    took = time.monotonic() - began
    assert result.returncode == 0, result.stderr[-3000:]
    search = json.loads((container.paths.model_dir / "training.json").read_text())["search"]
    assert search["preset"] == "balanced" and search["time_budget_seconds"] == 8.0
    names = {row["name"] for row in search["leaderboard"]}
    assert {"lightgbm", "linear"} <= names and sum(r["winner"] for r in search["leaderboard"]) == 1
    assert search["seconds"] <= 8.0 * 1.1 + max(r["fit_seconds"] for r in search["leaderboard"])
    assert took < 120  # the process, imports included
    imported = _third_party_distributions(result.stderr, container.code)
    needed = _with_dependencies((container.code / "requirements.txt").read_text())
    assert "optuna" in imported
    assert imported <= needed, f"imported but not in requirements.txt: {imported - needed}"


def test_hyperparameters_json_encoded_as_the_sagemaker_sdk_sends_them_are_read(
    submitted: SubmittedJob, tmp_path: Path
) -> None:
    sdk_style = {
        "algorithm": json.dumps("sklearn"),
        "seed": json.dumps(11),
        "model_hyperparameters": json.dumps(json.dumps({"max_iter": 30})),
        "sagemaker_program": json.dumps("train.py"),
        "sagemaker_submit_directory": submitted.request["HyperParameters"][
            "sagemaker_submit_directory"
        ],
    }
    container = lay_out_container(submitted.request, tmp_path, sdk_style)
    result = run_program(container)
    assert result.returncode == 0, result.stderr[-3000:]
    training = json.loads((container.paths.model_dir / "training.json").read_text())
    assert training["algorithm"] == "sklearn"
    assert training["seed"] == 11
    assert training["hyperparameters"]["max_iter"] == 30


def test_a_bad_input_fails_the_job_with_a_reason_sagemaker_reports(
    submitted: SubmittedJob, tmp_path: Path
) -> None:
    hps = dict(submitted.request["HyperParameters"], algorithm=json.dumps("xgboost"))
    container = lay_out_container(submitted.request, tmp_path, hps)
    result = run_program(container)
    assert result.returncode != 0
    failure = container.paths.failure_file.read_text()
    assert "'xgboost' is not a valid Algorithm" in failure
    assert "Traceback" not in failure and "Traceback" in result.stderr
    assert not any(container.paths.model_dir.iterdir())


def test_on_the_scikit_learn_image_s_python_the_program_says_what_to_change(
    submitted: SubmittedJob, tmp_path: Path
) -> None:
    container = lay_out_container(submitted.request, tmp_path)
    result = run_program(container, IMAGE_PYTHON)
    assert result.returncode == 1
    failure = container.paths.failure_file.read_text()
    assert "conveyor needs Python 3.11 or later; this image has 3.10" in failure
    assert "CONVEYOR_AWS_TRAINING_IMAGE" in failure


def _third_party_distributions(importtime: str, code: Path) -> set[str]:
    """The distributions conveyor's own code imported in the job.

    ``-X importtime`` lists every module imported; of those, the ones an import statement of
    a loaded conveyor module names. (Optional imports inside the libraries, such as psutil
    when it happens to be installed, are theirs to skip when absent.)
    """
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in importtime.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }
    named: set[str] = set()
    for module in imported:
        if module == "conveyor" or module.startswith("conveyor."):
            source = code.joinpath(*module.split("."))
            source = source / "__init__.py" if source.is_dir() else source.with_suffix(".py")
            for node in ast.walk(ast.parse(source.read_text())):
                if isinstance(node, ast.Import):
                    named |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    named.add(node.module.split(".")[0])
    tops = {module.split(".")[0] for module in imported}
    owners = metadata.packages_distributions()
    return {
        canonicalize_name(owners[name][0])
        for name in (named & tops) - set(sys.stdlib_module_names) - {"conveyor"}
        if name in owners
    }


def _with_dependencies(requirements: str) -> set[str]:
    """The requirements' distributions and everything they depend on, as installed here."""
    todo = [
        Requirement(line).name
        for line in requirements.splitlines()
        if line.strip() and not line.startswith("#")
    ]
    seen: set[str] = set()
    while todo:
        name = canonicalize_name(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        for text in metadata.requires(name) or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return seen


def test_requirements_cover_every_job_conveyor_runs_on_sagemaker() -> None:
    """Statically: the third-party imports of every conveyor module the jobs can reach (the
    training entrypoint, the ``conveyor/aws/*_job.py`` entrypoints, and the adapters the
    wiring may load) are in requirements.txt or what it installs."""
    from conveyor._schemes import ADAPTERS
    from conveyor.jobs import DEFAULT_ENTRYPOINT
    from conveyor.jobs.sourcedir import requirements_text

    package = Path(conveyor.__file__).parent
    starts = [
        DEFAULT_ENTRYPOINT,
        "conveyor.wiring",
        *(f"conveyor.aws.{path.stem}" for path in sorted((package / "aws").glob("*_job.py"))),
        *(target.split(":")[0] for table in ADAPTERS.values() for target in table.values()),
    ]
    assert "conveyor.aws.pipeline_job" in starts
    named = _imports_reachable_from(starts, package.parent)
    owners = metadata.packages_distributions()
    unowned = {name for name in named if name not in owners}
    assert not unowned, f"imported but installed nowhere here: {unowned}"
    needed = {canonicalize_name(owners[name][0]) for name in named} - _optional("explain")
    covered = _with_dependencies(requirements_text())
    assert needed <= covered, f"imported but not in requirements.txt: {needed - covered}"


def _optional(extra: str) -> set[str]:
    """The distributions conveyor's ``extra`` adds: a job runs without them (shap: an
    explanation it would need is refused, naming the extra, when it is not installed)."""
    requirements = [Requirement(text) for text in metadata.requires("conveyor") or []]
    extras = {
        canonicalize_name(r.name)
        for r in requirements
        if r.marker and r.marker.evaluate({"extra": extra})
    }
    assert extras, f"conveyor has no {extra!r} extra"
    return extras


def _imports_reachable_from(starts: list[str], root: Path) -> set[str]:
    """Third-party top-level names imported anywhere in the conveyor modules reachable
    from ``starts`` by import statements (function-level imports included)."""
    todo, seen, third = list(starts), set(), set()
    while todo:
        module = todo.pop()
        source = root.joinpath(*module.split("."))
        source = source / "__init__.py" if source.is_dir() else source.with_suffix(".py")
        if module in seen or not source.is_file():
            continue
        seen.add(module)
        for node in ast.walk(ast.parse(source.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            for name in names:
                parts = name.split(".")
                if parts[0] == "conveyor":
                    todo.extend(".".join(parts[:i]) for i in range(1, len(parts) + 1))
                elif parts[0] not in sys.stdlib_module_names and parts[0] != "__future__":
                    third.add(parts[0])
    return third
