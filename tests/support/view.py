"""The view: what Redis must serve (the fold of the log) and what it serves (documents,
fold states, generations, applied counts)."""

from __future__ import annotations

from collections.abc import Iterable

from deploystatus.settings import Settings
from deploystatus.view.client import create_redis
from deploystatus.view.generations import RedisGenerations
from deploystatus.view.keys import DOCUMENT, STATE, Keys
from events.models import Event
from projector.core.document import render
from projector.core.fold import apply
from projector.core.state import DeploymentState
from projector.core.stored_state import from_stored
from support.waiting import WAIT_SECONDS, wait_for


def expected_states(events: Iterable[Event]) -> dict[str, DeploymentState]:
    """The fold of the whole log, per deployment: what the served view must equal."""
    states: dict[str, DeploymentState] = {}
    for event in events:
        states[event.deployment_id] = apply(states.get(event.deployment_id), event)
    return states


def expected_documents(events: Iterable[Event]) -> dict[str, bytes | None]:
    return {dep: render(state) for dep, state in expected_states(events).items()}


async def serve_empty_generation(settings: Settings) -> str:
    """Make Redis serve a new, empty generation, as projectors do on an empty log."""
    async with create_redis(settings) as redis:
        generations = RedisGenerations(redis, Keys(settings.redis.prefix))
        build = await generations.begin("projectors", {})
        assert build is not None
        assert await generations.promote(build.generation) is not None
        return build.generation


async def served_generation(settings: Settings) -> str | None:
    async with create_redis(settings) as redis:
        raw = await redis.get(Keys(settings.redis.prefix).generation)
    return raw.decode() if raw else None


async def stored_documents(
    settings: Settings, deployment_ids: Iterable[str]
) -> dict[str, bytes | None] | None:
    """The served documents of these deployments, or None while no generation is served."""
    keys = Keys(settings.redis.prefix)
    async with create_redis(settings) as redis:
        raw = await redis.get(keys.generation)
        if raw is None:
            return None
        generation = raw.decode()
        return {
            dep: await redis.hget(keys.deployment(generation, dep), DOCUMENT)
            for dep in deployment_ids
        }


async def active_generation(settings: Settings) -> str | None:
    """The served generation, else the one being built."""
    async with create_redis(settings) as redis:
        generations = RedisGenerations(redis, Keys(settings.redis.prefix))
        build = await generations.building()
        return await generations.current() or (build.generation if build else None)


async def stored_state(settings: Settings, deployment_id: str) -> DeploymentState | None:
    """The fold state in the active generation (served, else being built)."""
    generation = await active_generation(settings) or ""
    async with create_redis(settings) as redis:
        key = Keys(settings.redis.prefix).deployment(generation, deployment_id)
        raw, document = await redis.hmget(key, [STATE, DOCUMENT])
    return from_stored(raw, document) if raw else None


async def wait_for_view(
    settings: Settings, events: list[Event], patience: float = WAIT_SECONDS
) -> None:
    """Wait until Redis serves exactly the fold of ``events`` for every deployment in them."""
    expected = expected_documents(events)
    await wait_for(
        lambda: stored_documents(settings, expected),
        lambda stored: stored == expected,
        f"the view of {len(expected)} deployment(s)",
        patience,
    )


async def applied_total(settings: Settings) -> int:
    """Records applied so far into the active generation, over all partitions."""
    generation = await active_generation(settings)
    if generation is None:
        return 0
    async with create_redis(settings) as redis:
        applied = await RedisGenerations(redis, Keys(settings.redis.prefix)).applied(generation)
    return sum(applied.values())
