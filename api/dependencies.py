"""Typed dependencies: what a route needs, taken from the app's lifespan state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import TokenVerifier
from api.exceptions import NotAuthenticated
from api.reader import StatusReader

# auto_error=False: a missing header must give our 401, not FastAPI's default answer.
_bearer = HTTPBearer(auto_error=False, description="A JWT whose `sub` is the user id.")


def get_reader(request: Request) -> StatusReader:
    reader: StatusReader = request.app.state.reader
    return reader


def get_user_id(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    if credentials is None:
        raise NotAuthenticated("no bearer token")
    verifier: TokenVerifier = request.app.state.verifier
    return verifier.verify(credentials.credentials)


Reader = Annotated[StatusReader, Depends(get_reader)]
UserId = Annotated[str, Depends(get_user_id)]
