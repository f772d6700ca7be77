"""Live status over Server-Sent Events: one deployment, or every deployment of the caller.

Authorization is the status endpoint's: token, then ownership, checked before the stream
opens (404 alike for every not-yours case). A stream first sends the current document, then
one `status` event per change (its `id` is the document's version: the log offset of the
last event applied), a `version` event (new `id`, no document) when the version moved but
the document the client holds did not (a repeated event), heartbeat comments while quiet,
and ends with a `deleted` event when the deployment is deleted. A client resuming with
`Last-Event-ID` gets the document again whenever the version differs: which document it
holds is not known. Each stream re-reads the document when woken, so it sends the latest
version, never a backlog: a slow client costs nothing to the others.

The per-owner stream takes the `health=`/`status=` filters of `GET /status` (api.filters),
with Kubernetes field-selector semantics: it sends the documents that match, `left` when one
the client holds stops matching, and nothing of a deployment while it does not match. Its
`Last-Event-ID` (`<deployment id>@<version>`) proves only which version of ONE deployment the
client holds: a resumed stream sends the matching documents again, but that one's only once
its version moves (and `left` if it stopped matching meanwhile). Which other deployments the
client holds is not known, so what left or was deleted while it was away is not announced: a
client that must drop those re-lists with `GET /status`.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Request
from fastapi.responses import Response, StreamingResponse
from starlette.background import BackgroundTask

from api import responses
from api.dependencies import Caller, CallerDep, State
from api.exceptions import ViewNotReady
from api.filters import FILTER_PARAMETERS, StatusFilter, UnknownFilterValue, filter_from_query
from api.ids import canonical_uuid
from api.schemas import ErrorDetail
from api.state import AppState
from deploystatus.view.errors import StoreUnavailable
from deploystatus.view.store import StoredStatus

router = APIRouter()
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
REREAD_RETRY_SECONDS = 1.0


class StreamSlots:
    """Caps on concurrent watch streams, per user and per process (429 beyond)."""

    def __init__(self, per_user: int, per_process: int) -> None:
        self._per_user = per_user
        self._per_process = per_process
        self._open: Counter[str] = Counter()

    def take(self, user_id: str) -> Slot | None:
        """A slot, or ``None`` when a cap is reached (0 means no cap)."""
        if self._per_process and self._open.total() >= self._per_process:
            return None
        if self._per_user and self._open[user_id] >= self._per_user:
            return None
        self._open[user_id] += 1
        return Slot(self, user_id)

    def _free(self, user_id: str) -> None:
        self._open[user_id] -= 1
        if not self._open[user_id]:
            del self._open[user_id]


class Slot:
    def __init__(self, slots: StreamSlots, user_id: str) -> None:
        self._slots = slots
        self._user_id = user_id
        self._held = True

    def release(self) -> None:
        """Idempotent: called when the stream ends and when the response is done."""
        if self._held:
            self._held = False
            self._slots._free(self._user_id)


WATCH_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "content": {"text/event-stream": {}},
        "description": "`status`, `version` and `deleted` events",
    },
    401: {"model": ErrorDetail, "description": "Missing, invalid or expired bearer token"},
    404: {"model": ErrorDetail, "description": "Not a uuid, or no such deployment of yours"},
    429: {"model": ErrorDetail, "description": "Too many open streams, or over the budget"},
    503: {"model": ErrorDetail, "description": "The status store is unreachable"},
}
OWNER_WATCH_RESPONSES: dict[int | str, dict[str, object]] = {
    **WATCH_RESPONSES,
    200: {
        "content": {"text/event-stream": {}},
        "description": "`status`, `version`, `left` and `deleted` events",
    },
    400: {"model": ErrorDetail, "description": "Unknown health or status (named)"},
}


@router.get(
    "/status/watch",
    summary="Live status of every deployment of the caller (Server-Sent Events)",
    response_class=StreamingResponse,
    responses=OWNER_WATCH_RESPONSES,
    # Read from the query string by api.filters, which takes repeated parameters too.
    openapi_extra={"parameters": FILTER_PARAMETERS},
)
async def watch_all(
    request: Request,
    caller: CallerDep,
    state: State,
    last_event_id: Annotated[str | None, Header()] = None,
) -> Response:
    await state.reader.admit(caller.principal.user_id, caller.ip)
    try:
        wanted = filter_from_query(request.query_params)
    except UnknownFilterValue as exc:
        return responses.bad_parameter(str(exc))
    events = _owner_events(state, caller, wanted, _resumed_from(last_event_id))
    return _open_stream(state, caller, events)


@router.get(
    "/status/{deployment_id}/watch",
    summary="Live status of one of the caller's deployments (Server-Sent Events)",
    response_class=StreamingResponse,
    responses=WATCH_RESPONSES,
)
async def watch_one(
    deployment_id: str,
    caller: CallerDep,
    state: State,
    last_event_id: Annotated[str | None, Header()] = None,
) -> Response:
    canonical_id = canonical_uuid(deployment_id)
    if canonical_id is None:
        await state.reader.admit(caller.principal.user_id, caller.ip)
        return responses.invalid_deployment_id()
    if await state.reader.read(canonical_id, caller.principal, caller.ip) is None:
        return responses.not_found(deployment_id)
    events = _deployment_events(state, caller, canonical_id, last_event_id)
    return _open_stream(state, caller, events)


def _open_stream(state: AppState, caller: Caller, events: AsyncIterator[bytes]) -> Response:
    slot = state.stream_slots.take(caller.principal.user_id)
    if slot is None:
        return responses.too_many_streams()

    async def holding_the_slot() -> AsyncIterator[bytes]:
        try:
            async for chunk in events:
                yield chunk
        finally:
            slot.release()

    # The background task also runs when the client leaves before the stream started.
    return StreamingResponse(
        holding_the_slot(),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
        background=BackgroundTask(slot.release),
    )


async def _deployment_events(
    state: AppState, caller: Caller, deployment_id: str, last_event_id: str | None
) -> AsyncIterator[bytes]:
    heartbeat = state.watch_heartbeat_seconds
    # Registered before the first read: a change between the two is not missed.
    with state.feed.watch_deployment(deployment_id) as signal:
        # A resumed client's document is unknown (None): any other version sends it whole.
        sent_id = last_event_id
        sent_etag: str | None = None
        while True:
            stored = await _reread(state, caller, deployment_id)
            if stored is None:
                yield _event("deleted", _naming(deployment_id))
                return
            event_id = str(stored.position)
            if event_id != sent_id:
                yield _update(stored, deployment_id, event_id, sent_etag)
                sent_id, sent_etag = event_id, stored.etag
            while not await signal.wait_at_most(heartbeat):
                yield b": keep-alive\n\n"
            signal.take()


async def _owner_events(
    state: AppState, caller: Caller, wanted: StatusFilter, held: tuple[str, int] | None
) -> AsyncIterator[bytes]:
    """The owner's deployments that match ``wanted``: each current document, then `status`
    when one changes or starts to match, `left` when one the client holds stops matching,
    `deleted` when one it holds is deleted. ``held``: the deployment and version a resumed
    client proves it holds (Last-Event-ID), not sent again while unchanged."""
    heartbeat, reader = state.watch_heartbeat_seconds, state.reader
    user_id = caller.principal.user_id
    # The deployments the client holds: id -> version and etag sent (None: not known).
    sent: dict[str, tuple[int, str | None]] = {}
    with state.feed.watch_owner(user_id) as signal:
        changed = set(await reader.owned(user_id))
        if held is not None and held[0] in changed:
            sent[held[0]] = held[1], None
        while True:
            for deployment_id in sorted(changed):
                stored = await _reread(state, caller, deployment_id)
                version, etag = sent.get(deployment_id, (None, None))
                if stored is None:
                    if version is not None:
                        del sent[deployment_id]
                        yield _event("deleted", _naming(deployment_id), deployment_id)
                elif stored.position == version:
                    continue
                # The same document as the client holds matched: only a new one is parsed.
                elif stored.etag == etag or wanted.matches_document(stored.document):
                    event_id = f"{deployment_id}@{stored.position}"
                    yield _update(stored, deployment_id, event_id, etag)
                    sent[deployment_id] = stored.position, stored.etag
                elif version is not None:
                    del sent[deployment_id]
                    yield _event("left", _naming(deployment_id), deployment_id)
            while not await signal.wait_at_most(heartbeat):
                yield b": keep-alive\n\n"
            changed, everything = signal.take()
            if everything:
                changed |= set(await reader.owned(user_id)) | set(sent)


def _resumed_from(last_event_id: str | None) -> tuple[str, int] | None:
    """The deployment and version of a per-owner stream's event id, `<deployment id>@<version>`;
    ``None`` for anything else, such as the bare id of `left` and `deleted` events, which
    prove nothing held (then the stream starts afresh)."""
    deployment_id, _, version = (last_event_id or "").partition("@")
    canonical_id = canonical_uuid(deployment_id)
    if canonical_id is None or not (version.isascii() and version.isdigit()):
        return None
    return canonical_id, int(version)


async def _reread(state: AppState, caller: Caller, deployment_id: str) -> StoredStatus | None:
    """The current document for an open stream. A wake-up may reach thousands of streams
    at once: a per-process gate keeps their re-reads from exhausting Redis connections, and
    a Redis hiccup is waited out rather than ending the stream."""
    while True:
        try:
            async with state.watch_reads:
                return await state.reader.read(
                    deployment_id, caller.principal, caller.ip, metered=False
                )
        except (StoreUnavailable, ViewNotReady):
            await asyncio.sleep(REREAD_RETRY_SECONDS)


def _update(
    stored: StoredStatus, deployment_id: str, event_id: str, etag_sent: str | None
) -> bytes:
    """The document as a `status` event, or a `version` event when the client already holds
    this document and only its version moved (an event that changed nothing)."""
    if stored.etag == etag_sent:
        version = {"deployment_id": deployment_id, "version": stored.position}
        return _event("version", orjson.dumps(version), event_id)
    return _event("status", stored.document, event_id)


def _naming(deployment_id: str) -> bytes:
    """The data of `deleted` and `left` events."""
    return orjson.dumps({"deployment_id": deployment_id})


def _event(name: str, data: bytes, event_id: str | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    # Documents are single-line JSON, so one data line carries them.
    return f"{head}event: {name}\n".encode() + b"data: " + data + b"\n\n"
