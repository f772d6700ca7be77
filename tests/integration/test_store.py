"""The view adapter's contract, through its seams (``StatusStore`` for the projector's
writes, ``ViewReader`` for the API's reads, ``Generations`` for the generations' upkeep) and
the rebuild's ``Lease``, on a single Redis and on a Redis Cluster."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from api.notifications import ChangeFeed
from deploystatus.settings import Settings
from deploystatus.view.changes import Change
from deploystatus.view.client import RedisClient, create_redis
from deploystatus.view.errors import StoreUnavailable
from deploystatus.view.generations import RedisGenerations
from deploystatus.view.keys import Keys
from deploystatus.view.lease import Lease
from deploystatus.view.reads import RedisViewReader
from deploystatus.view.store import Budget, Generations, ViewReader
from devtools.devstack import start_redis, start_redis_cluster
from events import new_event
from projector.core.fold import apply_record
from projector.core.state import DeploymentState
from projector.store import RedisStatusStore, StatusStore, Write

# The same contract on a single Redis and on a 3-master Redis Cluster.
pytestmark = pytest.mark.parametrize("redis_kind", ["single", "cluster"], indirect=True)
GENERATION = "g-test"


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[RedisClient]:
    async with create_redis(settings) as client:
        yield client


@pytest.fixture
def store(redis: RedisClient, settings: Settings) -> StatusStore:
    keys = Keys(settings.redis.prefix)
    return RedisStatusStore(redis, keys, GENERATION, notify_channel=keys.changes)


@pytest.fixture
async def reader(settings: Settings) -> AsyncIterator[ViewReader]:
    async with create_redis(settings, role="api") as client:
        yield RedisViewReader(client, Keys(settings.redis.prefix))


@pytest.fixture
async def generations(redis: RedisClient, settings: Settings) -> AsyncIterator[Generations]:
    keys = Keys(settings.redis.prefix)
    yield RedisGenerations(redis, keys)
    # The control keys hash on "{prefix}", outside the pattern the settings fixture clears.
    await redis.delete(keys.generation, keys.building, keys.generations, keys.rebuild_lease)


@pytest.fixture
def stopped_redis(redis_kind: str, tmp_path) -> Iterator[tuple[Settings, object]]:
    """Settings for a Redis of this test's own (of the same kind), and the server to stop."""
    server = start_redis_cluster(3, log_dir=tmp_path) if redis_kind == "cluster" else None
    single = start_redis(log_dir=tmp_path) if server is None else None
    running = server or single
    assert running is not None
    try:
        yield Settings(_env_file=None, redis_url=running.url, redis_timeout_seconds=0.5), running
    finally:
        running.stop()


def created(owner: str | None = None) -> DeploymentState:
    deployment_id = str(uuid.uuid4())
    event = new_event(
        "deployment.created",
        deployment_id,
        {"user_id": owner or str(uuid.uuid4()), "name": "web", "target_replicas": 1},
    )
    return apply_record(None, event, 0)


async def test_a_stale_writer_loses_and_the_newer_document_stays(store: StatusStore) -> None:
    """Two writers fold from the same stored position; the second write is refused."""
    first = created()
    deployment_id = first.deployment_id
    assert await store.save([Write(first, -1)]) == set()
    base = (await store.load([deployment_id]))[deployment_id]
    assert base is not None and base.position == 0

    scaled_to = {}
    for writer, (offset, target) in enumerate(((1, 5), (2, 9))):
        event = new_event("deployment.scaled", deployment_id, {"target_replicas": target})
        scaled_to[writer] = Write(apply_record(base, event, offset), expected=base.position)

    assert await store.save([scaled_to[0]]) == set()
    assert await store.save([scaled_to[1]]) == {deployment_id}
    stored = (await store.load([deployment_id]))[deployment_id]
    assert stored == scaled_to[0].state
    assert stored.target_replicas == 5
    assert await store.positions([deployment_id]) == {deployment_id: 1}


async def test_unknown_deployments_load_as_none(store: StatusStore) -> None:
    """Loading ids that were never written gives None for each, in one call."""
    ids = [str(uuid.uuid4()) for _ in range(3)]
    assert await store.load(ids) == dict.fromkeys(ids)
    assert await store.positions(ids) == dict.fromkeys(ids, -1)


async def test_a_document_is_read_by_its_owner_alone(
    store: StatusStore, reader: ViewReader
) -> None:
    """The owner and a reader with the any-deployment scope get the stored bytes; another
    user gets None, exactly as for an unknown deployment."""
    owner, stranger = str(uuid.uuid4()), str(uuid.uuid4())
    state = created(owner)
    write = Write(state, -1)
    assert await store.save([write]) == set()
    assert await reader.served_generation() is None  # nothing switched to this test's one

    mine = await reader.read(GENERATION, state.deployment_id, owner, False)
    assert mine is not None
    assert (mine.document, mine.etag, mine.position) == (write.document, write.etag, 0)
    assert await reader.read(GENERATION, state.deployment_id, stranger, True) == mine
    assert await reader.read(GENERATION, state.deployment_id, stranger, False) is None
    assert await reader.read(GENERATION, str(uuid.uuid4()), owner, False) is None

    await store.index_owners([state])
    assert await reader.owned(GENERATION, owner) == [state.deployment_id]
    assert await reader.owned(GENERATION, stranger) == []


async def test_budgets_are_counted_in_the_read_round_trip(
    store: StatusStore, reader: ViewReader, settings: Settings
) -> None:
    """Each counter says 0 within its budget, then the ms left in its window."""
    owner = str(uuid.uuid4())
    state = created(owner)
    assert await store.save([Write(state, -1)]) == set()
    keys = Keys(settings.redis.prefix)
    budgets = [Budget(keys.rate_user(owner), 1, 60_000), Budget(keys.rate_ip("::1"), 5, 60_000)]

    counts, stored = await reader.read_counted(
        GENERATION, state.deployment_id, owner, False, budgets
    )
    assert counts == [0, 0] and stored is not None
    counts, stored = await reader.read_counted(
        GENERATION, state.deployment_id, owner, False, budgets
    )
    assert counts[1] == 0 and 0 < counts[0] <= 60_000 and stored is not None
    again = await reader.count(budgets)
    assert again[1] == 0 and 0 < again[0] <= 60_000


async def test_scripts_forgotten_by_redis_are_loaded_again(
    store: StatusStore, reader: ViewReader, redis: RedisClient, settings: Settings
) -> None:
    """After SCRIPT FLUSH (as after a Redis restart) writes, reads and counted reads work."""
    owner = str(uuid.uuid4())
    state = created(owner)
    budget = [Budget(Keys(settings.redis.prefix).rate_user(owner), 100, 60_000)]
    await redis.script_flush()  # on a cluster: on every primary
    assert await store.save([Write(state, -1)]) == set()
    await redis.script_flush()
    assert await reader.read(GENERATION, state.deployment_id, owner, False) is not None
    await redis.script_flush()
    counts, stored = await reader.read_counted(
        GENERATION, state.deployment_id, owner, False, budget
    )
    assert counts == [0] and stored is not None


async def test_a_stopped_redis_is_store_unavailable(stopped_redis) -> None:
    """Every operation of the seams and of the lease raises StoreUnavailable once Redis has
    stopped."""
    settings, server = stopped_redis
    state = created()
    async with create_redis(settings) as redis, create_redis(settings, role="api") as api:
        keys = Keys(settings.redis.prefix)
        store: StatusStore = RedisStatusStore(redis, keys, GENERATION)
        reader: ViewReader = RedisViewReader(api, keys)
        generations: Generations = RedisGenerations(redis, keys)
        lease = Lease(redis, keys.rebuild_lease, 5.0)
        assert await store.save([Write(state, -1)]) == set()
        assert await reader.read(GENERATION, state.deployment_id, state.owner or "", False)
        server.stop()  # type: ignore[attr-defined]
        ids = [state.deployment_id]
        calls: list[Callable[[], Awaitable[object]]] = [
            lambda: store.save([Write(state, 0)]),
            lambda: store.load(ids),
            lambda: store.positions(ids),
            lambda: store.index_owners([state]),
            store.ping,
            reader.served_generation,
            lambda: reader.read(GENERATION, ids[0], "u", False),
            lambda: reader.read_counted(GENERATION, ids[0], "u", False, []),
            lambda: reader.count([Budget("k", 1, 1000)]),
            lambda: reader.owned(GENERATION, "u"),
            reader.ping,
            generations.current,
            generations.building,
            lambda: generations.begin("rebuild", {0: 1}),
            lambda: generations.promote(GENERATION),
            lambda: generations.abandon(GENERATION),
            lambda: generations.advance(GENERATION, {0: 1}),
            lambda: generations.applied(GENERATION),
            generations.stale,
            lambda: generations.delete(GENERATION),
            lease.acquire,
            lease.holder,
            lease.renew,
            lease.release,
        ]
        for call in calls:
            with pytest.raises(StoreUnavailable):
                await call()


async def test_every_position_advance_is_announced_saying_whether_the_document_changed(
    settings: Settings, store: StatusStore
) -> None:
    """Each write publishes one message, heard by the API's feed: a repeated event id (the
    document unchanged) is announced as a position-only advance."""
    deployment_id, owner = str(uuid.uuid4()), str(uuid.uuid4())
    created_event = new_event(
        "deployment.created", deployment_id, {"user_id": owner, "name": "web", "target_replicas": 1}
    )
    scaled = new_event("deployment.scaled", deployment_id, {"target_replicas": 2})
    heard: list[Change] = []
    all_heard = asyncio.Event()

    def hear(change: Change) -> None:
        heard.append(change)
        if len(heard) == 3:
            all_heard.set()

    feed = ChangeFeed(settings)
    feed.dispatch = hear  # type: ignore[method-assign]
    await feed.start()
    try:
        await asyncio.wait_for(feed.subscribed.wait(), 10)
        state = None
        for offset, event in enumerate((created_event, scaled, scaled)):
            expected = state.position if state is not None else -1
            state = apply_record(state, event, offset)
            assert await store.save([Write(state, expected)]) == set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_heard.wait(), 10)
    finally:
        await feed.stop()
    assert heard == [
        Change(deployment_id, owner, 0, document_changed=True),
        Change(deployment_id, owner, 1, document_changed=True),
        Change(deployment_id, owner, 2, document_changed=False),
    ]


async def test_a_build_is_registered_once_and_promoted_only_while_it_is_the_one(
    generations: Generations,
) -> None:
    """begin() refuses while a build is registered; promote() serves the build it names and
    nothing else, returning the generation it replaced ('' for none)."""
    assert await generations.current() is None and await generations.building() is None
    first = await generations.begin("projectors", {0: 3, 1: 0})
    assert first is not None
    assert await generations.begin("rebuild", {}) is None
    assert await generations.building() == first
    assert not first.caught_up({0: 2}) and first.caught_up({0: 3})

    assert await generations.promote("g-other") is None
    assert await generations.promote(first.generation) == ""
    assert await generations.current() == first.generation
    assert await generations.building() is None

    second = await generations.begin("rebuild", {})
    assert second is not None and second.builder == "rebuild"
    await generations.abandon("g-other")  # not the one being built: nothing happens
    assert await generations.building() == second
    await generations.abandon(second.generation)
    assert await generations.building() is None
    assert await generations.promote(second.generation) is None
    assert await generations.current() == first.generation


async def test_applied_offsets_never_move_backwards(generations: Generations) -> None:
    """advance() records the next offset per partition, ignoring any lower than stored."""
    await generations.advance(GENERATION, {0: 5, 1: 2})
    await generations.advance(GENERATION, {0: 3, 1: 4, 2: 1})
    await generations.advance(GENERATION, {})
    assert await generations.applied(GENERATION) == {0: 5, 1: 4, 2: 1}


async def test_a_generation_neither_served_nor_built_is_stale_and_deleted(
    generations: Generations, redis: RedisClient, settings: Settings
) -> None:
    """stale() lists a generation with keys that is neither served nor being built; delete()
    removes its keys, and it is no longer listed."""
    served = await generations.begin("projectors", {})
    assert served is not None and await generations.promote(served.generation) == ""
    old = await generations.begin("rebuild", {})
    assert old is not None
    await generations.abandon(old.generation)
    await generations.advance(old.generation, {0: 1})
    stale_store = RedisStatusStore(redis, Keys(settings.redis.prefix), old.generation)
    assert await stale_store.save([Write(created(), -1), Write(created(), -1)]) == set()

    assert await generations.stale() == [old.generation]
    assert await generations.delete(old.generation) == 3  # two deployments, the applied hash
    assert await generations.stale() == []
    assert await generations.applied(old.generation) == {}
    assert await generations.current() == served.generation


async def test_a_lease_has_one_holder_until_released_or_expired(
    redis: RedisClient, settings: Settings
) -> None:
    """A second contender is refused and told who holds it; only the holder renews and
    releases it; an expired lease can be taken by another."""
    key = Keys(settings.redis.prefix).rebuild_lease
    first, second = Lease(redis, key, 5.0), Lease(redis, key, 0.2)
    assert await first.acquire()
    assert not await second.acquire()
    assert await second.holder() == first.token
    assert not await second.renew()
    await second.release()  # not the holder's: nothing happens
    assert await first.renew()
    await first.release()
    assert await first.holder() is None

    assert await second.acquire()
    await asyncio.sleep(0.4)
    assert not await second.renew()  # expired
    assert await first.acquire()
    await first.release()


async def test_the_generations_and_lease_scripts_are_loaded_again(
    generations: Generations, redis: RedisClient, settings: Settings
) -> None:
    """After SCRIPT FLUSH (as after a Redis restart) begin, advance, promote, renew and
    release work."""
    lease = Lease(redis, Keys(settings.redis.prefix).rebuild_lease, 5.0)
    await redis.script_flush()
    build = await generations.begin("projectors", {})
    assert build is not None
    await redis.script_flush()
    await generations.advance(build.generation, {0: 1})
    await redis.script_flush()
    assert await generations.promote(build.generation) == ""
    assert await lease.acquire()
    await redis.script_flush()
    assert await lease.renew()
    await redis.script_flush()
    await lease.release()
    assert await lease.holder() is None


async def test_verify_reads_every_document_and_finds_the_unknown_ones(
    store: StatusStore, redis: RedisClient, settings: Settings
) -> None:
    """The audit reads give each deployment's document and position whoever owns it (None
    and -1 for an unknown one), and the served deployments outside a known set."""
    view = RedisViewReader(redis, Keys(settings.redis.prefix))
    known, extra = created(), created()
    unknown = str(uuid.uuid4())
    assert await store.save([Write(known, -1), Write(extra, -1)]) == set()

    found = await view.documents_and_positions(GENERATION, [known.deployment_id, unknown])
    assert found == {
        known.deployment_id: (Write(known, -1).document, 0),
        unknown: (None, -1),
    }
    assert await view.served_except(GENERATION, {known.deployment_id}) == [extra.deployment_id]
