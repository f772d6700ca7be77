"""A deployment's entry in its owner's list (``GET /status``): the few fields a list shows,
rendered once by the projector into the bytes the API serves."""

from __future__ import annotations

import orjson

from projector.core.health import Health, compute_health
from projector.core.state import DeploymentState


def list_item(state: DeploymentState) -> tuple[Health, bytes]:
    """The deployment's health and its list item's JSON; only for a served state."""
    statuses = [replica.status for replica in state.replicas]
    health = compute_health(statuses, state.target_replicas)
    item = orjson.dumps(
        {
            "deployment_id": state.deployment_id,
            "name": state.name,
            "status": state.status,
            "health": health,
            "target_replicas": state.target_replicas,
            "running_replicas": statuses.count("running"),
            "updated_at": state.updated_at,
        }
    )
    return health, item
