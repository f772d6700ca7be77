"""Bytes <-> events. Every way a record can be wrong maps to one ``InvalidEvent`` reason."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError

from events.exceptions import InvalidEvent
from events.models import EVENT_TYPES, Event, event_adapter

REQUIRED_ATTRIBUTES = ("specversion", "id", "source", "type", "subject", "time")


def decode(key: bytes | None, value: bytes | None) -> Event:
    """Decode one Kafka record into an event, or raise ``InvalidEvent`` saying why not."""
    if value is None:
        raise InvalidEvent("no_value", "record has no value (a tombstone is not an event)")
    try:
        # The fast path, parsing and validating in one pass (a third cheaper than parsing
        # first); a record it refuses is decoded again step by step, to say why.
        event: Event = event_adapter.validate_json(value)
    except ValidationError:
        event = _decode_invalid(value)
    _check_key(key, value, event)
    return event


def _decode_invalid(value: bytes) -> Event:
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent("not_json", f"value is not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise InvalidEvent("not_object", f"value is a JSON {type(obj).__name__}, not an object")
    missing = [name for name in REQUIRED_ATTRIBUTES if name not in obj]
    if missing:
        raise InvalidEvent("missing_attribute", f"missing CloudEvents attribute(s) {missing}")
    if obj["specversion"] != "1.0":
        raise InvalidEvent("wrong_specversion", f"specversion {obj['specversion']!r} is not '1.0'")
    if obj["type"] not in EVENT_TYPES:
        raise InvalidEvent("unknown_type", f"event {obj['id']!r}: unknown type {obj['type']!r}")
    return _validate(obj)


def _check_key(key: bytes | None, value: bytes, event: Event) -> None:
    """The key must be the subject: as written, or in its canonical form (checked first: it
    is what producers send, and it needs no second parse)."""
    if key is not None:
        text = key.decode("utf-8", "replace")
        if text == event.deployment_id or text == orjson.loads(value)["subject"]:
            return
    subject = orjson.loads(value)["subject"]
    raise InvalidEvent(
        "key_mismatch", f"event {event.id!r}: record key {key!r} is not the subject {subject!r}"
    )


def encode(event: Event) -> tuple[bytes, bytes]:
    """The Kafka record (key, value) for an event: keyed by deployment id, structured mode."""
    value = event.model_dump_json(exclude_unset=True).encode()
    return event.deployment_id.encode(), value


def _validate(obj: dict[str, Any]) -> Event:
    try:
        return event_adapter.validate_python(obj)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        # With a discriminated union the first location item is the event type.
        loc = tuple(str(part) for part in error["loc"][1:])
        where = ".".join(loc) or "event"
        message = f"event {obj.get('id')!r}: {where}: {error['msg']} (got {error.get('input')!r})"
        if loc[:1] == ("data",):
            raise InvalidEvent("invalid_data", message) from None
        if loc[:1] == ("subject",):
            raise InvalidEvent("invalid_subject", message) from None
        raise InvalidEvent("invalid_attribute", message) from None
