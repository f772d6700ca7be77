"""The API served on a loopback port, and the bearer tokens its callers send."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import uvicorn

from api.app import create_app
from api.auth import mint_token
from deploystatus.settings import Settings
from devtools.devstack import free_port

# The key the tests' settings verify tokens with (tests/integration/conftest.py).
TEST_SECRET = "test-secret-" + "x" * 64


@contextlib.asynccontextmanager
async def running_api(
    settings: Settings, port: int | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """The API served by uvicorn on a loopback port (free by default), and a client for it."""
    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            timeout_graceful_shutdown=1,  # watch streams never end by themselves
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            yield client
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


def bearer(settings: Settings, user_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings, user_id)}"}
