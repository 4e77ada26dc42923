"""API key authentication (``CONVEYOR_API_KEY``): one check, used by an ASGI gate in front of
the FastAPI app and by the /predict fast path, which reads the same ASGI headers.

A request carries the key as ``x-api-key: KEY`` or ``Authorization: Bearer KEY``; the
dashboard's pages and its calls to /api/v1 may carry it in the HttpOnly, SameSite=Strict
cookie the login page sets instead. No key: 401; a wrong key: 403. Health, metrics and the
API documents stay open (docs/security-settings.md says why).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.requests import cookie_parser

from conveyor.errors import ConveyorError, Forbidden, Unauthorized, body_of

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

COOKIE = "conveyor_api_key"
LOGIN_PATH = "/ui/login"
# Open without a key: liveness probes, Prometheus scrapers, the API's own documents, and the
# root's redirect to the dashboard (whose pages then ask for the key).
OPEN_PATHS = frozenset(
    {"/health", "/ping", "/metrics", "/docs", "/docs/oauth2-redirect", "/openapi.json"}
    | {"/", LOGIN_PATH, "/ui/logout"}
)
DOCS_STATIC = "/docs/static"
OPEN_PREFIXES = ("/ui/static/", f"{DOCS_STATIC}/")
# Where the login cookie counts: the dashboard and the API its scripts call. Elsewhere (e.g.
# /predict) only a header does, so a browser's cookie never authorises a prediction.
COOKIE_PREFIXES = ("/ui", "/api/")
_BEARER = b"bearer "


def presented_key(headers: Iterable[tuple[bytes, bytes]], *, cookie_ok: bool) -> bytes | None:
    """The key a request carries (header first, then the login cookie), or None."""
    cookie: bytes | None = None
    for name, value in headers:
        if name == b"x-api-key":
            return value
        if name == b"authorization" and value[:7].lower() == _BEARER:
            return value[7:].strip()
        if cookie_ok and name == b"cookie":
            found = cookie_parser(value.decode("latin-1")).get(COOKIE)
            cookie = found.encode("latin-1") if found else cookie
    return cookie


class ApiKeyGuard:
    """Decides whether a request may pass; holds the key as bytes for constant-time compare."""

    def __init__(self, key: str) -> None:
        self._key = key.encode("utf-8")

    def matches(self, presented: str | bytes) -> bool:
        if isinstance(presented, str):
            presented = presented.encode("utf-8")
        return secrets.compare_digest(presented, self._key)

    def denial(self, scope: Scope) -> ConveyorError | None:
        """None when the request may pass; else the 401 or 403 to answer."""
        path: str = scope.get("path", "")
        if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
            return None
        presented = presented_key(
            scope.get("headers", ()), cookie_ok=path.startswith(COOKIE_PREFIXES)
        )
        if presented is None:
            return Unauthorized(
                "this server requires an API key: send it as the header 'x-api-key: KEY' or "
                "'Authorization: Bearer KEY' (conveyor init prints it)",
                field="x-api-key",
            )
        if not self.matches(presented):
            return Forbidden("the API key is not valid for this server", field="x-api-key")
        return None


async def send_error(
    send: Send, error: ConveyorError, extra: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    """Answer with the server's error body, ``{"error", "message", "field"}``, in plain ASGI."""
    headers = [(b"content-type", b"application/json"), *extra]
    await send({"type": "http.response.start", "status": error.http_status, "headers": headers})
    await send({"type": "http.response.body", "body": orjson.dumps(body_of(error))})


class ApiKeyMiddleware:
    """The gate for every route the FastAPI app answers; a person opening a dashboard page
    without the key is sent to the login page instead of getting JSON."""

    def __init__(self, app: ASGIApp, guard: ApiKeyGuard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            denied = self.guard.denial(scope)
            if denied is not None:
                if scope["method"] == "GET" and scope["path"].startswith("/ui"):
                    await _to_login(scope, send)
                else:
                    await send_error(send, denied)
                return
        await self.app(scope, receive, send)


async def _to_login(scope: Scope, send: Send) -> None:
    target = scope["path"] + (
        f"?{scope['query_string'].decode('latin-1')}" if scope.get("query_string") else ""
    )
    location = f"{LOGIN_PATH}?next={quote(target, safe='')}".encode("latin-1")
    headers = [(b"location", location), (b"content-length", b"0")]
    await send({"type": "http.response.start", "status": 303, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


def _safe_next(target: str | None) -> str:
    # Only back into the dashboard: never an absolute or protocol-relative address.
    if target and target.startswith("/ui") and not target.startswith("//"):
        return target
    return "/ui"


def build_login_router(guard: ApiKeyGuard, templates: Jinja2Templates) -> APIRouter:
    """``/ui/login`` (a form taking the key; sets the cookie) and ``/ui/logout``."""
    router = APIRouter(include_in_schema=False)

    @router.get(LOGIN_PATH)
    def login_page(request: Request, next: str | None = None) -> Response:
        context = {"next": _safe_next(next), "message": None}
        return templates.TemplateResponse(request, "login.html", context)

    @router.post(LOGIN_PATH)
    async def login(request: Request) -> Response:
        form = await request.form()
        key = form.get("key")
        target = _safe_next(str(form.get("next") or ""))
        if not isinstance(key, str) or not key or not guard.matches(key):
            context = {"next": target, "message": "That key is not valid for this server."}
            status = 403 if isinstance(key, str) and key else 401
            return templates.TemplateResponse(request, "login.html", context, status_code=status)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE,
            key,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    @router.post("/ui/logout")
    def logout() -> Response:
        response = RedirectResponse(LOGIN_PATH, status_code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    return router
