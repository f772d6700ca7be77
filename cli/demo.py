"""`deploystatus demo`: the whole product on one machine, with statuses that keep changing.

Starts an embedded broker and Redis unless KAFKA_BOOTSTRAP_SERVERS / REDIS_URL are set,
then the projector and the API in this process, publishes sample deployments for two users
and keeps changing their replicas. Ctrl-C stops everything it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import socket
import uuid

import httpx
import uvicorn
from pydantic import SecretStr

from api.app import create_app
from api.auth import mint_token
from cli.samples import SimulatedDeployment, create_deployment, simulation_step
from deploystatus.kafka import create_producer
from deploystatus.logs import configure_logging
from deploystatus.settings import Settings
from deploystatus.signals import stop_on_signals
from deploystatus.startup import start_producer
from deploystatus.topics import ensure_topics
from devtools.devstack import EmbeddedService, free_port, start_broker, start_redis
from events.publisher import EventPublisher
from projector.service import run_projector

log = logging.getLogger(__name__)
STEP_SECONDS = 3.0
READY_POLLS = 300
READY_POLL_SECONDS = 0.2


def run_simulation(settings: Settings) -> int:
    """Only the sample deployments and their changes, for a stack whose projector and API run
    elsewhere (docker compose). Stops on Ctrl-C/SIGTERM."""

    async def simulate() -> None:
        stop = stop_on_signals()
        await ensure_topics(settings)
        await _simulate(settings, stop)

    asyncio.run(simulate())
    return 0


def run_demo(settings: Settings) -> int:
    if "level" not in settings.log.model_fields_set:
        # A newcomer's first screen is the banner: the parts' INFO lines wait for LOG_LEVEL.
        configure_logging("WARNING", settings.log.format)
    services: list[EmbeddedService] = []
    try:
        updates: dict[str, object] = {}
        if "KAFKA_BOOTSTRAP_SERVERS" not in os.environ:
            broker = start_broker()
            services.append(broker)
            updates |= {
                "kafka_bootstrap_servers": broker.bootstrap_servers,
                "kafka_idempotence": False,
            }
            print(f"embedded broker (Tansu) on {broker.bootstrap_servers}")
        if "REDIS_URL" not in os.environ:
            redis = start_redis()
            services.append(redis)
            updates["redis_url"] = redis.url
            print(f"embedded Redis on {redis.url}")
        if settings.jwt.secret is None:
            updates["jwt_secret"] = SecretStr(secrets.token_hex(32))
        if not _port_free(settings.api.host, settings.api.port):
            updates["api_port"] = free_port()
        metrics_port = settings.projector.metrics_port
        if metrics_port and not _port_free(settings.projector.metrics_host, metrics_port):
            updates["projector_metrics_port"] = free_port()
        settings = settings.replace(**updates)
        asyncio.run(_run(settings))
    finally:
        for service in reversed(services):
            service.stop()
    print("demo stopped")
    return 0


async def _run(settings: Settings) -> None:
    stop = stop_on_signals()

    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings),
            host=settings.api.host,
            port=settings.api.port,
            log_level="warning",
            timeout_graceful_shutdown=2,
        )
    )
    await ensure_topics(settings)
    projector = asyncio.create_task(run_projector(settings, stop), name="projector")
    api = asyncio.create_task(server.serve(), name="api")
    simulator = asyncio.create_task(_simulate(settings, stop), name="simulator")
    stopped = asyncio.create_task(stop.wait())
    # Whichever ends first: Ctrl-C, or a part that failed (then the others stop too).
    await asyncio.wait({stopped, projector, api, simulator}, return_when=asyncio.FIRST_COMPLETED)
    stop.set()
    server.should_exit = True
    for task, result in zip(
        (projector, api, simulator),
        await asyncio.gather(projector, api, simulator, return_exceptions=True),
        strict=True,
    ):
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            log.error("%s failed: %r", task.get_name(), result)


async def _simulate(settings: Settings, stop: asyncio.Event) -> None:
    rng = random.Random()  # noqa: S311 - picks sample changes, not secrets
    alice, bob = str(uuid.uuid4()), str(uuid.uuid4())
    deployments: list[SimulatedDeployment] = []
    events = []
    for owner, name, target in (
        (alice, "web", 3),
        (alice, "worker", 2),
        (alice, "cron", 1),
        (bob, "billing", 2),
    ):
        dep, created = create_deployment(owner, name, target, rng)
        deployments.append(dep)
        events += created

    producer = create_producer(settings, "deploystatus-demo")
    await start_producer(producer, settings)
    try:
        publisher = EventPublisher(producer, settings.kafka.events_topic)
        await publisher.publish(events)
        await _wait_until_ready(settings, stop)
        _print_instructions(settings, alice, deployments)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=STEP_SECONDS)
            if not stop.is_set():
                await publisher.publish(simulation_step(rng.choice(deployments), rng))
    finally:
        await producer.stop()


async def _wait_until_ready(settings: Settings, stop: asyncio.Event) -> None:
    """Until the API serves the view: on a fresh broker the projector's first generation
    takes a few seconds (joining the group), and a curl before that would get 503."""
    url = f"http://{settings.api.host}:{settings.api.port}/readyz"
    async with httpx.AsyncClient(timeout=2) as client:
        for _ in range(READY_POLLS):
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(url)).status_code == 200:
                    return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=READY_POLL_SECONDS)
            if stop.is_set():
                return
    log.warning(
        "the API is not ready after %.0fs; printing the instructions anyway",
        READY_POLLS * READY_POLL_SECONDS,
    )


def _print_instructions(
    settings: Settings, alice: str, deployments: list[SimulatedDeployment]
) -> None:
    token = mint_token(settings, alice, ttl_seconds=24 * 3600)
    base = f"http://{settings.api.host}:{settings.api.port}"
    mine = [d for d in deployments if d.owner == alice]
    other = next(d for d in deployments if d.owner != alice)
    print(
        f"""
deploystatus demo is running: API on {base} (docs: {base}/docs)
A replica of one of the deployments changes every {STEP_SECONDS:.0f}s.

Open the live status page, signed in as the first user below (the token is in the link's
fragment, which the browser never sends to the server):
  {base}/ui#token={token}

User {alice} owns: {", ".join(f"{d.name}={d.deployment_id}" for d in mine)}
Their token (24h):
  export TOKEN={token}

Try:
  curl -s -H "Authorization: Bearer $TOKEN" {base}/status/{mine[0].deployment_id}
  .venv/bin/deploystatus ls --url {base} --token $TOKEN
Someone else's deployment answers 404:
  curl -s -H "Authorization: Bearer $TOKEN" {base}/status/{other.deployment_id}
Watch the changes live (Server-Sent Events, or the terminal client):
  curl -sN -H "Authorization: Bearer $TOKEN" {base}/status/watch
  .venv/bin/deploystatus watch {mine[0].deployment_id} --url {base} --token $TOKEN

Press Ctrl-C to stop.
""",
        flush=True,
    )


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock, contextlib.suppress(OSError):
        sock.bind((host, port))
        return True
    return False
