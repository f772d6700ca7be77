"""What the lifespan builds and the routes use, in one typed object read through
``app_state(request)``, rather than untyped attributes of ``app.state``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import Request

from api.auth import TokenVerifier
from api.notifications import ChangeFeed
from api.reader import StatusReader

if TYPE_CHECKING:  # api.watch and api.lists read this state through the dependencies
    from api.lists import Lister
    from api.watch import StreamSlots


@dataclass(frozen=True, slots=True)
class AppState:
    reader: StatusReader
    lister: Lister  # pages of the owners' lists (GET /status)
    verifier: TokenVerifier
    feed: ChangeFeed
    stream_slots: StreamSlots
    watch_heartbeat_seconds: float
    watch_reads: asyncio.Semaphore  # the gate of the watch streams' re-reads (api.watch)


def app_state(request: Request) -> AppState:
    """The state of the app serving ``request``, set by its lifespan before any request."""
    state: AppState = request.app.state.api
    return state
