"""`GET /status/watch?health=...&status=...`: the per-owner stream with the list's filters
(Kubernetes field-selector semantics), against the real broker, projector, Redis and API."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator

import orjson
import pytest
from httpx_sse import ServerSentEvent
from support.api import bearer, running_api
from support.processes import running_projector
from support.publishing import publish, replica_change
from support.sse import next_data, stream
from support.view import wait_for_view

from cli.samples import SimulatedDeployment, create_deployment
from deploystatus.settings import Settings
from events import Event, new_event


@pytest.fixture
def watch_settings(settings):
    return settings.replace(watch_heartbeat_seconds=0.5)


class Log:
    """Every event published so far: each change is awaited in the view before the test
    goes on, so that what a stream did not send is known not to be coming."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.events: list[Event] = []

    async def apply(self, *events: Event) -> None:
        await publish(self.settings, events)
        self.events += events
        await wait_for_view(self.settings, self.events)


def deployments(owner: str, seed: int, *replicas: int) -> list[tuple[SimulatedDeployment, list]]:
    rng = random.Random(seed)
    return [create_deployment(owner, f"d{i}", n, rng) for i, n in enumerate(replicas)]


def status_change(dep: SimulatedDeployment, old: str, new: str) -> Event:
    data = {"old_status": old, "new_status": new, "reason": "test"}
    return new_event("deployment.status_changed", dep.deployment_id, data)


def scaled(dep: SimulatedDeployment, target: int) -> Event:
    return new_event("deployment.scaled", dep.deployment_id, {"target_replicas": target})


def deleted(dep: SimulatedDeployment) -> Event:
    return new_event("deployment.deleted", dep.deployment_id)


def about(event: ServerSentEvent) -> tuple[str, str]:
    """An event's name and the deployment it is about."""
    return event.event, orjson.loads(event.data)["deployment_id"]


async def data_events(sse: AsyncIterator[ServerSentEvent], n: int) -> list[ServerSentEvent]:
    return [await next_data(sse) for _ in range(n)]


async def test_first_only_the_matching_documents_of_the_caller(watch_settings):
    """The stream opens with the caller's matching documents only; changes of a deployment
    that does not match, or of another owner's, send nothing."""
    settings, log = watch_settings, Log(watch_settings)
    alice, bob = str(uuid.uuid4()), str(uuid.uuid4())
    (healthy, h_events), (degraded, d_events), (unhealthy, u_events) = deployments(
        alice, 1, 1, 2, 1
    )
    [(theirs, t_events)] = deployments(bob, 2, 2)
    async with running_projector(settings), running_api(settings) as client:
        await log.apply(
            *h_events,
            *d_events,
            *u_events,
            *t_events,
            replica_change(degraded, "failed"),
            replica_change(unhealthy, "failed"),
            replica_change(theirs, "failed"),
        )
        path = "/status/watch?health=degraded,unhealthy"
        async with stream(client, path, bearer(settings, alice)) as sse:
            first = await data_events(sse, 2)
            assert {about(e) for e in first} == {
                ("status", degraded.deployment_id),
                ("status", unhealthy.deployment_id),
            }
            for event in first:
                deployment_id, _, version = event.id.partition("@")
                assert deployment_id == orjson.loads(event.data)["deployment_id"]
                assert version.isdigit()
            await log.apply(scaled(healthy, 0), replica_change(theirs, "running"))
            await log.apply(scaled(unhealthy, 3))
            marker = await next_data(sse)
            assert about(marker) == ("status", unhealthy.deployment_id)
            assert orjson.loads(marker.data)["target_replicas"] == 3


async def test_starting_and_stopping_to_match_and_deletion(watch_settings):
    """A deployment that starts to match gets `status`, a repeated event of it `version`, one
    that stops matching `left` (its id the deployment's), a matching one deleted `deleted`;
    the deletion of one that no longer matches sends nothing."""
    settings, log = watch_settings, Log(watch_settings)
    owner = str(uuid.uuid4())
    (x, x_events), (y, y_events), (w, w_events) = deployments(owner, 3, 1, 1, 1)
    async with running_projector(settings), running_api(settings) as client:
        await log.apply(*x_events, *y_events, *w_events)
        path = "/status/watch?status=failed,stopped"
        async with stream(client, path, bearer(settings, owner)) as sse:
            x_failed = status_change(x, "running", "failed")
            await log.apply(x_failed)
            started = await next_data(sse)
            assert about(started) == ("status", x.deployment_id)
            assert orjson.loads(started.data)["status"] == "failed"

            [repeated] = await publish(settings, [x_failed])
            moved = await next_data(sse)
            assert (moved.event, moved.id) == ("version", f"{x.deployment_id}@{repeated.offset}")
            assert orjson.loads(moved.data) == {
                "deployment_id": x.deployment_id,
                "version": repeated.offset,
            }

            await log.apply(status_change(x, "failed", "running"))
            left = await next_data(sse)
            assert (left.event, left.id) == ("left", x.deployment_id)
            assert orjson.loads(left.data) == {"deployment_id": x.deployment_id}

            await log.apply(status_change(y, "running", "stopped"))
            assert about(await next_data(sse)) == ("status", y.deployment_id)
            await log.apply(deleted(y))
            gone = await next_data(sse)
            assert (gone.event, gone.id) == ("deleted", y.deployment_id)
            assert orjson.loads(gone.data) == {"deployment_id": y.deployment_id}

            await log.apply(deleted(x))
            await log.apply(status_change(w, "running", "failed"))
            assert about(await next_data(sse)) == ("status", w.deployment_id)


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("health=sick", "unknown health 'sick': one of unhealthy, degraded, healthy"),
        (
            "health=healthy&status=running,Done",
            "unknown status 'Done': one of pending, scheduled, running, stopped, failed",
        ),
    ],
)
async def test_an_unknown_filter_value_is_400_naming_it(settings, query, detail):
    """An unknown health or status is 400 with a detail that names it, before any stream."""
    async with running_api(settings) as client:
        response = await client.get(
            f"/status/watch?{query}", headers=bearer(settings, str(uuid.uuid4()))
        )
    assert response.status_code == 400
    assert response.json() == {"detail": detail}


async def test_resuming_with_last_event_id(watch_settings):
    """A resumed stream sends the matching documents again except the one its Last-Event-ID
    proves held and unchanged; that one gets `left` if it stopped matching meanwhile."""
    settings, log = watch_settings, Log(watch_settings)
    owner = str(uuid.uuid4())
    found = deployments(owner, 4, 2, 2, 2)
    async with running_projector(settings), running_api(settings) as client:
        await log.apply(*(e for _, events in found for e in events))
        a, b, c = sorted((dep for dep, _ in found), key=lambda dep: dep.deployment_id)
        await log.apply(replica_change(a, "failed"), replica_change(b, "failed"))
        path, headers = "/status/watch?health=degraded", bearer(settings, owner)
        async with stream(client, path, headers) as sse:
            first = await data_events(sse, 2)
        assert [about(e) for e in first] == [
            ("status", a.deployment_id),
            ("status", b.deployment_id),
        ]

        async with stream(client, path, {**headers, "Last-Event-ID": first[1].id}) as sse:
            assert about(await next_data(sse)) == ("status", a.deployment_id)
            await log.apply(replica_change(c, "failed"))
            c_started = await next_data(sse)
            assert about(c_started) == ("status", c.deployment_id)

        await log.apply(replica_change(c, "running"))
        async with stream(client, path, {**headers, "Last-Event-ID": c_started.id}) as sse:
            resumed = await data_events(sse, 3)
            assert [about(e) for e in resumed] == [
                ("status", a.deployment_id),
                ("status", b.deployment_id),
                ("left", c.deployment_id),
            ]
            await log.apply(scaled(a, 3))
            assert about(await next_data(sse)) == ("status", a.deployment_id)


async def test_the_unfiltered_stream_is_unchanged(watch_settings):
    """Without a filter, or with empty ones, every change is a `status`, a deletion `deleted`
    with the deployment's id as its id, and nothing is ever `left`."""
    settings, log = watch_settings, Log(watch_settings)
    owner = str(uuid.uuid4())
    [(dep, events)] = deployments(owner, 5, 1)
    headers = bearer(settings, owner)
    async with running_projector(settings), running_api(settings) as client:
        await log.apply(*events)
        async with (
            stream(client, "/status/watch", headers) as plain,
            stream(client, "/status/watch?health=&status=", headers) as empty,
        ):
            seen = [[await next_data(plain), await next_data(empty)]]
            await log.apply(replica_change(dep, "failed"))
            seen.append([await next_data(plain), await next_data(empty)])
            await log.apply(deleted(dep))
            seen.append([await next_data(plain), await next_data(empty)])
    for one, other in seen:
        assert (one.event, one.id, one.data) == (other.event, other.id, other.data)
    opened, failed, gone = (pair[0] for pair in seen)
    assert (opened.event, orjson.loads(opened.data)["health"]) == ("status", "healthy")
    assert (failed.event, orjson.loads(failed.data)["health"]) == ("status", "unhealthy")
    assert (gone.event, gone.id) == ("deleted", dep.deployment_id)
