"""``GET /status``: the caller's deployments (or, with the operator scope, an owner's), a page
at a time, from the projector's per-owner lists (``deploystatus.view.lists``): one Redis
round trip per page, the request's budgets counted in it, whatever the owner's size.

A walk follows keyset cursors (``api.cursors``): each page continues after the last entry of
the previous one, in the list's order (worst health first, then name, then id). A walk sees
every deployment whose health and name stay the same during it exactly once. A deployment
whose health or name changes between two pages is listed where it is when each page is read:
moved behind the cursor, it is seen twice; moved ahead of it, it is not seen. Its item is
always its current one. (A snapshot per walk would copy the owner's whole list at its start.)
"""

from __future__ import annotations

from typing import Any

import xxhash
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from api import openapi, responses
from api.auth import Principal
from api.cursors import BadCursor, CursorCodec
from api.dependencies import authenticate, bearer_credentials
from api.filters import FILTER_PARAMETERS, UnknownFilterValue, filter_from_query
from api.generation import GenerationCache
from api.ids import canonical_uuid
from api.ratelimit import RateLimiter
from api.schemas import ErrorDetail, StatusList
from api.state import app_state
from deploystatus.view.store import ListReader, Page, PageQuery

LIST_PATH = "/status"
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
_CACHE_HEADERS = {"Cache-Control": "private, no-cache", "Vary": "Authorization"}


class BadParameter(ValueError):
    """A query parameter the list refuses (400); the message names it and its value."""


class Lister:
    """Pages of owners' lists, behind the served generation and the request budgets."""

    def __init__(
        self,
        view: ListReader,
        generation: GenerationCache,
        limiter: RateLimiter,
    ) -> None:
        self._view = view
        self._generation = generation
        self._limiter = limiter
        self._cursors = CursorCodec(view.cursor_secret)

    async def page(
        self,
        owner: str,
        query: PageQuery,
        cursor: str | None,
        principal: Principal,
        client_ip: str,
    ) -> tuple[Page, str | None]:
        """A page of ``owner``'s list and the cursor of the next (``None`` after the last);
        raises BadCursor for a cursor not made for this owner and filter."""
        generation = await self._generation.served()
        if cursor is not None:
            after = await self._cursors.decode(cursor, owner, query)
            query = PageQuery(query.healths, query.statuses, after, query.limit)
        budgets = self._limiter.budgets(principal.user_id, client_ip)
        counts, page = await self._view.page(generation, owner, query, budgets)
        self._limiter.verdict(counts)
        if page.last_key is None:
            return page, None
        return page, await self._cursors.encode(page.last_key, owner, query)


def parse_query(params: QueryParams) -> PageQuery:
    """The filter (``api.filters``, as the watch stream's) and page length asked for; raises
    BadParameter or UnknownFilterValue naming a refused value."""
    status_filter = filter_from_query(params)
    return PageQuery(
        status_filter.healths, status_filter.statuses, limit=_limit(params.get("limit"))
    )


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if not (value.isascii() and value.isdigit() and 1 <= int(value) <= MAX_LIMIT):
        raise BadParameter(f"limit: {value!r} is not an integer from 1 to {MAX_LIMIT}")
    return int(value)


def page_body(page: Page, next_cursor: str | None) -> bytes:
    """The answer's JSON: the stored items as they are, the counts and the next cursor."""
    counts = page.counts
    tail = (
        f'],"counts":{{"healthy":{counts["healthy"]},"degraded":{counts["degraded"]},'
        f'"unhealthy":{counts["unhealthy"]}}},"next_cursor":'
        + (f'"{next_cursor}"}}' if next_cursor is not None else "null}")
    )
    return b'{"items":[' + b",".join(page.items) + tail.encode()


# A plain Starlette endpoint, like the status route (api.routes), documented by
# LIST_OPERATION below.
async def list_status(request: Request) -> Response:
    caller = await authenticate(request, await bearer_credentials(request))
    state = app_state(request)
    params = request.query_params
    owner = params.get("owner")
    try:
        if owner is not None and not caller.principal.read_any:
            await state.reader.admit(caller.principal.user_id, caller.ip)
            return responses.owner_needs_scope()
        listed = caller.principal.user_id if owner is None else canonical_uuid(owner)
        if listed is None:
            raise BadParameter(f"owner: {owner!r} is not a uuid")
        query = parse_query(params)
        page, next_cursor = await state.lister.page(
            listed, query, params.get("cursor"), caller.principal, caller.ip
        )
    except (BadParameter, UnknownFilterValue, BadCursor) as exc:
        await state.reader.admit(caller.principal.user_id, caller.ip)
        return responses.bad_parameter(str(exc))
    body = page_body(page, next_cursor)
    etag = xxhash.xxh3_128_hexdigest(body)
    headers = {"ETag": f'"{etag}"', **_CACHE_HEADERS}
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None and responses.etag_matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def _query(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": {"type": "string", **schema},
        "description": description,
    }


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": openapi.ref(ErrorDetail)}},
    }


def list_operation(security: dict[str, Any]) -> dict[str, Any]:
    """list_status's OpenAPI entry: what it reads and every answer it gives."""
    return {
        "summary": "The caller's deployments, worst health first, a page at a time",
        "operationId": "list_status_status_get",
        "security": [security],
        "parameters": [
            *FILTER_PARAMETERS,
            _query("limit", f"Page length, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})"),
            _query("cursor", "`next_cursor` of the previous page, with the same filter"),
            _query("owner", "List this owner's deployments (needs `status:read:any`)"),
            {
                "name": "if-none-match",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
            },
        ],
        "responses": {
            "200": {
                "description": "Successful Response",
                "content": {"application/json": {"schema": openapi.ref(StatusList)}},
            },
            "304": {"description": "Not modified: the `If-None-Match` ETag is current"},
            "400": _error("Unknown health or status, bad limit, owner or cursor (named)"),
            "401": _error("Missing, invalid or expired bearer token"),
            "403": _error("`owner=` without the `status:read:any` scope"),
            "414": _error("Request URI too long"),
            "429": _error("Over the user's or IP's request budget"),
            "431": _error("Request headers too large"),
            "503": _error(
                "The status store is unreachable, the view is being built, or the process "
                "is at its concurrency limit"
            ),
        },
    }


LIST_MODELS = (StatusList, ErrorDetail)
