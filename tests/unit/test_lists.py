"""The list's pure parts: entry keys and their order, the page script's arguments, the merge
of a page, query parsing, the answer's body, and the cursor codec."""

from __future__ import annotations

import random
import uuid

import orjson
import pytest
from starlette.datastructures import QueryParams

from api.cursors import BadCursor, CursorCodec
from api.filters import UnknownFilterValue
from api.lists import BadParameter, page_body, parse_query
from deploystatus.view import lists
from deploystatus.view.store import Page, PageQuery

OWNER, OTHER = str(uuid.uuid4()), str(uuid.uuid4())


def member(health: str, name: str, deployment_id: str, status: str = "running") -> bytes:
    item = orjson.dumps({"deployment_id": deployment_id, "name": name, "status": status})
    return lists.listed(deployment_id, 0, health, status, name, item).member


def test_members_sort_worst_health_first_then_name_then_id() -> None:
    """Byte order of members is (health rank, name, id), NUL bytes and prefixes included."""
    ids = sorted(str(uuid.uuid4()) for _ in range(2))
    wanted = [
        ("unhealthy", "z", ids[0]),
        ("degraded", "a", ids[1]),
        ("healthy", "a", ids[0]),
        ("healthy", "a", ids[1]),
        ("healthy", "a\x00b", ids[0]),
        ("healthy", "ab", ids[0]),
        ("healthy", "é", ids[0]),
    ]
    members = [member(*entry) for entry in wanted]
    shuffled = members[:]
    random.Random(7).shuffle(shuffled)
    assert sorted(shuffled) == sorted(reversed(members)) == members
    for (_, _, deployment_id), m in zip(wanted, members, strict=True):
        assert orjson.loads(lists.item_of(m))["deployment_id"] == deployment_id
        assert lists.entry_key_of(m).endswith(deployment_id.encode())


def test_a_long_name_keys_on_its_first_bytes() -> None:
    """The key, and so a cursor, stays bounded whatever the name's length."""
    deployment_id = str(uuid.uuid4())
    key = lists.entry_key("healthy", "x" * 100_000, deployment_id)
    assert len(key) == 1 + lists.NAME_KEY_BYTES + 2 + 36
    m = member("healthy", "\x00" * 5000, deployment_id)
    assert len(lists.entry_key_of(m)) <= 1 + 2 * lists.NAME_KEY_BYTES + 2 + 36


def test_page_args_read_each_asked_rank_from_the_cursor_on() -> None:
    """A cursor in the degraded rank starts there, after its key; unhealthy is not read."""
    after = lists.entry_key("degraded", "web", str(uuid.uuid4()))
    args = lists.page_args(PageQuery(after=after, limit=10))
    assert args[:2] == [11, b""]
    assert args[2:] == [b"[" + after + b"\xff", b"(2", b"[2", b"(3"]
    healthy_only = lists.page_args(PageQuery(healths=frozenset({"healthy"}), limit=1))
    assert healthy_only == [2, b"", b"[2", b"(3"]


def test_page_args_name_the_statuses_asked_for_or_none_for_all() -> None:
    """A status filter reads the by-status list per status; all five is no filter."""
    some = lists.page_args(PageQuery(statuses=frozenset({"failed", "pending"})))
    assert some[1] == b"ae"
    every = lists.page_args(PageQuery(statuses=frozenset(lists.STATUSES)))
    assert every[1] == b""


def test_merge_sorts_the_statuses_ranges_and_keeps_the_next_key() -> None:
    """Members of several statuses are merged in order; one more than the page means a
    next page, continuing after the page's last entry."""
    ids = [str(uuid.uuid4()) for _ in range(4)]
    failed = [member("unhealthy", "b", ids[0], "failed"), member("degraded", "d", ids[1])]
    pending = [member("unhealthy", "a", ids[2], "pending"), member("degraded", "c", ids[3])]
    reply = [b"2", b"2", b"0"] + [b"e" + m for m in failed] + [b"a" + m for m in pending]
    query = PageQuery(statuses=frozenset({"failed", "pending"}), limit=3)
    page = lists.merge(reply, query)
    assert [orjson.loads(item)["name"] for item in page.items] == ["a", "b", "c"]
    assert page.counts == {"unhealthy": 2, "degraded": 2, "healthy": 0}
    assert page.last_key == lists.entry_key("degraded", "c", ids[3])
    assert lists.merge(reply, PageQuery(statuses=query.statuses, limit=4)).last_key is None


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("health=sick", "unknown health 'sick': one of unhealthy, degraded, healthy"),
        ("status=running,paused", "unknown status 'paused'"),
        ("limit=0", "limit: '0' is not an integer from 1 to 500"),
        ("limit=501", "limit: '501'"),
        ("limit=ten", "limit: 'ten'"),
        ("limit=%C2%B2", "limit: '²'"),
    ],
)
def test_refused_parameters_are_named(query: str, message: str) -> None:
    """Unknown values and bad limits are refused, quoting the value."""
    with pytest.raises((BadParameter, UnknownFilterValue), match=message):
        parse_query(QueryParams(query))


def test_filters_are_any_of_and_the_limit_defaults_to_50() -> None:
    """Comma-separated and repeated values add up."""
    query = parse_query(QueryParams("health=degraded,unhealthy&status=running&status=failed"))
    assert query.healths == {"degraded", "unhealthy"}
    assert query.statuses == {"running", "failed"}
    assert query.limit == 50
    assert parse_query(QueryParams("limit=500")).limit == 500


def test_the_body_holds_the_stored_items_as_they_are() -> None:
    """Items, counts and cursor, as JSON."""
    page = Page([b'{"a":1}', b'{"b":2}'], {"healthy": 1, "degraded": 2, "unhealthy": 3}, b"k")
    assert orjson.loads(page_body(page, "abc")) == {
        "items": [{"a": 1}, {"b": 2}],
        "counts": {"healthy": 1, "degraded": 2, "unhealthy": 3},
        "next_cursor": "abc",
    }
    empty = Page([], {"healthy": 0, "degraded": 0, "unhealthy": 0}, None)
    assert orjson.loads(page_body(empty, None))["next_cursor"] is None


class Secrets:
    def __init__(self, *values: bytes) -> None:
        self.values = list(values)
        self.reads = 0

    async def __call__(self) -> bytes:
        self.reads += 1
        return self.values[min(self.reads, len(self.values)) - 1]


async def test_a_cursor_continues_only_the_walk_it_was_made_for() -> None:
    """Round trip; another owner, another filter, an altered or made-up cursor: BadCursor."""
    codec = CursorCodec(Secrets(b"k" * 32))
    key = lists.entry_key("healthy", "web", str(uuid.uuid4()))
    query = PageQuery(healths=frozenset({"healthy"}))
    cursor = await codec.encode(key, OWNER, query)
    assert await codec.decode(cursor, OWNER, query) == key
    refused = [
        (cursor, OTHER, query),
        (cursor, OWNER, PageQuery()),
        (cursor, OWNER, PageQuery(statuses=frozenset({"running"}))),
        (cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1], OWNER, query),
        ("not base64 !", OWNER, query),
        ("", OWNER, query),
        ("A" * 2000, OWNER, query),
    ]
    for bad, owner, bad_query in refused:
        with pytest.raises(BadCursor):
            await codec.decode(bad, owner, bad_query)


async def test_a_cursor_key_made_again_is_read_again() -> None:
    """A cursor made with a key this process has not read yet verifies after a re-read."""
    secrets = Secrets(b"old" * 11, b"new" * 11)
    old_codec, new_codec = CursorCodec(Secrets(b"new" * 11)), CursorCodec(secrets)
    key = lists.entry_key("healthy", "web", str(uuid.uuid4()))
    await new_codec.encode(key, OWNER, PageQuery())  # reads the old key
    cursor = await old_codec.encode(key, OWNER, PageQuery())
    assert await new_codec.decode(cursor, OWNER, PageQuery()) == key
    assert secrets.reads == 2


def test_the_view_knows_the_values_the_api_accepts() -> None:
    """The base layer's healths and statuses (it may not import the event contract) are the
    filters' ones, in the list's order."""
    from api import filters

    assert lists.HEALTHS == filters.HEALTHS
    assert lists.STATUSES == filters.STATUSES


def test_index_updates_go_in_calls_of_about_a_hundred_deployments() -> None:
    """Many owners share a script call (one command's cost spread over them); an owner's
    entries are never split."""
    from redis.asyncio import Redis

    from deploystatus.view.keys import Keys

    by_owner = {str(n): [lists.Entry(str(n), 1)] for n in range(250)}
    by_owner["big"] = [lists.Entry(str(n), 1) for n in range(150)]
    calls = lists.index_calls(Redis(), Keys("p"), "g", by_owner)
    assert [sum(len(entries) for _, entries in call) for call in calls] == [100, 100, 200]
    assert sorted(owner for call in calls for owner, _ in call) == sorted(by_owner)
