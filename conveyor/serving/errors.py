"""The one place errors become HTTP responses: ``{"error", "message", "field"}``.

Bad input is always a 4xx naming the problem; only a bug is a 500.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from conveyor.errors import ConveyorError, body_of, error_body

log = logging.getLogger("conveyor.serving")


def error_response(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message, field), status_code=status)


async def _conveyor_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ConveyorError)
    return JSONResponse(body_of(exc), status_code=exc.http_status)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0]
    location = [str(part) for part in first.get("loc", ()) if part != "body"]
    field = ".".join(location) or None
    if first.get("type") == "json_invalid":
        return error_response(
            400, "invalid_json", f"the body is not valid JSON: {first.get('msg')}", None
        )
    message = f"{field}: {first.get('msg')}" if field else str(first.get("msg"))
    return error_response(422, "invalid_request", message, field)


_HTTP_CODES = {400: "invalid_body", 404: "not_found", 405: "method_not_allowed"}


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    """The framework's own refusals (no such route, wrong method, a body it cannot parse,
    e.g. JSON that is not UTF-8) in the same shape as every other error."""
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    field = "body" if exc.status_code == 400 else None
    response = error_response(exc.status_code, code, str(exc.detail), field)
    response.headers.update(exc.headers or {})
    return response


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    request_id = request.headers.get("x-request-id")
    log.exception("unexpected error on %s", request.url.path, extra={"request_id": request_id})
    return JSONResponse(body_of(exc, request_id=request_id), status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ConveyorError, _conveyor_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
