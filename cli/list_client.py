"""``deploystatus ls``: the caller's deployments as a table, read page by page from
``GET /status``, worst health first."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any, TextIO

import httpx

PAGE = 500  # the API's largest page: fewest round trips
COLUMNS = ("NAME", "HEALTH", "STATUS", "RUNNING", "UPDATED", "ID")


async def list_deployments(
    base_url: str,
    token: str,
    health: str | None = None,
    status: str | None = None,
    out: TextIO = sys.stdout,
) -> int:
    """Print every matching deployment (exit 0), or the API's refusal (exit 1)."""
    params: dict[str, str | int] = {"limit": PAGE}
    if health:
        params["health"] = health
    if status:
        params["status"] = status
    headers = {"Authorization": f"Bearer {token}"}
    items: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    async with httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=10.0) as client:
        cursor: str | None = None
        while True:
            query = {**params, "cursor": cursor} if cursor is not None else params
            response = await client.get("/status", params=query, headers=headers)
            if response.status_code != 200:
                print(f"ls: HTTP {response.status_code}: {response.text}", file=sys.stderr)
                return 1
            body = response.json()
            items += body["items"]
            counts = body["counts"]
            cursor = body["next_cursor"]
            if cursor is None:
                break
    for line in table(items):
        print(line, file=out)
    totals = ", ".join(
        f"{name} {counts.get(name, 0)}" for name in ("healthy", "degraded", "unhealthy")
    )
    print(f"{len(items)} listed; of all yours: {totals}", file=out)
    return 0


def table(items: list[dict[str, Any]]) -> Iterator[str]:
    rows = [
        (
            item["name"],
            item["health"],
            item["status"],
            f"{item['running_replicas']}/{item['target_replicas']}",
            item["updated_at"] or "-",
            item["deployment_id"],
        )
        for item in items
    ]
    widths = [
        max([len(column)] + [len(row[n]) for row in rows]) for n, column in enumerate(COLUMNS)
    ]
    for row in (COLUMNS, *rows):
        yield "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
