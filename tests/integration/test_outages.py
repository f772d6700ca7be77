"""Outages of Redis or the broker are waited out: nothing is lost, nothing applied twice."""

from __future__ import annotations

import asyncio
import time

import pytest
from support.api import bearer, running_api
from support.processes import running_projector
from support.publishing import publish
from support.view import expected_states, stored_state, wait_for_view
from test_crash_recovery import scenario
from test_faults import settle

OUTAGE_SECONDS = 10


async def test_redis_outage_is_waited_out(own_redis, fault_report):
    """With Redis frozen the API answers 503 and the projector retries; after it returns,
    the view is the fold of the whole log and the API answers 200 again."""
    server, settings = own_redis
    events = scenario(seed=31, deployments=5, changes=30)
    before, during = events[:20], events[20:]
    owner_of = {
        e.deployment_id: str(e.data.user_id) for e in events if e.type == "deployment.created"
    }
    some_id = next(iter(owner_of))

    started = time.monotonic()
    async with running_projector(settings), running_api(settings) as client:
        await publish(settings, before)
        await wait_for_view(settings, before)

        server.pause()
        try:
            await publish(settings, during)
            url, headers = f"/status/{some_id}", bearer(settings, owner_of[some_id])
            response = await client.get(url, headers=headers)
            assert response.status_code == 503
            await asyncio.sleep(OUTAGE_SECONDS)  # the outage itself: nothing to await
        finally:
            server.resume()

        await settle(settings, events, fault_report, "Redis frozen 10 s", 1, started)
        assert (await client.get(url, headers=headers)).status_code == 200
    for deployment_id, expected in expected_states(events).items():
        assert (
            await stored_state(settings, deployment_id)
        ).events_applied == expected.events_applied


async def test_broker_outage_is_waited_out(settings, kafka, fault_report):
    """With the broker frozen (SIGSTOP) the projector and a publisher wait; after SIGCONT
    everything published is applied once."""
    if kafka.embedded is None:
        pytest.skip("pausing the broker needs the embedded broker process")
    events = scenario(seed=32, deployments=5, changes=30)
    before, during = events[:20], events[20:]

    started = time.monotonic()
    async with running_projector(settings):
        await publish(settings, before)
        await wait_for_view(settings, before)

        kafka.embedded.pause()
        try:
            publishing = asyncio.create_task(publish(settings, during))
            await asyncio.sleep(OUTAGE_SECONDS)  # the outage itself: nothing to await
            assert not publishing.done()
        finally:
            kafka.embedded.resume()
        await publishing
        await settle(settings, events, fault_report, "broker frozen 10 s", 1, started)
    for deployment_id, expected in expected_states(events).items():
        assert (
            await stored_state(settings, deployment_id)
        ).events_applied == expected.events_applied
