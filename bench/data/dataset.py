"""Synthetic event logs: deployments, each owned by its own user, and their CloudEvents.

Records are built as JSON bytes directly (not through the pydantic models) because a
million of them must be ready in seconds; the projector validates every one on the way in,
and the read benchmark folds them through ``events.codec.decode`` like the projector does.

Event times grow strictly within a deployment, so ``changed_at`` has no ties and the SQL
baseline's ``ORDER BY changed_at DESC`` gives the same history as the fold.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson

Record = tuple[bytes, bytes]  # (key, value) of one Kafka record

REPLICAS = 3
# Seconds between two rounds of the log; every deployment gets one event per round.
ROUND_SECONDS = 1
EPOCH = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Deployment:
    index: int
    deployment_id: str
    owner: str
    node_id: str
    replica_ids: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"svc-{self.index:05d}"


def make_deployments(count: int, seed: int = 7) -> list[Deployment]:
    """``count`` deployments with random ids, each owned by a distinct user."""
    rng = random.Random(seed)  # noqa: S311 - reproducible sample data, not secrets

    def new_id() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    return [
        Deployment(i, new_id(), new_id(), new_id(), tuple(new_id() for _ in range(REPLICAS)))
        for i in range(count)
    ]


def event_time(round_no: int, dep: Deployment) -> str:
    moment = EPOCH + timedelta(seconds=round_no * ROUND_SECONDS, microseconds=dep.index * 37)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_body(dep: Deployment, round_no: int) -> tuple[str, dict[str, object]]:
    """The type and data of a deployment's ``round_no``-th event: creation, resources, its
    replicas coming up, then a cycle of replica failures, restarts and status changes."""
    if round_no == 0:
        return "deployment.created", {
            "user_id": dep.owner,
            "name": dep.name,
            "target_replicas": REPLICAS,
        }
    if round_no == 1:
        return "deployment.resources_allocated", {
            "cpu_cores": 0.5 + dep.index % 4,
            "memory_mb": 512 * (1 + dep.index % 8),
            "gpu_units": dep.index % 2,
            "storage_gb": 10 + dep.index % 50,
        }
    if round_no == 2:
        return "deployment.status_changed", {
            "old_status": "pending",
            "new_status": "scheduled",
            "reason": "placed on nodes",
        }
    step = round_no - 3
    if step < 2 * REPLICAS:
        replica = dep.replica_ids[step // 2]
        if step % 2 == 0:
            return "replica.status_changed", {
                "replica_id": replica,
                "status": "starting",
                "node_id": dep.node_id,
            }
        return "replica.status_changed", {
            "replica_id": replica,
            "status": "running",
            "container_id": f"ctr-{replica[:12]}",
        }
    step -= 2 * REPLICAS
    replica = dep.replica_ids[(step // 4 + dep.index) % REPLICAS]
    match step % 4:
        case 0:
            return "replica.status_changed", {"replica_id": replica, "status": "failed"}
        case 1:
            return "deployment.status_changed", {
                "old_status": "running" if step else "scheduled",
                "new_status": "failed" if dep.index % 5 == 0 else "running",
                "reason": f"replica {replica[:8]} failed",
            }
        case 2:
            return "replica.status_changed", {"replica_id": replica, "status": "running"}
        case _:
            return "deployment.status_changed", {
                "old_status": "failed" if dep.index % 5 == 0 else "running",
                "new_status": "running",
                "reason": f"replica {replica[:8]} restarted",
            }


def record(dep: Deployment, round_no: int) -> Record:
    type_, data = event_body(dep, round_no)
    value = orjson.dumps(
        {
            "specversion": "1.0",
            "id": f"{dep.index}-{round_no}",
            "source": "bench",
            "type": type_,
            "subject": dep.deployment_id,
            "time": event_time(round_no, dep),
            "datacontenttype": "application/json",
            "data": data,
        }
    )
    return dep.deployment_id.encode(), value


def event_log(deployments: list[Deployment], rounds: int, first_round: int = 0) -> Iterator[Record]:
    """Rounds ``first_round .. first_round + rounds - 1``, each holding one event of every
    deployment: interleaved as a busy control plane would write them."""
    for round_no in range(first_round, first_round + rounds):
        for dep in deployments:
            yield record(dep, round_no)
