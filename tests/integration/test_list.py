"""GET /status: the caller's deployments a page at a time, from the projector's per-owner
lists, on a single Redis and on a Redis Cluster. The view is written as the projector
writes it (fold, compare-and-set save, fan-out), without the broker."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from support.api import bearer, running_api
from support.processes import run_cli
from support.waiting import wait_for

from api.auth import READ_ANY_SCOPE, mint_token
from deploystatus.settings import Settings
from deploystatus.view.client import RedisClient, create_redis
from deploystatus.view.keys import Keys
from events import new_event
from projector.core.fold import apply_record
from projector.core.state import DeploymentState
from projector.fanout import Fanout
from projector.store import RedisStatusStore, Write

pytestmark = pytest.mark.parametrize("redis_kind", ["single", "cluster"], indirect=True)
GENERATION = "g-list"
HEALTH_ORDER = {"unhealthy": 0, "degraded": 1, "healthy": 2}


class View:
    """Writes deployments into a generation as the projector does, one event at a time."""

    def __init__(self, redis: RedisClient, keys: Keys, generation: str = GENERATION) -> None:
        self.store = RedisStatusStore(redis, keys, generation)
        self._offsets = itertools.count()

    async def apply(self, deployment_id: str, type_: str, data: dict[str, Any]) -> DeploymentState:
        before = (await self.store.load([deployment_id]))[deployment_id]
        event = new_event(type_, deployment_id, data)
        after = apply_record(before, event, next(self._offsets))
        write = Write(after, before.position if before is not None else -1)
        assert await self.store.save([write]) == set()
        fanout = Fanout(self.store, None).batch()
        await fanout.add([write])
        await fanout.finish()
        return after

    async def deployment(
        self,
        owner: str,
        name: str,
        replicas: tuple[str, ...] = ("running",),
        target: int = 1,
        status: str = "running",
    ) -> str:
        """A served deployment; its health follows from ``replicas`` and ``target``."""
        deployment_id = str(uuid.uuid4())
        created = {"user_id": owner, "name": name, "target_replicas": target, "status": status}
        await self.apply(deployment_id, "deployment.created", created)
        for replica_status in replicas:
            await self.replica(deployment_id, replica_status)
        return deployment_id

    async def replica(self, deployment_id: str, status: str) -> None:
        data = {"replica_id": str(uuid.uuid4()), "status": status}
        await self.apply(deployment_id, "replica.status_changed", data)


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[RedisClient]:
    keys = Keys(settings.redis.prefix)
    async with create_redis(settings) as client:
        await client.set(keys.generation, GENERATION)
        yield client
        await client.delete(keys.generation)
        await client.delete(keys.cursor_key)


@pytest.fixture
def view(redis: RedisClient, settings: Settings) -> View:
    return View(redis, Keys(settings.redis.prefix))


@pytest.fixture
async def api(settings: Settings, redis: RedisClient) -> AsyncIterator[httpx.AsyncClient]:
    async with running_api(settings) as client:
        yield client


def order(item: dict[str, Any]) -> tuple[int, bytes, str]:
    return HEALTH_ORDER[item["health"]], item["name"].encode(), item["deployment_id"]


async def walk(
    api: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every page of a walk: the items in order, and the answers' bodies."""
    items, bodies, cursor = [], [], None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        answer = await api.get("/status", params=query, headers=headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        bodies.append(body)
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items, bodies


async def test_a_walk_lists_every_deployment_once_worst_first_then_by_name_and_id(
    settings: Settings, view: View, api: httpx.AsyncClient
) -> None:
    """Unhealthy, degraded, healthy; then name, then id; each exactly once over the pages;
    counts over all the owner's served deployments; not deleted, not-yet-created or
    someone else's."""
    owner, stranger = str(uuid.uuid4()), str(uuid.uuid4())
    ids = {
        await view.deployment(owner, "web", ("running",)),
        await view.deployment(owner, "web", ("running",)),
        await view.deployment(owner, "api", ("running",), target=2),
        await view.deployment(owner, "db", ("failed",), status="failed"),
        await view.deployment(owner, "zeta", ()),
        await view.deployment(owner, "a\x00b", ("running", "failed")),
        await view.deployment(owner, "é", ("running",), status="scheduled"),
    }
    deleted = await view.deployment(owner, "gone")
    await view.apply(deleted, "deployment.deleted", {})
    early = str(uuid.uuid4())  # events before its deployment.created: not served yet
    await view.replica(early, "running")
    await view.deployment(stranger, "web")

    headers = bearer(settings, owner)
    for limit in (1, 2, 3, 50):
        items, bodies = await walk(api, headers, limit=limit)
        assert [item["deployment_id"] for item in items] == [
            item["deployment_id"] for item in sorted(items, key=order)
        ]
        assert {item["deployment_id"] for item in items} == ids
        assert len(items) == len(ids)
        for body in bodies:
            assert body["counts"] == {"unhealthy": 2, "degraded": 2, "healthy": 3}
            assert len(body["items"]) <= limit
    first = next(item for item in items if item["name"] == "api")
    assert first == {
        "deployment_id": first["deployment_id"],
        "name": "api",
        "status": "running",
        "health": "degraded",
        "target_replicas": 2,
        "running_replicas": 1,
        "updated_at": first["updated_at"],
    }
    document = (await api.get(f"/status/{first['deployment_id']}", headers=headers)).json()
    assert document["updated_at"] == first["updated_at"]


async def test_filters_are_any_of_and_counts_stay_unfiltered(
    settings: Settings, view: View, api: httpx.AsyncClient
) -> None:
    """health= and status= keep the deployments matching any of their values, both at once."""
    owner = str(uuid.uuid4())
    made: dict[str, tuple[str, str]] = {}
    for n, (replicas, status) in enumerate(
        [
            (("running",), "running"),
            (("running",), "stopped"),
            (("failed", "running"), "running"),
            (("failed", "running"), "pending"),
            ((), "running"),
            ((), "failed"),
            ((), "scheduled"),
        ]
    ):
        deployment_id = await view.deployment(owner, f"d{n % 3}", replicas, status=status)
        health = "healthy" if replicas == ("running",) else "degraded" if replicas else "unhealthy"
        made[deployment_id] = (health, status)
    headers = bearer(settings, owner)
    cases = [
        ({"health": "degraded,unhealthy"}, lambda h, s: h != "healthy"),
        ({"status": "running"}, lambda h, s: s == "running"),
        ({"status": "failed,pending,stopped"}, lambda h, s: s in ("failed", "pending", "stopped")),
        (
            {"health": "unhealthy", "status": "running,failed"},
            lambda h, s: h == "unhealthy" and s in ("running", "failed"),
        ),
        ({"health": "healthy", "status": "failed"}, lambda h, s: False),
    ]
    for params, keep in cases:
        for limit in (1, 50):
            items, bodies = await walk(api, headers, limit=limit, **params)
            wanted = {dep for dep, (h, s) in made.items() if keep(h, s)}
            assert [i["deployment_id"] for i in items] == [
                i["deployment_id"] for i in sorted(items, key=order)
            ]
            assert sorted(i["deployment_id"] for i in items) == sorted(wanted), params
            assert bodies[0]["counts"] == {"unhealthy": 3, "degraded": 2, "healthy": 2}


async def test_refused_parameters_and_cursors_are_400s(
    settings: Settings, view: View, api: httpx.AsyncClient
) -> None:
    """Unknown values and bad limits name the value; an altered cursor, another owner's, or
    one made for another filter is refused, never answered with someone else's list."""
    owner, stranger = str(uuid.uuid4()), str(uuid.uuid4())
    for n in range(3):
        await view.deployment(owner, f"web-{n}")
        await view.deployment(stranger, f"web-{n}")
    headers = bearer(settings, owner)
    for params, detail in [
        ({"health": "sick"}, "unknown health 'sick': one of unhealthy, degraded, healthy"),
        ({"status": "paused"}, "unknown status 'paused'"),
        ({"limit": "0"}, "limit: '0' is not an integer from 1 to 500"),
        ({"limit": "501"}, "limit: '501' is not an integer from 1 to 500"),
    ]:
        answer = await api.get("/status", params=params, headers=headers)
        assert answer.status_code == 400
        assert answer.json()["detail"].startswith(detail)

    page = (await api.get("/status", params={"limit": 1}, headers=headers)).json()
    cursor = page["next_cursor"]
    assert cursor is not None
    altered = cursor[:-3] + ("A" if cursor[-3] != "A" else "B") + cursor[-2:]
    for params, who in [
        ({"cursor": altered}, owner),
        ({"cursor": cursor}, stranger),
        ({"cursor": cursor, "health": "healthy"}, owner),
        ({"cursor": "x"}, owner),
    ]:
        answer = await api.get("/status", params=params, headers=bearer(settings, who))
        assert answer.status_code == 400, params
        assert answer.json()["detail"].startswith("cursor: not one of this list's")
    following = await api.get("/status", params={"cursor": cursor}, headers=headers)
    assert following.status_code == 200


async def test_owner_needs_the_operator_scope(
    settings: Settings, view: View, api: httpx.AsyncClient
) -> None:
    """owner= lists that owner's deployments for status:read:any, and is a 403 with the same
    body for anyone else, whatever its value."""
    owner, caller = str(uuid.uuid4()), str(uuid.uuid4())
    theirs = await view.deployment(owner, "web")
    mine = await view.deployment(caller, "mine")
    for value in (owner, caller, "not-a-uuid", ""):
        answer = await api.get("/status", params={"owner": value}, headers=bearer(settings, caller))
        assert answer.status_code == 403
        assert answer.json() == {"detail": "owner= needs the status:read:any scope"}
    operator = {"Authorization": f"Bearer {mint_token(settings, caller, scopes=(READ_ANY_SCOPE,))}"}
    listed = await api.get("/status", params={"owner": owner}, headers=operator)
    assert [i["deployment_id"] for i in listed.json()["items"]] == [theirs]
    own = await api.get("/status", headers=operator)
    assert [i["deployment_id"] for i in own.json()["items"]] == [mine]
    bad = await api.get("/status", params={"owner": "nope"}, headers=operator)
    assert bad.status_code == 400
    assert bad.json() == {"detail": "owner: 'nope' is not a uuid"}


async def test_the_401_rules_are_the_status_endpoints(
    settings: Settings, view: View, api: httpx.AsyncClient
) -> None:
    """No token, a forged one, or one in the query string: 401 with WWW-Authenticate."""
    owner = str(uuid.uuid4())
    await view.deployment(owner, "web")
    token = mint_token(settings, owner)
    for headers, params in [
        ({}, {}),
        ({"Authorization": f"Bearer {token[:-2]}xx"}, {}),
        ({"Authorization": "Basic abc"}, {}),
        ({}, {"access_token": token}),
    ]:
        answer = await api.get("/status", headers=headers, params=params)
        assert answer.status_code == 401
        assert answer.json() == {"detail": "Not authenticated"}
        assert answer.headers["www-authenticate"] == "Bearer"


async def test_a_page_has_an_etag_and_answers_304_until_it_changes(
    settings: Settings, view: View, api: httpx.AsyncClient
) -> None:
    """If-None-Match with the page's ETag: 304; after a change to the page: 200, new ETag."""
    owner = str(uuid.uuid4())
    deployment_id = await view.deployment(owner, "web")
    headers = bearer(settings, owner)
    first = await api.get("/status", headers=headers)
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "private, no-cache"
    again = await api.get("/status", headers={**headers, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["etag"] == etag
    await view.replica(deployment_id, "failed")
    changed = await api.get("/status", headers={**headers, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert changed.json()["items"][0]["health"] == "degraded"


async def test_a_deployment_that_moves_during_a_walk_is_where_each_page_finds_it(
    settings: Settings, view: View, api: httpx.AsyncClient
) -> None:
    """Keyset cursors: moved behind the cursor, a deployment is seen twice; moved ahead of
    it, not at all; the others exactly once."""
    owner = str(uuid.uuid4())
    headers = bearer(settings, owner)
    broken = await view.deployment(owner, "x", ())  # unhealthy: first
    a = await view.deployment(owner, "a")
    b = await view.deployment(owner, "b")
    page = (await api.get("/status", params={"limit": 2}, headers=headers)).json()
    assert [i["deployment_id"] for i in page["items"]] == [broken, a]
    await view.replica(broken, "running")  # healthy now: after b, behind the cursor
    rest = await api.get("/status", params={"cursor": page["next_cursor"]}, headers=headers)
    assert [i["deployment_id"] for i in rest.json()["items"]] == [b, broken]

    c = await view.deployment(owner, "c")
    page = (await api.get("/status", params={"limit": 2}, headers=headers)).json()
    assert [i["deployment_id"] for i in page["items"]] == [a, b]
    await view.replica(c, "failed")  # degraded now: ahead of the cursor
    rest = await api.get("/status", params={"cursor": page["next_cursor"]}, headers=headers)
    assert [i["deployment_id"] for i in rest.json()["items"]] == [broken]


async def test_a_deployment_created_again_for_another_owner_leaves_the_first_list(
    settings: Settings, view: View, api: httpx.AsyncClient, redis: RedisClient
) -> None:
    """An owner change removes the entry from the earlier owner's list, also when the
    fan-out of the write that changed it was lost (a crash before it)."""
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    deployment_id = await view.deployment(first, "web")
    created = {"user_id": second, "name": "web", "target_replicas": 1}
    before = (await view.store.load([deployment_id]))[deployment_id]
    assert before is not None
    moved = apply_record(before, new_event("deployment.created", deployment_id, created), 10**6)
    assert await view.store.save([Write(moved, before.position)]) == set()
    # The fan-out is lost with the process: a new store learns the move from Redis.
    restarted = View(redis, Keys(settings.redis.prefix))
    assert (await restarted.store.load([deployment_id]))[deployment_id] == moved
    fanout = Fanout(restarted.store, None).batch()
    await fanout.add([Write(moved, moved.position)])
    await fanout.finish()
    for owner, expected in ((first, []), (second, [deployment_id])):
        body = (await api.get("/status", headers=bearer(settings, owner))).json()
        assert [i["deployment_id"] for i in body["items"]] == expected
        assert sum(body["counts"].values()) == len(expected)


async def test_a_late_fan_out_never_brings_back_an_older_entry(
    settings: Settings, view: View, api: httpx.AsyncClient
) -> None:
    """The list keeps the entry of the newest position fanned out, whatever the order."""
    owner = str(uuid.uuid4())
    deployment_id = await view.deployment(owner, "web", ())
    old = (await view.store.load([deployment_id]))[deployment_id]
    await view.replica(deployment_id, "running")
    await view.apply(deployment_id, "deployment.deleted", {})
    assert old is not None
    await view.store.index_owners([old])  # a zombie's fan-out of an older state
    body = (await api.get("/status", headers=bearer(settings, owner))).json()
    assert body["items"] == []
    assert body["counts"] == {"unhealthy": 0, "degraded": 0, "healthy": 0}


async def test_another_generation_has_its_own_lists(
    settings: Settings, view: View, api: httpx.AsyncClient, redis: RedisClient
) -> None:
    """A generation built by the same fold and fan-out (as a rebuild's replay does) has
    the lists the API reads once it is served."""
    owner = str(uuid.uuid4())
    await view.deployment(owner, "old")
    rebuilt = View(redis, Keys(settings.redis.prefix), "g-rebuilt")
    new = await rebuilt.deployment(owner, "new")
    headers = bearer(settings, owner)
    assert [i["name"] for i in (await api.get("/status", headers=headers)).json()["items"]] == [
        "old"
    ]
    await redis.set(Keys(settings.redis.prefix).generation, "g-rebuilt")

    async def listed() -> list[str]:
        items = (await api.get("/status", headers=headers)).json()["items"]
        return [item["deployment_id"] for item in items]

    await wait_for(listed, lambda ids: ids == [new], "the rebuilt generation's list")


async def test_ls_prints_the_callers_table(
    settings: Settings, view: View, api: httpx.AsyncClient
) -> None:
    """`deploystatus ls` walks every page through the API, filters as asked, and prints a
    row per deployment, worst first, then the counts; a refused filter is exit 1."""
    owner = str(uuid.uuid4())
    await view.deployment(owner, "web", ("running",), target=2)
    await view.deployment(owner, "db", ())
    await view.deployment(owner, "api")
    await view.deployment(str(uuid.uuid4()), "theirs", ())
    token, url = mint_token(settings, owner), str(api.base_url)

    listed = await run_cli(settings, "ls", "--url", url, "--token", token)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.decode().splitlines()
    assert lines[0].split() == ["NAME", "HEALTH", "STATUS", "RUNNING", "UPDATED", "ID"]
    assert [line.split()[:4] for line in lines[1:4]] == [
        ["db", "unhealthy", "running", "0/1"],
        ["web", "degraded", "running", "1/2"],
        ["api", "healthy", "running", "1/1"],
    ]
    assert lines[4] == "3 listed; of all yours: healthy 1, degraded 1, unhealthy 1"

    filtered = await run_cli(
        settings, "ls", "--health", "degraded,unhealthy", "--url", url, "--token", token
    )
    assert [line.split()[0] for line in filtered.stdout.decode().splitlines()[1:-1]] == [
        "db",
        "web",
    ]
    refused = await run_cli(settings, "ls", "--status", "paused", "--url", url, "--token", token)
    assert refused.returncode == 1
    assert "unknown status 'paused'" in refused.stderr.decode()
