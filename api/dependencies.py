"""Typed dependencies: what a route needs, taken from the app's lifespan state.

They are ``async def``: FastAPI runs plain ``def`` dependencies in a worker thread, a thread
hop per request for work that takes microseconds (and token verification may await a JWKS
refresh)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import Principal, TokenVerifier
from api.exceptions import NotAuthenticated
from api.notifications import ChangeFeed
from api.reader import StatusReader
from deploystatus.view.errors import StoreUnavailable

# auto_error=False: a missing header must give our 401, not FastAPI's default answer.
# Only the header is read: a token in the query string is never looked at (401).
_bearer = HTTPBearer(auto_error=False, description="A JWT whose `sub` is the user id.")


@dataclass(frozen=True, slots=True)
class Caller:
    principal: Principal
    ip: str


async def get_reader(request: Request) -> StatusReader:
    reader: StatusReader = request.app.state.reader
    return reader


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
    verifier: TokenVerifier = request.app.state.verifier
    try:
        if credentials is None:
            raise NotAuthenticated("no bearer token")
        return Caller(await verifier.verify(credentials.credentials), ip)
    except NotAuthenticated:
        # Bad tokens count against the IP's budget too (guessing is a flood like any other);
        # a Redis outage must not turn this 401 into a 503.
        reader: StatusReader = request.app.state.reader
        with contextlib.suppress(StoreUnavailable):
            await reader.admit(None, ip)
        raise


async def bearer_credentials(request: Request) -> HTTPAuthorizationCredentials | None:
    """What the ``_bearer`` dependency gives, for a route that resolves it by hand."""
    return await _bearer(request)


async def get_feed(request: Request) -> ChangeFeed:
    feed: ChangeFeed = request.app.state.feed
    return feed


Reader = Annotated[StatusReader, Depends(get_reader)]
Feed = Annotated[ChangeFeed, Depends(get_feed)]
CallerDep = Annotated[Caller, Depends(get_caller)]
