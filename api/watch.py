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
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Annotated

import orjson
from fastapi import APIRouter, Header
from fastapi.responses import Response, StreamingResponse
from starlette.background import BackgroundTask

from api import responses
from api.dependencies import Caller, CallerDep, State
from api.exceptions import ViewNotReady
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


@router.get(
    "/status/watch",
    summary="Live status of every deployment of the caller (Server-Sent Events)",
    response_class=StreamingResponse,
    responses=WATCH_RESPONSES,
)
async def watch_all(caller: CallerDep, state: State) -> Response:
    await state.reader.admit(caller.principal.user_id, caller.ip)
    return _open_stream(state, caller, _owner_events(state, caller))


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
                yield _event("deleted", orjson.dumps({"deployment_id": deployment_id}))
                return
            event_id = str(stored.position)
            if event_id != sent_id:
                yield _update(stored, deployment_id, event_id, sent_etag)
                sent_id, sent_etag = event_id, stored.etag
            while not await signal.wait_at_most(heartbeat):
                yield b": keep-alive\n\n"
            signal.take()


async def _owner_events(state: AppState, caller: Caller) -> AsyncIterator[bytes]:
    heartbeat, reader = state.watch_heartbeat_seconds, state.reader
    user_id = caller.principal.user_id
    sent: dict[str, tuple[int, str]] = {}  # deployment id -> version and etag sent
    with state.feed.watch_owner(user_id) as signal:
        changed, everything = set(await reader.owned(user_id)), True
        while True:
            if everything:
                changed |= set(await reader.owned(user_id)) | set(sent)
            for deployment_id in sorted(changed):
                stored = await _reread(state, caller, deployment_id)
                if stored is None:
                    if sent.pop(deployment_id, None) is not None:
                        body = orjson.dumps({"deployment_id": deployment_id})
                        yield _event("deleted", body, deployment_id)
                else:
                    version, etag = sent.get(deployment_id, (None, None))
                    if version != stored.position:
                        event_id = f"{deployment_id}@{stored.position}"
                        yield _update(stored, deployment_id, event_id, etag)
                        sent[deployment_id] = (stored.position, stored.etag)
            while not await signal.wait_at_most(heartbeat):
                yield b": keep-alive\n\n"
            changed, everything = signal.take()


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


def _event(name: str, data: bytes, event_id: str | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    # Documents are single-line JSON, so one data line carries them.
    return f"{head}event: {name}\n".encode() + b"data: " + data + b"\n\n"
