"""Routes: authenticate, read the store, return. Nothing else happens here."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Response
from fastapi.responses import JSONResponse

from api.dependencies import Reader, UserId
from api.schemas import ErrorDetail, StatusDocument

router = APIRouter()
UUID_LENGTH = 36


@router.get(
    "/status/{deployment_id}",
    summary="Status of one of the caller's deployments",
    response_model=StatusDocument,
    responses={
        304: {"description": "Not modified: the `If-None-Match` ETag is current"},
        401: {"model": ErrorDetail, "description": "Missing, invalid or expired bearer token"},
        404: {"model": ErrorDetail, "description": "Not a uuid, or no such deployment of yours"},
        503: {
            "model": ErrorDetail,
            "description": "The status store is unreachable, or the view is being built",
        },
    },
)
async def get_status(
    deployment_id: str,
    user_id: UserId,
    reader: Reader,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    canonical_id = _canonical_uuid(deployment_id)
    if canonical_id is None:
        return JSONResponse({"detail": "Invalid deployment ID format"}, status_code=404)
    stored = await reader.read(canonical_id, user_id)
    if stored is None:
        return JSONResponse(
            {"detail": f"Deployment {deployment_id} not found or access denied"}, status_code=404
        )
    headers = {
        "ETag": f'"{stored.etag}"',
        "Cache-Control": "private, no-cache",
        "Vary": "Authorization",
    }
    if if_none_match is not None and _etag_matches(if_none_match, stored.etag):
        return Response(status_code=304, headers=headers)
    return Response(stored.document, media_type="application/json", headers=headers)


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


def _canonical_uuid(value: str) -> str | None:
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
