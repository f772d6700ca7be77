"""Waiting for a condition, with a deadline and a message that says what was awaited."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
WAIT_SECONDS = 60.0


async def wait_for(
    probe: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    what: str,
    patience: float = WAIT_SECONDS,
) -> T:
    """Poll ``probe`` until ``done(result)``; fail naming ``what`` and the last result."""
    deadline = time.monotonic() + patience
    while True:
        result = await probe()
        if done(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {patience}s for {what} in vain; last: {result!r}")
        await asyncio.sleep(0.05)
