"""The AWS adapters' settings: defaults a deployment can run with, and none it cannot."""

from __future__ import annotations

import pytest

from conveyor.config import AwsSettings
from conveyor.errors import ConfigError


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
