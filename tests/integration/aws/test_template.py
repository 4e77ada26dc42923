"""What template.yaml promises a user who deploys it, read from the template itself.

cfn-lint, ``sam validate --lint`` and checkov check the template's form in ``make iac-check``;
these tests check what those tools cannot know: that the template matches conveyor's code
(bucket names the S3 store maps, the handlers that exist, the settings the functions read,
the job-name prefix and alarm names the rules filter on, the names the IAM policies are scoped to).
"""

from __future__ import annotations

import fnmatch
import importlib
import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from conveyor.aws.sagemaker_common import sagemaker_name
from conveyor.config import AwsSettings, Settings
from conveyor.metrics import cloudwatch
from conveyor.metrics.cloudwatch_alarm_rules import alarm_name
from conveyor.storage import BUCKETS

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"
HANDLERS_MODULE = "conveyor.aws.handlers"
# What a !Sub renders to in these tests: a deployment with the default ProjectName.
PSEUDO = {
    "ProjectName": "conveyor",
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::URLSuffix": "amazonaws.com",
}
# Actions IAM authorizes only on Resource "*" (they name no resource), each read-only or
# scoped by a condition in the template.
RESOURCELESS_ACTIONS = {
    "ecr:GetAuthorizationToken",
    "sagemaker:ListModelPackages",
    "sagemaker:ListModelPackageGroups",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:PutMetricData",
    # A new scalable target has no ARN to name yet: the template scopes these by the
    # service namespace and dimension condition keys.
    "application-autoscaling:RegisterScalableTarget",
    "application-autoscaling:PutScalingPolicy",
    # SageMaker's role in a VPC (VpcSubnetIds set): EC2's describe calls.
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeVpcs",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
}
# SageMaker's roles in a VPC: the network interfaces SageMaker creates for jobs and endpoints
# have ids no one chooses, in the user's subnets and security groups (not the stack's).
VPC_INTERFACE_ACTIONS = {
    "ec2:CreateNetworkInterface",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission",
}
VPC_INTERFACE_RESOURCES = {
    f"arn:aws:ec2:us-east-1:123456789012:{kind}/*"
    for kind in ("network-interface", "subnet", "security-group")
}


class _CloudFormationLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags read as their long forms (``!Ref X`` →
    ``{"Ref": "X"}``, ``!GetAtt A.B`` → ``{"Fn::GetAtt": ["A", "B"]}``)."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    key = suffix if suffix in {"Ref", "Condition"} else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {key: value}


_CloudFormationLoader.add_multi_constructor("!", _construct_tag)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(TEMPLATE.read_text(), Loader=_CloudFormationLoader)
    return loaded


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def _sub(value: Any, **names: str) -> str:
    """A plain string or a ``!Sub`` rendered with ``PSEUDO`` (and ``names`` over it)."""
    if isinstance(value, str):
        return value
    text = value["Fn::Sub"]
    text = text[0] if isinstance(text, list) else text
    values = PSEUDO | names
    return re.sub(r"\$\{([^}]+)\}", lambda m: values.get(m.group(1), m.group(0)), text)


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return _resources(template, "AWS::Serverless::Function")


def _statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every policy statement in the template: roles, policies, managed policies, functions'
    inline policies, bucket and key policies."""
    for name, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        documents = [props.get(key) for key in ("PolicyDocument", "KeyPolicy")]
        documents += [
            p.get("PolicyDocument") for p in props.get("Policies", []) if "PolicyDocument" in p
        ]
        documents += [
            p for p in props.get("Policies", []) if isinstance(p, dict) and "Statement" in p
        ]
        for document in documents:
            for statement in (document or {}).get("Statement", []):
                yield name, statement


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_every_bucket_is_one_the_s3_store_maps_encrypted_private_and_versioned(
    template: dict[str, Any],
) -> None:
    buckets = _resources(template, "AWS::S3::Bucket")
    # The images' build source is no bucket of the store, and named outside its prefix.
    assert "BucketName" not in buckets["ImageSourceBucket"]["Properties"]
    names = {
        _sub(b["Properties"]["BucketName"])
        for name, b in buckets.items()
        if name != "ImageSourceBucket"
    }
    # S3ObjectStore("s3://<prefix>") reads <prefix>-<logical bucket>.
    assert names == {f"conveyor-123456789012-{bucket}" for bucket in BUCKETS}
    for name, bucket in buckets.items():
        props = bucket["Properties"]
        rules = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        # SSE-S3: the md5 etags conveyor relies on; SSE-KMS would break them.
        assert [r["ServerSideEncryptionByDefault"]["SSEAlgorithm"] for r in rules] == ["AES256"]
        assert all(props["PublicAccessBlockConfiguration"].values()), name
        assert len(props["PublicAccessBlockConfiguration"]) == 4, name
        assert props["VersioningConfiguration"]["Status"] == "Enabled", name
        assert any(
            "NoncurrentVersionExpiration" in rule
            for rule in props["LifecycleConfiguration"]["Rules"]
        ), name


def test_every_bucket_refuses_requests_without_tls(template: dict[str, Any]) -> None:
    policies = _resources(template, "AWS::S3::BucketPolicy").values()
    guarded = set()
    for policy in policies:
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if (
                statement["Effect"] == "Deny"
                and statement["Action"] == "s3:*"
                and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            ):
                guarded.add(policy["Properties"]["Bucket"]["Ref"])
    assert guarded == set(_resources(template, "AWS::S3::Bucket"))


def test_capture_bucket_expires_old_request_rows(template: dict[str, Any]) -> None:
    capture = template["Resources"]["CaptureBucket"]["Properties"]
    rules = capture["LifecycleConfiguration"]["Rules"]
    assert any(rule.get("ExpirationInDays") == {"Ref": "CaptureRetentionDays"} for rule in rules)


def test_raw_uploads_invoke_the_upload_handler(template: dict[str, Any]) -> None:
    events = _functions(template)["OnUploadFunction"]["Properties"]["Events"]
    assert events["Upload"] == {
        "Type": "S3",
        "Properties": {"Bucket": {"Ref": "RawBucket"}, "Events": "s3:ObjectCreated:*"},
    }


def test_table_has_conveyors_keys_point_in_time_recovery_and_ttl(
    template: dict[str, Any],
) -> None:
    (table,) = _resources(template, "AWS::DynamoDB::Table").values()
    props = table["Properties"]
    assert props["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True}
    # The attribute DynamoDbTable copies an item's expires_at to.
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_every_api_method_needs_a_key_and_the_key_is_throttled(template: dict[str, Any]) -> None:
    (api_name, api), *others = _resources(template, "AWS::Serverless::Api").items()
    assert not others
    auth = api["Properties"]["Auth"]
    assert auth["ApiKeyRequired"] is True
    plan = auth["UsagePlan"]
    assert plan["CreateUsagePlan"] == "PER_API"
    assert set(plan["Throttle"]) == {"RateLimit", "BurstLimit"}
    assert plan["Quota"]["Period"] == "DAY"
    (settings,) = api["Properties"]["MethodSettings"]
    assert settings["ThrottlingRateLimit"] and settings["ThrottlingBurstLimit"]
    routes = []
    for function in _functions(template).values():
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] == "Api":
                # A route that sets Auth could turn the key off; none may.
                assert "Auth" not in event["Properties"]
                assert event["Properties"]["RestApiId"] == {"Ref": api_name}
                routes.append((event["Properties"]["Method"], event["Properties"]["Path"]))
    assert sorted(routes) == [("post", "/feedback/{project}"), ("post", "/predict/{project}")]


def _names_this_stack(resource: str, prefix: str) -> bool:
    """Whether a resource ARN with a wildcard names this stack's resources alone: the text
    before its first ``*`` holds a name that starts with the stack's prefix, or is a whole
    log group (``log-group:<name>:*``, the form IAM takes a log group in)."""
    before = resource.partition("*")[0]
    fields = before.split(":", 5)
    if len(fields) < 6:  # a wildcard in the service, region or account
        return False
    name = fields[5]
    whole_log_group = name.startswith("log-group:") and name.endswith(":") and name.count(":") == 2
    return whole_log_group or re.search(rf"(^|[/:]){re.escape(prefix)}[-/]", name) is not None


def _within_a_stack_resource(arn: str, template: dict[str, Any]) -> bool:
    """``${<LogicalId>.Arn}/…``: the objects of a resource the template makes."""
    found = re.match(r"\$\{(\w+)\.Arn\}/", arn)
    return found is not None and found.group(1) in template["Resources"]


def test_no_policy_allows_every_action_and_wide_resources_only_for_resourceless_actions(
    template: dict[str, Any],
) -> None:
    # A prefix no literal in the template holds: a resource scoped to "conveyor-*" by hand
    # instead of to ${ProjectName}-* is another stack's too.
    prefix = "stackprefix"
    seen = 0
    for owner, statement in _statements(template):
        seen += 1
        if statement["Effect"] != "Allow" or "Principal" in statement:
            continue
        actions = _as_list(statement["Action"])
        for action in actions:
            assert action != "*" and not action.endswith(":*"), (owner, action)
        for resource in _as_list(statement["Resource"]):
            if resource == "*":
                assert set(actions) <= RESOURCELESS_ACTIONS, (owner, actions)
            elif not isinstance(resource, dict) or "Fn::Sub" in resource:
                arn = _sub(resource, ProjectName=prefix)
                if _within_a_stack_resource(arn, template) or (
                    set(actions) <= VPC_INTERFACE_ACTIONS and arn in VPC_INTERFACE_RESOURCES
                ):
                    continue
                assert "*" not in arn or _names_this_stack(arn, prefix), (owner, arn)
    assert seen > 20


@pytest.mark.parametrize(
    "resource",
    [
        "arn:aws:sagemaker:us-east-1:1:training-job/*",
        "arn:aws:sagemaker:us-east-1:1:model-package-group/*",
        "arn:aws:sagemaker:us-east-1:1:model-package/*/*",
        "arn:aws:ecr:us-east-1:*:repository/stackprefix-x",
        "arn:aws:cloudwatch:us-east-1:1:alarm:conveyor/*",
        "arn:aws:logs:us-east-1:1:log-group:/aws/sagemaker/*",
        "arn:aws:s3:::*-raw/*",
    ],
)
def test_a_wildcard_without_the_stack_prefix_is_refused(resource: str) -> None:
    assert not _names_this_stack(resource, "stackprefix")


def test_sagemaker_names_conveyor_makes_fall_in_the_policies_scopes(
    template: dict[str, Any],
) -> None:
    resources = {
        _sub(r)
        for _, statement in _statements(template)
        if statement["Effect"] == "Allow"
        for r in _as_list(statement["Resource"])
        if (not isinstance(r, dict) or "Fn::Sub" in r) and r != "*"
    }
    prefix = PSEUDO["ProjectName"]
    arn = "arn:aws:sagemaker:us-east-1:123456789012"

    # Names as the adapters make them with CONVEYOR_AWS_NAME_PREFIX=<ProjectName>; SageMaker
    # lower-cases names in ARNs.
    def names(stack: str) -> set[str]:
        model = sagemaker_name(stack, "churn", "v3", "0123abcd")
        return {
            f"{arn}:endpoint/{sagemaker_name(stack, 'churn')}",
            f"{arn}:model/{model}",
            f"{arn}:endpoint-config/{sagemaker_name(model, 'c1a2b3c')}",
            f"{arn}:training-job/{sagemaker_name(stack, 'churn-20260101-000000-000000-abcd')}",
            f"{arn}:training-job/{sagemaker_name(stack, 'churn', 'drift', '20260101000000')}",
            f"{arn}:model-package-group/{sagemaker_name(stack, 'churn')}",
            f"{arn}:model-package/{sagemaker_name(stack, 'churn')}/3",
            "arn:aws:cloudwatch:us-east-1:123456789012:alarm:"
            + alarm_name("churn", "drift", name_prefix=stack),
        }

    for target in names(prefix):
        assert any(fnmatch.fnmatchcase(target.lower(), pattern) for pattern in resources), target
    # ... and another stack's names do not.
    for target in names("other"):
        assert not any(fnmatch.fnmatchcase(target, pattern) for pattern in resources), target


def test_every_handler_is_a_function_of_the_handlers_module(template: dict[str, Any]) -> None:
    handlers = importlib.import_module(HANDLERS_MODULE)
    named = {f["Properties"]["Handler"] for f in _functions(template).values()}
    assert named == {
        f"{HANDLERS_MODULE}.{name}"
        for name in (
            "on_upload",
            "on_training_job_state_change",
            "on_model_package_state_change",
            "predict",
            "feedback",
            "drift_check",
            "on_alarm",
            "reconcile_runs",
        )
    }
    for handler in named:
        function = getattr(handlers, handler.rpartition(".")[2])
        assert list(inspect.signature(function).parameters)[:2] == ["event", "context"]


def test_functions_run_python_312_traced_with_a_dead_letter_queue_and_kept_logs(
    template: dict[str, Any],
) -> None:
    globals_ = template["Globals"]["Function"]
    assert globals_["Runtime"] == "python3.12"
    assert globals_["Tracing"] == "Active"
    assert globals_["DeadLetterQueue"]["Type"] == "SQS"
    log_groups = _resources(template, "AWS::Logs::LogGroup")
    for name, function in _functions(template).items():
        props = function["Properties"]
        assert function["Metadata"]["BuildMethod"] == "makefile", name
        group = log_groups[props["LoggingConfig"]["LogGroup"]["Ref"]]
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name


def test_every_setting_the_functions_get_is_one_conveyor_reads(template: dict[str, Any]) -> None:
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    aws_fields = set(AwsSettings.model_fields)
    core_fields = set(Settings.model_fields)
    for variable in variables:
        name = variable.removeprefix("CONVEYOR_").lower()
        aws_name = variable.removeprefix("CONVEYOR_AWS_").lower()
        # pydantic-settings ignores unknown variables, so a misspelt one would do nothing.
        assert name in core_fields or aws_name in aws_fields, variable
    assert variables["CONVEYOR_OBJECT_STORE_URI"] == {
        "Fn::Sub": "s3://${ProjectName}-${AWS::AccountId}"
    }
    assert variables["CONVEYOR_AWS_NAME_PREFIX"] == {"Ref": "ProjectName"}


def test_event_rules_match_the_events_conveyor_causes(template: dict[str, Any]) -> None:
    functions = _functions(template)

    def pattern(function: str, event: str) -> dict[str, Any]:
        found: dict[str, Any] = functions[function]["Properties"]["Events"][event]["Properties"]
        return found["Pattern"]

    training = pattern("OnTrainingJobStateChangeFunction", "JobEnded")
    assert training["detail-type"] == ["SageMaker Training Job State Change"]
    # The prefix of every job name conveyor gives (CONVEYOR_AWS_NAME_PREFIX), not a tag: AWS's
    # documented event has an empty Tags map (test_end_to_end.py matches the pattern on it).
    assert training["detail"]["TrainingJobName"] == [{"prefix": {"Fn::Sub": "${ProjectName}-"}}]
    assert set(training["detail"]["TrainingJobStatus"]) == {"Completed", "Failed", "Stopped"}
    approval = pattern("OnModelPackageStateChangeFunction", "Approved")
    assert approval["detail"] == {"ModelApprovalStatus": ["Approved"]}
    alarm = pattern("OnAlarmFunction", "Alarm")
    assert alarm["detail"]["alarmName"] == [{"prefix": {"Fn::Sub": "${ProjectName}/"}}]
    assert alarm_name("churn", "drift", name_prefix="stack").startswith("stack/")
    schedule = functions["DriftCheckFunction"]["Properties"]["Events"]["Schedule"]
    assert schedule["Properties"]["Schedule"] == {"Ref": "DriftSchedule"}


def test_alarms_notify_a_topic_cloudwatch_can_publish_to(template: dict[str, Any]) -> None:
    for name, alarm in _resources(template, "AWS::CloudWatch::Alarm").items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
    topic = template["Resources"]["AlarmTopic"]["Properties"]
    # Not alias/aws/sns: that key's policy does not let CloudWatch alarms publish.
    assert topic["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}
    key_policy = template["Resources"]["AlarmTopicKey"]["Properties"]["KeyPolicy"]
    assert any(
        s["Principal"] == {"Service": "cloudwatch.amazonaws.com"} for s in key_policy["Statement"]
    )
    subscription = template["Resources"]["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"


def test_dashboard_shows_the_metrics_conveyor_emits(template: dict[str, Any]) -> None:
    body = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"][0]
    shown = set(re.findall(r'MetricName=\\"(\w+)\\"', body))
    assert shown == {
        cloudwatch.REQUESTS,
        cloudwatch.LATENCY,
        cloudwatch.ERRORS_5XX,
        cloudwatch.DRIFTED_FEATURES,
    }
