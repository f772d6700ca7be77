"""Reading the API's Server-Sent Events streams (the watch endpoints)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
from httpx_sse import EventSource, ServerSentEvent


@contextlib.asynccontextmanager
async def stream(
    client: httpx.AsyncClient, path: str, headers: dict[str, str]
) -> AsyncIterator[AsyncIterator[ServerSentEvent]]:
    """The events of an SSE response as an async iterator (the response must be 200)."""
    async with client.stream("GET", path, headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield EventSource(response).aiter_sse()


async def next_event(
    events: AsyncIterator[ServerSentEvent], name: str = "status", patience: float = 30
) -> ServerSentEvent:
    """The next event named ``name``, skipping any other."""
    async with asyncio.timeout(patience):
        async for event in events:
            if event.event == name:
                return event
    raise AssertionError("the stream ended")


async def next_data(
    events: AsyncIterator[ServerSentEvent], patience: float = 30
) -> ServerSentEvent:
    """The next event that carries data, whatever its name. Heartbeat comments show up as
    events without data once an `id` was seen (the parser keeps the last id): skipped."""
    async with asyncio.timeout(patience):
        async for event in events:
            if event.data:
                return event
    raise AssertionError("the stream ended")
