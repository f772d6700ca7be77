"""The rendered status document: its exact shape, schema and ETag."""

from __future__ import annotations

from datetime import timedelta, timezone

from builders import Events, doc, fold, new_id

from api.schemas import StatusDocument
from projector.core.document import etag, render
from projector.core.state import DeploymentState
from projector.core.stored_state import decode_whole, encode_whole

PLUS_ONE = timezone(timedelta(hours=1))
DOCUMENT_KEYS = [
    "deployment_id",
    "name",
    "status",
    "health",
    "target_replicas",
    "replicas",
    "resources",
    "recent_status_changes",
    "created_at",
    "updated_at",
]


# --- the rendered document -----------------------------------------------------------------


def full_state(ev: Events) -> DeploymentState:
    replica_id = new_id()
    return fold(
        [
            ev.created(name="full", target_replicas=1, status="scheduled"),
            ev.resources_allocated(1.5, 256, 1, 8),
            ev.status_changed("running", old_status="scheduled", reason="ok"),
            ev.replica(replica_id, "running", node_id=new_id(), container_id="c"),
            ev.replica(new_id(), "failed"),
        ]
    )


def test_document_keys_in_order(ev: Events) -> None:
    """The document has exactly the contract's keys, in the contract's order."""
    assert list(doc(full_state(ev))) == DOCUMENT_KEYS
    # The OpenAPI schema declares the same fields in the same order (tests/integration/
    # test_api.py checks the published schema against the model).
    assert list(StatusDocument.model_fields) == DOCUMENT_KEYS


def test_document_validates_against_schema(ev: Events) -> None:
    """The rendered bytes validate against api.schemas.StatusDocument."""
    raw = render(full_state(ev))
    assert raw is not None
    model = StatusDocument.model_validate_json(raw)
    assert model.name == "full"
    assert len(model.replicas) == 2
    assert model.health == "degraded"


def test_minimal_document_validates_against_schema(base: DeploymentState) -> None:
    """A just-created deployment's document validates too."""
    StatusDocument.model_validate_json(render(base) or b"")


def test_etag_changes_with_document(ev: Events, base: DeploymentState) -> None:
    """The etag changes when the document changes and is stable when it does not."""
    first = render(base)
    assert first is not None
    assert etag(first) == etag(render(base) or b"")
    assert etag(first) == etag(bytes(first))
    scaled = fold([ev.scaled(5)], base)
    second = render(scaled)
    assert second is not None and second != first
    assert etag(second) != etag(first)


def test_etag_stable_under_duplicate(ev: Events, base: DeploymentState) -> None:
    """A duplicate event leaves the document bytes, and so the etag, unchanged."""
    event = ev.status_changed("running")
    state = fold([event], base)
    again = fold([event], state)
    assert render(again) == render(state)
    assert etag(render(again) or b"") == etag(render(state) or b"")


def test_render_is_deterministic(ev: Events) -> None:
    """Rendering the same state twice gives the same bytes."""
    state = full_state(ev)
    assert render(state) == render(decode_whole(encode_whole(state)))
