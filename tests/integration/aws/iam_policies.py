"""The IAM statements template.yaml gives each principal that runs conveyor's code: every
Lambda function's role (as SAM makes it: ``Policies`` become the role's managed and inline
policies), the training role the jobs run under and the inference role of the endpoints' model
containers. SAM's own translator (samtranslator) expands the template; the intrinsic functions
the policies use (``!Sub``, ``!Ref``, ``!GetAtt``, ``Fn::Join``, ``Fn::Select``,
``Fn::Split``) are resolved with the names the moto deployment of lambda_world.py has."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from tests.integration.aws.lambda_world import ACCOUNT, EVENT_BUS, INFERENCE_IMAGE, TABLE

TEMPLATE = Path(__file__).parents[3] / "template.yaml"
REGION = "us-east-1"
TRAINING_ROLE = "TrainingJobRole"
INFERENCE_ROLE = "InferenceRole"
# Parameters without a default, as the test deployment sets them (lambda_world.environment).
PARAMETER_VALUES = {"InferenceImage": INFERENCE_IMAGE}
# The physical names CloudFormation would give the resources the policies name, as the test
# deployment names them (lambda_world.environment).
PHYSICAL = {
    "Table": TABLE,
    "EventBus": EVENT_BUS,
    TRAINING_ROLE: "conveyor-training",
    INFERENCE_ROLE: "conveyor-inference",
    "AlarmTopic": f"arn:aws:sns:{REGION}:{ACCOUNT}:conveyor-alarms",
    "DeadLetterQueue": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/conveyor-failed-events",
}
_PSEUDO = {
    "AWS::AccountId": ACCOUNT,
    "AWS::Region": REGION,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "conveyor",
}
_ARNS = {
    "Table": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{TABLE}",
    "EventBus": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{EVENT_BUS}",
    TRAINING_ROLE: f"arn:aws:iam::{ACCOUNT}:role/conveyor-training",
    INFERENCE_ROLE: f"arn:aws:iam::{ACCOUNT}:role/conveyor-inference",
    "DeadLetterQueue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:conveyor-failed-events",
}


@dataclass(frozen=True)
class Statement:
    """One statement of one principal's policies, resolved."""

    policy: str
    sid: str
    body: dict[str, Any]

    @property
    def actions(self) -> list[str]:
        action = self.body["Action"]
        return [action] if isinstance(action, str) else list(action)


@cache
def expanded_template() -> dict[str, Any]:
    """template.yaml as CloudFormation receives it after SAM's transform."""
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse(TEMPLATE.read_text())
    # `sam package` turns local code folders into S3 locations before the transform.
    template["Globals"]["Function"]["CodeUri"] = "s3://packaged/conveyor.zip"
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::LayerVersion":
            resource["Properties"]["ContentUri"] = "s3://packaged/layer.zip"
    session = boto3.session.Session(region_name=REGION)
    translator = Translator(None, Parser(), boto_session=session)
    expanded: dict[str, Any] = translator.translate(
        template,
        parameter_values=PARAMETER_VALUES,
        get_managed_policy_map=lambda: {},
    )
    return expanded


def function_handlers() -> dict[str, str]:
    """Each function's logical id -> its handler's dotted path."""
    resources = expanded_template()["Resources"]
    return {
        name: resource["Properties"]["Handler"]
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Lambda::Function"
    }


@cache
def principal_statements() -> dict[str, tuple[Statement, ...]]:
    """Each principal (function logical id, ``TrainingJobRole`` or ``InferenceRole``) -> its
    resolved Allow statements, from the managed and inline policies of its role."""
    resources = expanded_template()["Resources"]
    roles = {TRAINING_ROLE: TRAINING_ROLE, INFERENCE_ROLE: INFERENCE_ROLE}
    for function, resource in resources.items():
        if resource["Type"] == "AWS::Lambda::Function":
            roles[function] = resource["Properties"]["Role"]["Fn::GetAtt"][0]
    found: dict[str, tuple[Statement, ...]] = {}
    for principal, role in roles.items():
        documents: list[tuple[str, Any]] = []
        properties = resources[role]["Properties"]
        for arn in properties.get("ManagedPolicyArns", []):
            if isinstance(arn, dict):  # a managed policy of the template
                name = arn["Ref"]
                documents.append((name, resources[name]["Properties"]["PolicyDocument"]))
        for inline in properties.get("Policies", []):
            documents.append((inline["PolicyName"], inline["PolicyDocument"]))
        for name, resource in resources.items():
            if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role} in resource[
                "Properties"
            ].get("Roles", []):
                documents.append((name, resource["Properties"]["PolicyDocument"]))
        found[principal] = tuple(
            Statement(policy, body.get("Sid", f"#{index}"), body)
            for policy, document in documents
            for index, body in enumerate(_resolve(copy.deepcopy(document))["Statement"])
        )
    return found


def _parameters() -> dict[str, Any]:
    parameters = expanded_template()["Parameters"]
    defaults = {name: spec.get("Default") for name, spec in parameters.items()}
    return defaults | PARAMETER_VALUES | _PSEUDO


def _ref(name: str) -> Any:
    values = _parameters()
    return values[name] if name in values else PHYSICAL[name]


def _sub(text: str, extra: dict[str, Any]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in extra:
            return str(extra[name])
        if name.endswith(".Arn"):
            return _ARNS[name.removesuffix(".Arn")]
        return str(_ref(name))

    return re.sub(r"\$\{([^}!]+)\}", value, text)


def _resolve(node: Any) -> Any:
    if isinstance(node, list):
        return [_resolve(item) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        [(key, value)] = node.items()
        if key == "Ref":
            return _ref(value)
        if key == "Fn::GetAtt":
            resource, attribute = value if isinstance(value, list) else value.split(".", 1)
            assert attribute == "Arn", f"no rule for !GetAtt {resource}.{attribute}"
            return _ARNS[resource]
        if key == "Fn::Sub":
            text, extra = (value, {}) if isinstance(value, str) else value
            return _sub(text, {k: _resolve(v) for k, v in extra.items()})
        if key == "Fn::Join":
            separator, parts = value
            return separator.join(str(part) for part in _resolve(parts))
        if key == "Fn::Select":
            index, items = value
            return _resolve(items)[int(index)]
        if key == "Fn::Split":
            separator, text = value
            return str(_resolve(text)).split(separator)
        if key == "Fn::If":
            name, then, otherwise = value
            return _resolve(then if _condition(name) else otherwise)
        assert not key.startswith("Fn::"), f"no rule for {key}: add one to iam_policies.py"
    return {key: _resolve(value) for key, value in node.items()}


def _condition(name: str) -> bool:
    """A template condition's value with the test deployment's parameters."""
    return bool(_evaluate(expanded_template()["Conditions"][name]))


def _evaluate(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    [(key, value)] = node.items()
    if key == "Condition":
        return _condition(value)
    if key == "Fn::Equals":
        left, right = (_evaluate(_resolve(part)) for part in value)
        return left == right
    if key == "Fn::Not":
        return not _evaluate(value[0])
    if key == "Fn::Or":
        return any(_evaluate(part) for part in value)
    if key == "Fn::And":
        return all(_evaluate(part) for part in value)
    return _resolve(node)


def resolved(node: Any) -> Any:
    """``node`` of the expanded template (an event rule's pattern, say) with its intrinsic
    functions resolved to the names the moto deployment has."""
    return _resolve(copy.deepcopy(node))
