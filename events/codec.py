"""Bytes <-> events. Every way a record can be wrong maps to one ``InvalidEvent`` reason."""

from __future__ import annotations

import functools
import uuid
from typing import Any

import msgspec
import orjson
from pydantic import ValidationError

from events.exceptions import InvalidEvent
from events.models import EVENT_TYPES, Event, event_adapter
from events.structs import FastEvent, decoder

# What ``decode_keyed`` gives: the fast decoder's Struct, or the contract's model for a
# record only the contract accepts. The fold reads both alike.
Decoded = Event | FastEvent

REQUIRED_ATTRIBUTES = ("specversion", "id", "source", "type", "subject", "time")
# Record keys remembered once parsed (see ``_canonical_key``): a few MB at most.
KEY_CACHE_SIZE = 32_768


def decode(key: bytes | None, value: bytes | None) -> Event:
    """Decode one Kafka record into an event, or raise ``InvalidEvent`` saying why not."""
    value = _value(value)
    event = _decode_model(value)
    _keyed(key, value, event)
    return event


def decode_keyed(key: bytes | None, value: bytes | None) -> tuple[str, Decoded]:
    """``decode`` for the projector, and the canonical id of the deployment the event is
    about: through the fast decoder (``events.structs``), whose refusals the contract's own
    decoding judges. Either way, the same record gives the same values."""
    value = _value(value)
    event: Decoded
    try:
        event = decoder.decode(value)
    except (msgspec.ValidationError, msgspec.DecodeError):
        event = _decode_model(value)
    return _keyed(key, value, event), event


def _value(value: bytes | None) -> bytes:
    if value is None:
        raise InvalidEvent("no_value", "record has no value (a tombstone is not an event)")
    return value


def _keyed(key: bytes | None, value: bytes, event: Decoded) -> str:
    """The canonical id of the event's deployment, checked against the record's key."""
    known = _canonical_key(key) if key is not None else None
    # The usual case, a record keyed by its subject's canonical id, checked without
    # formatting the subject (that, and the property caching it, cost more than the rest).
    if known is not None and known[0] == event.subject.int:
        return known[1]
    _check_key(key, value, event)
    return event.deployment_id


def _decode_model(value: bytes) -> Event:
    try:
        # Parsing and validating in one pass (a third cheaper than parsing first); a record
        # it refuses is decoded again step by step, to say why.
        return event_adapter.validate_json(value)
    except ValidationError:
        return _decode_invalid(value)


@functools.lru_cache(maxsize=KEY_CACHE_SIZE)
def _canonical_key(key: bytes) -> tuple[int, str] | None:
    """(the uuid as an int, the key as text) if ``key`` is a uuid in canonical form. Cached:
    every record of a deployment carries the same key."""
    try:
        text = key.decode()
        parsed = uuid.UUID(text)
    except (UnicodeDecodeError, ValueError):
        return None
    return (parsed.int, text) if str(parsed) == text else None


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


def _check_key(key: bytes | None, value: bytes, event: Decoded) -> None:
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
