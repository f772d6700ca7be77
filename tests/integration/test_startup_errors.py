"""Start-up failures seen through the real command line: one line naming the setting to change
and a non-zero exit where the command gives up, a line naming what it waits for where it waits,
and no traceback at the default log level."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.processes import settings_env

from deploystatus.settings import Settings
from deploystatus.startup import EXIT_SETTING, EXIT_UNREACHABLE
from devtools.devstack import LOOPBACK, start_broker

RUN_SECONDS = 90.0  # a one-shot command's bound; they give up within seconds
WAIT_SECONDS = 30.0  # how long a waiting command gets to say what it waits for


def unused_port() -> int:
    """A loopback port nothing listens on (bound and released)."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def taken_port() -> Iterator[int]:
    """A loopback port this test holds, listening, for the length of the block."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def environment(settings: Settings, **overrides: str) -> dict[str, str]:
    return {**settings_env(settings), "LOG_FORMAT": "text", "LOG_LEVEL": "INFO", **overrides}


async def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``deploystatus ARGS`` to completion (bounded), off the event loop."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cli", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS,
        check=False,
    )


def assert_gave_up(result: subprocess.CompletedProcess[str], code: int, *named: str) -> str:
    """Exit ``code``; the last line of stderr is the command's own and names ``named``."""
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == code, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    command = result.args[3]
    assert last.startswith(f"deploystatus {command}: "), result.stderr
    for text in named:
        assert text in last, last
    return last


def wait_for_line(process: subprocess.Popen[str], log: Path, text: str) -> str:
    """The first line of ``log`` containing ``text``, waited for (bounded)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if text in line:
                return line
        if process.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"no line with {text!r} (exit {process.poll()}):\n{log.read_text()}")


@contextlib.contextmanager
def started(env: dict[str, str], log: Path, *args: str) -> Iterator[subprocess.Popen[str]]:
    """``deploystatus ARGS`` in the background, its output in ``log``; killed if still up."""
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def terminate(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=30)


@pytest.fixture
def refusing_broker(kafka, tmp_path) -> Iterator[str]:
    """Bootstrap servers of a broker that refuses idempotent producers: the embedded one."""
    if kafka.embedded is not None:
        yield kafka.bootstrap_servers
        return
    broker = start_broker(log_dir=tmp_path)
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


@pytest.mark.parametrize("command", [["projector"], ["publish", "--no-validate", "-"]])
async def test_a_broker_refusing_idempotence_names_kafka_idempotence(
    settings, refusing_broker, command
):
    """Against a broker that refuses idempotent producers, KAFKA_IDEMPOTENCE=true ends in one
    line saying to set KAFKA_IDEMPOTENCE=false, exit 2."""
    env = environment(settings, KAFKA_BOOTSTRAP_SERVERS=refusing_broker, KAFKA_IDEMPOTENCE="true")
    result = await run(env, *command)
    assert_gave_up(result, EXIT_SETTING, "KAFKA_IDEMPOTENCE=false", refusing_broker)


async def test_the_projector_waits_for_kafka_naming_the_setting(settings, tmp_path):
    """With nothing at KAFKA_BOOTSTRAP_SERVERS the projector waits, saying so with the setting
    and its value, and SIGTERM stops it cleanly."""
    address = f"{LOOPBACK}:{unused_port()}"
    env = environment(settings, KAFKA_BOOTSTRAP_SERVERS=address)
    log = tmp_path / "projector.log"
    with started(env, log, "projector") as process:
        line = await asyncio.to_thread(
            wait_for_line, process, log, f"KAFKA_BOOTSTRAP_SERVERS='{address}'"
        )
        assert "retrying" in line
        assert await asyncio.to_thread(terminate, process) == 0
    assert "Traceback" not in log.read_text()


async def test_the_projector_waits_for_redis_naming_the_setting(settings, tmp_path):
    """With nothing at REDIS_URL the projector waits, saying so with the URL (its password
    masked), and SIGTERM stops it cleanly."""
    url = f"redis://:hunter2@{LOOPBACK}:{unused_port()}/0"
    env = environment(settings, REDIS_URL=url)
    log = tmp_path / "projector.log"
    with started(env, log, "projector") as process:
        line = await asyncio.to_thread(wait_for_line, process, log, "REDIS_URL=")
        assert "retrying" in line
        assert url.replace("hunter2", "***") in line
        assert await asyncio.to_thread(terminate, process) == 0
    text = log.read_text()
    assert "Traceback" not in text
    assert "hunter2" not in text


async def test_publish_gives_up_on_nothing_at_kafka_bootstrap_servers(settings):
    """`publish` with nothing at KAFKA_BOOTSTRAP_SERVERS exits 3 with one line naming it."""
    address = f"{LOOPBACK}:{unused_port()}"
    result = await run(
        environment(settings, KAFKA_BOOTSTRAP_SERVERS=address), "publish", "--no-validate", "-"
    )
    assert_gave_up(result, EXIT_UNREACHABLE, f"KAFKA_BOOTSTRAP_SERVERS='{address}'")


@pytest.mark.parametrize("command", [["verify"], ["rebuild"], ["rebuild", "--abort"]])
async def test_one_shot_commands_give_up_on_nothing_at_redis_url(settings, command):
    """`verify` and `rebuild` with nothing at REDIS_URL exit 3 with one line naming it (the
    password masked)."""
    url = f"redis://:hunter2@{LOOPBACK}:{unused_port()}/0"
    result = await run(environment(settings, REDIS_URL=url), *command)
    assert_gave_up(result, EXIT_UNREACHABLE, f"REDIS_URL='{url.replace('hunter2', '***')}'")
    assert "hunter2" not in result.stderr


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"JWT_SECRET": ""}, "JWT_SECRET is not set"),
        ({"JWT_SECRET": "too-short"}, "JWT_SECRET is 9 bytes"),
        ({"JWT_ALGORITHMS": "HS256,RS256"}, "JWT_ALGORITHMS='HS256,RS256' mixes"),
        ({"JWT_ALGORITHMS": "RS256", "JWT_SECRET": ""}, "needs JWT_PUBLIC_KEY or JWT_JWKS_URL"),
    ],
)
async def test_the_api_refuses_a_jwt_configuration_in_one_line(settings, overrides, named):
    """A JWT configuration the API cannot verify tokens with ends in one line naming the
    setting, exit 2, before anything listens."""
    env = environment(settings, API_PORT=str(unused_port()), **overrides)
    for name, value in overrides.items():
        if not value:
            del env[name]
    result = await run(env, "api")
    assert_gave_up(result, EXIT_SETTING, named)


@pytest.mark.parametrize("workers", ["1", "2"])
async def test_the_api_port_already_taken_names_api_port(settings, workers):
    """`api` on a port another process listens on exits 2 with one line naming API_PORT."""
    with taken_port() as port:
        result = await run(environment(settings, API_PORT=str(port)), "api", "--workers", workers)
    assert_gave_up(result, EXIT_SETTING, f"API_PORT={port}", "already in use")


async def test_the_metrics_port_already_taken_names_projector_metrics_port(settings):
    """A projector whose PROJECTOR_METRICS_PORT is taken exits 2 with one line naming it and
    the way to turn metrics off."""
    with taken_port() as port:
        result = await run(environment(settings, PROJECTOR_METRICS_PORT=str(port)), "projector")
    assert_gave_up(
        result, EXIT_SETTING, f"PROJECTOR_METRICS_PORT={port}", "0 turns the metrics off"
    )


async def test_the_api_starts_without_redis_and_names_redis_url(settings, tmp_path):
    """With nothing at REDIS_URL the API still listens (alive, not ready: /readyz 503),
    having said once which setting points at Redis."""
    url = f"redis://{LOOPBACK}:{unused_port()}/0"
    port = unused_port()
    env = environment(settings, REDIS_URL=url, API_PORT=str(port))
    log = tmp_path / "api.log"
    with started(env, log, "api") as process:
        line = await asyncio.to_thread(wait_for_line, process, log, "Uvicorn running")
        assert f"REDIS_URL='{url}'" in log.read_text(), line
        async with httpx.AsyncClient(base_url=f"http://{LOOPBACK}:{port}", timeout=5) as client:
            assert (await client.get("/healthz")).status_code == 200
            assert (await client.get("/readyz")).status_code == 503
        # uvicorn re-raises the signal it shut down on, once shut down.
        assert await asyncio.to_thread(terminate, process) in (0, -signal.SIGTERM)
    assert "Traceback" not in log.read_text()


async def test_the_traceback_is_shown_at_debug_level(settings):
    """With LOG_LEVEL=DEBUG the same failure also logs its traceback, for whoever debugs."""
    address = f"{LOOPBACK}:{unused_port()}"
    env = environment(settings, KAFKA_BOOTSTRAP_SERVERS=address, LOG_LEVEL="DEBUG")
    result = await run(env, "publish", "--no-validate", "-")
    assert result.returncode == EXIT_UNREACHABLE
    assert "Traceback" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("deploystatus publish: ")


async def test_a_redis_url_pointing_at_another_service_is_named(settings, kafka):
    """REDIS_URL at something that is not Redis (here the broker) ends like nothing there:
    exit 3, one line naming REDIS_URL."""
    url = f"redis://{kafka.bootstrap_servers.split(',')[0]}/0"
    result = await run(environment(settings, REDIS_URL=url), "rebuild", "--abort")
    assert_gave_up(result, EXIT_UNREACHABLE, f"REDIS_URL='{url}'")
