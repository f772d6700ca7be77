"""Typed dependencies: what a route needs, taken from the app's lifespan state (api.state).

They are ``async def``: FastAPI runs plain ``def`` dependencies in a worker thread, a thread
hop per request for work that takes microseconds (and token verification may await a JWKS
refresh)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import Principal
from api.exceptions import NotAuthenticated
from api.notifications import ChangeFeed
from api.reader import StatusReader
from api.state import AppState, app_state
from deploystatus.view.errors import StoreUnavailable

# auto_error=False: a missing header must give our 401, not FastAPI's default answer.
# Only the header is read: a token in the query string is never looked at (401).
_bearer = HTTPBearer(auto_error=False, description="A JWT whose `sub` is the user id.")


@dataclass(frozen=True, slots=True)
class Caller:
    principal: Principal
    ip: str


async def get_state(request: Request) -> AppState:
    return app_state(request)


async def get_reader(request: Request) -> StatusReader:
    return app_state(request).reader


async def get_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    return await authenticate(request, credentials)


async def authenticate(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> Caller:
    """The caller of ``request``, from the bearer credentials ``_bearer`` parsed; raises
    NotAuthenticated (401) after counting the attempt against the IP's budget."""
    ip = request.client.host if request.client else ""
    state = app_state(request)
    try:
        if credentials is None:
            raise NotAuthenticated("no bearer token")
        return Caller(await state.verifier.verify(credentials.credentials), ip)
    except NotAuthenticated:
        # Bad tokens count against the IP's budget too (guessing is a flood like any other);
        # a Redis outage must not turn this 401 into a 503.
        with contextlib.suppress(StoreUnavailable):
            await state.reader.admit(None, ip)
        raise


async def bearer_credentials(request: Request) -> HTTPAuthorizationCredentials | None:
    """What the ``_bearer`` dependency gives, for the status route, which is not a FastAPI
    route (api.routes)."""
    return await _bearer(request)


def bearer_openapi() -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``_bearer`` scheme as an operation's ``security`` entry and as a component, for
    the status route's OpenAPI entry, written out (api.routes)."""
    name = _bearer.scheme_name
    scheme = _bearer.model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return {name: []}, {name: scheme}


async def get_feed(request: Request) -> ChangeFeed:
    return app_state(request).feed


State = Annotated[AppState, Depends(get_state)]
Reader = Annotated[StatusReader, Depends(get_reader)]
Feed = Annotated[ChangeFeed, Depends(get_feed)]
CallerDep = Annotated[Caller, Depends(get_caller)]
