"""`deploystatus watch`: follow one deployment over the API's Server-Sent Events, like
`kubectl rollout status`: exit 0 when the condition is met, 1 on timeout, when the deployment
ends failed, or when it is deleted."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any, TextIO

import httpx
import orjson
from httpx_sse import ServerSentEvent, aconnect_sse

CONDITIONS = (
    "healthy", "degraded", "unhealthy",  # health
    "pending", "scheduled", "running", "stopped", "failed",  # status
)  # fmt: skip
RECONNECT_SECONDS = 1.0


def render(document: dict[str, Any]) -> str:
    running = sum(1 for r in document["replicas"] if r["status"] == "running")
    line = (
        f"{document['name']}  status={document['status']}  health={document['health']}  "
        f"replicas {running}/{document['target_replicas']} running"
    )
    changes = document["recent_status_changes"][:3]
    if changes:
        recent = ", ".join(
            f"{c['old_status'] or '?'}->{c['new_status']}"
            + (f" ({c['reason']})" if c["reason"] else "")
            for c in changes
        )
        line += f"  last: {recent}"
    return line


def met(document: dict[str, Any], until: str) -> bool:
    return until in (document["status"], document["health"])


async def watch(
    base_url: str,
    token: str,
    deployment_id: str,
    until: str | None,
    give_up_after: float,
    out: TextIO = sys.stdout,
) -> int:
    """Follow the deployment until ``until`` holds (exit 0), or fail (exit 1)."""
    deadline = time.monotonic() + give_up_after
    last_event_id: str | None = None
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{base_url.rstrip('/')}/status/{deployment_id}/watch"
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None)) as client:
        while (remaining := deadline - time.monotonic()) > 0:
            if last_event_id is not None:
                headers["Last-Event-ID"] = last_event_id
            try:
                async with asyncio.timeout(remaining):
                    async with aconnect_sse(client, "GET", url, headers=headers) as source:
                        response = source.response
                        if response.status_code != 200:
                            body = (await response.aread()).decode(errors="replace")
                            print(f"watch: HTTP {response.status_code}: {body}", file=sys.stderr)
                            return 1
                        async for event in source.aiter_sse():
                            last_event_id = event.id or last_event_id
                            outcome = _on_event(event, until, out)
                            if outcome is not None:
                                return outcome
            except TimeoutError:
                break
            except httpx.TransportError as exc:
                print(f"watch: connection lost ({exc!r}), reconnecting", file=sys.stderr)
                await asyncio.sleep(min(RECONNECT_SECONDS, max(remaining, 0)))
    print(f"watch: timed out after {give_up_after:g}s", file=sys.stderr)
    return 1


def _on_event(event: ServerSentEvent, until: str | None, out: TextIO) -> int | None:
    if event.event == "deleted":
        print("watch: the deployment was deleted", file=sys.stderr)
        return 1
    if event.event != "status":
        return None
    document = orjson.loads(event.data)
    print(render(document), file=out, flush=True)
    if until is not None and met(document, until):
        return 0
    if document["status"] == "failed" and until != "failed":
        print("watch: the deployment failed", file=sys.stderr)
        return 1
    return None
