"""Rendering a deployment's state into the exact bytes ``GET /status/{id}`` returns."""

from __future__ import annotations

import orjson
import xxhash

from projector.core.health import compute_health
from projector.core.state import DeploymentState


def render(state: DeploymentState) -> bytes | None:
    """The status document's JSON bytes, or ``None`` while the deployment is not served
    (not yet created, or deleted)."""
    if not state.served:
        return None
    return orjson.dumps(
        {
            "deployment_id": state.deployment_id,
            "name": state.name,
            "status": state.status,
            "health": compute_health([r.status for r in state.replicas], state.target_replicas),
            "target_replicas": state.target_replicas,
            "replicas": [
                {
                    "id": r.id,
                    "node_id": r.node_id,
                    "status": r.status,
                    "container_id": r.container_id,
                    "started_at": r.started_at,
                    "stopped_at": r.stopped_at,
                }
                for r in state.replicas
            ],
            "resources": {
                "cpu_cores": float(state.resources.cpu_cores),
                "memory_mb": state.resources.memory_mb,
                "gpu_units": state.resources.gpu_units,
                "storage_gb": state.resources.storage_gb,
            },
            "recent_status_changes": state.history.as_json(),
            "created_at": state.created_at,
            "updated_at": state.updated_at,
        }
    )


def etag(document: bytes) -> str:
    """A strong validator that changes whenever the document's bytes change. XXH3-128: not a
    cryptographic hash, and need not be (an ETag only tells a client's copy from the current
    one), far cheaper per document than blake2b, whose CPython build here is the portable
    C one (docs/performance.md#cpu)."""
    return xxhash.xxh3_128_hexdigest(document)
