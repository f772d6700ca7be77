"""The fold: updated_at, timestamp rendering, and the recent status changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from builders import BASE_TIME, Events, at, doc, fold, new_id, z
from hypothesis import given
from hypothesis import strategies as st

from events.times import format_time
from projector.core.history import HISTORY_LIMIT
from projector.core.state import DeploymentState

PLUS_ONE = timezone(timedelta(hours=1))


# --- updated_at and timestamps -------------------------------------------------------------


def test_updated_at_is_newest_event_time(ev: Events) -> None:
    """updated_at is the newest event time applied, not the last one applied."""
    state = fold([ev.created(time=at(10)), ev.scaled(3, time=at(50))])
    assert doc(state)["updated_at"] == z(at(50))
    state = fold([ev.scaled(4, time=at(20))], state)
    assert doc(state)["updated_at"] == z(at(50))
    assert doc(state)["target_replicas"] == 4
    state = fold([ev.deleted(time=at(5)), ev.deleted(time=at(60))], state)
    assert state.updated_at == z(at(60))


def test_timestamps_render_canonically() -> None:
    """Event times render as UTC with microseconds and a Z."""
    ev = Events()
    moment = datetime(2026, 11, 28, 13, 0, tzinfo=PLUS_ONE)
    replica_id = new_id()
    state = fold(
        [
            ev.created(time=moment),
            ev.status_changed("running", time=moment),
            ev.replica(replica_id, "running", time=moment),
        ]
    )
    document = doc(state)
    expected = "2026-11-28T12:00:00.000000Z"
    assert document["created_at"] == expected
    assert document["updated_at"] == expected
    assert document["recent_status_changes"][0]["changed_at"] == expected
    assert document["replicas"][0]["started_at"] == expected


def test_timestamps_compare_across_offsets(ev: Events) -> None:
    """updated_at compares instants, not local clock readings."""
    earlier_local_later_utc = datetime(2026, 11, 28, 12, 30, tzinfo=timezone(timedelta(hours=-2)))
    later_local_earlier_utc = datetime(2026, 11, 28, 13, 0, tzinfo=PLUS_ONE)
    state = fold(
        [ev.created(time=earlier_local_later_utc), ev.scaled(1, time=later_local_earlier_utc)]
    )
    assert doc(state)["updated_at"] == "2026-11-28T14:30:00.000000Z"


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2026, 11, 28, 13, 0, tzinfo=PLUS_ONE), "2026-11-28T12:00:00.000000Z"),
        (datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=PLUS_ONE), "2025-12-31T23:00:00.000001Z"),
        (BASE_TIME, "2026-11-28T12:00:00.000000Z"),
    ],
)
def test_format_time(moment: datetime, expected: str) -> None:
    """format_time gives UTC, six fractional digits and a Z."""
    assert format_time(moment) == expected


@given(
    st.datetimes(
        # Naive bounds (hypothesis attaches the zones): a day in from the ends, so that every
        # moment has a UTC form.
        min_value=datetime(1, 1, 2),  # noqa: DTZ001
        max_value=datetime(9999, 12, 30),  # noqa: DTZ001
        timezones=st.sampled_from([UTC, PLUS_ONE, timezone(timedelta(hours=-9, minutes=-30))]),
    )
)
def test_format_time_is_isoformat_in_utc(moment: datetime) -> None:
    """Formatted field by field, the same text as the standard library's ISO 8601 form."""
    expected = moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
    assert format_time(moment) == expected + "Z"


# --- recent status changes -----------------------------------------------------------------


def changes_of(state: DeploymentState) -> list[tuple[str, str | None]]:
    return [(c["changed_at"], c["reason"]) for c in doc(state)["recent_status_changes"]]


def test_history_capped_newest_first(ev: Events, base: DeploymentState) -> None:
    """Only the 10 newest status changes are kept, newest first."""
    events = [ev.status_changed("running", reason=str(i), time=at(100 + i)) for i in range(13)]
    state = fold(events, base)
    assert HISTORY_LIMIT == 10
    assert changes_of(state) == [(z(at(100 + i)), str(i)) for i in range(12, 2, -1)]


def test_history_ties_later_in_log_first(ev: Events, base: DeploymentState) -> None:
    """Status changes with the same changed_at are ordered later-in-the-log first."""
    events = [ev.status_changed("running", reason=r, time=at(100)) for r in ("a", "b", "c")]
    events.insert(1, ev.status_changed("failed", reason="older", time=at(50)))
    state = fold(events, base)
    assert changes_of(state) == [
        (z(at(100)), "c"),
        (z(at(100)), "b"),
        (z(at(100)), "a"),
        (z(at(50)), "older"),
    ]


def test_history_ties_at_the_cap(ev: Events, base: DeploymentState) -> None:
    """At the cap, among equal changed_at the ones earlier in the log are dropped first."""
    events = [ev.status_changed("running", reason=str(i), time=at(100)) for i in range(12)]
    state = fold(events, base)
    assert [r for _, r in changes_of(state)] == [str(i) for i in range(11, 1, -1)]


def test_history_late_arrival_placed_by_time(ev: Events, base: DeploymentState) -> None:
    """A status change arriving late with an old time is placed by its changed_at."""
    events = [
        ev.status_changed("scheduled", reason="t5", time=at(5)),
        ev.status_changed("running", reason="t7", time=at(7)),
        ev.status_changed("pending", reason="t3", time=at(3)),
        ev.status_changed("failed", reason="t6", time=at(6)),
    ]
    state = fold(events, base)
    assert [r for _, r in changes_of(state)] == ["t7", "t6", "t5", "t3"]
    # The status is the last one applied, whatever its time.
    assert doc(state)["status"] == "failed"


def test_history_late_arrival_older_than_kept_is_dropped(ev: Events, base: DeploymentState) -> None:
    """A late status change older than all 10 kept entries does not enter the history."""
    events = [ev.status_changed("running", reason=str(i), time=at(100 + i)) for i in range(10)]
    state = fold(events, base)
    before = changes_of(state)
    state = fold([ev.status_changed("failed", reason="late", time=at(50))], state)
    assert changes_of(state) == before
    assert len(before) == 10


def test_history_late_arrival_newer_than_oldest_evicts_oldest(
    ev: Events, base: DeploymentState
) -> None:
    """A late status change newer than the oldest kept entry is inserted and the oldest drops."""
    events = [ev.status_changed("running", reason=str(i), time=at(100 + 2 * i)) for i in range(10)]
    state = fold(events, base)
    state = fold([ev.status_changed("failed", reason="late", time=at(103))], state)
    reasons = [r for _, r in changes_of(state)]
    assert reasons == ["9", "8", "7", "6", "5", "4", "3", "2", "late", "1"]


def test_history_dropped_entry_never_returns(ev: Events, base: DeploymentState) -> None:
    """Entries that fell out of the 10 do not come back when more old entries arrive."""
    events = [ev.status_changed("running", reason=str(i), time=at(100 + i)) for i in range(11)]
    events += [ev.status_changed("failed", reason=f"old{i}", time=at(i)) for i in range(5)]
    state = fold(events, base)
    assert [r for _, r in changes_of(state)] == [str(i) for i in range(10, 0, -1)]


@given(st.lists(st.integers(min_value=0, max_value=30), max_size=25))
def test_history_is_the_newest_ten_of_all(offsets: list[int]) -> None:
    """Whatever the order of arrival, the history is the HISTORY_LIMIT newest status changes
    of all, newest first, ties later in the log first."""
    ev = Events()
    base = fold([ev.created(time=at(0))])
    events = [
        ev.status_changed("running", reason=str(i), time=at(100 + offset))
        for i, offset in enumerate(offsets)
    ]
    state = fold(events, base)
    newest = sorted(enumerate(offsets), key=lambda item: (item[1], item[0]), reverse=True)
    expected = [(z(at(100 + offset)), str(i)) for i, offset in newest[:HISTORY_LIMIT]]
    assert changes_of(state) == expected
