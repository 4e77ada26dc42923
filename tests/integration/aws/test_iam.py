"""IAM proven, not asserted: the AWS flow tests run with every AWS call recorded per
principal (iam_recorder.py), and each call is checked against the statements template.yaml
gives that principal's role (iam_policies.py), actions and resource ARNs and conditions, by
moto's IAM policy evaluator (iam_calls.py). moto never enforces IAM, so without this a call
the template does not grant passes every test and fails on AWS."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.integration.aws.iam_calls import requests, verdict
from tests.integration.aws.iam_policies import (
    INFERENCE_ROLE,
    PARAMETER_VALUES,
    REGION,
    TRAINING_ROLE,
    Statement,
    expanded_template,
    principal_statements,
)
from tests.integration.aws.lambda_world import ACCOUNT

ROOT = Path(__file__).parents[3]

# The first test to ask for the recorded calls waits for a whole pytest of the flow tests:
# ~70 s on a quiet machine, up to 300 s (the suite's per-test limit) when the suite's other
# worker trains beside it on the same 2 cores.
pytestmark = pytest.mark.timeout(900)
FLOW_TESTS = [
    f"tests/integration/aws/{name}.py"
    for name in (
        "test_handlers_pipeline",
        "test_handlers_pipeline_job",
        "test_handlers_monitoring",
        "test_handlers_predict",
        "test_handlers_upload",
        "test_reject_deployed",
        "test_integrity_deploy",
        "test_limits_predict_proxy",
        "test_handlers_reconcile",
        "test_handlers_autoscaling",
    )
]
# Statements no recorded call needs (removing one alone fails nothing). Each is a finding,
# kept exact: the test fails when one of them becomes needed or a needed one appears here.
_TRAINING = (TRAINING_ROLE, "TrainingJobPolicy")
_INFERENCE = (INFERENCE_ROLE, "InferencePolicy")
UNEXERCISED = {
    # Used by the services themselves, not by conveyor's code: Lambda sends a failed event to
    # the dead-letter queue; SageMaker pulls a job's or a model's image, and writes an
    # endpoint's logs and instance metrics (AWS's CreateModel execution role permissions);
    # deployment guardrails read the auto-rollback alarms with the model's execution role.
    # (A job's logs and its model.tar.gz, and a model's download, are played by lambda_world
    # under the role, so those statements are checked.)
    ("*", "DeadLetterQueuePolicy", "#0"),
    (*_TRAINING, "PullImagesToken"),
    (*_TRAINING, "PullImages"),
    (*_INFERENCE, "PullImagesToken"),
    (*_INFERENCE, "PullImages"),
    (*_INFERENCE, "EndpointLogs"),
    (*_INFERENCE, "EndpointMetrics"),
    (*_INFERENCE, "RollbackAlarms"),
    # Reached when the gate deploys over a served version (UpdateEndpoint names the rollback
    # alarms that exist); the flow tests deploy over one only after a person's approval.
    ("OnTrainingJobStateChangeFunction", "DeployPolicy", "RollbackAlarmsRead"),
    ("ReconcileFunction", "DeployPolicy", "RollbackAlarmsRead"),
    # What AWS's autoscaling prerequisites ask of the caller for Application Auto Scaling
    # to use on its behalf (the variant's capacity; the service-linked role it creates on
    # the first registration): no call of conveyor's code.
    ("*", "EndpointAutoscalingPolicy", "VariantCapacity"),
    ("*", "EndpointAutoscalingPolicy", "AutoscalingServiceRole"),
}


# Actions of a needed statement that no recorded call uses (for any principal given the
# statement), kept exact as UNEXERCISED is; the statements of UNEXERCISED are left out.
UNUSED_ACTIONS = {
    # A rule deleted since the last sync: no flow test deletes one.
    ("AlarmsPolicy", "Alarms", "cloudwatch:DeleteAlarms"),
    # SageMaker's own, with the job's logs (AWS's training execution role permissions).
    ("TrainingJobPolicy", "JobLogGroup", "logs:DescribeLogStreams"),
}


@pytest.fixture(scope="module", name="recorded")
def recorded_fixture(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Every call of the AWS flow tests, run once in a pytest of their own (once per test
    session: xdist's workers share this run's temporary folder and take turns)."""
    shared = tmp_path_factory.getbasetemp()
    if "PYTEST_XDIST_WORKER" in os.environ:
        shared = shared.parent
    path = shared / "iam-calls.json"
    with (shared / "iam-calls.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            _record(path)
    calls: list[dict[str, Any]] = json.loads(path.read_text())
    return calls


def test_every_call_each_function_and_job_makes_is_granted_to_its_role(
    recorded: list[dict[str, Any]],
) -> None:
    assert {call["principal"] for call in recorded} >= set(principal_statements())
    assert _denied(recorded, principal_statements()) == []


@pytest.mark.parametrize(
    ("principal", "statement"),
    [(p, s) for p, statements in principal_statements().items() for s in statements],
    ids=lambda value: value if isinstance(value, str) else f"{value.policy}.{value.sid}",
)
def test_removing_a_statement_a_call_needs_is_caught(
    recorded: list[dict[str, Any]], principal: str, statement: Statement
) -> None:
    """The check above can fail: without any one statement the flow needs, it does."""
    full = principal_statements()
    kept = dict(full) | {principal: tuple(s for s in full[principal] if s != statement)}
    # Caught: a call the full policies allow is refused (on today's template some calls are
    # refused with every statement; those do not count).
    caught = bool(set(_denied(recorded, kept)) - set(_denied(recorded, full)))
    unexercised = {
        (principal, statement.policy, statement.sid),
        ("*", statement.policy, statement.sid),
    } & UNEXERCISED
    assert caught != bool(unexercised), f"{principal}'s {statement.policy}.{statement.sid}: " + (
        "needed, yet listed in UNEXERCISED" if caught else "no recorded call needs it"
    )


@pytest.mark.parametrize("role", [TRAINING_ROLE, INFERENCE_ROLE])
def test_neither_sagemaker_role_can_register_approve_or_deploy(role: str) -> None:
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"
    refused = [
        ("sagemaker:CreateModelPackage", f"{arn}:model-package/conveyor-churn/*"),
        ("sagemaker:UpdateModelPackage", f"{arn}:model-package/conveyor-churn/1"),
        ("sagemaker:CreateModel", f"{arn}:model/conveyor-churn-v1-0123abcd"),
        ("sagemaker:CreateEndpoint", f"{arn}:endpoint/conveyor-churn"),
        ("sagemaker:UpdateEndpoint", f"{arn}:endpoint/conveyor-churn"),
        ("cloudwatch:PutMetricAlarm", f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:conveyor/x/y"),
        ("events:PutEvents", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/conveyor-events"),
    ]
    statements = principal_statements()[role]
    assert [(a, r) for a, r in refused if verdict(statements, a, r, {})] == []


@pytest.mark.parametrize(
    ("role", "parameter"), [(TRAINING_ROLE, "TrainingImage"), (INFERENCE_ROLE, "InferenceImage")]
)
def test_each_role_pulls_only_its_own_image(role: str, parameter: str) -> None:
    """What SageMaker pulls with the role is not recorded (UNEXERCISED): its statement names
    the one repository of the image parameter, in the account that holds it."""
    image = (
        PARAMETER_VALUES.get(parameter) or (expanded_template()["Parameters"][parameter]["Default"])
    )
    registry, _, rest = image.partition(".dkr.ecr.")
    region, _, path = rest.partition(".amazonaws.com/")
    repository = path.partition(":")[0]
    (pull,) = [s for s in principal_statements()[role] if s.sid == "PullImages"]
    assert pull.body["Resource"] == f"arn:aws:ecr:{region}:{registry}:repository/{repository}"


def test_every_action_of_a_needed_statement_is_used(recorded: list[dict[str, Any]]) -> None:
    """Removing one action alone from a statement is caught too, but for UNUSED_ACTIONS."""
    full = principal_statements()
    refused = set(_denied(recorded, full))
    holders: dict[tuple[str, str, str], list[str]] = {}
    for principal, statements in full.items():
        for statement in statements:
            exempt = {
                (principal, statement.policy, statement.sid),
                ("*", statement.policy, statement.sid),
            }
            if len(statement.actions) > 1 and not exempt & UNEXERCISED:
                for action in statement.actions:
                    holders.setdefault((statement.policy, statement.sid, action), []).append(
                        principal
                    )
    unused = set()
    for (policy, sid, action), principals in holders.items():
        if not any(
            set(_denied(recorded, _without(full, principal, policy, sid, action))) - refused
            for principal in principals
        ):
            unused.add((policy, sid, action))
    assert unused == UNUSED_ACTIONS


def _without(
    full: dict[str, tuple[Statement, ...]], principal: str, policy: str, sid: str, action: str
) -> dict[str, tuple[Statement, ...]]:
    kept = []
    for statement in full[principal]:
        if (statement.policy, statement.sid) == (policy, sid):
            actions = [a for a in statement.actions if a != action]
            statement = Statement(policy, sid, statement.body | {"Action": actions})
        kept.append(statement)
    return dict(full) | {principal: tuple(kept)}


def _record(path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["CONVEYOR_IAM_RECORD"] = str(path)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["-p", "tests.integration.aws.iam_recorder", *FLOW_TESTS]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]


def _denied(calls: list[dict[str, Any]], statements: dict[str, tuple[Statement, ...]]) -> list[str]:
    denied: list[str] = []
    for call in calls:
        for action, resource, conditions in _requests(json.dumps(call, sort_keys=True)):
            if not verdict(statements[call["principal"]], action, resource, conditions):
                denied.append(f"{call['principal']}: {action} on {resource}")
    return sorted(set(denied))


@cache
def _requests(call_json: str) -> list[tuple[str, str, dict[str, str]]]:
    call = json.loads(call_json)
    return requests(call["service"], call["operation"], call["params"])
