"""Events published to the broker come out of the API as the fold of the log."""

from __future__ import annotations

import random
import uuid

import orjson
import pytest
from support.api import bearer, running_api
from support.processes import running_projector
from support.publishing import publish, replica_change
from support.view import wait_for_view

from api.schemas import StatusDocument
from cli.samples import create_deployment, simulation_step

# The same contract on a single Redis and on a 3-master Redis Cluster.
pytestmark = pytest.mark.parametrize("redis_kind", ["single", "cluster"], indirect=True)


async def test_published_events_are_served_as_the_fold_of_the_log(settings):
    """Every deployment's document through the API equals the pure fold of its events."""
    rng = random.Random(7)
    owners = [str(uuid.uuid4()) for _ in range(3)]
    deployments, events = [], []
    for i in range(9):
        dep, created = create_deployment(owners[i % 3], f"app-{i}", 1 + i % 3, rng)
        deployments.append(dep)
        events += created
    for _ in range(60):
        events += simulation_step(rng.choice(deployments), rng)

    await publish(settings, events)
    async with running_projector(settings), running_api(settings) as client:
        await wait_for_view(settings, events)
        for dep in deployments:
            response = await client.get(
                f"/status/{dep.deployment_id}", headers=bearer(settings, dep.owner)
            )
            assert response.status_code == 200
            assert response.headers["content-type"] == "application/json"
            document = StatusDocument.model_validate_json(response.content)
            assert document.deployment_id == dep.deployment_id
            assert document.name == dep.name
            assert [r.status for r in document.replicas] == list(dep.replicas.values())


async def test_changes_reach_the_api_and_change_the_etag(settings):
    """A later event updates the served document, its ETag, and the 304 answer."""
    rng = random.Random(1)
    owner = str(uuid.uuid4())
    dep, events = create_deployment(owner, "web", 2, rng)
    async with running_projector(settings), running_api(settings) as client:
        await publish(settings, events)
        await wait_for_view(settings, events)
        url, headers = f"/status/{dep.deployment_id}", bearer(settings, owner)
        first = await client.get(url, headers=headers)
        etag = first.headers["etag"]
        assert orjson.loads(first.content)["health"] == "healthy"

        unchanged = await client.get(url, headers={**headers, "If-None-Match": etag})
        assert unchanged.status_code == 304
        assert unchanged.content == b""

        change = replica_change(dep, "failed")
        await publish(settings, [change])
        await wait_for_view(settings, [*events, change])

        second = await client.get(url, headers={**headers, "If-None-Match": etag})
        assert second.status_code == 200
        assert second.headers["etag"] != etag
        body = orjson.loads(second.content)
        assert body["health"] == "degraded"
        assert body["replicas"][0]["stopped_at"] is not None
