"""Object-level authorization (OWASP API1): someone else's, unknown, deleted and
not-yet-created deployments answer byte-identical 404s (for the same requested id; across
ids, identical once the id is masked), and their latencies do not tell them apart."""

from __future__ import annotations

import random
import statistics
import time
import uuid

from support.api import bearer, running_api
from support.processes import running_projector
from support.publishing import publish
from support.view import wait_for_view
from support.waiting import wait_for

from cli.samples import create_deployment
from events import new_event

ALICE = str(uuid.uuid4())
BOB = str(uuid.uuid4())
REQUESTS_PER_CLASS = 1000


def shape(response, deployment_id: str | None = None) -> tuple:
    """Status, headers in order (without Date) and body, the id masked when given."""
    body = response.content
    if deployment_id is not None:
        body = body.replace(deployment_id.encode(), b"<id>")
    headers = tuple((k, v) for k, v in response.headers.raw if k.lower() != b"date")
    return response.status_code, headers, body


async def test_the_same_id_answers_the_same_bytes_whatever_its_state(settings):
    """One id, asked by Alice while unknown, once Bob's, once deleted (and by Bob once
    deleted): byte-identical answers."""
    dep, events = create_deployment(BOB, "db", 1, random.Random(5))
    url = f"/status/{dep.deployment_id}"
    async with running_projector(settings), running_api(settings) as client:
        answers = {}
        await wait_for(
            lambda: client.get("/readyz"), lambda r: r.status_code == 200, "a served generation"
        )
        answers["unknown"] = shape(await client.get(url, headers=bearer(settings, ALICE)))
        await publish(settings, events)
        await wait_for_view(settings, events)
        assert (await client.get(url, headers=bearer(settings, BOB))).status_code == 200
        answers["Bob's"] = shape(await client.get(url, headers=bearer(settings, ALICE)))
        deleted = [*events, new_event("deployment.deleted", dep.deployment_id)]
        await publish(settings, deleted[-1:])
        await wait_for_view(settings, deleted)
        answers["deleted, Alice"] = shape(await client.get(url, headers=bearer(settings, ALICE)))
        answers["deleted, Bob"] = shape(await client.get(url, headers=bearer(settings, BOB)))
    assert answers["unknown"][0] == 404
    assert len(set(answers.values())) == 1, answers


async def test_bola_matrix_identical_bytes_and_latency(settings):
    """Alice on Bob's id, on an unknown id, on her deleted and her not-yet-created ids:
    identical answers (id masked); 1,000 interleaved requests per class have the same
    low latency quantiles within a generous bound (the figures are printed)."""
    own, own_events = create_deployment(ALICE, "web", 2, random.Random(1))
    bobs, bob_events = create_deployment(BOB, "db", 2, random.Random(2))
    gone, gone_events = create_deployment(ALICE, "old", 1, random.Random(3))
    gone_events.append(new_event("deployment.deleted", gone.deployment_id))
    uncreated = str(uuid.uuid4())
    early = [
        new_event(
            "replica.status_changed",
            uncreated,
            {"replica_id": str(uuid.uuid4()), "status": "running"},
        )
    ]
    events = own_events + bob_events + gone_events + early
    await publish(settings, events)
    # Budgets on (the same work as in production) but out of reach of this test.
    settings = settings.replace(api_rate_limit_per_user=10**9, api_rate_limit_per_ip=10**9)
    classes = {
        "Bob's": bobs.deployment_id,
        "unknown": str(uuid.uuid4()),
        "Alice's deleted": gone.deployment_id,
        "not yet created": uncreated,
    }
    async with running_projector(settings), running_api(settings) as client:
        await wait_for_view(settings, events)
        headers = bearer(settings, ALICE)
        shapes = {}
        for name, deployment_id in classes.items():
            response = await client.get(f"/status/{deployment_id}", headers=headers)
            assert response.status_code == 404, name
            assert "etag" not in response.headers
            shapes[name] = shape(response, deployment_id)
        assert len(set(shapes.values())) == 1, shapes

        # Timing: interleaved in random order on one keep-alive connection; warm up first.
        plan = [name for name in classes for _ in range(REQUESTS_PER_CLASS)]
        random.Random(11).shuffle(plan)
        urls = {name: f"/status/{deployment_id}" for name, deployment_id in classes.items()}
        for name in plan[:200]:
            await client.get(urls[name], headers=headers)
        timings: dict[str, list[float]] = {name: [] for name in classes}
        for name in plan:
            started = time.perf_counter()
            response = await client.get(urls[name], headers=headers)
            timings[name].append(time.perf_counter() - started)
            assert response.status_code == 404
        own_times = []
        for _ in range(200):
            started = time.perf_counter()
            await client.get(f"/status/{own.deployment_id}", headers=headers)
            own_times.append(time.perf_counter() - started)

    figures = {name: _quantiles(values) for name, values in timings.items()}
    print("\nBOLA latency, ms (p5 / p10 / p25 / p50 / p90), 1000 requests per class:")
    for name, q in {**figures, "own (200), 200 requests": _quantiles(own_times)}.items():
        print(f"  {name:>26}: " + " / ".join(f"{v * 1000:.3f}" for v in q))
    # Generous: the low quantiles of any two classes within 0.5 ms or 50% of each other.
    for index in range(3):
        low = [q[index] for q in figures.values()]
        assert max(low) - min(low) < max(0.0005, 0.5 * min(low)), figures


def _quantiles(values: list[float]) -> tuple[float, ...]:
    cuts = statistics.quantiles(values, n=20)  # 5% steps
    return cuts[0], cuts[1], cuts[4], cuts[9], cuts[17]
