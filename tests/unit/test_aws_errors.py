"""The one botocore translator: an adapter's rules pick the error, anything else is a
retryable BackendUnavailable, and an exception that is not botocore's passes unchanged."""

from __future__ import annotations

import re

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from conveyor.aws.errors import raise_translated, rule
from conveyor.errors import AlreadyExists, BackendUnavailable, InvalidInput, NotFound

RULES = (
    rule(NotFound, "NoSuchKey", message="no object raw/a.csv"),
    rule(AlreadyExists, "ValidationException", text=re.compile("already exist")),
    rule(InvalidInput, "ValidationException", field="item"),
)


def _client_error(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "GetObject")


def _translated(exc: BaseException) -> BaseException:
    with pytest.raises(Exception) as raised:
        raise_translated(exc, RULES, refused="S3 refused raw/a.csv", unreachable="no S3")
    return raised.value


def test_a_rule_with_a_message_says_it() -> None:
    error = _translated(_client_error("NoSuchKey", "The key does not exist"))
    assert isinstance(error, NotFound) and error.message == "no object raw/a.csv"


def test_the_first_rule_whose_code_and_text_match_wins() -> None:
    exists = _translated(_client_error("ValidationException", "it already exists"))
    invalid = _translated(_client_error("ValidationException", "bad key"))
    assert isinstance(exists, AlreadyExists)
    assert isinstance(invalid, InvalidInput) and invalid.field == "item"
    assert invalid.message == "S3 refused raw/a.csv: ValidationException bad key"


def test_a_code_no_rule_names_and_an_unreachable_service_may_be_retried() -> None:
    throttled = _translated(_client_error("SlowDown", "Reduce your request rate"))
    unreachable = _translated(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))
    assert isinstance(throttled, BackendUnavailable)
    assert isinstance(unreachable, BackendUnavailable)
    assert unreachable.message.startswith("no S3: Could not connect")


def test_an_exception_that_is_not_botocores_passes_unchanged() -> None:
    original = OSError("the source stream broke")
    assert _translated(original) is original
