"""Routes: authenticate, read the store, return. Nothing else happens here."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from api.consistency import (
    BadConsistencyParameter,
    parse_min_offset,
    parse_wait,
    read_at_least,
)
from api.dependencies import CallerDep, Feed, Reader, authenticate, bearer_credentials
from api.reader import StatusReader
from api.schemas import ErrorDetail, StatusDocument

router = APIRouter()
UUID_LENGTH = 36
# Built once: the headers every answer of the status route carries besides its ETag.
_CACHE_HEADERS = {"Cache-Control": "private, no-cache", "Vary": "Authorization"}


class _StatusRoute(APIRoute):
    """The status route's declared signature (bearer scheme, If-None-Match, responses) is
    what the OpenAPI document shows; at run time its dependencies are resolved by hand,
    with the same functions, instead of by FastAPI's generic solver, which cost more CPU
    per request than the rest of the request (token check and Redis read included). Hence
    ``app.dependency_overrides`` does not apply to this one route."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return _handle_status


async def _handle_status(request: Request) -> Response:
    caller = await authenticate(request, await bearer_credentials(request))
    reader: StatusReader = request.app.state.reader
    return await get_status(
        request.path_params["deployment_id"],
        caller,
        reader,
        request.app.state.feed,
        request.headers.get("if-none-match"),
        request.query_params.get("min_offset"),
        request.query_params.get("wait"),
    )


async def get_status(
    deployment_id: str,
    caller: CallerDep,
    reader: Reader,
    feed: Feed,
    if_none_match: Annotated[str | None, Header()] = None,
    min_offset: Annotated[
        str | None,
        Query(
            pattern=r"^[0-9]+$",
            description="Answer only once the event written at this offset (in the "
            "deployment's partition) is applied; 504 if it is not within `wait`",
        ),
    ] = None,
    wait: Annotated[
        str | None, Query(description="How long to wait for `min_offset`: 2s, 500ms (≤ 30s)")
    ] = None,
) -> Response:
    canonical_id = canonical_uuid(deployment_id)
    if canonical_id is None:
        await reader.admit(caller.principal.user_id, caller.ip)
        return JSONResponse({"detail": "Invalid deployment ID format"}, status_code=404)
    if min_offset is None:
        stored = await reader.read(canonical_id, caller.principal, caller.ip)
    else:
        try:
            wanted, seconds = parse_min_offset(min_offset), parse_wait(wait)
        except BadConsistencyParameter as exc:
            return JSONResponse({"detail": str(exc)}, status_code=400)
        stored = await read_at_least(
            reader, feed, canonical_id, caller.principal, caller.ip, wanted, seconds
        )
        if stored is None or stored.position < wanted:
            applied = "none" if stored is None else str(stored.position)
            return JSONResponse(
                {
                    "detail": f"Deployment {deployment_id}: requested offset {wanted}, "
                    f"applied offset {applied}; retry later"
                },
                status_code=504,
                headers={"Retry-After": "1"},
            )
    if stored is None:
        return JSONResponse(
            {"detail": f"Deployment {deployment_id} not found or access denied"}, status_code=404
        )
    headers = {
        "ETag": f'"{stored.etag}"',
        "X-Applied-Offset": str(stored.position),
        **_CACHE_HEADERS,
    }
    if if_none_match is not None and _etag_matches(if_none_match, stored.etag):
        return Response(status_code=304, headers=headers)
    return Response(stored.document, media_type="application/json", headers=headers)


router.add_api_route(
    "/status/{deployment_id}",
    get_status,
    methods=["GET"],
    route_class_override=_StatusRoute,
    summary="Status of one of the caller's deployments",
    response_model=StatusDocument,
    responses={
        304: {"description": "Not modified: the `If-None-Match` ETag is current"},
        401: {"model": ErrorDetail, "description": "Missing, invalid or expired bearer token"},
        404: {"model": ErrorDetail, "description": "Not a uuid, or no such deployment of yours"},
        414: {"model": ErrorDetail, "description": "Request URI too long"},
        429: {"model": ErrorDetail, "description": "Over the user's or IP's request budget"},
        400: {"model": ErrorDetail, "description": "Malformed `min_offset` or `wait`"},
        431: {"model": ErrorDetail, "description": "Request headers too large"},
        504: {
            "model": ErrorDetail,
            "description": "`min_offset` not applied within `wait` (names both offsets)",
        },
        503: {
            "model": ErrorDetail,
            "description": "The status store is unreachable, the view is being built, or the "
            "process is at its concurrency limit",
        },
    },
)


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Redis is reachable and serves a generation of the view",
    responses={503: {"model": ErrorDetail, "description": "Not ready to serve statuses"}},
)
async def readyz(reader: Reader) -> Response:
    if await reader.ready():
        return JSONResponse({"status": "ready"})
    return JSONResponse(
        {"detail": "Redis is unreachable or the view is being built"}, status_code=503
    )


def canonical_uuid(value: str) -> str | None:
    # Only the hyphenated form: uuid.UUID also takes braces and "urn:uuid:" prefixes.
    if len(value) != UUID_LENGTH:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def _etag_matches(if_none_match: str, etag: str) -> bool:
    candidates = (tag.strip().removeprefix("W/").strip('"') for tag in if_none_match.split(","))
    return any(tag in ("*", etag) for tag in candidates)
