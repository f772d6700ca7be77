"""The event codec: round trips, and every way a record can be invalid."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from builders import SAMPLE_DATA, USER_ID, envelope, new_id, record

from events import EVENT_TYPES, EventsError, InvalidEvent, decode, encode, new_event
from events.codec import REQUIRED_ATTRIBUTES, decode_keyed
from events.models import DeploymentScaled

SUBJECT = "3d1f9a8e-5b2c-4e7d-9f0a-6c8b2e4d1a37"
PLUS_ONE = timezone(timedelta(hours=1))


def reason_of(key: bytes | None, value: bytes | None) -> InvalidEvent:
    with pytest.raises(InvalidEvent) as info:
        decode(key, value)
    return info.value


# --- round trips -------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_round_trip_every_type(event_type: str) -> None:
    """decode(encode(event)) gives back an equal event of the same type, keyed by subject."""
    event = new_event(
        event_type,
        SUBJECT,
        SAMPLE_DATA[event_type],
        source="tests",
        time=datetime(2026, 11, 28, 13, 0, 0, 123456, tzinfo=PLUS_ONE),
        id=new_id(),
    )
    key, value = encode(event)
    assert key == SUBJECT.encode()
    decoded = decode(key, value)
    assert type(decoded) is type(event)
    assert decoded == event
    assert decoded.data.model_fields_set == event.data.model_fields_set
    assert encode(decoded) == (key, value)


def test_round_trip_keeps_which_replica_fields_were_given() -> None:
    """Absent replica fields stay absent and explicit nulls stay given through a round trip."""
    data = {"replica_id": new_id(), "status": "starting", "container_id": None}
    event = new_event("replica.status_changed", SUBJECT, data)
    decoded = decode(*encode(event))
    assert decoded.data.model_fields_set == {"replica_id", "status", "container_id"}
    assert b"node_id" not in encode(event)[1]


def test_round_trip_normalises_subject_to_canonical_form() -> None:
    """The encoded key is the canonical (lower-case) deployment id."""
    event = new_event("deployment.deleted", SUBJECT.upper())
    key, _ = encode(event)
    assert key == SUBJECT.encode()


def test_decode_valid_wire_record() -> None:
    """A valid record from the wire decodes into the event its type names."""
    event = decode(*record(envelope("deployment.created")))
    assert event.type == "deployment.created"
    assert event.deployment_id == SUBJECT
    assert event.data.target_replicas == 3
    assert event.data.resources is not None
    assert event.data.resources.memory_mb == 2048


def test_deleted_event_without_data_decodes() -> None:
    """deployment.deleted needs no data object."""
    obj = envelope("deployment.deleted")
    del obj["data"]
    assert decode(*record(obj)).type == "deployment.deleted"


# --- invalid records ---------------------------------------------------------------------


def test_invalid_event_is_a_non_retriable_events_error() -> None:
    """InvalidEvent is an EventsError that is not worth retrying."""
    error = reason_of(b"k", None)
    assert isinstance(error, EventsError)
    assert error.retriable is False


def test_no_value() -> None:
    """A record without a value (a tombstone) is no_value."""
    assert reason_of(SUBJECT.encode(), None).reason == "no_value"


@pytest.mark.parametrize("value", [b"", b"{not json", b'{"a": 1', b"\xff\xfe", b"NaN"])
def test_not_json(value: bytes) -> None:
    """A value that does not parse as JSON is not_json."""
    assert reason_of(SUBJECT.encode(), value).reason == "not_json"


@pytest.mark.parametrize(
    "value", [b"[]", b'[{"id": "x"}]', b'"text"', b"3", b"2.5", b"null", b"true"]
)
def test_not_object(value: bytes) -> None:
    """A JSON value that is not an object is not_object."""
    assert reason_of(SUBJECT.encode(), value).reason == "not_object"


@pytest.mark.parametrize("attribute", REQUIRED_ATTRIBUTES)
def test_missing_attribute(attribute: str) -> None:
    """Each required CloudEvents attribute, when removed, gives missing_attribute naming it."""
    obj = envelope()
    del obj[attribute]
    error = reason_of(SUBJECT.encode(), orjson.dumps(obj))
    assert error.reason == "missing_attribute"
    assert attribute in error.message


def test_required_attributes_are_the_cloudevents_ones() -> None:
    """The six required attributes are specversion, id, source, type, subject and time."""
    assert set(REQUIRED_ATTRIBUTES) == {"specversion", "id", "source", "type", "subject", "time"}


@pytest.mark.parametrize("specversion", ["0.3", "1.1", "", 1.0, None])
def test_wrong_specversion(specversion: Any) -> None:
    """A specversion other than the string "1.0" is wrong_specversion."""
    error = reason_of(*record(envelope(specversion=specversion)))
    assert error.reason == "wrong_specversion"


def test_wrong_specversion_message_quotes_value() -> None:
    """The wrong_specversion message quotes the offending specversion."""
    error = reason_of(*record(envelope(specversion="0.3")))
    assert "'0.3'" in error.message


@pytest.mark.parametrize("event_type", ["deployment.exploded", "Deployment.Created", "", None, 7])
def test_unknown_type(event_type: Any) -> None:
    """A type outside the seven known ones is unknown_type."""
    error = reason_of(*record(envelope(type=event_type)))
    assert error.reason == "unknown_type"


def test_unknown_type_message_quotes_type_and_id() -> None:
    """The unknown_type message quotes the type and the event id."""
    error = reason_of(*record(envelope(type="deployment.exploded", id="evt-77")))
    assert "'deployment.exploded'" in error.message
    assert "'evt-77'" in error.message


INVALID_DATA: list[tuple[str, Any]] = [
    ("deployment.created", {**SAMPLE_DATA["deployment.created"], "target_replicas": -1}),
    ("deployment.created", {**SAMPLE_DATA["deployment.created"], "target_replicas": "3"}),
    ("deployment.created", {**SAMPLE_DATA["deployment.created"], "target_replicas": True}),
    ("deployment.created", {**SAMPLE_DATA["deployment.created"], "target_replicas": 2.5}),
    ("deployment.created", {**SAMPLE_DATA["deployment.created"], "status": "exploded"}),
    ("deployment.created", {**SAMPLE_DATA["deployment.created"], "user_id": "not-a-uuid"}),
    ("deployment.created", {"user_id": USER_ID, "target_replicas": 1}),
    ("deployment.created", {"name": "web", "target_replicas": 1}),
    ("deployment.created", {"user_id": USER_ID, "name": "web"}),
    (
        "deployment.created",
        {**SAMPLE_DATA["deployment.created"], "resources": {"cpu_cores": -1.0}},
    ),
    ("deployment.created", None),
    ("deployment.created", []),
    ("deployment.scaled", {"target_replicas": -3}),
    ("deployment.scaled", {"target_replicas": "3"}),
    ("deployment.scaled", {"target_replicas": True}),
    ("deployment.scaled", {}),
    ("deployment.status_changed", {"new_status": "exploded"}),
    ("deployment.status_changed", {"new_status": "running", "old_status": "bogus"}),
    ("deployment.status_changed", {"old_status": "pending"}),
    (
        "deployment.resources_allocated",
        {**SAMPLE_DATA["deployment.resources_allocated"], "memory_mb": -1},
    ),
    (
        "deployment.resources_allocated",
        {**SAMPLE_DATA["deployment.resources_allocated"], "cpu_cores": -0.5},
    ),
    ("deployment.resources_allocated", {"cpu_cores": 1.0, "memory_mb": 1, "storage_gb": 1}),
    ("replica.status_changed", {"replica_id": "replica-1", "status": "running"}),
    (
        "replica.status_changed",
        {"replica_id": SAMPLE_DATA["replica.removed"]["replica_id"], "status": "exploded"},
    ),
    ("replica.status_changed", {"status": "running"}),
    (
        "replica.status_changed",
        {**SAMPLE_DATA["replica.status_changed"], "node_id": "node-7"},
    ),
    (
        "replica.status_changed",
        {**SAMPLE_DATA["replica.status_changed"], "started_at": "2026-11-28T12:00:00"},
    ),
    (
        "replica.status_changed",
        {**SAMPLE_DATA["replica.status_changed"], "stopped_at": "yesterday"},
    ),
    ("replica.removed", {}),
    ("replica.removed", {"replica_id": "r-1"}),
]


@pytest.mark.parametrize(("event_type", "data"), INVALID_DATA)
def test_invalid_data(event_type: str, data: Any) -> None:
    """A data object that breaks its type's schema is invalid_data."""
    error = reason_of(*record(envelope(event_type, data=data)))
    assert error.reason == "invalid_data"


def test_missing_data_object_is_invalid_data() -> None:
    """An event type that needs data, sent without a data object, is invalid_data."""
    obj = envelope("deployment.scaled")
    del obj["data"]
    assert reason_of(*record(obj)).reason == "invalid_data"


def test_invalid_data_message_quotes_value_and_field() -> None:
    """The invalid_data message names the field and quotes the offending value."""
    data = {**SAMPLE_DATA["deployment.created"], "user_id": "not-a-uuid"}
    error = reason_of(*record(envelope("deployment.created", data=data, id="evt-9")))
    assert "data.user_id" in error.message
    assert "'not-a-uuid'" in error.message
    assert "'evt-9'" in error.message


def test_invalid_data_message_quotes_negative_target() -> None:
    """The invalid_data message for a negative target quotes the number."""
    error = reason_of(*record(envelope("deployment.scaled", data={"target_replicas": -3})))
    assert "target_replicas" in error.message
    assert "-3" in error.message


@pytest.mark.parametrize("key", [b"2c4e6a8b-1d3f-4a5c-9e7b-0d2f4a6c8e1b", b"", b"not-the-subject"])
def test_key_mismatch(key: bytes) -> None:
    """A record key different from the subject is key_mismatch."""
    _, value = record(envelope())
    error = reason_of(key, value)
    assert error.reason == "key_mismatch"
    assert repr(key) in error.message


@pytest.mark.parametrize(
    ("subject", "key"),
    [
        (SUBJECT, SUBJECT),  # what producers send
        (SUBJECT.upper(), SUBJECT),  # keyed by the canonical id
        (SUBJECT.upper(), SUBJECT.upper()),  # keyed by the subject as written
        (SUBJECT.replace("-", ""), SUBJECT.replace("-", "")),
    ],
)
def test_decode_keyed_gives_the_canonical_deployment_id(subject: str, key: str) -> None:
    """Whatever form the subject and key take, the deployment id is the canonical one;
    asked twice (the second time from the parsed-key cache), the answer is the same."""
    for _ in range(2):
        deployment_id, event = decode_keyed(key.encode(), record(envelope(subject=subject))[1])
        assert deployment_id == SUBJECT == event.deployment_id


def test_a_known_canonical_key_of_another_deployment_is_key_mismatch() -> None:
    """A key already seen (and cached) for one deployment does not pass for another's."""
    other = "2c4e6a8b-1d3f-4a5c-9e7b-0d2f4a6c8e1b"
    decode_keyed(other.encode(), record(envelope(subject=other))[1])
    assert reason_of(other.encode(), record(envelope())[1]).reason == "key_mismatch"


@pytest.mark.parametrize("key", [SUBJECT.replace("-", ""), SUBJECT.upper()])
def test_another_spelling_of_the_subject_as_key_is_key_mismatch(key: str) -> None:
    """A key that is neither the canonical id nor the subject as written would send the
    deployment's records to another partition than its other records: refused."""
    assert reason_of(key.encode(), record(envelope())[1]).reason == "key_mismatch"


def test_key_none_is_key_mismatch() -> None:
    """A record without a key is key_mismatch."""
    _, value = record(envelope())
    assert reason_of(None, value).reason == "key_mismatch"


@pytest.mark.parametrize("subject", ["not-a-uuid", "", "1234", 42, None])
def test_invalid_subject(subject: Any) -> None:
    """A subject that is not a uuid is invalid_subject."""
    error = reason_of(*record(envelope(subject=subject)))
    assert error.reason == "invalid_subject"


def test_invalid_subject_message_quotes_value() -> None:
    """The invalid_subject message quotes the offending subject."""
    error = reason_of(*record(envelope(subject="not-a-uuid")))
    assert "'not-a-uuid'" in error.message


@pytest.mark.parametrize(
    "overrides",
    [
        {"time": "2026-11-28T12:00:00"},
        {"time": "not a time"},
        {"time": None},
        {"id": ""},
        {"id": 42},
        {"id": None},
        {"source": ""},
        {"datacontenttype": "text/plain"},
    ],
)
def test_invalid_attribute(overrides: dict[str, Any]) -> None:
    """A present but malformed envelope attribute is invalid_attribute."""
    error = reason_of(*record(envelope(**overrides)))
    assert error.reason == "invalid_attribute"


def test_invalid_attribute_message_quotes_value() -> None:
    """The invalid_attribute message for a naive time quotes the time."""
    error = reason_of(*record(envelope(time="2026-11-28T12:00:00")))
    assert "time" in error.message
    assert "'2026-11-28T12:00:00'" in error.message


# --- tolerance -----------------------------------------------------------------------------


def test_unknown_data_fields_are_ignored() -> None:
    """Extra fields in data (a newer producer) are ignored."""
    data = {"target_replicas": 4, "autoscale": {"min": 1}, "note": "x"}
    event = decode(*record(envelope("deployment.scaled", data=data)))
    assert isinstance(event, DeploymentScaled)
    assert event.data.target_replicas == 4
    assert event.data.model_dump() == {"target_replicas": 4}


def test_unknown_envelope_attributes_are_ignored() -> None:
    """Extra envelope attributes (CloudEvents extensions) are ignored."""
    obj = envelope(
        traceparent="00-abc-def-01", dataschema="https://example.com/s", partitionkey="p"
    )
    event = decode(*record(obj))
    assert event.type == "deployment.scaled"
    assert not hasattr(event, "traceparent")


def test_datacontenttype_is_optional() -> None:
    """datacontenttype may be omitted."""
    obj = envelope()
    del obj["datacontenttype"]
    assert decode(*record(obj)).datacontenttype is None
