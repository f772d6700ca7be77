"""The API's document cache (api/document_cache.py) on a real broker, Redis and projector:
an owner's repeated read costs no Redis command, a change reaches readers, deletions and
other users still get their 404 from Redis, and a frozen Redis turns into 503s."""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid

import pytest
from prometheus_client import REGISTRY
from support.api import bearer, running_api
from support.processes import running_projector
from support.publishing import publish, replica_change
from support.view import wait_for_view
from support.waiting import wait_for

from cli.samples import create_deployment
from deploystatus.view.client import create_redis
from events import new_event

ALICE = str(uuid.UUID(int=1, version=4))
BOB = str(uuid.UUID(int=2, version=4))


async def read_scripts_run(settings) -> int:
    """How many EVALSHA commands Redis has run so far (the API's reads are EVALSHA)."""
    async with create_redis(settings) as redis:
        stats = await redis.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


def cache_misses() -> float:
    """The document cache's misses so far in this process (the API runs in the tests')."""
    labels = {"result": "miss"}
    return REGISTRY.get_sample_value("deploystatus_api_document_cache_lookups_total", labels) or 0


@pytest.fixture
def unmetered(settings):
    """Settings without request budgets: counting them is a Redis round trip of its own."""
    return settings.replace(api_rate_limit_per_user=0, api_rate_limit_per_ip=0)


@contextlib.asynccontextmanager
async def alices_deployment(settings, seed: int):
    """A projector and an API serving one deployment of Alice's (2 replicas, running):
    yields the client, the deployment, its events, its URL and Alice's headers."""
    dep, events = create_deployment(ALICE, f"svc-{seed}", 2, random.Random(seed))
    url, alice = f"/status/{dep.deployment_id}", bearer(settings, ALICE)
    async with running_projector(settings), running_api(settings) as client:
        await publish(settings, events)
        await wait_for_view(settings, events)
        yield client, dep, events, url, alice


async def test_owner_reads_hit_the_cache_and_changes_reach_them(unmetered):
    settings = unmetered
    async with alices_deployment(settings, 7) as (client, dep, events, url, alice):
        first = await client.get(url, headers=alice)
        assert first.status_code == 200

        before = await read_scripts_run(settings)
        again = [await client.get(url, headers=alice) for _ in range(20)]
        assert [r.content for r in again] == [first.content] * 20
        assert {r.headers["etag"] for r in again} == {first.headers["etag"]}
        # The projector writes with EVALSHA too, but nothing is being written now.
        assert await read_scripts_run(settings) == before

        # Someone else's request for the cached id goes to Redis and gets the usual 404.
        foreign = await client.get(url, headers=bearer(settings, BOB))
        assert foreign.status_code == 404
        assert await read_scripts_run(settings) == before + 1

        # A change: the projector's notification drops the cached copy.
        change = replica_change(dep, "failed")
        await publish(settings, [change])
        await wait_for_view(settings, [*events, change])
        changed = await wait_for(
            lambda: client.get(url, headers=alice),
            lambda r: r.json()["health"] == "degraded",
            "the change through the API",
        )
        assert changed.headers["etag"] != first.headers["etag"]

        # A deletion: 404 from then on, as for any deleted deployment.
        await publish(settings, [new_event("deployment.deleted", dep.deployment_id)])
        await wait_for(
            lambda: client.get(url, headers=alice), lambda r: r.status_code == 404, "deletion"
        )


async def test_frozen_redis_stops_cached_answers_within_the_bound(own_redis):
    server, settings = own_redis
    settings = settings.replace(api_cache_max_staleness_ms=300)
    async with alices_deployment(settings, 8) as (client, _, _, url, alice):
        assert (await client.get(url, headers=alice)).status_code == 200
        server.pause()
        try:
            # Past the staleness bound the cache vouches for nothing: Redis is asked, times out.
            await asyncio.sleep(0.6)
            assert (await client.get(url, headers=alice)).status_code == 503
        finally:
            server.resume()
        await wait_for(
            lambda: client.get(url, headers=alice), lambda r: r.status_code == 200, "recovery"
        )


async def test_lost_subscription_empties_the_cache(unmetered):
    """CLIENT KILL of the feed's connection: what was cached is forgotten (messages may have
    been missed), the feed subscribes again, and later changes still reach readers."""
    settings = unmetered
    async with alices_deployment(settings, 9) as (client, dep, _, url, alice):
        assert (await client.get(url, headers=alice)).status_code == 200
        async with create_redis(settings) as redis:
            assert await redis.client_kill_filter(_type="pubsub") >= 1
        before = await read_scripts_run(settings)
        assert (await client.get(url, headers=alice)).status_code == 200
        assert await read_scripts_run(settings) == before + 1  # not from the cache

        scaled = new_event("deployment.scaled", dep.deployment_id, {"target_replicas": 3})
        await publish(settings, [scaled])
        await wait_for(
            lambda: client.get(url, headers=alice),
            lambda r: r.json()["target_replicas"] == 3,
            "the change after resubscription",
        )


async def test_a_repeated_event_keeps_the_cached_document_at_the_stored_position(unmetered):
    """An event that changes nothing (a repeated id) keeps the cached document and moves its
    X-Applied-Offset to the position now stored; the owner's reads stay off Redis."""
    settings = unmetered
    async with alices_deployment(settings, 10) as (client, _, events, url, alice):
        first = await client.get(url, headers=alice)
        misses = cache_misses()
        [repeated] = await publish(settings, [events[-1]])
        assert repeated.offset > int(first.headers["x-applied-offset"])
        moved = await wait_for(
            lambda: client.get(url, headers=alice),
            lambda r: r.headers["x-applied-offset"] == str(repeated.offset),
            "the stored position in the cached answer",
        )
        assert moved.content == first.content
        assert moved.headers["etag"] == first.headers["etag"]
        assert cache_misses() == misses  # kept, not dropped and read again
