"""The `health=` and `status=` filters of `GET /status` and `GET /status/watch`, parsed in one
place so that both answer alike.

Each parameter is a comma-separated list of values, any of which matches; repeating the
parameter adds to the list; empty items are ignored, and with no item at all any value
matches. A deployment matches when both its health and its status do. An unknown value is a
400 whose detail names it: ``unknown health 'sick': one of unhealthy, degraded, healthy``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, get_args

import orjson
from starlette.datastructures import QueryParams

from events.models import DeploymentStatus

# The values of projector.core.health.Health (a layer the API may not import), worst first;
# tests/unit/test_filters.py checks that they are the same.
HEALTHS: tuple[str, ...] = ("unhealthy", "degraded", "healthy")
STATUSES: tuple[str, ...] = get_args(DeploymentStatus)


class UnknownFilterValue(ValueError):
    """A `health` or `status` value that is not one of the allowed ones; the message is the
    400's detail."""

    def __init__(self, parameter: str, value: str, allowed: Sequence[str]) -> None:
        super().__init__(f"unknown {parameter} {value!r}: one of {', '.join(allowed)}")
        self.parameter = parameter
        self.value = value


@dataclass(frozen=True, slots=True)
class StatusFilter:
    """The values asked for; an empty set: any."""

    healths: frozenset[str] = frozenset()
    statuses: frozenset[str] = frozenset()

    @property
    def matches_everything(self) -> bool:
        return not self.healths and not self.statuses

    def matches(self, health: object, status: object) -> bool:
        return (not self.healths or health in self.healths) and (
            not self.statuses or status in self.statuses
        )

    def matches_document(self, document: bytes) -> bool:
        """Whether a status document (its JSON bytes) matches, by its own `health` and
        `status`; parsed only when there is something to match."""
        if self.matches_everything:
            return True
        fields = orjson.loads(document)
        return self.matches(fields.get("health"), fields.get("status"))


def parse_filter(health: Sequence[str] = (), status: Sequence[str] = ()) -> StatusFilter:
    """The filter of the `health` and `status` parameters as given (each value a
    comma-separated list); raises ``UnknownFilterValue``."""
    return StatusFilter(
        healths=_values("health", health, HEALTHS), statuses=_values("status", status, STATUSES)
    )


def filter_from_query(query: QueryParams) -> StatusFilter:
    """The filter of a request's query string; raises ``UnknownFilterValue``."""
    return parse_filter(query.getlist("health"), query.getlist("status"))


def _values(parameter: str, given: Sequence[str], allowed: tuple[str, ...]) -> frozenset[str]:
    asked = [value for item in given for value in item.split(",") if value]
    for value in asked:
        if value not in allowed:
            raise UnknownFilterValue(parameter, value, allowed)
    return frozenset(asked)


def _parameter(name: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": f"Comma-separated, any of: {', '.join(allowed)}. Unknown values: 400.",
        "schema": {"type": "string", "examples": [allowed[0]]},
    }


# The two parameters as OpenAPI parameter objects, for the operations that take them.
FILTER_PARAMETERS: list[dict[str, Any]] = [
    _parameter("health", HEALTHS),
    _parameter("status", STATUSES),
]
