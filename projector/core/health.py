"""Health of a deployment from its replicas: the rules of the seed's status endpoint."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

Health = Literal["healthy", "degraded", "unhealthy"]


def compute_health(replica_statuses: Iterable[str], target_replicas: int) -> Health:
    """No replicas, all failed or none running: unhealthy; any failed or too few running:
    degraded; otherwise healthy."""
    statuses = list(replica_statuses)
    if not statuses:
        return "unhealthy"
    running = statuses.count("running")
    failed = statuses.count("failed")
    if failed == len(statuses) or running == 0:
        return "unhealthy"
    if failed > 0 or running < target_replicas:
        return "degraded"
    return "healthy"
