"""How a fold state is stored in Redis: a versioned format of its own, apart from the API's.

Format 1, whole: the state as one JSON object, the value types as arrays and the history as
the document's entries. Recognised by its ``deployment_id`` key rather than a tag, because
the version before reads it by passing every key to ``DeploymentState``, and would refuse one.

Format 2, beside its document: for a served deployment, only what its status document lacks
(``{"format": 2, owner, events_applied, recent_events, position}``); the rest is read from
the document stored in the same hash (``DOCUMENT_FIELDS``), so a change to those fields of
the document is a new format here. The document holds most of the state, and storing it whole
as well cost a second rendering of the replicas and the history per write and as many bytes
again in Redis. The version before wrote it untagged; it is read alike.

A deployment not served has no document, and its state is stored whole. A format this
version cannot read raises ``IncompatibleState``, naming the way out.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from projector.core.history import History
from projector.core.state import DeploymentState, ReplicaState, ResourcesState
from projector.exceptions import IncompatibleState, ViewLost

FORMAT_WHOLE = 1
FORMAT_BESIDE_DOCUMENT = 2
# What format 2 takes from the status document, whose shape is the API's contract.
DOCUMENT_FIELDS = (
    "deployment_id",
    "name",
    "status",
    "target_replicas",
    "resources",
    "replicas",
    "recent_status_changes",
    "created_at",
    "updated_at",
)


def to_stored(state: DeploymentState, document: bytes | None) -> bytes:
    """The state as stored beside ``document`` (``render(state)``; None if not served)."""
    if document is None:
        return encode_whole(state)
    return orjson.dumps(
        {
            "format": FORMAT_BESIDE_DOCUMENT,
            "owner": state.owner,
            "events_applied": state.events_applied,
            "recent_events": base64.b64encode(state.recent_events).decode(),
            "position": state.position,
        }
    )


def from_stored(raw: bytes, document: bytes | None) -> DeploymentState:
    """The state ``to_stored`` wrote (or the version before), given the document beside it."""
    stored: dict[str, Any] = orjson.loads(raw)
    untagged = FORMAT_WHOLE if "deployment_id" in stored else FORMAT_BESIDE_DOCUMENT
    format_ = stored.pop("format", untagged)
    if format_ == FORMAT_WHOLE:
        return _whole(stored)
    if format_ != FORMAT_BESIDE_DOCUMENT:
        raise IncompatibleState(
            f"a stored fold state is in format {format_!r}, which this version cannot read "
            f"({raw[:60]!r}...): it was written by a newer deploystatus. " + _WAY_OUT
        )
    if document is None:
        # Written together and removed together by the store's script: only something other
        # than deploystatus takes one without the other.
        raise ViewLost(
            f"a stored fold state holds only what its status document lacks ({raw[:60]!r}...), "
            "and the document is gone"
        )
    return _beside(stored, orjson.loads(document))


def encode_whole(state: DeploymentState) -> bytes:
    """Format 1: JSON with the value types as arrays (compact, and several times faster to
    write and read than objects) and the history's entries as the objects they are."""
    return orjson.dumps(
        {
            "deployment_id": state.deployment_id,
            "created": state.created,
            "deleted": state.deleted,
            "owner": state.owner,
            "name": state.name,
            "status": state.status,
            "target_replicas": state.target_replicas,
            "resources": tuple(state.resources),
            "replicas": [tuple(r) for r in state.replicas],
            "history": state.history.as_json(),
            "created_at": state.created_at,
            "updated_at": state.updated_at,
            "events_applied": state.events_applied,
            "recent_events": base64.b64encode(state.recent_events).decode(),
            "position": state.position,
        }
    )


def decode_whole(raw: bytes | str) -> DeploymentState:
    """The state ``encode_whole`` wrote."""
    return _whole(orjson.loads(raw))


_WAY_OUT = (
    "Build a new generation with this version (`deploystatus rebuild`, see README: "
    "Upgrading) before running its projectors."
)


def _whole(stored: dict[str, Any]) -> DeploymentState:
    try:
        return DeploymentState(
            deployment_id=stored["deployment_id"],
            created=stored["created"],
            deleted=stored["deleted"],
            owner=stored["owner"],
            name=stored["name"],
            status=stored["status"],
            target_replicas=stored["target_replicas"],
            resources=ResourcesState(*stored["resources"]),
            replicas=tuple(ReplicaState(*r) for r in stored["replicas"]),
            history=History.from_json(stored["history"]),
            created_at=stored["created_at"],
            updated_at=stored["updated_at"],
            events_applied=stored["events_applied"],
            recent_events=base64.b64decode(stored["recent_events"]),
            position=stored["position"],
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise IncompatibleState(
            f"the stored fold state of deployment {stored.get('deployment_id')!r} is not in "
            f"a format this version reads ({exc!r}): it was written by an older deploystatus. "
            + _WAY_OUT
        ) from None


def _beside(stored: dict[str, Any], served: dict[str, Any]) -> DeploymentState:
    try:
        return DeploymentState(
            deployment_id=served["deployment_id"],
            created=True,
            deleted=False,
            owner=stored["owner"],
            name=served["name"],
            status=served["status"],
            target_replicas=served["target_replicas"],
            resources=ResourcesState(**served["resources"]),
            replicas=tuple(ReplicaState(**replica) for replica in served["replicas"]),
            history=History.from_json(served["recent_status_changes"]),
            created_at=served["created_at"],
            updated_at=served["updated_at"],
            events_applied=stored["events_applied"],
            recent_events=base64.b64decode(stored["recent_events"]),
            position=stored["position"],
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise IncompatibleState(
            f"the stored fold state of deployment {served.get('deployment_id')!r} and its "
            f"document do not make a state of this version ({exc!r}). " + _WAY_OUT
        ) from None
