"""How a fold state is kept in Redis: beside its status document, only what the document lacks.

A served deployment's document already holds most of its state (name, status, replicas,
resources, the recent status changes, times), so the stored state is then just the rest:
owner, events applied, the recent event digests and the position. Writing the whole state as
well cost a second rendering of the replicas and the history per write (a tenth of the
instructions of folding and writing an event) and as many bytes again in Redis. A
deployment that is not served has no document, and its state is stored whole
(``DeploymentState.to_json``), as are the states written by the versions before this form;
both are read as they are.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from projector.core.state import (
    DeploymentState,
    ReplicaState,
    ResourcesState,
    history_from_json,
)
from projector.exceptions import IncompatibleState, ViewLost


def to_stored(state: DeploymentState, document: bytes | None) -> bytes:
    """The state as stored beside ``document`` (``render(state)``; None if not served)."""
    if document is None:
        return state.to_json()
    return orjson.dumps(
        {
            "owner": state.owner,
            "events_applied": state.events_applied,
            "recent_events": base64.b64encode(state.recent_events).decode(),
            "position": state.position,
        }
    )


def from_stored(raw: bytes, document: bytes | None) -> DeploymentState:
    """The state ``to_stored`` wrote, given the document stored beside it."""
    extra: dict[str, Any] = orjson.loads(raw)
    if "deployment_id" in extra:
        return DeploymentState.from_parsed(extra)  # stored whole
    if document is None:
        # Written together and removed together by the store's script: only something other
        # than deploystatus takes one without the other.
        raise ViewLost(
            f"a stored fold state holds only what its status document lacks ({raw[:60]!r}...), "
            "and the document is gone"
        )
    served: dict[str, Any] = orjson.loads(document)
    try:
        return DeploymentState(
            deployment_id=served["deployment_id"],
            created=True,
            deleted=False,
            owner=extra["owner"],
            name=served["name"],
            status=served["status"],
            target_replicas=served["target_replicas"],
            resources=ResourcesState(**served["resources"]),
            replicas=tuple(ReplicaState(**replica) for replica in served["replicas"]),
            history=history_from_json(served["recent_status_changes"]),
            created_at=served["created_at"],
            updated_at=served["updated_at"],
            events_applied=extra["events_applied"],
            recent_events=base64.b64decode(extra["recent_events"]),
            position=extra["position"],
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise IncompatibleState(
            f"the stored fold state of deployment {served.get('deployment_id')!r} and its "
            f"document do not make a state of this version ({exc!r}). Build a new generation "
            "with this version (`deploystatus rebuild`, see README: Upgrading)."
        ) from None
