"""Read-your-writes: `GET /status/{id}?min_offset=N&wait=...` answers once offset N is applied,
whether or not the event changed the document (a repeated event moves only the position)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid

import httpx
import orjson
import pytest
from support.api import bearer, running_api
from support.processes import running_projector
from support.publishing import publish
from support.sse import next_event, stream
from support.view import served_generation, wait_for_view
from support.waiting import wait_for

from cli.samples import create_deployment
from deploystatus.view.client import create_redis
from deploystatus.view.keys import POSITION, Keys
from events import new_event


@pytest.fixture
def watch_settings(settings):
    return settings.replace(watch_heartbeat_seconds=0.5)


async def test_read_your_writes_with_min_offset(watch_settings):
    """`?min_offset=N&wait=2s` answers with a document that includes the event written at
    offset N, over many rounds; an offset never reached is 504 with Retry-After."""
    settings = watch_settings
    owner = str(uuid.uuid4())
    dep, events = create_deployment(owner, "web", 1, random.Random(86))
    await publish(settings, events)
    url, headers = f"/status/{dep.deployment_id}", bearer(settings, owner)
    async with running_projector(settings), running_api(settings) as client:
        await wait_for_view(settings, events)
        for round_ in range(30):
            target = round_ % 7
            [written] = await publish(
                settings,
                [new_event("deployment.scaled", dep.deployment_id, {"target_replicas": target})],
            )
            response = await client.get(
                url, params={"min_offset": written.offset, "wait": "5s"}, headers=headers
            )
            assert response.status_code == 200
            assert response.json()["target_replicas"] == target
            assert int(response.headers["x-applied-offset"]) >= written.offset
        too_new = written.offset + 1000
        response = await client.get(
            url, params={"min_offset": too_new, "wait": "0.3s"}, headers=headers
        )
        assert response.status_code == 504
        assert "retry-after" in response.headers
        assert str(too_new) in response.json()["detail"]
        assert str(written.offset) in response.json()["detail"]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"min_offset": "-1"}, "min_offset"),
        ({"min_offset": "1e3"}, "min_offset"),
        ({"min_offset": ""}, "min_offset"),
        ({"min_offset": "²"}, "min_offset"),  # a digit to str.isdigit, not to the pattern
        ({"min_offset": "12\n"}, "min_offset"),
        ({"min_offset": "12", "wait": "soon"}, "wait"),
    ],
)
async def test_malformed_min_offset_or_wait_is_400(settings, params, named):
    """What the schema's pattern for `min_offset` refuses, and a `wait` not like 2s or
    500ms, is 400 naming the parameter, before any read."""
    owner, deployment_id = str(uuid.uuid4()), str(uuid.uuid4())
    async with running_api(settings) as client:
        response = await client.get(
            f"/status/{deployment_id}", params=params, headers=bearer(settings, owner)
        )
    assert response.status_code == 400
    assert response.json()["detail"].startswith(f"{named} must")


@pytest.fixture
def unmetered(watch_settings):
    """Settings without request budgets: each API read is then one EVALSHA, and nothing else."""
    return watch_settings.replace(api_rate_limit_per_user=0, api_rate_limit_per_ip=0)


async def read_scripts_run(settings) -> int:
    """How many EVALSHA commands Redis has run so far (the API's reads are EVALSHA)."""
    async with create_redis(settings) as redis:
        stats = await redis.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


# How long a test awaits a waiter that the announcement of its offset must wake.
WOKEN_WITHIN_SECONDS = 10


@contextlib.asynccontextmanager
async def repeat_of_an_applied_event(settings, seed: int):
    """A projector and an API serving one deployment of a new owner, whose last event was
    applied at offset N: yields the client, the deployment, the owner's headers, N and that
    event (publishing it again, as a producer retry does, changes nothing but the position)."""
    owner = str(uuid.uuid4())
    dep, events = create_deployment(owner, "web", 1, random.Random(seed))
    scaled = new_event("deployment.scaled", dep.deployment_id, {"target_replicas": 3})
    async with running_projector(settings), running_api(settings) as client:
        *_, written = await publish(settings, [*events, scaled])
        await wait_for_view(settings, [*events, scaled])
        yield client, dep, bearer(settings, owner), written.offset, scaled


async def test_a_waiter_is_answered_when_a_repeated_event_advances_the_position(unmetered):
    """A `min_offset` waiter for the offset of a repeated event (the document unchanged)
    gets 200 as soon as that position is stored, not 504 when its wait runs out."""
    settings = unmetered
    async with repeat_of_an_applied_event(settings, 90) as (client, dep, headers, applied, event):
        url = f"/status/{dep.deployment_id}"
        before = await client.get(url, headers=headers)
        repeat_offset = applied + 1  # the next record of the deployment's partition
        reads = await read_scripts_run(settings)
        # Its wait outlasts the test's patience: only the announcement can answer it in time
        # (the re-read when a wait runs out would come after 30 s).
        waiter = asyncio.create_task(
            client.get(
                url,
                params={"min_offset": repeat_offset, "wait": "30s"},
                headers=headers,
                timeout=40,
            )
        )
        await wait_for(lambda: read_scripts_run(settings), lambda n: n > reads, "the first read")
        [repeated] = await publish(settings, [event])
        assert repeated.offset == repeat_offset
        response = await asyncio.wait_for(waiter, timeout=WOKEN_WITHIN_SECONDS)
    assert response.status_code == 200, response.text
    assert int(response.headers["x-applied-offset"]) >= repeat_offset
    assert response.headers["etag"] == before.headers["etag"]


async def test_a_waiter_reads_once_more_before_504_and_quotes_the_stored_offset(unmetered):
    """A position stored without any notification still answers a waiter when its wait runs
    out (200), and a 504 names the applied offset as stored at that moment."""
    settings = unmetered
    owner = str(uuid.uuid4())
    dep, events = create_deployment(owner, "web", 1, random.Random(92))
    url, headers = f"/status/{dep.deployment_id}", bearer(settings, owner)
    async with running_api(settings) as client:
        async with running_projector(settings):
            *_, last = await publish(settings, events)
            await wait_for_view(settings, events)
        reads = await read_scripts_run(settings)

        def waiting_for(offset: int) -> asyncio.Task[httpx.Response]:
            params = {"min_offset": offset, "wait": "1s"}
            return asyncio.create_task(client.get(url, params=params, headers=headers))

        reached, beyond = waiting_for(last.offset + 2), waiting_for(last.offset + 5)
        await wait_for(lambda: read_scripts_run(settings), lambda n: n >= reads + 2, "2 reads")
        # The position moves with no notification, as a lost message would leave it.
        generation = await served_generation(settings)
        async with create_redis(settings) as redis:
            key = Keys(settings.redis.prefix).deployment(generation, dep.deployment_id)
            await redis.hset(key, POSITION, last.offset + 3)
        ok, late = await reached, await beyond
    assert ok.status_code == 200, ok.text
    assert ok.headers["x-applied-offset"] == str(last.offset + 3)
    assert late.status_code == 504
    assert late.json()["detail"] == (
        f"Deployment {dep.deployment_id}: requested offset {last.offset + 5}, "
        f"applied offset {last.offset + 3}; retry later"
    )


async def test_a_repeated_event_moves_the_watch_id_without_resending_the_document(unmetered):
    """A repeated event (document unchanged) sends a `version` event with the new `id` on
    both streams; resuming from that id sends nothing, from the one before the document."""
    settings = unmetered
    async with repeat_of_an_applied_event(settings, 91) as (client, dep, headers, applied, event):
        path = f"/status/{dep.deployment_id}/watch"
        async with (
            stream(client, path, headers) as one,
            stream(client, "/status/watch", headers) as mine,
        ):
            first = await next_event(one)
            assert first.id == str(applied)
            assert (await next_event(mine)).id == f"{dep.deployment_id}@{applied}"
            [repeated] = await publish(settings, [event])
            version = {"deployment_id": dep.deployment_id, "version": repeated.offset}
            async with asyncio.timeout(30):
                moved, moved_too = await anext(one), await anext(mine)
            assert (moved.event, moved.id) == ("version", str(repeated.offset))
            assert orjson.loads(moved.data) == version
            assert (moved_too.event, moved_too.id) == (
                "version",
                f"{dep.deployment_id}@{repeated.offset}",
            )
            assert orjson.loads(moved_too.data) == version
        async with stream(client, path, {**headers, "Last-Event-ID": moved.id}) as resumed:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(1.5):
                    await anext(resumed)
        async with stream(client, path, {**headers, "Last-Event-ID": first.id}) as resumed:
            async with asyncio.timeout(30):
                again = await anext(resumed)
    assert again.event == "status"
    assert again.id == str(repeated.offset)
    assert again.data == first.data
