"""The one exception hierarchy of conveyor.

Every adapter translates its backend's errors into one of these (``raise ... from exc``);
each entry point maps them once: HTTP status for the server, exit code for the CLI,
``FAILED`` with the message for a pipeline run.
"""

from __future__ import annotations


class ConveyorError(Exception):
    """Root of every error conveyor raises on purpose."""

    code = "conveyor_error"
    http_status = 500
    exit_code = 1
    headline = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, str | None]:
        """This error's HTTP body (see :func:`error_body`)."""
        return error_body(self.code, self.message, self.field)


class NotFound(ConveyorError):
    code = "not_found"
    http_status = 404
    exit_code = 4
    headline = "not found"


class NotDeployed(NotFound):
    """A project with no deployed version where one is needed (to serve, score or check).

    The one spelling of "nothing deployed": the message names the project and the command that
    deploys a version; callers add why a deployment was needed and what else would do.
    """

    def __init__(
        self, project: str, *, noun: str = "version", why: str = "", instead: str = ""
    ) -> None:
        """Args:
        project: the project without a deployment.
        noun: what is missing, as the caller's user thinks of it ("version", "model").
        why: appended after the project, e.g. ", so there is no traffic to check".
        instead: appended after the deploy command, e.g. " or pass --version".
        """
        super().__init__(
            f"project {project!r} has no deployed {noun}{why}; deploy one with "
            f"`conveyor models deploy {project} N`{instead}",
            field="project",
        )
        self.project = project


class AlreadyExists(ConveyorError):
    """A create or conditional put found the item already there."""

    code = "already_exists"
    http_status = 409
    exit_code = 5
    headline = "already exists"


class InvalidInput(ConveyorError, ValueError):
    """Input a person can fix: a malformed upload, request, flag or name."""

    code = "invalid_input"
    http_status = 400
    exit_code = 2
    headline = "invalid input"


class PayloadTooLarge(InvalidInput):
    """A body, a file or a batch over a configured limit; the message names the limit."""

    code = "payload_too_large"
    http_status = 413
    headline = "too large"


class Unauthorized(ConveyorError):
    """No API key where the server requires one."""

    code = "unauthorized"
    http_status = 401
    exit_code = 2
    headline = "unauthorized"


class Forbidden(ConveyorError):
    """An API key that is not this server's."""

    code = "forbidden"
    http_status = 403
    exit_code = 2
    headline = "forbidden"


class RequestTimeout(ConveyorError):
    """A request that took longer than the server's limit."""

    code = "request_timeout"
    http_status = 504
    exit_code = 9
    headline = "timed out"


class Conflict(ConveyorError):
    """The operation does not fit the current state (e.g. approving a rejected version)."""

    code = "conflict"
    http_status = 409
    exit_code = 6
    headline = "conflict"


class IntegrityError(ConveyorError):
    """Stored bytes do not match their recorded sha256.

    409: what the request asks for (deploy, roll back to, load a version) conflicts with the
    state of that version's stored file; the message says how to restore or replace it.
    """

    code = "integrity_error"
    http_status = 409
    exit_code = 7
    headline = "integrity error"


class JobFailed(ConveyorError):
    code = "job_failed"
    http_status = 500
    exit_code = 8
    headline = "training job failed"


class BackendUnavailable(ConveyorError):
    """A backend could not be reached or was busy; retrying may succeed."""

    code = "backend_unavailable"
    http_status = 503
    exit_code = 9
    headline = "backend unavailable"


class ConfigError(ConveyorError):
    code = "config_error"
    http_status = 500
    exit_code = 3
    headline = "configuration error"


class RunFailed(ConveyorError):
    """A pipeline run ended FAILED; the message is its reason."""

    code = "run_failed"
    http_status = 422
    exit_code = 10
    headline = "run failed"


INTERNAL_ERROR = "internal_error"


def error_body(code: str, message: str, field: str | None = None) -> dict[str, str | None]:
    """The one shape of an HTTP error body, ``{"error", "message", "field"}``, that the
    server's handlers, its fast path, its API-key gate and the Lambda proxy all answer.

    Args:
        code: the stable error code (``not_found``, ``invalid_input``, ...).
        message: what went wrong and how to fix it, for a person.
        field: the input at fault, if one is.
    """
    return {"error": code, "message": message, "field": field}


def body_of(exc: BaseException, *, request_id: str | None = None) -> dict[str, str | None]:
    """The HTTP error body of ``exc``: a ConveyorError's own; for anything else (a bug) an
    internal error that shows none of the exception's text, which may hold paths, data or
    secrets. The caller logs the exception; ``request_id`` finds that log line.

    Args:
        exc: the error the request ended with.
        request_id: the request's id, named in an internal error's message when known.
    """
    if isinstance(exc, ConveyorError):
        return exc.to_dict()
    where = f" (request {request_id})" if request_id else ""
    return error_body(
        INTERNAL_ERROR,
        f"an internal error happened{where}; the server's log has the details",
    )


# Exit codes of commands that ran to the end with an answer a script acts on (not errors):
# `conveyor drift` found drift (the number asked for in issue 20; ConfigError also exits 3,
# but a drift check that cannot run exits with its error's code before any answer); and
# `conveyor retrain` started no run (cooldown, a run in progress, no upload): a state that does
# not allow the operation, as Conflict.
EXIT_DRIFT = 3
EXIT_NOT_RETRAINED = Conflict.exit_code
