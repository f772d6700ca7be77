"""The command line: publish a JSONL file, mint a token, read the result through the API."""

from __future__ import annotations

import random
import uuid

import orjson
from support.api import running_api
from support.processes import run_cli, running_projector
from support.view import wait_for_view

from cli.samples import create_deployment
from events import encode


async def test_publish_file_then_read_with_minted_token(settings, tmp_path):
    """`publish FILE` writes each line keyed by subject and prints its offsets; a token from
    `token --sub` reads the deployment."""
    owner = str(uuid.uuid4())
    dep, events = create_deployment(owner, "web", 2, random.Random(9))
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(encode(e)[1] for e in events) + b"\n\n")

    published = await run_cli(settings, "publish", str(path))
    assert published.returncode == 0, published.stderr
    positions = [orjson.loads(line) for line in published.stdout.splitlines()]
    assert len(positions) == len(events)
    assert {p["topic"] for p in positions} == {settings.kafka.events_topic}
    assert len({p["partition"] for p in positions}) == 1, "one key, one partition"

    minted = await run_cli(settings, "token", "--sub", owner, "--ttl", "60")
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.decode().strip()

    async with running_projector(settings), running_api(settings) as client:
        await wait_for_view(settings, events)
        response = await client.get(
            f"/status/{dep.deployment_id}", headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 200
    assert response.json()["name"] == "web"


async def test_publish_refuses_an_invalid_file_whole(settings):
    """An invalid line is reported with its number and nothing is published; stdin works."""
    owner = str(uuid.uuid4())
    _, events = create_deployment(owner, "web", 1, random.Random(10))
    lines = [encode(e)[1] for e in events]
    lines.insert(2, b'{"specversion": "1.0"}')
    result = await run_cli(settings, "publish", "-", stdin=b"\n".join(lines))
    assert result.returncode == 2
    assert b"line 3: missing_attribute" in result.stderr
    assert b"nothing published" in result.stderr
    assert result.stdout == b""


async def test_token_refuses_a_non_uuid_subject(settings):
    """`token --sub` with a non-uuid user id fails with a message, not a traceback."""
    result = await run_cli(settings, "token", "--sub", "alice")
    assert result.returncode == 2
    assert b"--sub" in result.stderr
    assert b"Traceback" not in result.stderr
