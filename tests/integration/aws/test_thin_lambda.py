"""The Lambda functions stay thin: importing ``conveyor.aws.handlers`` and running its
handlers loads none of the heavy stack, which a Lambda deployment cannot hold (250 MB).

Run in a fresh subprocess against moto's HTTP server, as a Lambda container would run them
against AWS: ``sys.modules`` there is the proof.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.request import Request, urlopen

from tests.integration.aws.lambda_world import (
    PREFIX,
    deploy_a_version,
    load_event,
    served_env_fixture,  # noqa: F401 (the served_env fixture)
    upload,
)

HEAVY = ("polars", "numpy", "pyarrow", "scipy", "sklearn", "lightgbm", "fastapi", "uvicorn")

_LAMBDA = """
import json, sys
events = json.loads(sys.stdin.read())
from conveyor.aws import handlers
answers = {
    "on_upload": handlers.on_upload(events["upload"]),
    "predict_bad": handlers.predict(events["predict_bad"]),
    "predict": handlers.predict(events["predict"]),
    "drift_check": handlers.drift_check(events["schedule"]),
    "on_model_package_state_change": handlers.on_model_package_state_change(events["package"]),
}
heavy = sorted(
    {name.split(".")[0] for name in sys.modules} & set(json.loads(sys.argv[1]))
)
print(json.dumps({"answers": answers, "heavy": heavy}, default=str))
"""


def _model_answers(endpoint_url: str, answer: dict[str, object]) -> None:
    """moto's InvokeEndpoint answers a configured body: make it the model server's."""
    results = {
        "results": [
            {
                "Body": json.dumps(answer),
                "ContentType": "application/json",
                "InvokedProductionVariant": "AllTraffic",
            }
        ]
    }
    request = Request(
        f"{endpoint_url}/moto-api/static/sagemaker/endpoint-results",
        data=json.dumps(results).encode(),
        method="POST",
        headers={"content-type": "application/json"},
    )
    urlopen(request, timeout=10).close()


def test_the_handlers_import_and_run_without_the_heavy_stack(
    served_env: dict[str, str], tmp_path: Path
) -> None:
    deploy_a_version("churn")
    _model_answers(
        served_env["CONVEYOR_AWS_ENDPOINT_URL"],
        {
            "predictions": ["no"],
            "model_version": 1,
            "classes": ["no", "yes"],
            "probabilities": [[0.7, 0.3]],
            "request_id": "x",
        },
    )
    row = {"age": 41, "plan": "pro"}
    events = {
        "upload": upload("churn/second.csv", b"age,plan,churned\n41,pro,no\n"),
        "predict_bad": load_event(
            "apigateway_rest_proxy",
            project="churn",
            content_type="application/json",
            request_id="bad-1",
            body=json.dumps({"instances": [{**row, "age": "old"}]}),
        ),
        "predict": load_event(
            "apigateway_rest_proxy",
            project="churn",
            content_type="application/json",
            request_id="good-1",
            body=json.dumps({"instances": [row]}),
        ),
        "schedule": load_event("scheduled_event", time="2026-12-01T16:00:00Z"),
        "package": load_event(
            "sagemaker_model_package_state_change",
            group="churn",
            approval_status="PendingManualApproval",
        ),
    }
    done = subprocess.run(
        [sys.executable, "-c", _LAMBDA, json.dumps(HEAVY)],
        input=json.dumps(events),
        env={**served_env, "CONVEYOR_HOME": str(tmp_path / "lambda")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["heavy"] == []
    answers = result["answers"]
    assert answers["on_upload"]["runs"][0]["state"] == "PREPROCESSING"
    assert answers["predict_bad"]["statusCode"] == 400
    assert json.loads(answers["predict_bad"]["body"])["field"] == "age"
    assert answers["predict"]["statusCode"] == 200
    assert json.loads(answers["predict"]["body"])["predictions"] == ["no"]
    assert answers["drift_check"]["jobs"] == ["churn-drift-20261201160000"]
    assert answers["on_model_package_state_change"]["ignored"].endswith("PendingManualApproval")
    assert PREFIX  # the buckets the functions used are the template's
