"""The error answers, in one place: shared by the routes, the exception handlers and the ASGI
middleware, so that a request refused early looks exactly like one refused by a route."""

from __future__ import annotations

from starlette.responses import JSONResponse

UNAUTHORIZED_BODY = {"detail": "Not authenticated"}


def unauthorized() -> JSONResponse:
    return JSONResponse(UNAUTHORIZED_BODY, status_code=401, headers={"WWW-Authenticate": "Bearer"})


def invalid_deployment_id() -> JSONResponse:
    return JSONResponse({"detail": "Invalid deployment ID format"}, status_code=404)


def not_found(deployment_id: str) -> JSONResponse:
    """The one answer for unknown, someone else's, deleted and not-yet-created deployments."""
    return JSONResponse(
        {"detail": f"Deployment {deployment_id} not found or access denied"}, status_code=404
    )


def bad_parameter(detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=400)


def owner_needs_scope() -> JSONResponse:
    """``owner=`` without the operator scope, whatever its value."""
    return JSONResponse({"detail": "owner= needs the status:read:any scope"}, status_code=403)


def offset_not_applied(deployment_id: str, wanted: int, applied: int | None) -> JSONResponse:
    shown = "none" if applied is None else str(applied)
    return JSONResponse(
        {
            "detail": f"Deployment {deployment_id}: requested offset {wanted}, "
            f"applied offset {shown}; retry later"
        },
        status_code=504,
        headers={"Retry-After": "1"},
    )


def too_many_streams() -> JSONResponse:
    return JSONResponse(
        {"detail": "Too many open watch streams"}, status_code=429, headers={"Retry-After": "5"}
    )


def uri_too_long(limit: int) -> JSONResponse:
    return JSONResponse({"detail": f"Request URI over {limit} bytes"}, status_code=414)


def headers_too_large(limit: int) -> JSONResponse:
    return JSONResponse({"detail": f"Request headers over {limit} bytes"}, status_code=431)


def rate_limited(retry_after: int) -> JSONResponse:
    return JSONResponse(
        {"detail": "Too many requests, retry later"},
        status_code=429,
        headers={"Retry-After": str(retry_after)},
    )


def overloaded() -> JSONResponse:
    return JSONResponse(
        {"detail": "Too many requests in progress, retry later"},
        status_code=503,
        headers={"Retry-After": "1"},
    )


def store_unavailable() -> JSONResponse:
    return JSONResponse(
        {"detail": "Status store unavailable, retry later"},
        status_code=503,
        headers={"Retry-After": "1"},
    )


def view_not_ready() -> JSONResponse:
    return JSONResponse(
        {"detail": "The status view is being built, retry later"},
        status_code=503,
        headers={"Retry-After": "5"},
    )


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Whether an ``If-None-Match`` value (``*``, a list, weak forms) names ``etag``."""
    candidates = (tag.strip().removeprefix("W/").strip('"') for tag in if_none_match.split(","))
    return any(tag in ("*", etag) for tag in candidates)
