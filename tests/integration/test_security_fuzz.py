"""Fuzzing the API: schemathesis against its own OpenAPI schema, and hostile path ids sent
as raw bytes; never a 5xx, never a Redis key outside the configured prefix."""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid

import hypothesis
import schemathesis
from redis.asyncio import Redis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from support.api import bearer, running_api
from support.view import serve_empty_generation

ALICE = str(uuid.uuid4())
# Commands the API may send with keys (MONITOR shows those its scripts run too), and without.
# SUBSCRIBE's argument is the change channel, which is under the prefix too; SMEMBERS reads
# the per-owner index of the watch stream.
KEYED = {"GET", "HMGET", "EVALSHA", "EVAL", "INCR", "PEXPIRE", "PTTL", "SUBSCRIBE", "SMEMBERS"}
KEYLESS = {"PING", "SCRIPT", "CLIENT", "HELLO", "SELECT", "INFO", "MONITOR"}

HOSTILE_IDS = [
    "{",
    "}",
    "*",
    "{*}",
    "../",
    "..%2f..%2fgeneration",
    "%2e%2e%2f%2e%2e%2f",
    "%7b%7d",
    "%2a",
    "%00",
    "%0d%0aX-Injected:%201",
    "%ff%fe",
    "%",
    "%zz",
    "ünïcödé",
    "%F0%9F%98%80",
    "\u202eevil",
    "a" * 10_240,
    "%41" * 3_400,
    f"{{{uuid.uuid4()}}}",
    f"urn:uuid:{uuid.uuid4()}",
    f"{uuid.uuid4()}}}:x",
    f"{uuid.uuid4()}%0a",
    f"{uuid.uuid4()}/..",
    f"{uuid.uuid4()}*",
    str(uuid.uuid4()).upper(),
    str(uuid.uuid4()).replace("-", ""),
    " " + str(uuid.uuid4()),
]


async def raw_get(port: int, target: bytes, headers: dict[str, str]) -> int:
    """Send the request line as given (no client-side normalisation); the status code, or
    400 when the server refuses to parse it and closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        lines = [b"GET " + target + b" HTTP/1.1", b"Host: 127.0.0.1"]
        lines += [f"{k}: {v}".encode() for k, v in headers.items()]
        writer.write(b"\r\n".join([*lines, b"Connection: close", b"", b""]))
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout=10)
        return int(status_line.split()[1]) if status_line else 400
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def keys_of(command: str) -> list[str]:
    parts = command.split(" ")
    name = parts[0].upper()
    if name in KEYLESS:
        return []
    assert name in KEYED, f"unexpected Redis command from the API: {command[:200]}"
    if name in ("EVALSHA", "EVAL"):
        return parts[3 : 3 + int(parts[2])]
    return [parts[1]]


async def test_hostile_path_ids_never_5xx_nor_a_key_outside_the_prefix(settings):
    """Unicode, 10 KB, brace, star, dot-dot and percent-encoded ids: 4xx only, and every
    key the API touches meanwhile (seen by MONITOR) is under REDIS_PREFIX."""
    await serve_empty_generation(settings)
    # The URL limit off, so that 10 KB ids reach the route (with it on they get 414).
    unlimited = settings.replace(api_max_url_bytes=0)
    rng = random.Random(7)
    generated = [
        "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(160, 0x2FFF)])) for _ in n)
        for n in (range(rng.randrange(1, 60)) for _ in range(150))
    ]
    commands: list[str] = []
    monitor_client = Redis.from_url(settings.redis.url, decode_responses=True)
    async with monitor_client, monitor_client.monitor() as monitor:
        watching = asyncio.Event()

        async def watch() -> None:
            watching.set()
            async for entry in monitor.listen():
                commands.append(entry["command"])

        watcher = asyncio.create_task(watch())
        await watching.wait()
        try:
            for api_settings, limited in ((unlimited, False), (settings, True)):
                async with running_api(api_settings) as client:
                    port = int(str(client.base_url).rsplit(":", 1)[1].rstrip("/"))
                    headers = bearer(settings, ALICE)
                    for raw in HOSTILE_IDS + generated:
                        target = ("/status/" + raw).encode()
                        quoted = ("/status/" + _quote(raw)).encode()
                        for path in {target, quoted}:
                            status = await raw_get(port, path, headers)
                            assert status < 500, (raw[:80], status)
                            if limited and len(path) > settings.api.max_url_bytes:
                                assert status == 414, raw[:80]
                    canary = str(uuid.uuid4())
                    status = await raw_get(port, f"/status/{canary}".encode(), headers)
                    assert status == 404
            await asyncio.sleep(0.3)  # let MONITOR deliver the last commands
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    touched = [key for command in commands for key in keys_of(command)]
    assert any(canary in key for key in touched), "MONITOR saw none of the API's reads"
    outside = [
        key
        for key in touched
        if not key.startswith((f"{settings.redis.prefix}:", f"{{{settings.redis.prefix}}}:"))
    ]
    assert outside == []


def _quote(raw: str) -> str:
    from urllib.parse import quote

    return quote(raw, safe="")


async def test_schemathesis_against_the_openapi_schema(settings):
    """Generated requests to every operation: no 5xx, answers that conform to the schema
    (status, content type, body), and 401 whenever the bearer token is left out."""
    await serve_empty_generation(settings)
    async with running_api(settings) as client:
        base_url = str(client.base_url).rstrip("/")
        headers = bearer(settings, ALICE)
        # Blocking calls go to a thread: the API serves from this test's event loop.
        schema = await asyncio.to_thread(schemathesis.openapi.from_url, f"{base_url}/openapi.json")
        checks = [
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_headers_conformance,
            response_schema_conformance,
            ignored_auth,
        ]
        seen: dict[str, set[int]] = {}

        def fuzz(operation) -> None:
            @hypothesis.settings(
                max_examples=60,
                deadline=None,
                database=None,
                suppress_health_check=list(hypothesis.HealthCheck),
            )
            @hypothesis.given(case=operation.as_strategy())
            def run(case) -> None:
                response = case.call_and_validate(
                    base_url=base_url, headers=headers, checks=checks, timeout=10
                )
                seen.setdefault(operation.label, set()).add(response.status_code)
                if operation.path.startswith("/status/"):
                    anonymous = case.call(base_url=base_url, headers={"Authorization": ""})
                    assert anonymous.status_code == 401, anonymous.text

            run()

        for result in schema.get_all_operations():
            operation = result.ok()
            if operation.path.endswith("/watch"):
                # Event streams never end: a generated call would hang. Their answers before
                # the stream opens are checked here; test_watch.py covers the rest.
                anonymous = await client.get(operation.path.replace("{deployment_id}", ALICE))
                assert anonymous.status_code == 401
                continue
            await asyncio.to_thread(fuzz, operation)
    assert seen.keys() >= {
        "GET /status/{deployment_id}",
        "GET /healthz",
        "GET /readyz",
    }
    assert 404 in seen["GET /status/{deployment_id}"]
