"""What IAM authorizes for one boto3 call: its actions, each on the resource ARN the call
touches (built from the request's parameters, as the Service Authorization Reference lists
them) with the condition keys AWS sets, and the verdict of a principal's statements on them
(moto's IAM policy evaluator: action and resource wildcards, StringEquals conditions)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from tests.integration.aws.iam_policies import REGION, Statement
from tests.integration.aws.lambda_world import ACCOUNT

Request = tuple[str, dict[str, str]]  # action on resource, with its condition values
_PREFIX = {"sagemaker-runtime": "sagemaker"}
_S3_OBJECT = {
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "DeleteObject": "s3:DeleteObject",
}
_S3_BUCKET = {
    "ListObjectsV2": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "GetBucketLocation": "s3:GetBucketLocation",
}
# SageMaker: the parameter naming the resource, and its ARN's resource type.
_SAGEMAKER = {
    "TrainingJobName": "training-job",
    "ModelPackageGroupName": "model-package-group",
    "ModelName": "model",
    "EndpointConfigName": "endpoint-config",
    "EndpointName": "endpoint",
}
_PASSES_ROLE = {"CreateTrainingJob": "RoleArn", "CreateModel": "ExecutionRoleArn"}
_SAGEMAKER_SERVICE = {"iam:PassedToService": "sagemaker.amazonaws.com"}


def requests(
    service: str, operation: str, params: dict[str, Any]
) -> list[tuple[str, str, Request]]:
    """The (action, resource, conditions) IAM checks for one call.

    Raises:
        AssertionError: no rule says which resource the operation touches (add one here).
    """
    arn = f"arn:aws:{{}}:{REGION}:{ACCOUNT}:{{}}"
    if service == "s3":
        return list(_s3(operation, params))
    action = f"{_PREFIX.get(service, service)}:{operation}"
    if service == "dynamodb":
        tables = params.get("RequestItems") or [params["TableName"]]
        return [(action, arn.format("dynamodb", f"table/{table}"), ({})) for table in tables]
    if service == "events":
        buses = {entry.get("EventBusName", "default") for entry in params["Entries"]}
        return [
            (action, _arn_or(bus, arn.format("events", f"event-bus/{bus}")), {}) for bus in buses
        ]
    if service == "cloudwatch":
        if operation == "PutMetricData":
            return [(action, "*", {"cloudwatch:namespace": params["Namespace"]})]
        if operation == "PutMetricAlarm":
            return [(action, arn.format("cloudwatch", f"alarm:{params['AlarmName']}"), {})]
        if operation == "DeleteAlarms":
            return [
                (action, arn.format("cloudwatch", f"alarm:{a}"), {}) for a in params["AlarmNames"]
            ]
        if operation == "TagResource":
            return [(action, params["ResourceARN"], {})]
        return [(action, "*", {})]  # Describe/Get/List name no resource
    if service == "logs":
        group = arn.format("logs", f"log-group:{params['logGroupName']}")
        if "logStreamName" in params:
            return [(action, f"{group}:log-stream:{params['logStreamName']}", {})]
        return [(action, f"{group}:*", {})]
    if service == "sns":
        return [(action, params["TopicArn"], {})]
    if service in ("sagemaker", "sagemaker-runtime"):
        return _sagemaker(action, operation, params, arn)
    if service == "application-autoscaling":
        # No resource ARN before the target exists: the service's condition keys scope it.
        keys = {
            "application-autoscaling:service-namespace": params["ServiceNamespace"],
            "application-autoscaling:scalable-dimension": params["ScalableDimension"],
        }
        return [(action, "*", keys)]
    raise AssertionError(f"no IAM resource rule for {service}.{operation}: add one")


def verdict(
    statements: Iterable[Statement], action: str, resource: str, conditions: dict[str, str]
) -> bool:
    """Whether ``statements`` (all Allow) let a principal do ``action`` on ``resource``."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    document = json.dumps({"Version": "2012-10-17", "Statement": [s.body for s in statements]})
    result = IAMPolicy(document).is_action_permitted(
        action, resource, incoming_condition_values=conditions
    )
    return result == PermissionResult.PERMITTED


def _arn_or(name: str, arn: str) -> str:
    return name if name.startswith("arn:") else arn


def _s3(operation: str, params: dict[str, Any]) -> Iterable[tuple[str, str, Request]]:
    bucket = params.get("Bucket")
    if operation in _S3_OBJECT:
        action = _S3_OBJECT[operation]
        if "VersionId" in params and action in ("s3:GetObject", "s3:DeleteObject"):
            action += "Version"
        yield action, f"arn:aws:s3:::{bucket}/{params['Key']}", {}
    elif operation in _S3_BUCKET:
        yield _S3_BUCKET[operation], f"arn:aws:s3:::{bucket}", {}
    elif operation == "DeleteObjects":
        for item in params["Delete"]["Objects"]:
            action = "s3:DeleteObjectVersion" if "VersionId" in item else "s3:DeleteObject"
            yield action, f"arn:aws:s3:::{bucket}/{item['Key']}", {}
    elif operation == "CopyObject":
        source = params["CopySource"]
        if isinstance(source, dict):
            source = f"{source['Bucket']}/{source['Key']}"
        yield "s3:GetObject", f"arn:aws:s3:::{source.split('?')[0]}", {}
        yield "s3:PutObject", f"arn:aws:s3:::{bucket}/{params['Key']}", {}
    else:
        raise AssertionError(f"no IAM resource rule for s3.{operation}: add one")


def _sagemaker(
    action: str, operation: str, params: dict[str, Any], arn: str
) -> list[tuple[str, str, Request]]:
    if operation.startswith("List") and operation != "ListTags":
        return [(action, "*", {})]
    resources = [params[p] for p in ("ResourceArn", "ModelPackageArn") if p in params]
    if operation.endswith("ModelPackage") and "ModelPackageName" in params:
        name = params["ModelPackageName"]
        resources.append(_arn_or(name, arn.format("sagemaker", f"model-package/{name.lower()}")))
    elif operation == "CreateModelPackage":
        group = params["ModelPackageGroupName"].lower()
        resources.append(arn.format("sagemaker", f"model-package/{group}/*"))
    elif not resources:
        # CreateEndpoint and UpdateEndpoint are authorized on the endpoint and its config.
        resources = [
            _arn_or(params[param], arn.format("sagemaker", f"{kind}/{params[param].lower()}"))
            for param, kind in _SAGEMAKER.items()
            if param in params
        ]
    assert resources, f"no IAM resource rule for sagemaker.{operation}: add one"
    found: list[tuple[str, str, Request]] = [(action, resource, {}) for resource in resources]
    if params.get("Tags") and operation.startswith("Create"):
        found += [("sagemaker:AddTags", resource, {}) for resource in resources]
    if operation in _PASSES_ROLE:
        found.append(("iam:PassRole", params[_PASSES_ROLE[operation]], _SAGEMAKER_SERVICE))
    return found
