"""Prometheus metrics of the API: request latency by route and status, served on /metrics.

With several worker processes (`deploystatus api --workers N`) set PROMETHEUS_MULTIPROC_DIR
to an empty directory: each worker then writes its samples there and /metrics adds them up.
"""

from __future__ import annotations

import os
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_SECONDS = Histogram(
    "deploystatus_http_request_seconds",
    "Time to answer an HTTP request, by route template and status",
    ["method", "route", "status"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)

DOCUMENT_CACHE_LOOKUPS = Counter(
    "deploystatus_api_document_cache_lookups",
    "Status reads answered from the API's document cache (hit) or not (miss: read from Redis)",
    ["result"],
)
CACHE_HITS = DOCUMENT_CACHE_LOOKUPS.labels("hit")
CACHE_MISSES = DOCUMENT_CACHE_LOOKUPS.labels("miss")


class RequestMetrics:
    """ASGI middleware, outermost, so that refusals by the other middleware count too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            # The route template, never the raw path: ids would make unbounded label sets.
            template = getattr(scope.get("route"), "path", None) or _template(scope)
            REQUEST_SECONDS.labels(scope["method"], template, str(status)).observe(
                time.perf_counter() - started
            )


# Endpoint -> its route's template, for plain Starlette routes: FastAPI's routes name
# themselves in the request scope, Starlette's only give their endpoint.
_TEMPLATES: dict[object, str] = {}


def name_route(endpoint: object, template: str) -> None:
    """Label the requests of a plain Starlette route's ``endpoint`` with ``template``."""
    _TEMPLATES[endpoint] = template


def _template(scope: Scope) -> str:
    return _TEMPLATES.get(scope.get("endpoint"), "unmatched")


async def metrics_endpoint(request: Request) -> Response:
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
