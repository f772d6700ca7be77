"""Routes: authenticate, read the store, return. Nothing else happens here."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.requests import Request
from starlette.responses import Response

from api import metrics, openapi, responses
from api.consistency import (
    MIN_OFFSET_PATTERN,
    BadConsistencyParameter,
    parse_min_offset,
    parse_wait,
    read_at_least,
)
from api.dependencies import Reader, authenticate, bearer_credentials, bearer_openapi
from api.ids import canonical_uuid
from api.schemas import ErrorDetail, StatusDocument
from api.state import app_state

router = APIRouter()
STATUS_PATH = "/status/{deployment_id}"
# Built once: the headers every answer of the status route carries besides its ETag.
_CACHE_HEADERS = {"Cache-Control": "private, no-cache", "Vary": "Authorization"}


# A plain Starlette endpoint, documented by STATUS_OPERATION below: FastAPI's dependency
# solving costs more CPU than the rest of the request (docs/performance.md#reads), so this
# reads its inputs itself; app.dependency_overrides does not apply to it.
async def get_status(request: Request) -> Response:
    caller = await authenticate(request, await bearer_credentials(request))
    state = app_state(request)
    deployment_id: str = request.path_params["deployment_id"]
    canonical_id = canonical_uuid(deployment_id)
    if canonical_id is None:
        await state.reader.admit(caller.principal.user_id, caller.ip)
        return responses.invalid_deployment_id()
    min_offset = request.query_params.get("min_offset")
    if min_offset is None:
        stored = await state.reader.read(canonical_id, caller.principal, caller.ip)
    else:
        try:
            wanted = parse_min_offset(min_offset)
            seconds = parse_wait(request.query_params.get("wait"))
        except BadConsistencyParameter as exc:
            return responses.bad_parameter(str(exc))
        stored = await read_at_least(
            state.reader, state.feed, canonical_id, caller.principal, caller.ip, wanted, seconds
        )
        if stored is None or stored.position < wanted:
            applied = None if stored is None else stored.position
            return responses.offset_not_applied(deployment_id, wanted, applied)
    if stored is None:
        return responses.not_found(deployment_id)
    headers = {
        "ETag": f'"{stored.etag}"',
        "X-Applied-Offset": str(stored.position),
        **_CACHE_HEADERS,
    }
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None and responses.etag_matches(if_none_match, stored.etag):
        return Response(status_code=304, headers=headers)
    return Response(stored.document, media_type="application/json", headers=headers)


def _optional_string(**schema: str) -> dict[str, Any]:
    return {"anyOf": [{"type": "string", **schema}, {"type": "null"}]}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": openapi.ref(ErrorDetail)}},
    }


_MIN_OFFSET_DESCRIPTION = (
    "Answer only once the event written at this offset (in the deployment's partition) is "
    "applied; 504 if it is not within `wait`"
)
_WAIT_DESCRIPTION = "How long to wait for `min_offset`: 2s, 500ms (≤ 30s)"
_BEARER_REQUIREMENT, BEARER_SCHEME = bearer_openapi()
# get_status's OpenAPI entry: what it reads and every answer it gives.
STATUS_OPERATION: dict[str, Any] = {
    "summary": "Status of one of the caller's deployments",
    "operationId": "get_status_status__deployment_id__get",
    "security": [_BEARER_REQUIREMENT],
    "parameters": [
        {
            "name": "deployment_id",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "title": "Deployment Id"},
        },
        {
            "name": "min_offset",
            "in": "query",
            "required": False,
            "schema": {
                **_optional_string(pattern=MIN_OFFSET_PATTERN),
                "description": _MIN_OFFSET_DESCRIPTION,
                "title": "Min Offset",
            },
            "description": _MIN_OFFSET_DESCRIPTION,
        },
        {
            "name": "wait",
            "in": "query",
            "required": False,
            "schema": {**_optional_string(), "description": _WAIT_DESCRIPTION, "title": "Wait"},
            "description": _WAIT_DESCRIPTION,
        },
        {
            "name": "if-none-match",
            "in": "header",
            "required": False,
            "schema": {**_optional_string(), "title": "If-None-Match"},
        },
    ],
    "responses": {
        "200": {
            "description": "Successful Response",
            "content": {"application/json": {"schema": openapi.ref(StatusDocument)}},
        },
        "304": {"description": "Not modified: the `If-None-Match` ETag is current"},
        "401": _error("Missing, invalid or expired bearer token"),
        "404": _error("Not a uuid, or no such deployment of yours"),
        "414": _error("Request URI too long"),
        "429": _error("Over the user's or IP's request budget"),
        "400": _error("Malformed `min_offset` or `wait`"),
        "431": _error("Request headers too large"),
        "504": _error("`min_offset` not applied within `wait` (names both offsets)"),
        "503": _error(
            "The status store is unreachable, the view is being built, or the process is at "
            "its concurrency limit"
        ),
    },
}
STATUS_MODELS = (StatusDocument, ErrorDetail)
router.add_route(STATUS_PATH, get_status, methods=["GET"], include_in_schema=False)
metrics.name_route(get_status, STATUS_PATH)


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
