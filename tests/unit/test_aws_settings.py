"""The AWS adapters' settings: defaults a deployment can run with, and none it cannot."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.config import AwsSettings, Settings, load_settings
from conveyor.errors import ConfigError
from conveyor.tables.dynamodb import DynamoDbTable
from conveyor.wiring import build_table


def test_an_unset_inference_image_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CONVEYOR_AWS_INFERENCE_IMAGE", raising=False)
    with pytest.raises(ConfigError, match="CONVEYOR_AWS_INFERENCE_IMAGE"):
        AwsSettings().inference_image_uri()
    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/conveyor-inference:0.1.0"
    monkeypatch.setenv("CONVEYOR_AWS_INFERENCE_IMAGE", image)
    assert AwsSettings().inference_image_uri() == image


def test_the_default_training_image_has_the_python_conveyor_needs() -> None:
    # conveyor needs Python 3.11; SageMaker's scikit-learn images ship 3.10.
    assert "-py311-" in AwsSettings().training_image


def test_the_region_is_conveyor_s_variable_else_lambda_s_else_us_east_1(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CONVEYOR_AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    assert Settings(home=tmp_path).aws.region == "us-east-1"
    monkeypatch.setenv("AWS_REGION", "eu-west-1")  # what the Lambda runtime sets
    assert Settings(home=tmp_path).aws.region == "eu-west-1"
    monkeypatch.setenv("CONVEYOR_AWS_REGION", "eu-central-1")
    assert Settings(home=tmp_path).aws.region == "eu-central-1"


def test_the_aws_settings_reach_the_adapters_through_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CONVEYOR_AWS_REGION", "eu-west-1")
    monkeypatch.setenv("CONVEYOR_AWS_ENDPOINT_URL", "http://127.0.0.1:5000")
    settings = Settings(home=tmp_path, table_uri="dynamodb://conveyor-prod")

    table = build_table(settings)

    assert isinstance(table, DynamoDbTable)
    assert (table.region, table.endpoint_url) == ("eu-west-1", "http://127.0.0.1:5000")


def test_a_bad_aws_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVEYOR_AWS_TRAINING_VOLUME_GB", "lots")
    with pytest.raises(ConfigError, match="CONVEYOR_AWS_TRAINING_VOLUME_GB"):
        load_settings()
