"""When Redis comes back empty the projectors rebuild the view by themselves, without
dead-lettering anything twice; `verify` tells a tampered view from a correct one."""

from __future__ import annotations

import gc
import random
import uuid

from prometheus_client import REGISTRY
from support.api import bearer, running_api
from support.processes import run_cli, running_projector
from support.publishing import publish, publish_records
from support.topics import read_topic
from support.view import served_generation, wait_for_view
from test_crash_recovery import scenario

from cli.samples import create_deployment
from deploystatus.view.client import create_redis
from deploystatus.view.keys import DOCUMENT, Keys


def held_states() -> float:
    """deploystatus_projector_cached_states of this process (its in-process projectors)."""
    return REGISTRY.get_sample_value("deploystatus_projector_cached_states") or 0.0


async def test_flushed_redis_is_rebuilt_by_the_projector(own_redis):
    """FLUSHALL under a running projector: the API answers 503 (never a wrong 404) until
    the view is back, complete; no bad record is dead-lettered twice; verify passes."""
    _, settings = own_redis
    events = scenario(seed=51, deployments=8, changes=40)
    bad = [(b"k", b"not json", None), (b"k2", b"[]", None)]
    await publish_records(settings, [(None, None, e) for e in events[:30]] + bad)
    later = events[30:]
    owner, dep_id = str(events[0].data.user_id), events[0].deployment_id

    gc.collect()  # the stopped projectors of earlier tests in this process
    held_before = held_states()
    async with running_projector(settings), running_api(settings) as client:
        await wait_for_view(settings, events[:30])
        assert len(await read_topic(settings, settings.kafka.dlq_topic, 2)) == 2
        before = await served_generation(settings)

        async with create_redis(settings) as redis:
            await redis.flushall()
        response = await client.get(f"/status/{dep_id}", headers=bearer(settings, owner))
        assert response.status_code in (200, 503)  # 200 only from the API's last second
        await publish(settings, later)
        await wait_for_view(settings, events)
        after = await served_generation(settings)
        assert after is not None and after != before
        response = await client.get(f"/status/{dep_id}", headers=bearer(settings, owner))
        assert response.status_code == 200
        # The lost generation's states went with its consumer: only the new one's are held.
        assert held_states() - held_before <= len({e.deployment_id for e in events})
    assert held_states() == held_before, "a stopped projector holds no states"

    dead = await read_topic(settings, settings.kafka.dlq_topic, 3, patience=3)
    assert len(dead) == 2, "each bad record is dead-lettered once"
    verified = await run_cli(settings, "verify")
    assert verified.returncode == 0, verified.stdout.decode() + verified.stderr.decode()


async def test_verify_reports_a_tampered_document(settings):
    """A served document that differs from the fold of the log fails verify, naming the
    deployment, the field, the expected and the served value."""
    dep, events = create_deployment(str(uuid.uuid4()), "web", 2, random.Random(52))
    await publish(settings, events)
    async with running_projector(settings):
        await wait_for_view(settings, events)
    generation = await served_generation(settings)
    key = Keys(settings.redis.prefix).deployment(generation, dep.deployment_id)
    async with create_redis(settings) as redis:
        document = await redis.hget(key, DOCUMENT)
        await redis.hset(key, DOCUMENT, document.replace(b'"name":"web"', b'"name":"evil"'))

    result = await run_cli(settings, "verify")
    assert result.returncode == 1
    assert f"{dep.deployment_id}  name: expected 'web', served 'evil'".encode() in result.stdout
    sampled = await run_cli(settings, "verify", "--sample", "1")
    assert sampled.returncode == 1
