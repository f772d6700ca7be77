"""Abuse limits applied before routing, as plain ASGI, so that they hold whatever the server
(uvicorn's httptools parser accepts headers of any size) and cost nothing on the way in:
URI size (414), header size (431), token size (the same 401 as any bad token), and a bound
on the requests in progress in this process (503 with Retry-After)."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from api import responses

AUTHORIZATION = b"authorization"
BEARER_PREFIX_BYTES = len("Bearer ")
# Liveness must answer even when the process is saturated, or an orchestrator kills it.
UNBOUNDED_PATHS = frozenset({"/healthz"})
WATCH_SUFFIX = "/watch"


class RequestLimits:
    """Each limit is off at 0."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_url_bytes: int,
        max_header_bytes: int,
        max_token_bytes: int,
        max_concurrency: int,
    ) -> None:
        self._app = app
        self._max_url = max_url_bytes
        self._max_headers = max_header_bytes
        # The Authorization header is bounded by the token limit rather than the header
        # limit, so an oversized token gets the one 401 every bad token gets.
        self._max_authorization = max_token_bytes + BEARER_PREFIX_BYTES
        self._max_concurrency = max_concurrency
        self._in_progress = 0  # one event loop per process: no lock needed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        if self._max_url and _url_bytes(scope) > self._max_url:
            await responses.uri_too_long(self._max_url)(scope, receive, send)
            return
        authorization, others = _header_bytes(scope)
        if authorization > self._max_authorization:
            await responses.unauthorized()(scope, receive, send)
            return
        if self._max_headers and others > self._max_headers:
            await responses.headers_too_large(self._max_headers)(scope, receive, send)
            return
        if (
            not self._max_concurrency
            or scope["path"] in UNBOUNDED_PATHS
            # Watch streams stay open for minutes; they have caps of their own.
            or scope["path"].endswith(WATCH_SUFFIX)
        ):
            await self._app(scope, receive, send)
            return
        if self._in_progress >= self._max_concurrency:
            # Refuse at once rather than queue: queued requests would time out anyway, and
            # their clients retry.
            await responses.overloaded()(scope, receive, send)
            return
        self._in_progress += 1
        try:
            await self._app(scope, receive, send)
        finally:
            self._in_progress -= 1


def _url_bytes(scope: Scope) -> int:
    path: bytes = scope.get("raw_path") or scope["path"].encode()
    query: bytes = scope.get("query_string", b"")
    return len(path) + (len(query) + 1 if query else 0)


def _header_bytes(scope: Scope) -> tuple[int, int]:
    """Bytes of the Authorization headers, and of all the others (name, value, ': ', CRLF)."""
    authorization = others = 0
    for name, value in scope["headers"]:
        if name == AUTHORIZATION:
            authorization += len(value)
        else:
            others += len(name) + len(value) + 4
    return authorization, others
