from __future__ import annotations

import pytest

from conveyor.errors import InvalidInput
from conveyor.projects import validate_name


@pytest.mark.parametrize("name", ["churn", "churn-2024", "a", "x1"], ids=str)
def test_valid_project_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "Churn", "churn_2024", "-churn", "churn-", "a/b", "x" * 64, "café"], ids=repr
)
def test_invalid_project_names_explain_the_rule(name: str) -> None:
    with pytest.raises(InvalidInput, match="lower-case letters, digits and hyphens"):
        validate_name(name)
