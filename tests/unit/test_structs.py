"""The fast decoder (events.structs) against the contract (events.models): on any record it
accepts, the contract accepts too and the fold gets the same values from both. What it
refuses, the contract judges (events.codec), so it may be stricter, never looser."""

from __future__ import annotations

import copy
import json
import uuid
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import msgspec.inspect as mi
import orjson
import pytest
from builders import SAMPLE_DATA, envelope
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import AwareDatetime, BaseModel, ValidationError

from events import EVENT_TYPES, InvalidEvent, decode
from events.codec import decode_keyed
from events.models import MODELS, event_adapter
from events.structs import STRUCTS, FastEvent, decoder
from projector.core.document import render
from projector.core.fold import fold_records
from projector.core.stored_state import encode_whole

FAST_TYPES = get_args(FastEvent)

# Values that one decoder or the other might read differently: other spellings of times
# and ids, out-of-range and overflowing numbers, wrong types, empty and odd strings.
TRICKY: list[Any] = [
    None,
    True,
    0,
    -1,
    1.0,
    2.5,
    1e400,
    -0.0,
    1 << 64,
    "",
    "x",
    "1",
    "1.5",
    "\u0000",
    "\ud83d\ude00",
    [],
    {},
    {"a": 1},
    "running",
    "pending",
    "application/json",
    "text/plain",
    "1.0",
    "2026-11-28T12:00:00Z",
    "2026-11-28T12:00:00.123456Z",
    "2026-11-28T12:00:00.1234567Z",
    "2026-11-28T24:00:00.000000Z",
    "2026-02-29T12:00:00.000000Z",
    "2024-02-29T12:00:00.000000Z",
    "2026-11-28T12:00:60.000000Z",
    "0000-01-01T00:00:00.000000Z",
    "2026-11-28 12:00:00.123456Z",
    "2026-11-28T12:00:00.12345\u0661Z",
    "2026-11-28T12:00:00.123456+00:00",
    "2026-11-28T12:00:00.9999995Z",
    "2026-11-28T12:00:00.5+05:30",
    "2026-11-28t12:00:00z",
    "2026-11-28 12:00:00Z",
    "2026-11-28T12:00Z",
    "2026-11-28T12:00:00",
    "2026-11-28T12:00:00+24:00",
    "2026-11-28T12:00:60Z",
    "2026-02-30T12:00:00Z",
    "2026-13-01T00:00:00Z",
    "2026-11-28T12:00:00,5Z",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59.999999-01:00",
    1700000000,
    "3d1f9a8e-5b2c-4e7d-9f0a-6c8b2e4d1a37",
    "3D1F9A8E-5B2C-4E7D-9F0A-6C8B2E4D1A37",
    "3d1f9a8e5b2c4e7d9f0a6c8b2e4d1a37",
    "urn:uuid:3d1f9a8e-5b2c-4e7d-9f0a-6c8b2e4d1a37",
    "{3d1f9a8e-5b2c-4e7d-9f0a-6c8b2e4d1a37}",
    "3d1f9a8e-5b2c-4e7d-9f0a-6c8b2e4d1a3",
]
KEYS = sorted(
    {"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "data"}
    | {name for data in SAMPLE_DATA.values() for name in data}
    | {
        name
        for data in SAMPLE_DATA.values()
        for value in data.values()
        if isinstance(value, dict)
        for name in value
    }
)


def _paths(obj: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, value in obj.items():
        found.append((*prefix, name))
        if isinstance(value, dict):
            found += _paths(value, (*prefix, name))
    return found


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid record of some type with a few values replaced, removed or added."""
    obj = copy.deepcopy(envelope(draw(st.sampled_from(EVENT_TYPES))))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(obj)))
        parent = obj
        for name in path[:-1]:
            parent = parent[name]
        action = draw(st.sampled_from(["replace", "replace", "remove", "add"]))
        if action == "replace":
            parent[path[-1]] = copy.deepcopy(draw(st.sampled_from(TRICKY)))
        elif action == "remove":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(KEYS))] = copy.deepcopy(draw(st.sampled_from(TRICKY)))
    # The standard library's encoder: it writes any int, and 1e400 as Infinity (not JSON).
    return json.dumps(obj).encode()


def _folded(event: Any) -> tuple[bytes, bytes | None]:
    state = fold_records(None, [(0, event)])
    assert state is not None
    return encode_whole(state), render(state)


@settings(
    max_examples=600, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(value=mutated())
def test_what_the_fast_decoder_accepts_the_contract_accepts_alike(value: bytes) -> None:
    try:
        fast = decoder.decode(value)
    except Exception:
        return  # refused: the contract's decoding judges it (next test)
    try:
        model = event_adapter.validate_json(value)
    except ValidationError as exc:
        pytest.fail(f"the fast decoder accepted what the contract refuses: {value!r}: {exc}")
    assert fast.id == model.id
    assert fast.subject == model.subject
    assert type(fast).__name__ == type(model).__name__
    assert _folded(fast) == _folded(model), value


@settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(value=mutated())
def test_the_projector_decodes_every_record_as_the_contract_does(value: bytes) -> None:
    """``decode_keyed`` (fast path first) and ``decode`` (the contract) agree on every record:
    the same refusal reason, or events that fold alike."""
    key = b"3d1f9a8e-5b2c-4e7d-9f0a-6c8b2e4d1a37"
    try:
        expected = decode(key, value)
    except InvalidEvent as refused:
        with pytest.raises(InvalidEvent) as also:
            decode_keyed(key, value)
        assert also.value.reason == refused.reason
        return
    deployment_id, event = decode_keyed(key, value)
    assert deployment_id == expected.deployment_id
    assert _folded(event) == _folded(expected)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_a_canonical_record_takes_the_fast_path(event_type: str) -> None:
    _, event = decode_keyed(
        b"3d1f9a8e-5b2c-4e7d-9f0a-6c8b2e4d1a37", orjson.dumps(envelope(event_type))
    )
    assert isinstance(event, FAST_TYPES)


@pytest.mark.parametrize(
    "time",
    ["2026-11-28T12:00:00.1234567Z", "2026-11-28T12:00Z", 1700000000, "2026-11-28T12:00:00,5Z"],
)
def test_a_time_only_the_contract_reads_takes_its_path(time: Any) -> None:
    """Longer fractions (truncated by the contract, rounded by msgspec) and other spellings
    are left to the contract, which decides their value."""
    value = orjson.dumps(envelope("deployment.scaled", time=time))
    _, event = decode_keyed(b"3d1f9a8e-5b2c-4e7d-9f0a-6c8b2e4d1a37", value)
    assert not isinstance(event, FAST_TYPES)
    assert _folded(event) == _folded(decode(b"3d1f9a8e-5b2c-4e7d-9f0a-6c8b2e4d1a37", value))


def test_fields_left_out_read_as_the_contract_defaults() -> None:
    data = {"replica_id": SAMPLE_DATA["replica.status_changed"]["replica_id"], "status": "running"}
    value = orjson.dumps(envelope("replica.status_changed", data=data))
    fast, model = decoder.decode(value), event_adapter.validate_json(value)
    assert fast.data.model_fields_set == model.data.model_fields_set == {"replica_id", "status"}
    assert (fast.data.node_id, fast.data.container_id, fast.data.started_at) == (None, None, None)
    created = {k: v for k, v in SAMPLE_DATA["deployment.created"].items() if k != "status"}
    value = orjson.dumps(envelope("deployment.created", data=created))
    fast, model = decoder.decode(value), event_adapter.validate_json(value)
    assert fast.data.status == model.data.status == "pending"
    assert fast.data.model_fields_set == model.data.model_fields_set


# --- The contract's fields, one by one ------------------------------------------------------


def _model_type(annotation: Any, metadata: list[Any] = ()) -> Any:  # type: ignore[assignment]
    """A comparable description of a pydantic field's type and constraints."""
    if get_origin(annotation) is Annotated:
        inner, *extra = get_args(annotation)
        for item in extra:
            metadata = [*metadata, *getattr(item, "metadata", [item])]
        return _model_type(inner, metadata)
    bounds = {
        name: getattr(m, name)
        for m in metadata
        for name in ("ge", "le", "min_length")
        if getattr(m, name, None) is not None
    }
    if get_origin(annotation) in (Union, UnionType):
        return frozenset(_model_type(arg) for arg in get_args(annotation))
    if get_origin(annotation) is Literal:
        return ("literal", frozenset(get_args(annotation)))
    if annotation is type(None):
        return "null"
    if annotation is AwareDatetime:
        return "time"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return ("object", tuple(sorted(_model_fields(annotation).items())))
    kind = {uuid.UUID: "uuid", str: "str", int: "int", float: "float"}[annotation]
    if kind == "float":
        bounds.pop("le", None)  # the contract refuses infinities by allow_inf_nan instead
    return (kind, frozenset(bounds.items()))


def _model_fields(model: type[BaseModel]) -> dict[str, Any]:
    return {
        name: (info.is_required(), _model_type(info.annotation, info.metadata))
        for name, info in model.model_fields.items()
        if name != "type"  # the tag, compared as the tables' keys
    }


def _struct_type(info: Any) -> Any:
    """The same description of a msgspec field's type (``msgspec.inspect``)."""
    if isinstance(info, mi.UnionType):
        return frozenset(_struct_type(t) for t in info.types)
    if isinstance(info, mi.LiteralType):
        return ("literal", frozenset(info.values))
    if isinstance(info, mi.NoneType):
        return "null"
    if isinstance(info, mi.StructType):
        return ("object", tuple(sorted(_struct_fields(info).items())))
    if isinstance(info, mi.UUIDType):
        return ("uuid", frozenset())
    bounds = {"ge": getattr(info, "ge", None), "le": getattr(info, "le", None)}
    bounds["min_length"] = getattr(info, "min_length", None)
    if isinstance(info, mi.FloatType):
        del bounds["le"]
    kind = {mi.StrType: "str", mi.IntType: "int", mi.FloatType: "float"}[type(info)]
    return (kind, frozenset((k, v) for k, v in bounds.items() if v is not None))


# Times are kept as canonical text by the Struct, checked by its own parser (events.structs).
TIME_AS_TEXT = {"time", "started_at", "stopped_at"}


def _struct_fields(info: Any) -> dict[str, Any]:
    fields = {}
    for field_ in info.fields:
        kind = _struct_type(field_.type)
        if field_.encode_name in TIME_AS_TEXT:
            kind = {("str", frozenset()): "time"}.get(kind, kind)
            if isinstance(kind, frozenset):
                kind = frozenset("time" if k == ("str", frozenset()) else k for k in kind)
        fields[field_.encode_name] = (field_.required, kind)
    return fields


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_field_of_the_contract_has_its_mirror(event_type: str) -> None:
    """Each event type's Struct has the model's fields by wire name, each as required, of
    the same type and with the same bounds (nested data included): adding, removing or
    changing a field on one side only fails here."""
    model = _model_fields(MODELS[event_type])
    mirror = _struct_fields(mi.type_info(STRUCTS[event_type]))
    assert mirror == model
