"""Read-your-writes: `GET /status/{id}?min_offset=N&wait=2s` answers once the document has
applied the event written at offset N (the publisher returns it), or 504 when the wait runs
out, as Kubernetes answers a too-new resourceVersion."""

from __future__ import annotations

import asyncio
import re

from api.auth import Principal
from api.notifications import ChangeFeed
from api.reader import StatusReader
from deploystatus.view.store import StoredStatus

MAX_WAIT_SECONDS = 30.0
DEFAULT_WAIT_SECONDS = 2.0
_WAIT = re.compile(r"^(\d+(?:\.\d+)?)(ms|s)?$")
# What the OpenAPI document declares for `min_offset`; parse_min_offset enforces it (400).
MIN_OFFSET_PATTERN = r"^[0-9]+$"
_MIN_OFFSET = re.compile(MIN_OFFSET_PATTERN)


class BadConsistencyParameter(ValueError):
    """`min_offset` or `wait` is malformed (400)."""


def parse_min_offset(raw: str) -> int:
    if _MIN_OFFSET.fullmatch(raw) is None:
        raise BadConsistencyParameter(f"min_offset must be a non-negative integer, got {raw!r}")
    return int(raw)


def parse_wait(raw: str | None) -> float:
    """`2s`, `500ms` or plain seconds; at most MAX_WAIT_SECONDS."""
    if raw is None:
        return DEFAULT_WAIT_SECONDS
    match = _WAIT.match(raw)
    if match is None:
        raise BadConsistencyParameter(f"wait must look like 2s, 500ms or 1.5, got {raw!r}")
    seconds = float(match.group(1)) / (1000 if match.group(2) == "ms" else 1)
    return min(seconds, MAX_WAIT_SECONDS)


async def read_at_least(
    reader: StatusReader,
    feed: ChangeFeed,
    deployment_id: str,
    principal: Principal,
    client_ip: str,
    min_offset: int,
    wait_seconds: float,
) -> StoredStatus | None:
    """The document once it has applied ``min_offset``, or what Redis holds when the wait
    runs out (the caller compares, and quotes its position). Woken by the notification of
    each position advance, not by polling. Read from Redis, never the document cache,
    whose position may not have caught up with Redis's yet."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    # Registered before the first read: a change between the two is not missed.
    with feed.watch_deployment(deployment_id) as signal:
        stored = await reader.read(deployment_id, principal, client_ip, cached=False)
        while stored is None or stored.position < min_offset:
            remaining = deadline - loop.time()
            if remaining <= 0 or not await signal.wait_at_most(remaining):
                # A position stored but never announced still counts; a 504 quotes it as of now.
                return await reader.read(
                    deployment_id, principal, client_ip, metered=False, cached=False
                )
            signal.take()
            stored = await reader.read(
                deployment_id, principal, client_ip, metered=False, cached=False
            )
    return stored
