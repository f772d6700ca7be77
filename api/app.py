"""The FastAPI application: lifespan-owned clients and the mapping of errors to answers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api.auth import TokenVerifier
from api.exceptions import NotAuthenticated, StoreUnavailable, ViewNotReady
from api.generation import GenerationCache
from api.reader import StatusReader
from api.routes import router
from deploystatus.connections import create_redis
from deploystatus.keys import Keys
from deploystatus.settings import Settings

log = logging.getLogger(__name__)
UNAUTHORIZED_BODY = {"detail": "Not authenticated"}


def create_app(settings: Settings) -> FastAPI:
    """Build the app. Token settings are checked here, so a bad secret fails at start-up."""
    verifier = TokenVerifier(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = create_redis(settings)
        keys = Keys(settings.redis_prefix)
        generation = GenerationCache(redis, keys)
        await generation.start()
        app.state.reader = StatusReader(redis, keys, generation)
        app.state.verifier = verifier
        try:
            yield
        finally:
            await generation.stop()
            await redis.aclose()

    app = FastAPI(
        title="deploystatus",
        summary="Precomputed status of your deployments, one Redis read per request.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.include_router(router)

    @app.exception_handler(NotAuthenticated)
    async def _unauthorized(request: Request, exc: NotAuthenticated) -> JSONResponse:
        # The reason goes to the debug log only; it never includes the token itself.
        log.debug("401 on %s: %s", request.url.path, exc)
        return JSONResponse(
            UNAUTHORIZED_BODY, status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )

    @app.exception_handler(StoreUnavailable)
    async def _unavailable(request: Request, exc: StoreUnavailable) -> JSONResponse:
        log.warning("503 on %s: %s", request.url.path, exc)
        return JSONResponse(
            {"detail": "Status store unavailable, retry later"},
            status_code=503,
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(ViewNotReady)
    async def _not_ready(request: Request, exc: ViewNotReady) -> JSONResponse:
        return JSONResponse(
            {"detail": "The status view is being built, retry later"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    return app
