"""The FastAPI application: lifespan-owned clients and the mapping of errors to answers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api import lists, logfilter, openapi, responses, routes, watch
from api.auth import TokenVerifier
from api.document_cache import DocumentCache
from api.exceptions import NotAuthenticated, RateLimited, ViewNotReady
from api.generation import GenerationCache
from api.limits import RequestLimits
from api.metrics import RequestMetrics, metrics_endpoint, name_route
from api.notifications import ChangeFeed
from api.ratelimit import RateLimiter
from api.reader import StatusReader
from api.security_headers import SecurityHeaders
from api.signing_keys import JwksKeys
from api.state import AppState
from api.ui import ui_router
from api.watch import StreamSlots
from deploystatus.collector import SERVING_FIRST_THRESHOLD, tune_collector
from deploystatus.logs import configure_logging
from deploystatus.settings import Settings
from deploystatus.view.client import WATCH_READS, RedisClient, create_redis
from deploystatus.view.errors import StoreUnavailable
from deploystatus.view.keys import Keys
from deploystatus.view.lists import RedisListReader
from deploystatus.view.reads import RedisViewReader

log = logging.getLogger(__name__)
UNAUTHORIZED_BODY = responses.UNAUTHORIZED_BODY


def create_app(
    settings: Settings,
    *,
    verifier: TokenVerifier | None = None,
    redis_factory: Callable[[], RedisClient] | None = None,
) -> FastAPI:
    """Build the app. Token settings are checked here, so a bad key fails at start-up. The
    token verifier and the Redis client's factory may be given (the bench's levers)."""
    verifier = verifier if verifier is not None else TokenVerifier(settings)
    limiter = RateLimiter(
        settings.redis.prefix,
        per_user=settings.api.rate_limit_per_user,
        per_ip=settings.api.rate_limit_per_ip,
        window_seconds=settings.api.rate_limit_window_seconds,
    )
    logfilter.install()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = redis_factory() if redis_factory is not None else create_redis(settings, role="api")
        view = RedisViewReader(redis, Keys(settings.redis.prefix))
        generation = GenerationCache(view)
        await generation.start()
        if isinstance(verifier.keys, JwksKeys):
            await verifier.keys.refresh()
        cache = DocumentCache(settings.api.cache_size, settings.api.cache_max_staleness_ms / 1000)
        feed = ChangeFeed(settings, cache)
        await feed.start()

        def generation_switched() -> None:
            cache.clear()
            feed.wake_everyone()

        generation.on_change = generation_switched
        app.state.api = AppState(
            reader=StatusReader(view, generation, limiter, cache),
            lister=lists.Lister(
                RedisListReader(redis, Keys(settings.redis.prefix)), generation, limiter
            ),
            verifier=verifier,
            feed=feed,
            stream_slots=StreamSlots(
                settings.watch.max_streams_per_user, settings.watch.max_streams
            ),
            watch_heartbeat_seconds=settings.watch.heartbeat_seconds,
            watch_reads=asyncio.Semaphore(WATCH_READS),
        )
        try:
            yield
        finally:
            await feed.stop()
            await generation.stop()
            await redis.aclose()

    app = FastAPI(
        title="deploystatus",
        summary="Precomputed status of your deployments, one Redis read per request.",
        version="0.1.0",
        lifespan=lifespan,
    )
    # Before the status routes: /status/watch must not be taken for a deployment id.
    app.include_router(watch.router)
    app.include_router(routes.router)
    app.include_router(ui_router())
    app.add_route(lists.LIST_PATH, lists.list_status, methods=["GET"], include_in_schema=False)
    name_route(lists.list_status, lists.LIST_PATH)
    openapi.add_operations(
        app,
        {
            routes.STATUS_PATH: {"get": routes.STATUS_OPERATION},
            lists.LIST_PATH: {"get": lists.list_operation(routes.STATUS_OPERATION["security"][0])},
        },
        models=(*routes.STATUS_MODELS, *lists.LIST_MODELS),
        security_schemes=routes.BEARER_SCHEME,
    )
    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    app.add_middleware(
        RequestLimits,
        max_url_bytes=settings.api.max_url_bytes,
        max_header_bytes=settings.api.max_header_bytes,
        max_token_bytes=settings.jwt.max_token_bytes,
        max_concurrency=settings.api.max_concurrency,
    )

    app.add_middleware(SecurityHeaders)  # outside the limits: their refusals carry them too
    app.add_middleware(RequestMetrics)  # added last: the outermost layer

    @app.exception_handler(NotAuthenticated)
    async def _unauthorized(request: Request, exc: NotAuthenticated) -> JSONResponse:
        # The reason goes to the debug log only; it never includes the token itself.
        log.debug("401 on %s: %s", request.url.path, exc)
        return responses.unauthorized()

    @app.exception_handler(RateLimited)
    async def _rate_limited(request: Request, exc: RateLimited) -> JSONResponse:
        return responses.rate_limited(exc.retry_after)

    @app.exception_handler(StoreUnavailable)
    async def _unavailable(request: Request, exc: StoreUnavailable) -> JSONResponse:
        log.warning("503 on %s: %s", request.url.path, exc)
        return responses.store_unavailable()

    @app.exception_handler(ViewNotReady)
    async def _not_ready(request: Request, exc: ViewNotReady) -> JSONResponse:
        return responses.view_not_ready()

    return app


def create_app_from_environment() -> FastAPI:
    """The app with settings read from the environment: what each `--workers` process runs,
    with the process's collector set for serving (``deploystatus.collector``)."""
    settings = Settings()
    configure_logging(settings.log.level, settings.log.format)
    app = create_app(settings)
    tune_collector(SERVING_FIRST_THRESHOLD)
    return app
