"""Post one row to a deployment's ``/predict`` and check the answer: the release workflow's
smoke test (.github/workflows/release.yml), runnable by hand too.

    python scripts/smoke_predict.py --stack conveyor-staging --train
    python scripts/smoke_predict.py --url http://127.0.0.1:8000 --project churn

With ``--stack`` the API's URL and key come from the stack's outputs (``ApiUrl``, ``ApiKeyId``:
CloudFormation and API Gateway, with the caller's AWS credentials). With ``--train``, a project
that has no model yet (the API answers 404) is trained first: the project is created in the
stack's table (``conveyor project create``, target ``churned``), conveyor's churn sample is
uploaded to the raw bucket as ``<project>/smoke.csv``, and the row is posted again every
``--every`` seconds until it is answered or ``--timeout`` has passed.

Exit status 0 when the answer is a 200 with one prediction and the model version that made it;
1 otherwise, with the reason on stderr.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

TARGET = "churned"
SAMPLE = Path(__file__).resolve().parents[1] / "conveyor" / "samples" / "churn.csv"
ALREADY_EXISTS = 5  # conveyor's exit status for AlreadyExists (conveyor/errors.py)


def sample_row() -> dict[str, str]:
    """The sample's first customer, less the target: the row the smoke test posts (the model
    it reaches was trained on the same columns)."""
    with SAMPLE.open(newline="") as sample:
        row = next(csv.DictReader(sample))
    del row[TARGET]
    return row


class SmokeFailed(Exception):
    """The deployment did not answer as it should; the message says how."""


def predict(url: str, project: str, api_key: str | None) -> tuple[int, dict[str, Any]]:
    """POST ``sample_row()`` to ``<url>/predict/<project>``; the status and the JSON body."""
    headers = {"content-type": "application/json"}
    if api_key:
        headers["x-api-key"] = api_key
    request = urllib.request.Request(
        f"{url.rstrip('/')}/predict/{project}",
        data=json.dumps({"instances": [sample_row()]}).encode(),
        headers=headers,
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        body = error.read()
        try:
            return error.code, json.loads(body)
        except ValueError:
            return error.code, {"message": body.decode(errors="replace")[:500]}


def check(status: int, body: dict[str, Any]) -> str:
    """The model version that answered, if the answer is a good one.

    Raises:
        SmokeFailed: not a 200, or not one prediction and a model version.
    """
    if status != 200:
        raise SmokeFailed(f"/predict answered {status}: {json.dumps(body)[:500]}")
    predictions = body.get("predictions")
    if not isinstance(predictions, list) or len(predictions) != 1:
        raise SmokeFailed(f"/predict answered 200 without one prediction: {json.dumps(body)[:500]}")
    version = body.get("model_version")
    if version in (None, ""):
        raise SmokeFailed("/predict answered 200 without the model version that made it")
    return str(version)


def stack_outputs(stack: str) -> dict[str, str]:
    import boto3

    described = boto3.client("cloudformation").describe_stacks(StackName=stack)
    outputs = described["Stacks"][0].get("Outputs", [])
    return {output["OutputKey"]: output["OutputValue"] for output in outputs}


def api_key_value(key_id: str) -> str:
    import boto3

    key = boto3.client("apigateway").get_api_key(apiKey=key_id, includeValue=True)
    return str(key["value"])


def start_training(outputs: dict[str, str], project: str) -> None:
    """Create the project in the stack's table (unless it exists) and upload the sample."""
    import boto3

    environment = {
        **os.environ,
        "CONVEYOR_OBJECT_STORE_URI": outputs["ObjectStoreUri"],
        "CONVEYOR_TABLE_URI": f"dynamodb://{outputs['TableName']}",
    }
    created = subprocess.run(
        [_conveyor(), "project", "create", project, "--target", TARGET],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if created.returncode not in (0, ALREADY_EXISTS):
        raise SmokeFailed(f"could not create project {project!r}: {created.stderr.strip()}")
    key = f"{project}/smoke.csv"
    boto3.client("s3").upload_file(str(SAMPLE), outputs["RawBucketName"], key)
    print(f"uploaded {SAMPLE.name} to s3://{outputs['RawBucketName']}/{key}", flush=True)


def _conveyor() -> str:
    """conveyor's CLI beside this Python (a virtualenv's bin/), else the one on PATH."""
    beside = Path(sys.executable).with_name("conveyor")
    return str(beside) if beside.exists() else "conveyor"


def run(args: argparse.Namespace) -> str:
    """The smoke test; the model version that answered.

    Raises:
        SmokeFailed: the deployment did not answer in time, or answered wrongly.
    """
    outputs: dict[str, str] = {}
    url, api_key = args.url, args.api_key
    if args.stack:
        outputs = stack_outputs(args.stack)
        url = outputs["ApiUrl"]
        api_key = api_key or api_key_value(outputs["ApiKeyId"])
    status, body = predict(url, args.project, api_key)
    if status == 404 and args.train:
        if not outputs:
            raise SmokeFailed("--train needs --stack: it uploads to the stack's raw bucket")
        start_training(outputs, args.project)
        deadline = time.monotonic() + args.timeout
        while status == 404 and time.monotonic() < deadline:
            time.sleep(args.every)
            status, body = predict(url, args.project, api_key)
    return check(status, body)


def parser() -> argparse.ArgumentParser:
    """The command line the release workflow calls."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack", help="a deployed conveyor stack's name")
    where.add_argument("--url", help="the API's base URL (<url>/predict/<project>)")
    parser.add_argument("--api-key", help="the API key (default: the stack's)")
    parser.add_argument("--project", default="smoke", help="the project to ask (default: smoke)")
    parser.add_argument(
        "--train", action="store_true", help="train the project first if it has no model"
    )
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for a model")
    parser.add_argument("--every", type=float, default=30, help="seconds between attempts")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        version = run(args)
    except SmokeFailed as failure:
        print(f"smoke test failed: {failure}", file=sys.stderr)
        return 1
    print(f"smoke test passed: {args.project} version {version} answered /predict")
    return 0


if __name__ == "__main__":
    sys.exit(main())
