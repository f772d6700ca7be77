"""Sample deployments and a tiny simulation of a control plane, for the demo."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field

from events.models import Event, new_event

SOURCE = "deploystatus-demo"


@dataclass
class SimulatedDeployment:
    deployment_id: str
    owner: str
    name: str
    target: int
    replicas: dict[str, str] = field(default_factory=dict)  # replica id -> status


def create_deployment(
    owner: str, name: str, target: int, rng: random.Random
) -> tuple[SimulatedDeployment, list[Event]]:
    """A deployment going from created to running with all its replicas up."""
    dep = SimulatedDeployment(
        str(uuid.UUID(int=rng.getrandbits(128), version=4)), owner, name, target
    )
    node = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    events = [
        _event(
            "deployment.created", dep, {"user_id": owner, "name": name, "target_replicas": target}
        ),
        _event(
            "deployment.resources_allocated",
            dep,
            {
                "cpu_cores": 0.5 * target,
                "memory_mb": 512 * target,
                "gpu_units": 0,
                "storage_gb": 10,
            },
        ),
        _event(
            "deployment.status_changed",
            dep,
            {"old_status": "pending", "new_status": "scheduled", "reason": "placed on nodes"},
        ),
    ]
    for _ in range(target):
        replica_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        dep.replicas[replica_id] = "running"
        events.append(
            _event(
                "replica.status_changed",
                dep,
                {"replica_id": replica_id, "status": "starting", "node_id": node},
            )
        )
        events.append(
            _event(
                "replica.status_changed",
                dep,
                {
                    "replica_id": replica_id,
                    "status": "running",
                    "container_id": f"ctr-{replica_id[:12]}",
                },
            )
        )
    events.append(
        _event(
            "deployment.status_changed",
            dep,
            {"old_status": "scheduled", "new_status": "running", "reason": "all replicas started"},
        )
    )
    return dep, events


def simulation_step(dep: SimulatedDeployment, rng: random.Random) -> list[Event]:
    """One plausible change: a replica fails, recovers, or the deployment scales."""
    replica_id = rng.choice(sorted(dep.replicas))
    current = dep.replicas[replica_id]
    if current == "running":
        dep.replicas[replica_id] = "failed"
        return [
            _event("replica.status_changed", dep, {"replica_id": replica_id, "status": "failed"})
        ]
    if current == "failed":
        dep.replicas[replica_id] = "starting"
        return [
            _event("replica.status_changed", dep, {"replica_id": replica_id, "status": "starting"})
        ]
    dep.replicas[replica_id] = "running"
    return [_event("replica.status_changed", dep, {"replica_id": replica_id, "status": "running"})]


def _event(type_: str, dep: SimulatedDeployment, data: dict[str, object]) -> Event:
    return new_event(type_, dep.deployment_id, data, source=SOURCE)
