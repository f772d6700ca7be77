"""The `health=` and `status=` filters shared by `GET /status` and `GET /status/watch`."""

from __future__ import annotations

from typing import get_args

import orjson
import pytest
from starlette.datastructures import QueryParams

from api.filters import (
    HEALTHS,
    STATUSES,
    StatusFilter,
    UnknownFilterValue,
    filter_from_query,
    parse_filter,
)
from events.models import DeploymentStatus
from projector.core.health import Health


def test_the_allowed_values_are_the_domains() -> None:
    """The allowed healths are the health rules' values, the statuses the event contract's."""
    assert set(HEALTHS) == set(get_args(Health))
    assert get_args(DeploymentStatus) == STATUSES


def test_no_parameter_or_an_empty_one_matches_everything() -> None:
    """Absent, empty or only commas: anything matches."""
    for query in ["", "health=", "health=,&status=", "other=1"]:
        assert filter_from_query(QueryParams(query)).matches_everything


def test_comma_separated_and_repeated_values_add_up() -> None:
    """`health=a,b` and `health=a&health=b` ask for the same values."""
    parsed = filter_from_query(
        QueryParams("health=healthy,unhealthy&health=healthy&status=failed,pending")
    )
    assert parsed == StatusFilter(
        frozenset({"unhealthy", "healthy"}), frozenset({"pending", "failed"})
    )


@pytest.mark.parametrize(
    ("health", "status", "detail"),
    [
        (["sick"], [], "unknown health 'sick': one of unhealthy, degraded, healthy"),
        (
            [],
            ["running,Done"],
            "unknown status 'Done': one of pending, scheduled, running, stopped, failed",
        ),
        (["healthy, degraded"], [], "unknown health ' degraded'"),
    ],
)
def test_an_unknown_value_is_named(health: list[str], status: list[str], detail: str) -> None:
    """An unknown value raises with a message that quotes it and lists the allowed ones."""
    with pytest.raises(UnknownFilterValue) as raised:
        parse_filter(health, status)
    assert str(raised.value).startswith(detail)


def test_a_document_matches_by_its_own_health_and_status() -> None:
    """Both the health and the status must be among those asked for."""
    document = orjson.dumps({"status": "running", "health": "degraded", "name": "web"})
    assert parse_filter(["degraded,unhealthy"]).matches_document(document)
    assert parse_filter(["degraded"], ["running"]).matches_document(document)
    assert not parse_filter(["healthy"]).matches_document(document)
    assert not parse_filter(["degraded"], ["failed"]).matches_document(document)
    assert StatusFilter().matches_document(b"not even json")
