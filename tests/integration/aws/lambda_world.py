"""What the Lambda handler tests share: AWS's event payloads filled in with the test's names,
a deployment on moto made as the SAM template makes it, SageMaker's side of a training job
(moto runs no code), and a named fake at the sagemaker-runtime boundary that answers with
conveyor's real model server.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import socket
import tarfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import quote_plus, urlsplit

import pytest

from conveyor.config import AwsSettings
from tests.integration.archives import model_tarball

EVENTS = Path(__file__).parent / "events"
# Names as template.yaml gives them in moto's account (ProjectName "conveyor"), so that the
# IAM test (test_iam.py) checks the calls against the template's own resource ARNs.
ACCOUNT = "123456789012"
PREFIX = f"conveyor-{ACCOUNT}"
TABLE = "conveyor-test"
EVENT_BUS = "conveyor-events"
INFERENCE_IMAGE = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/conveyor-inference:test"
PLACEHOLDER_MODEL = model_tarball("a model: nothing loads it")
CHURN = Path(__file__).parents[3] / "conveyor" / "samples" / "churn.csv"


def load_event(name: str, **values: object) -> dict[str, Any]:
    """The documented sample ``events/<name>.json`` with its ``${placeholders}`` filled in."""
    text = (EVENTS / f"{name}.json").read_text()
    event: dict[str, Any] = json.loads(text)
    filled = {k: "" if v is None else str(v) for k, v in values.items()}

    def fill(node: Any) -> Any:
        if isinstance(node, str):
            return Template(node).substitute(filled)
        if isinstance(node, list):
            return [fill(item) for item in node]
        if isinstance(node, dict):
            return {key: fill(value) for key, value in node.items()}
        return node

    return fill(copy.deepcopy(event))


def s3_event(bucket: str, key: str, etag: str) -> dict[str, Any]:
    # S3 URL-encodes the key in its notifications ("red flower.jpg" is "red+flower.jpg").
    return load_event("s3_object_created", bucket=bucket, key=quote_plus(key, safe="/"), etag=etag)


def aws_client(service: str) -> Any:
    """A client where the functions' settings point: moto in this process, or the moto
    server of ``served_env`` (``CONVEYOR_AWS_ENDPOINT_URL``)."""
    from conveyor.aws.sagemaker_common import settings_clients

    return settings_clients(AwsSettings())(service)


def environment(home: Path, *, endpoint_url: str | None = None) -> dict[str, str]:
    """The functions' environment, as the SAM template sets it."""
    env = {
        "CONVEYOR_HOME": str(home),
        "CONVEYOR_OBJECT_STORE_URI": f"s3://{PREFIX}",
        "CONVEYOR_TABLE_URI": f"dynamodb://{TABLE}",
        "CONVEYOR_EVENTS_URI": f"eventbridge://{EVENT_BUS}",
        "CONVEYOR_AWS_EVENT_BUS_NAME": EVENT_BUS,
        "CONVEYOR_JOB_RUNNER": "sagemaker",
        "CONVEYOR_REGISTRY": "sagemaker",
        "CONVEYOR_ENDPOINT": "sagemaker",
        "CONVEYOR_ALARMS": "cloudwatch",
        "CONVEYOR_AWS_TRAINING_ROLE_ARN": "arn:aws:iam::123456789012:role/conveyor-training",
        "CONVEYOR_AWS_INFERENCE_ROLE_ARN": "arn:aws:iam::123456789012:role/conveyor-inference",
        "CONVEYOR_AWS_METRICS_NAMESPACE": "ConveyorTest",
        "CONVEYOR_AWS_INFERENCE_IMAGE": INFERENCE_IMAGE,
    }
    if endpoint_url:
        env["CONVEYOR_AWS_ENDPOINT_URL"] = endpoint_url
    return env


def make_resources() -> None:
    """The buckets (versioned) and the table, as the template makes them."""
    from conveyor.storage import BUCKETS
    from conveyor.tables.dynamodb import create_table

    s3 = aws_client("s3")
    for bucket in BUCKETS:
        s3.create_bucket(Bucket=f"{PREFIX}-{bucket}")
        s3.put_bucket_versioning(
            Bucket=f"{PREFIX}-{bucket}", VersioningConfiguration={"Status": "Enabled"}
        )
    aws_client("events").create_event_bus(Name=EVENT_BUS)
    aws = AwsSettings()
    create_table(TABLE, region=aws.region, endpoint_url=aws.endpoint_url)


@pytest.fixture(name="lambda_env")
def lambda_env_fixture(
    aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A deployment on moto (buckets, table) and the functions' environment; the handlers'
    cached ports are forgotten before and after."""
    from conveyor.aws import runtime

    for name, value in environment(tmp_path / "home").items():
        monkeypatch.setenv(name, value)
    make_resources()
    runtime.reset()
    yield tmp_path
    runtime.reset()


@contextmanager
def moto_server() -> Iterator[str]:
    """moto as a real HTTP server on 127.0.0.1 (S3's and DynamoDB's wire protocols), for
    code in another process; yields its URL. Its state starts empty."""
    from urllib.request import Request, urlopen

    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        urlopen(Request(f"{url}/moto-api/reset", method="POST"), timeout=10).close()
        yield url
    finally:
        server.stop()


@pytest.fixture(name="served_env")
def served_env_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A deployment on a moto server and the functions' environment, set here too; yields
    the environment for a subprocess."""
    from conveyor.aws import runtime
    from conveyor.aws.clients import clear_clients

    with moto_server() as url:
        env = {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            **environment(tmp_path / "home", endpoint_url=url),
        }
        monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        clear_clients()
        runtime.reset()
        make_resources()
        yield {**os.environ, **env}
        runtime.reset()
        clear_clients()


def deploy_a_version(project: str) -> None:
    """``register_a_version``, deployed."""
    from conveyor.aws import runtime

    version = register_a_version(project)
    runtime.ports().endpoint.update_endpoint(
        project, version.version, version.artifact, version.sha256
    )


def register_a_version(project: str) -> Any:
    """A project with version 1 registered through the handlers' ports (SageMaker's
    registry), its schema: ``age`` (numeric), ``plan`` (categorical); its artifact a
    placeholder: nothing loads it here."""
    import hashlib

    from conveyor.aws import runtime
    from conveyor.projects import create_project
    from conveyor.tabular.schema import DatasetSchema, FeatureKind, FeatureSpec
    from conveyor.types import Algorithm, ModelVersion, ObjectRef, Task

    ports = runtime.ports()
    create_project(ports.table, project, target="churned")
    schema = DatasetSchema(
        target="churned",
        task=Task.BINARY,
        features=(
            FeatureSpec("age", FeatureKind.NUMERIC),
            FeatureSpec("plan", FeatureKind.CATEGORICAL),
        ),
        classes=("no", "yes"),
    )
    artifact = ObjectRef("models", f"{project}/r-1/model.tar.gz")
    ports.store.put(artifact.bucket, artifact.key, PLACEHOLDER_MODEL)
    schema_key = f"{project}/{'d' * 64}/schema.json"
    ports.store.put("processed", schema_key, json.dumps(schema.to_dict()).encode())
    version = ports.registry.create_version(
        ModelVersion(
            project=project,
            version=0,
            run_id="r-1",
            artifact=artifact,
            sha256=hashlib.sha256(PLACEHOLDER_MODEL).hexdigest(),
            dataset_id="d" * 64,
            raw=ObjectRef("raw", f"{project}/first.csv"),
            task=Task.BINARY,
            algorithm=Algorithm.LIGHTGBM,
            primary_metric="roc_auc",
            metrics={"test": {"roc_auc": 0.8}, "baseline": {"roc_auc": 0.5}},
            hyperparameters={},
            input_schema=schema.to_dict(),
            package_version="0",
            git_commit=None,
        )
    )
    return version


def upload(key: str, body: bytes) -> dict[str, Any]:
    """Put an object in the raw bucket as a user would; its S3 notification event."""

    put = aws_client("s3").put_object(Bucket=f"{PREFIX}-raw", Key=key, Body=body)
    return s3_event(f"{PREFIX}-raw", key, put["ETag"].strip('"'))


def run_pipeline_job_as_sagemaker(job_name: str, root: Path) -> int:
    return run_job_as_sagemaker(job_name, root, "conveyor.aws.pipeline_job")


def run_job_as_sagemaker(job_name: str, root: Path, program: str) -> int:
    """SageMaker's part of a training job, which moto does not play: lay out /opt/ml under
    ``root`` from the job's request, run the entrypoint module ``program`` (in this process,
    so that it reaches the mocked account), keep what it prints in the job's log stream, then
    upload ``/opt/ml/model`` as model.tar.gz where the job's ModelArtifacts say. Returns the
    entrypoint's exit code."""
    import importlib
    import sys

    from conveyor.jobs.contract import ScriptModePaths

    main = importlib.import_module(program).main

    described = aws_client("sagemaker").describe_training_job(TrainingJobName=job_name)
    paths = ScriptModePaths(root)
    paths.make_dirs([c["ChannelName"] for c in described["InputDataConfig"]])
    paths.hyperparameters_file.write_text(json.dumps(described["HyperParameters"]))
    saved = dict(os.environ)
    # A SageMaker container has none of the functions' settings: the job gets its own
    # from its request.
    for name in [n for n in os.environ if n.startswith("CONVEYOR_")]:
        if name != "CONVEYOR_AWS_ENDPOINT_URL":
            del os.environ[name]
    os.environ["SM_MODEL_DIR"] = str(paths.model_dir)
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(_Tee(sys.stdout, printed)):
            code = main([])
    finally:
        os.environ.clear()
        os.environ.update(saved)
    log_job_output(job_name, printed.getvalue())
    upload_model_dir(paths.model_dir, described["ModelArtifacts"]["S3ModelArtifacts"])
    return code


class _Tee(io.TextIOBase):
    def __init__(self, *streams: Any) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()


def log_job_output(job_name: str, output: str) -> None:
    """What SageMaker does with a job's output: one event per line in the stream
    ``<job>/algo-1-<time>`` of ``/aws/sagemaker/TrainingJobs``, the group made on first use."""
    import time

    from conveyor.jobs.sagemaker import LOG_GROUP

    logs = aws_client("logs")
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=LOG_GROUP)
    stream = f"{job_name}/algo-1-{int(time.time())}"
    logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
    now = int(time.time() * 1000)
    events = [{"timestamp": now, "message": line} for line in output.splitlines() if line]
    if events:
        logs.put_log_events(logGroupName=LOG_GROUP, logStreamName=stream, logEvents=events)


def upload_model_dir(model_dir: Path, s3_uri: str) -> None:

    tarball = model_dir.parent / "sagemaker-model.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        for path in sorted(model_dir.iterdir()):
            tar.add(path, arcname=path.name)
    parts = urlsplit(s3_uri)
    aws_client("s3").upload_file(str(tarball), parts.netloc, parts.path.lstrip("/"))


class RecordingSageMaker:
    """The moto SageMaker client, with each ``create_training_job`` request kept: moto's
    DescribeTrainingJob leaves out the request's Environment."""

    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:

        return getattr(aws_client("sagemaker"), name)

    def create_training_job(self, **request: Any) -> Any:

        self.created.append(request)
        return aws_client("sagemaker").create_training_job(**request)


class FakeConveyorRuntime:
    """A sagemaker-runtime client whose ``invoke_endpoint`` is answered as SageMaker hosting
    answers it (moto's InvokeEndpoint answers a fixed body): the endpoint's config names its
    model, whose ``ModelDataUrl`` is downloaded (``fetch_model``: SageMaker does it with the
    model's execution role, and the IAM test credits the download to the inference role) and
    unpacked, then served by the inference container's own app (``create_container_app`` on
    ``load_model_dir``, as ``conveyor-sagemaker-serve`` serves it) in this process, through its
    ``/invocations`` route. An update of the endpoint to another model is followed. The request
    is checked against the real API's shape; a 4xx/5xx of the model comes back as SageMaker
    sends it, a ``ModelError`` carrying ``OriginalStatusCode`` and ``OriginalMessage``."""

    def __init__(self, project: str, home: Path) -> None:
        self.project = project
        self.home = home / "model-server"
        self.requests: list[dict[str, Any]] = []
        self._containers: dict[str, Any] = {}  # model name -> the TestClient serving it

    @property
    def client(self) -> Any:
        """The TestClient of the model the project's endpoint serves now."""
        from conveyor.aws.sagemaker_common import sagemaker_name

        return self._container(sagemaker_name(AwsSettings().name_prefix, self.project))

    def __enter__(self) -> FakeConveyorRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        for container in self._containers.values():
            container.__exit__(None, None, None)

    def fetch_model(self, model_data_url: str, folder: Path) -> None:
        """SageMaker's part before the container starts: the model's archive, unpacked in
        what the container sees as ``/opt/ml/model``."""
        from conveyor.model.artifact import unpack

        parts = urlsplit(model_data_url)
        folder.parent.mkdir(parents=True, exist_ok=True)
        archive = folder.parent / f"{folder.name}.tar.gz"
        aws_client("s3").download_file(parts.netloc, parts.path.lstrip("/"), str(archive))
        unpack(archive, folder)

    def _container(self, endpoint: str) -> Any:
        from fastapi.testclient import TestClient

        from conveyor.serving.sagemaker.app import create_container_app
        from conveyor.serving.sagemaker.model_dir import load_model_dir

        sagemaker = aws_client("sagemaker")
        config = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
        variants = sagemaker.describe_endpoint_config(EndpointConfigName=config)
        model_name = variants["ProductionVariants"][0]["ModelName"]
        if model_name not in self._containers:
            container = sagemaker.describe_model(ModelName=model_name)["PrimaryContainer"]
            folder = self.home / model_name
            self.fetch_model(container["ModelDataUrl"], folder)
            environment = container["Environment"]
            model = load_model_dir(
                folder,
                project=environment["CONVEYOR_SERVE_PROJECT"],
                version=int(environment["CONVEYOR_MODEL_VERSION"]),
            )
            client = TestClient(create_container_app(model))
            client.__enter__()
            self._containers[model_name] = client
        return self._containers[model_name]

    def invoke_endpoint(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        container = self._container(request["EndpointName"])

        def post(body: bytes, headers: dict[str, str]) -> tuple[int, bytes, str]:
            answer = container.post("/invocations", content=body, headers=headers)
            return answer.status_code, answer.content, answer.headers["content-type"]

        return sagemaker_answer(request, post)


class ServeProcessRuntime:
    """A sagemaker-runtime client whose ``invoke_endpoint`` reaches the inference
    container's ``serve`` process over HTTP (``/invocations`` on 127.0.0.1:``port``), as
    SageMaker hosting forwards a request to its container; moto's InvokeEndpoint answers a
    fixed body. Answers as ``FakeConveyorRuntime``'s."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.requests: list[dict[str, Any]] = []

    def invoke_endpoint(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        return sagemaker_answer(request, self._post)

    def _post(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, str]:
        from urllib.error import HTTPError
        from urllib.request import Request, urlopen

        sent = Request(f"http://127.0.0.1:{self.port}/invocations", data=body, headers=headers)
        try:
            with urlopen(sent, timeout=30) as answer:
                return answer.status, answer.read(), answer.headers["content-type"]
        except HTTPError as exc:
            return exc.code, exc.read(), exc.headers["content-type"]


def sagemaker_answer(
    request: dict[str, Any], post: Callable[[bytes, dict[str, str]], tuple[int, bytes, str]]
) -> dict[str, Any]:
    """SageMaker's InvokeEndpoint answer to ``request`` (checked against the real API's
    shape) from the model server ``post`` reaches: ``post(body, headers)`` is the
    container's ``/invocations`` answer (status, body, content type). A 4xx/5xx of the
    model comes back as SageMaker sends it, a ``ModelError`` carrying
    ``OriginalStatusCode`` and ``OriginalMessage``."""
    import io

    from botocore.exceptions import ClientError
    from botocore.response import StreamingBody
    from botocore.validate import validate_parameters

    shape = aws_client("sagemaker-runtime").meta.service_model.operation_model("InvokeEndpoint")
    validate_parameters(request, shape.input_shape)
    headers = {"content-type": request["ContentType"], "accept": request["Accept"]}
    if "CustomAttributes" in request:  # SageMaker hands them to the container as this header
        headers["x-amzn-sagemaker-custom-attributes"] = request["CustomAttributes"]
    status, body, content_type = post(request["Body"], headers)
    if status != 200:
        raise ClientError(
            {
                "Error": {"Code": "ModelError", "Message": "Received client error"},
                "OriginalStatusCode": status,
                "OriginalMessage": body.decode(errors="replace"),
                "ResponseMetadata": {"HTTPStatusCode": 424},
            },
            "InvokeEndpoint",
        )
    return {
        "Body": StreamingBody(io.BytesIO(body), len(body)),
        "ContentType": content_type,
        "InvokedProductionVariant": "AllTraffic",
    }


def decided_in_sagemaker(version: int, status: str, reason: str | None = None) -> dict[str, Any]:
    """A person sets ``version`` of churn to ``status`` ("Approved", "Rejected") in
    SageMaker: the package is updated and its state change event returned."""

    sagemaker = aws_client("sagemaker")
    packages = sagemaker.list_model_packages(ModelPackageGroupName="conveyor-churn")
    [arn] = [
        p["ModelPackageArn"]
        for p in packages["ModelPackageSummaryList"]
        if p["ModelPackageVersion"] == version
    ]
    sagemaker.update_model_package(
        ModelPackageArn=arn,
        ModelApprovalStatus=status,
        ApprovalDescription=reason or f"{status} by Ana",
    )
    event = load_event(
        "sagemaker_model_package_state_change", group="conveyor-churn", approval_status=status
    )
    event["detail"]["ModelPackageVersion"] = version
    return event
