"""Live status: SSE watch streams, the per-owner stream, read-your-writes, the changelog
topic and `deploystatus watch`."""

from __future__ import annotations

import asyncio
import contextlib
import io
import random
import statistics
import time
import uuid

import httpx
import orjson
import pytest
from support.api import bearer, running_api
from support.processes import run_cli, running_projector
from support.publishing import publish, replica_change
from support.sse import next_event, stream
from support.topics import read_topic
from support.view import served_generation, stored_documents, wait_for_view
from support.waiting import wait_for

from cli.samples import create_deployment
from cli.watch_client import watch
from deploystatus.kafka import create_producer
from deploystatus.view.client import create_redis
from deploystatus.view.keys import POSITION, Keys
from devtools.devstack import free_port
from events import new_event
from events.publisher import EventPublisher


@pytest.fixture
def watch_settings(settings):
    return settings.replace(watch_heartbeat_seconds=0.5)


async def test_watcher_gets_each_change_in_order_and_strangers_get_404(watch_settings):
    """A watcher gets the current document, then each change in order (latency reported);
    another user's watch of the same id is 404 and nothing else."""
    settings = watch_settings
    owner = str(uuid.uuid4())
    dep, events = create_deployment(owner, "web", 2, random.Random(81))
    await publish(settings, events)
    latencies = []
    async with running_projector(settings), running_api(settings) as client:
        await wait_for_view(settings, events)
        stranger = await client.get(
            f"/status/{dep.deployment_id}/watch", headers=bearer(settings, str(uuid.uuid4()))
        )
        assert stranger.status_code == 404
        assert stranger.json() == {
            "detail": f"Deployment {dep.deployment_id} not found or access denied"
        }
        producer = create_producer(settings, "tests-latency")
        await producer.start()
        publisher = EventPublisher(producer, settings.kafka.events_topic)
        path = f"/status/{dep.deployment_id}/watch"
        async with stream(client, path, bearer(settings, owner)) as sse:
            first = await next_event(sse)
            assert orjson.loads(first.data)["health"] == "healthy"
            versions = [int(first.id)]
            for status in ["failed", "starting", "running"] * 5:
                change = replica_change(dep, status)
                sent_at = time.perf_counter()
                await publisher.publish([change])
                event = await next_event(sse)
                latencies.append(time.perf_counter() - sent_at)
                assert orjson.loads(event.data)["replicas"][0]["status"] == status
                versions.append(int(event.id))
        await producer.stop()
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    print(
        f"\nwatch latency publish->event: p50 {statistics.median(latencies) * 1000:.1f} ms, "
        f"max {max(latencies) * 1000:.1f} ms over {len(latencies)} changes"
    )


async def test_last_event_id_and_deletion(watch_settings):
    """Reconnecting with the current Last-Event-ID sends nothing until a change; a deletion
    ends the stream with a `deleted` event."""
    settings = watch_settings
    owner = str(uuid.uuid4())
    dep, events = create_deployment(owner, "web", 1, random.Random(82))
    await publish(settings, events)
    path, headers = f"/status/{dep.deployment_id}/watch", bearer(settings, owner)
    async with running_projector(settings), running_api(settings) as client:
        await wait_for_view(settings, events)
        async with stream(client, path, headers) as sse:
            current = await next_event(sse)
        async with stream(client, path, {**headers, "Last-Event-ID": current.id}) as sse:
            with pytest.raises(TimeoutError):
                await next_event(sse, patience=1.5)
        async with stream(client, path, {**headers, "Last-Event-ID": current.id}) as sse:
            await publish(settings, [replica_change(dep, "failed")])
            changed = await next_event(sse)
            assert int(changed.id) > int(current.id)
            await publish(settings, [new_event("deployment.deleted", dep.deployment_id)])
            deleted = await next_event(sse, "deleted")
            assert orjson.loads(deleted.data) == {"deployment_id": dep.deployment_id}
        assert (await client.get(path, headers=headers)).status_code == 404


async def test_watcher_survives_a_killed_subscription(watch_settings):
    """CLIENT KILL of the API's pub/sub connection: the watcher still ends with the latest
    document (the feed resubscribes and every watcher re-reads)."""
    settings = watch_settings
    owner = str(uuid.uuid4())
    dep, events = create_deployment(owner, "web", 1, random.Random(83))
    await publish(settings, events)
    async with running_projector(settings), running_api(settings) as client:
        await wait_for_view(settings, events)
        async with stream(
            client, f"/status/{dep.deployment_id}/watch", bearer(settings, owner)
        ) as sse:
            await next_event(sse)
            async with create_redis(settings) as redis:
                killed = await redis.client_kill_filter(_type="pubsub")
            assert killed >= 1
            await publish(settings, [replica_change(dep, "failed")])
            event = await next_event(sse)
            while orjson.loads(event.data)["replicas"][0]["status"] != "failed":
                event = await next_event(sse)
    latest = (await stored_documents(settings, [dep.deployment_id]))[dep.deployment_id]
    assert event.data.encode() == latest


async def test_a_thousand_watchers_get_the_final_document(watch_settings):
    """1,000 concurrent watchers of one deployment on one API process all receive the
    final document."""
    # Opening 1,000 streams keeps the API's event loop busy for seconds on 2 shared cores
    # (with the other test workers): a Redis read may then take longer than the API's
    # fail-fast 0.5 s and be answered 503, as documented. What this test checks is the
    # fan-out, so the API gets the time.
    settings = watch_settings.replace(watch_max_streams_per_user=0, api_redis_timeout_seconds=10.0)
    owner = str(uuid.uuid4())
    dep, events = create_deployment(owner, "web", 2, random.Random(84))
    await publish(settings, events)
    final = replica_change(dep, "failed")
    async with running_projector(settings), running_api(settings) as api:
        await wait_for_view(settings, events)
        base, headers = str(api.base_url), bearer(settings, owner)
        limits = httpx.Limits(max_connections=1100, max_keepalive_connections=0)
        opened = asyncio.Semaphore(0)
        opening = asyncio.Semaphore(50)  # streams being opened at once (bounded load)

        async def watcher(client: httpx.AsyncClient) -> str:
            await opening.acquire()
            async with stream(client, f"/status/{dep.deployment_id}/watch", headers) as sse:
                await next_event(sse)
                opening.release()
                opened.release()
                while True:
                    event = await next_event(sse, patience=60)
                    if orjson.loads(event.data)["replicas"][0]["status"] == "failed":
                        return event.data

        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
            tasks = [asyncio.create_task(watcher(client)) for _ in range(1000)]
            for _ in range(1000):
                try:
                    await asyncio.wait_for(opened.acquire(), 60)
                except TimeoutError:
                    failed = [t.exception() for t in tasks if t.done() and t.exception()]
                    raise AssertionError(f"watchers not opened; failures: {failed[:3]}") from None
            await publish(settings, [final])
            results = await asyncio.gather(*tasks)
    assert len(results) == 1000 and len(set(results)) == 1


async def test_owner_stream_carries_all_and_only_the_callers_deployments(watch_settings):
    """`GET /status/watch` streams every deployment of the caller, their changes, and
    nothing of anyone else's."""
    settings = watch_settings
    alice, bob = str(uuid.uuid4()), str(uuid.uuid4())
    rng = random.Random(85)
    mine = [create_deployment(alice, f"a{i}", 1, rng) for i in range(3)]
    theirs = create_deployment(bob, "b", 1, rng)
    events = [e for _, evs in [*mine, theirs] for e in evs]
    await publish(settings, events)
    async with running_projector(settings), running_api(settings) as client:
        await wait_for_view(settings, events)
        async with stream(client, "/status/watch", bearer(settings, alice)) as sse:
            seen = {orjson.loads((await next_event(sse)).data)["deployment_id"] for _ in mine}
            assert seen == {dep.deployment_id for dep, _ in mine}
            await publish(settings, [replica_change(theirs[0], "failed")])
            await publish(settings, [replica_change(mine[1][0], "failed")])
            event = await next_event(sse)
            document = orjson.loads(event.data)
            assert document["deployment_id"] == mine[1][0].deployment_id
            assert document["replicas"][0]["status"] == "failed"


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


@pytest.mark.long
async def test_changelog_topic_holds_the_latest_document_and_tombstones(settings):
    """The compacted changelog's latest value per key equals the Redis document; a deleted
    deployment's latest value is a tombstone."""
    owner = str(uuid.uuid4())
    rng = random.Random(87)
    kept, kept_events = create_deployment(owner, "kept", 2, rng)
    gone, gone_events = create_deployment(owner, "gone", 1, rng)
    events = [*kept_events, *gone_events, replica_change(kept, "failed")]
    events.append(new_event("deployment.deleted", gone.deployment_id))
    await publish(settings, events)
    async with running_projector(settings):
        await wait_for_view(settings, events)
        records = await read_topic(settings, settings.kafka.status_topic, 2, patience=5)
        latest = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            records = await read_topic(settings, settings.kafka.status_topic, 10**6, patience=1)
            latest = {r.key.decode(): r.value for r in records}
            if len(latest) == 2 and latest.get(gone.deployment_id, b"") is None:
                break
    served = await stored_documents(settings, [kept.deployment_id])
    assert latest[kept.deployment_id] == served[kept.deployment_id]
    assert latest[gone.deployment_id] is None


async def test_watch_cli_until_healthy_and_timeout(watch_settings, tmp_path):
    """`deploystatus watch --until healthy` exits 0 once replicas come up, and 1 when the
    condition does not hold before --timeout."""
    settings = watch_settings
    owner = str(uuid.uuid4())
    dep, events = create_deployment(owner, "web", 2, random.Random(88))
    starting = [
        e for e in events if e.type != "replica.status_changed" or e.data.status != "running"
    ]
    await publish(settings, starting)
    async with running_projector(settings), running_api(settings) as client:
        await wait_for_view(settings, starting)
        token = bearer(settings, owner)["Authorization"].removeprefix("Bearer ")
        args = ["watch", dep.deployment_id, "--url", str(client.base_url), "--token", token]
        timed_out = await run_cli(settings, *args, "--until", "healthy", "--timeout", "2")
        assert timed_out.returncode == 1
        assert b"timed out" in timed_out.stderr
        watching = asyncio.create_task(
            run_cli(settings, *args, "--until", "healthy", "--timeout", "60")
        )
        await asyncio.sleep(1.0)
        await publish(settings, [e for e in events if e not in starting])
        done = await watching
    assert done.returncode == 0, done.stderr.decode()
    assert b"health=healthy" in done.stdout


async def test_watch_client_survives_an_api_restart(watch_settings):
    """The API restarts while `deploystatus watch` follows a deployment: the client
    reconnects (with Last-Event-ID) and still sees the change made meanwhile."""
    settings = watch_settings
    owner = str(uuid.uuid4())
    dep, events = create_deployment(owner, "web", 2, random.Random(89))
    await publish(settings, events)
    port = free_port()
    token = bearer(settings, owner)["Authorization"].removeprefix("Bearer ")
    output = io.StringIO()
    async with running_projector(settings):
        await wait_for_view(settings, events)
        async with running_api(settings, port):
            following = asyncio.create_task(
                watch(f"http://127.0.0.1:{port}", token, dep.deployment_id, "degraded", 60, output)
            )
            await wait_for(lambda: asyncio.sleep(0, output.getvalue()), bool, "the first event")
        await publish(settings, [replica_change(dep, "failed")])  # while the API is down
        async with running_api(settings, port):
            assert await asyncio.wait_for(following, 60) == 0
    assert "health=healthy" in output.getvalue()
    assert "health=degraded" in output.getvalue()


@pytest.fixture
def unmetered(watch_settings):
    """Settings without request budgets: each API read is then one EVALSHA, and nothing else."""
    return watch_settings.replace(api_rate_limit_per_user=0, api_rate_limit_per_ip=0)


async def read_scripts_run(settings) -> int:
    """How many EVALSHA commands Redis has run so far (the API's reads are EVALSHA)."""
    async with create_redis(settings) as redis:
        stats = await redis.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


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
        started = time.monotonic()
        waiter = asyncio.create_task(
            client.get(url, params={"min_offset": repeat_offset, "wait": "8s"}, headers=headers)
        )
        await wait_for(lambda: read_scripts_run(settings), lambda n: n > reads, "the first read")
        [repeated] = await publish(settings, [event])
        assert repeated.offset == repeat_offset
        response = await waiter
        elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert int(response.headers["x-applied-offset"]) >= repeat_offset
    assert response.headers["etag"] == before.headers["etag"]
    assert elapsed < 4, f"answered after {elapsed:.1f}s"


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
