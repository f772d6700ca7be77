"""The ASGI apps under test, built the way ``deploystatus api`` builds ours.

- ``ours``: ``api.app.create_app(settings)`` unchanged.
- ``bare``: the same app plus one route answering a constant JSON body with no auth and no
  Redis: the ceiling of this framework and server on this machine.
- ``sql``: the seed's four-query read path (``bench.infra.sql_baseline``).
- lever variants of ours, each changing one thing without touching production code:
  ``no-token-cache`` (every request verifies its JWT again: what the verified-token cache
  saves), ``no-document-cache`` (every read goes to Redis: what the document cache
  saves), ``no-hiredis`` (redis-py's pure-Python reply parser) and ``reserialised`` (the
  stored document parsed and served through the response model, i.e. what we avoid by
  serving the stored bytes).
"""

# No `from __future__ import annotations`: FastAPI resolves the annotations of routes defined
# inside the factories below at run time.
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import FastAPI, HTTPException, Response

import api.app
from api.auth import TokenVerifier
from api.dependencies import CallerDep, Reader
from api.schemas import StatusDocument
from deploystatus.settings import Settings
from deploystatus.view.client import RedisClient, create_redis

BARE_PREFIX = "/bare/"
# About the size of a real status document, so that the ceiling pays for the same bytes.
BARE_BODY = orjson.dumps(
    {
        "deployment_id": "00000000-0000-4000-8000-000000000000",
        "name": "constant",
        "padding": "x" * 1800,
    }
)


def ours(settings: Settings) -> FastAPI:
    return api.app.create_app(settings)


def bare(settings: Settings) -> FastAPI:
    app = api.app.create_app(settings)

    @app.get(BARE_PREFIX + "{deployment_id}")
    async def constant(deployment_id: str) -> Response:
        return Response(BARE_BODY, media_type="application/json")

    return app


def sql(settings: Settings) -> FastAPI:
    from bench.infra.sql_baseline import create_sql_app

    return create_sql_app(settings)


def no_token_cache(settings: Settings) -> FastAPI:
    """Ours with the verified-token cache off: a full JWT verification per request."""
    return api.app.create_app(settings, verifier=TokenVerifier(settings, cache_size=0))


def no_document_cache(settings: Settings) -> FastAPI:
    """Ours with the document cache off: every read goes to Redis."""
    return api.app.create_app(settings.replace(api_cache_size=0))


def no_hiredis(settings: Settings) -> FastAPI:
    # redis-py has no public name for its pure-Python parser: the one private import here.
    from redis._parsers import _AsyncRESP2Parser

    def redis_factory() -> RedisClient:
        client = create_redis(settings, role="api")
        # Same pool settings as production, only the reply parser swapped.
        client.connection_pool.connection_kwargs["parser_class"] = _AsyncRESP2Parser
        return client

    return api.app.create_app(settings, redis_factory=redis_factory)


def reserialised(settings: Settings) -> FastAPI:
    app = api.app.create_app(settings)

    @app.get("/reserialised/{deployment_id}", response_model=StatusDocument)
    async def get_status(deployment_id: str, caller: CallerDep, reader: Reader) -> Any:
        stored = await reader.read(deployment_id, caller.principal, caller.ip)
        if stored is None:
            raise HTTPException(status_code=404)
        return orjson.loads(stored.document)

    return app


APPS: dict[str, Callable[[Settings], FastAPI]] = {
    "ours": ours,
    "bare": bare,
    "sql": sql,
    "no-token-cache": no_token_cache,
    "no-document-cache": no_document_cache,
    "no-hiredis": no_hiredis,
    "reserialised": reserialised,
}
# The request path prefix each app serves the status under.
PATHS = {"bare": BARE_PREFIX, "reserialised": "/reserialised/"}


def path_prefix(app_name: str) -> str:
    return PATHS.get(app_name, "/status/")
