"""One upload on the moto deployment, from the S3 put to a served prediction and a drift check,
each boundary crossed by the real code on both sides of it. Every event goes to the handler
the template wires to its source (the function a rule targets, the function the bucket
notifies, the function the API route integrates), read from the SAM-expanded template.

==============================================  ====================================================
crossing                                        served by
==============================================  ====================================================
S3 PutObject → the bucket's notification        moto's S3 (the moto server's thread), filtered as
                                                the template's NotificationConfiguration says,
                                                delivered to an SQS queue
notification → ``on_upload``                    the handler, in the test's process, given AWS's
                                                documented S3 event (the sample) filled with the
                                                delivered record's bucket, key, eTag and size
``on_upload`` → CreateTrainingJob               moto's SageMaker; the request recorded
the pipeline job                                a subprocess: ``python train.py`` of the request's
                                                ``sourcedir.tar.gz`` unpacked, under an
                                                /opt/ml-shaped root with the request's
                                                hyperparameters, channels and Environment (its
                                                nested training job a subprocess of its own); S3 and
                                                DynamoDB over HTTP on moto's server
job ended → ``on_training_job_state_change``    AWS's documented event (the sample) with the job's
                                                DescribeTrainingJob fields, matched against the
                                                template's rule by moto's EventBridge matcher; the
                                                handler registers the version on moto
approval → ``on_model_package_state_change``    a person's UpdateModelPackage on moto; AWS's
                                                documented event matched against the template's
                                                rule; the handler creates model, config and endpoint
                                                on moto
endpoint → inference container                  a subprocess: ``conveyor-sagemaker-serve serve`` on
                                                the endpoint model's ModelDataUrl unpacked, with the
                                                model's Environment (the content digest it checks)
                                                and none of conveyor's other settings
``/predict`` → ``/invocations``                 API Gateway's proxy event (the sample) routed by the
                                                template's REST API to ``predict`` (in the test's
                                                process); its InvokeEndpoint posted over HTTP to the
                                                serve process
inference record                                DynamoDB on moto, read back raw
schedule → ``drift_check`` → drift job          AWS's Scheduled Event (the sample) to the rule's
                                                function; the job a subprocess from the same tarball
                                                as above; its end event matched and handled as above
==============================================  ====================================================

What moto cannot do, and what this test does in its place:

- moto invokes a Lambda function only in Docker: the S3 notification goes to an SQS queue
  (same event filter) and the handlers run in this process, not in Lambda's runtime
  (``test_lambda_build.py`` and ``test_thin_lambda.py`` check the package).
- moto's S3 notification leaves out fields AWS documents (``userIdentity``,
  ``requestParameters``, ``responseElements``, ``sequencer``), which powertools' S3 model
  requires: the handler gets AWS's sample filled from moto's record, and the test checks that
  every field moto sent is in the sample.
- moto's SageMaker runs no container and emits no EventBridge event: the test runs the job's
  program from its request and builds the state change event from AWS's sample. moto's
  DescribeTrainingJob drops the request's Environment, so the request is recorded at the
  client boundary (``RecordingSageMaker``).
- EventBridge never delivers ``aws.*`` events under moto: the template's patterns are matched
  with moto's matcher (``moto.events.models.EventPattern``, what moto's PutEvents and
  TestEventPattern use). A schedule has no pattern to match.
- moto's InvokeEndpoint answers a fixed body: the Predict handler's sagemaker-runtime client is
  replaced at the client boundary by one that posts to the serve process
  (``ServeProcessRuntime``); SageMaker hosting's proxy in front of the container is not run.
- API Gateway's API key check and throttling are not run; IAM is not enforced here
  (``test_iam.py`` checks every call against the template's policies).
"""

from __future__ import annotations

import importlib
import json
import re
import tarfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus, urlsplit

import pytest

from tests.integration.aws.iam_policies import expanded_template, function_handlers, resolved
from tests.integration.aws.lambda_world import (
    CHURN,
    PREFIX,
    TABLE,
    RecordingSageMaker,
    ServeProcessRuntime,
    aws_client,
    decided_in_sagemaker,
    load_event,
    s3_event,
    served_env_fixture,  # noqa: F401 (the served_env fixture)
    upload_model_dir,
)
from tests.integration.aws.sagemaker_fakes import clients_with
from tests.integration.test_inference_container_contract import start, wait_healthy
from tests.integration.test_training_container_contract import lay_out_container, run_program
from tests.rows import CHURN_ROW

TRAINING_RULE = "OnTrainingJobStateChangeFunctionJobEnded"
APPROVAL_RULE = "OnModelPackageStateChangeFunctionApproved"
SCHEDULE_RULE = "DriftCheckFunctionSchedule"
UPLOAD_FUNCTION = "OnUploadFunction"  # the raw bucket's notification invokes it
# The pattern the training-job rule had until AWS's documented event showed no tags.
TAG_PATTERN = {
    "source": ["aws.sagemaker"],
    "detail-type": ["SageMaker Training Job State Change"],
    "detail": {
        "TrainingJobStatus": ["Completed", "Failed", "Stopped"],
        "Tags": {"conveyor:job": [{"exists": True}]},
    },
}


def rule_pattern(rule: str) -> dict[str, Any]:
    """The EventPattern of the template's rule ``rule`` (as SAM expands it), resolved."""
    pattern: dict[str, Any] = resolved(
        expanded_template()["Resources"][rule]["Properties"]["EventPattern"]
    )
    return pattern


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """Whether EventBridge (moto's matcher) sends ``event`` to a rule of ``pattern``."""
    from moto.events.models import EventPattern

    return EventPattern.load(json.dumps(pattern)).matches_event(event)


def handler_of(function: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The Lambda handler the template gives the function ``function`` (its logical id)."""
    module, _, name = function_handlers()[function].rpartition(".")
    handler: Callable[[dict[str, Any], Any], dict[str, Any]] = getattr(
        importlib.import_module(module), name
    )
    return handler


def deliver(rule: str, event: dict[str, Any]) -> dict[str, Any]:
    """EventBridge's part: ``event`` matched against the template's rule ``rule``, then
    given to the handler of the function the rule targets (in this process)."""
    properties = expanded_template()["Resources"][rule]["Properties"]
    if "EventPattern" in properties:  # a schedule's rule has none
        assert matches(rule_pattern(rule), event), f"{rule} does not match"
    [target] = properties["Targets"]
    return handler_of(target["Arn"]["Fn::GetAtt"][0])(event, None)


def call_api(event: dict[str, Any]) -> dict[str, Any]:
    """API Gateway's part: the template's REST API route of the proxy ``event`` (its
    resource and method), then the handler of the function it integrates."""
    [api] = [
        resource
        for resource in expanded_template()["Resources"].values()
        if resource["Type"] == "AWS::ApiGateway::RestApi"
    ]
    route = api["Properties"]["Body"]["paths"][event["resource"]][event["httpMethod"].lower()]
    integration = route["x-amazon-apigateway-integration"]
    assert integration["type"] == "aws_proxy"
    function = re.fullmatch(
        r".*/functions/\$\{(\w+)\.Arn\}/invocations", integration["uri"]["Fn::Sub"]
    )
    assert function is not None, integration["uri"]
    return handler_of(function.group(1))(event, None)


def job_state_change(job_name: str) -> dict[str, Any]:
    """AWS's documented Training Job State Change event of the job as SageMaker (moto)
    describes it now."""
    described = aws_client("sagemaker").describe_training_job(TrainingJobName=job_name)
    hyperparameters = described["HyperParameters"]
    event = load_event(
        "sagemaker_training_job_state_change",
        job_name=job_name,
        status=described["TrainingJobStatus"],
        failure_reason=described.get("FailureReason"),
        run_id=hyperparameters.get("run_id", ""),
        project=hyperparameters.get("project", ""),
    )
    event["detail"]["HyperParameters"] = hyperparameters
    if "FailureReason" not in described:
        del event["detail"]["FailureReason"]  # SageMaker sends it only for a failed job
    return event


def notify_queue_as_the_template_notifies_the_function() -> str:
    """The raw bucket's notification as the template configures it for the upload function,
    sent to an SQS queue instead (moto runs Lambda functions only in Docker); the queue's
    URL, moto's test event drained."""
    raw = expanded_template()["Resources"]["RawBucket"]["Properties"]
    [function] = raw["NotificationConfiguration"]["LambdaConfigurations"]
    assert function["Function"] == {"Fn::GetAtt": [UPLOAD_FUNCTION, "Arn"]}
    sqs = aws_client("sqs")
    url = sqs.create_queue(QueueName="on-upload")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue: dict[str, Any] = {"QueueArn": arn, "Events": [function["Event"]]}
    if "Filter" in function:
        queue["Filter"] = {"Key": {"FilterRules": function["Filter"]["S3Key"]["Rules"]}}
    aws_client("s3").put_bucket_notification_configuration(
        Bucket=f"{PREFIX}-raw", NotificationConfiguration={"QueueConfigurations": [queue]}
    )
    assert [m.get("Event") for m in received(url)] == ["s3:TestEvent"]
    return url


def received(url: str) -> list[dict[str, Any]]:
    answer = aws_client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    for message in answer.get("Messages", []):
        aws_client("sqs").delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return [json.loads(m["Body"]) for m in answer.get("Messages", [])]


def field_paths(node: Any, prefix: str = "") -> set[str]:
    if isinstance(node, list):
        return set().union(*(field_paths(item, f"{prefix}[]") for item in node))
    if not isinstance(node, dict):
        return set()
    found = set()
    for key, value in node.items():
        path = f"{prefix}.{key}" if prefix else key
        found |= {path} | field_paths(value, path)
    return found


def run_job_from_its_request(request: dict[str, Any], root: Path, endpoint_url: str) -> int:
    """SageMaker's part of a training job: /opt/ml laid out from the recorded request, the
    request's ``sourcedir.tar.gz`` unpacked and its ``train.py`` run as a process (its only
    conveyor setting the moto server's URL), then ``/opt/ml/model`` uploaded as
    model.tar.gz where DescribeTrainingJob's ModelArtifacts say. The exit code."""
    container = lay_out_container(request, root, s3=aws_client("s3"))
    container.env["CONVEYOR_AWS_ENDPOINT_URL"] = endpoint_url
    done = run_program(container)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    described = aws_client("sagemaker").describe_training_job(
        TrainingJobName=request["TrainingJobName"]
    )
    upload_model_dir(container.paths.model_dir, described["ModelArtifacts"]["S3ModelArtifacts"])
    return done.returncode


def unpack_model_data(model_data_url: str, model_dir: Path) -> Path:
    """What SageMaker hosting does with a model's ModelDataUrl: /opt/ml/model."""
    parts = urlsplit(model_data_url)
    archive = model_dir.parent / "model.tar.gz"
    model_dir.mkdir(parents=True)
    aws_client("s3").download_file(parts.netloc, parts.path.lstrip("/"), str(archive))
    with tarfile.open(archive) as tar:
        tar.extractall(model_dir, filter="data")
    return model_dir


def api_event(body: object, request_id: str) -> dict[str, Any]:
    return load_event(
        "apigateway_rest_proxy",
        project="churn",
        content_type="application/json",
        request_id=request_id,
        body=json.dumps(body),
    )


def test_the_training_job_rule_matches_aws_sample_event_by_job_name_not_by_tags() -> None:
    event = load_event(
        "sagemaker_training_job_state_change",
        job_name="conveyor-churn-0001",
        status="Completed",
        failure_reason="",
        run_id="r-0001",
        project="churn",
    )
    assert event["detail"]["Tags"] == {}  # as AWS documents the event
    assert not matches(TAG_PATTERN, event)
    assert matches(rule_pattern(TRAINING_RULE), event)
    # Another stack's or a person's job is not sent to conveyor's function.
    event["detail"]["TrainingJobName"] = "someone-elses-job"
    assert not matches(rule_pattern(TRAINING_RULE), event)
    event["detail"]["TrainingJobName"] = "conveyor-churn-0001"
    event["detail"]["TrainingJobStatus"] = "InProgress"
    assert not matches(rule_pattern(TRAINING_RULE), event)


def test_an_upload_is_trained_approved_served_recorded_and_checked_for_drift(
    served_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from conveyor.aws import runtime
    from conveyor.inference.records import list_inferences
    from conveyor.pipeline.runs import RunStore
    from conveyor.projects import create_project

    began = time.monotonic()
    endpoint_url = served_env["CONVEYOR_AWS_ENDPOINT_URL"]
    ports = runtime.ports()
    recorder = RecordingSageMaker()
    ports.jobs.clients = clients_with(sagemaker=recorder)  # type: ignore[attr-defined]
    create_project(ports.table, "churn", target="churned", manual_deploy=True)
    runs = RunStore(ports.table)
    sagemaker = aws_client("sagemaker")

    # A user's upload: S3's notification, through the template's filter.
    queue = notify_queue_as_the_template_notifies_the_function()
    key = "churn/customers 2026.csv"
    aws_client("s3").put_object(Bucket=f"{PREFIX}-raw", Key=key, Body=CHURN.read_bytes())
    [notification] = received(queue)
    [record] = notification["Records"]
    assert record["eventName"] == "ObjectCreated:Put"
    delivered = record["s3"]["object"]
    event = s3_event(
        record["s3"]["bucket"]["name"], unquote_plus(delivered["key"]), delivered["eTag"]
    )
    event["Records"][0]["s3"]["object"]["size"] = delivered["size"]
    assert field_paths(notification) <= field_paths(event)  # moto sends nothing AWS's lacks
    started = handler_of(UPLOAD_FUNCTION)(event, None)
    run = runs.get(started["runs"][0]["run_id"])
    assert run.state.value == "PREPROCESSING" and run.raw.key == key
    [request] = recorder.created
    assert request["TrainingJobName"] == run.job_name and run.job_name.startswith("conveyor-")

    # SageMaker runs the job from its request: the pipeline job of the packaged code.
    assert run_job_from_its_request(request, tmp_path / "pipeline-job", endpoint_url) == 0
    assert runs.get(run.run_id).state.value == "EVALUATING"

    # Its Completed event reaches the function by the template's rule: registered, and the
    # project deploys by hand, so it waits for a person.
    completed = job_state_change(run.job_name)
    ended = deliver(TRAINING_RULE, completed)
    assert (ended["state"], ended["model_version"]) == ("REGISTERED", 1), ended
    [package] = sagemaker.list_model_packages(ModelPackageGroupName="conveyor-churn")[
        "ModelPackageSummaryList"
    ]
    assert package["ModelApprovalStatus"] == "PendingManualApproval"

    # A person approves it in SageMaker: the event reaches the function, which deploys.
    approval = decided_in_sagemaker(1, "Approved")
    assert deliver(APPROVAL_RULE, approval) == {
        "project": "churn",
        "version": 1,
        "deployed": True,
    }
    assert runs.get(run.run_id).state.value == "REGISTERED"

    # SageMaker hosting starts the inference container on the endpoint's model.
    endpoint = sagemaker.describe_endpoint(EndpointName="conveyor-churn")
    assert endpoint["EndpointStatus"] == "InService"
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    [variant] = config["ProductionVariants"]
    model = sagemaker.describe_model(ModelName=variant["ModelName"])["PrimaryContainer"]
    model_dir = unpack_model_data(model["ModelDataUrl"], tmp_path / "hosting" / "model")
    container = start(model_dir, tmp_path / "serve.log", **model["Environment"])
    try:
        wait_healthy(container)
        served = ServeProcessRuntime(container.port)
        ports.endpoint.clients = clients_with(sagemaker_runtime=served)  # type: ignore[attr-defined]

        answer = call_api(api_event({"instances": [CHURN_ROW]}, "req-1"))
        assert answer["statusCode"] == 200, answer
        body = json.loads(answer["body"])
        # API Gateway's request id, tagged so that /feedback can verify it
        assert body["model_version"] == 1 and body["request_id"].startswith("req-1-")
        assert body["classes"] == ["no", "yes"] and len(body["predictions"]) == 1
        [sent] = served.requests
        assert sent["EndpointName"] == "conveyor-churn"
        assert json.loads(sent["Body"])["instances"] == [CHURN_ROW]
        # A bad row is refused before the endpoint, naming the field.
        bad = call_api(api_event({"instances": [{**CHURN_ROW, "age": "old"}]}, "req-2"))
        assert bad["statusCode"] == 400 and json.loads(bad["body"])["field"] == "age"
        assert len(served.requests) == 1
    finally:
        container.close()
    assert "loaded churn v1" in container.log()

    # Every prediction is recorded in DynamoDB against the version.
    records = list_inferences(ports.table, "churn")
    assert [(r.request_id[:6], r.status, r.model_version) for r in records] == [
        ("req-2-", 400, 1),
        ("req-1-", 200, 1),
    ]
    item = aws_client("dynamodb").get_item(
        TableName=TABLE,
        Key={
            "pk": {"S": "inference#churn"},
            "sk": {"S": f"{records[1].timestamp.isoformat()}#{records[1].request_id}"},
        },
    )["Item"]
    stored = json.loads(item["body"]["S"])
    assert (stored["model_version"], stored["status"], stored["inputs"]) == (1, 200, [CHURN_ROW])
    assert stored["outputs"]["predictions"] == body["predictions"]
    assert int(item["expires_at"]["N"]) > 0  # DynamoDB's TTL expires it

    # The drift schedule: its job runs from the same tarball, its end reaches the function.
    soon = (datetime.now(UTC) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    [drift_job] = deliver(SCHEDULE_RULE, load_event("scheduled_event", time=soon))["jobs"]
    assert drift_job.startswith("conveyor-churn-drift-")
    drift_request = recorder.created[-1]
    assert drift_request["TrainingJobName"] == drift_job
    assert run_job_from_its_request(drift_request, tmp_path / "drift-job", endpoint_url) == 0
    drift_ended = job_state_change(drift_job)
    # One answered row is too few to judge: the check says so, and is kept.
    assert deliver(TRAINING_RULE, drift_ended) == {
        "project": "churn",
        "drift": "INSUFFICIENT_DATA",
    }
    [check] = ports.table.query("drift#churn")
    assert (check["records"], check["rows"]) == (2, 1)

    with capsys.disabled():
        print(f"\nend to end on moto: {time.monotonic() - began:.1f} s")
