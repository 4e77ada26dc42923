"""The one translator of botocore's errors into conveyor's.

Each AWS adapter keeps its own mapping as data (a tuple of :class:`ErrorRule`): which AWS
error codes, and for services that say most things as ``ValidationException`` which message
text, become which conveyor error. Anything no rule names is ``BackendUnavailable`` (a
retry may succeed), as is a service that could not be reached. botocore is imported only
when an error is being translated, so importing this module costs nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NoReturn

from conveyor.errors import BackendUnavailable, ConveyorError


@dataclass(frozen=True)
class ErrorRule:
    """One row of an adapter's mapping.

    Attributes:
        error: what to raise (a conveyor error, or an adapter's private signal).
        codes: the AWS error codes (``Error.Code``) the rule applies to.
        text: when set, the AWS message must also match it (SageMaker's ValidationException
            says "not found", "already exists" and "busy" alike).
        message: the message to raise with; None for "<refused>: <code> <AWS message>".
        field: the input at fault, for a conveyor error.
    """

    error: type[Exception]
    codes: frozenset[str]
    text: re.Pattern[str] | None = None
    message: str | None = None
    field: str | None = None

    def matches(self, code: str, text: str) -> bool:
        return code in self.codes and (self.text is None or bool(self.text.search(text)))

    def build(self, detail: str) -> Exception:
        message = self.message or detail
        if issubclass(self.error, ConveyorError):
            return self.error(message, field=self.field)
        return self.error(message)


def rule(
    error: type[Exception],
    *codes: str,
    text: re.Pattern[str] | None = None,
    message: str | None = None,
    field: str | None = None,
) -> ErrorRule:
    """An :class:`ErrorRule` for ``codes`` (a shorter spelling for adapters' tables)."""
    return ErrorRule(error, frozenset(codes), text, message, field)


def aws_error(exc: BaseException) -> tuple[str, str]:
    """The AWS error code and message of ``exc``: ``("", str(exc))`` for an exception that is
    not an AWS service's answer (botocore's ClientError carries them in ``response``)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return "", str(exc)
    error = response.get("Error", {})
    return str(error.get("Code", "")), str(error.get("Message", ""))


def raise_translated(
    exc: BaseException, rules: Sequence[ErrorRule], *, refused: str, unreachable: str
) -> NoReturn:
    """Raise ``exc`` as conveyor's error (``from exc``); an exception that is not botocore's
    (a failing source stream, a conveyor error) is raised as it is.

    Args:
        exc: the exception an AWS call raised.
        rules: the adapter's mapping; the first rule that matches wins.
        refused: what the service refused, e.g. "S3 refused raw/a.csv"; an error no rule gives
            its own message says "<refused>: <code> <AWS message>".
        unreachable: what could not be done, e.g. "could not reach S3 for raw/a.csv"; the
            message of a connection or timeout error says "<unreachable>: <what botocore said>".

    Raises:
        Exception: always; what the first matching rule names, else BackendUnavailable.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, ClientError):
        code, text = aws_error(exc)
        detail = f"{refused}: {code} {text}".rstrip()
        for each in rules:
            if each.matches(code, text):
                raise each.build(detail) from exc
        raise BackendUnavailable(detail) from exc
    if isinstance(exc, BotoCoreError):
        raise BackendUnavailable(f"{unreachable}: {exc}") from exc
    raise exc
