"""The services a run needs: a Kafka-protocol broker and Redis, PostgreSQL, and subprocesses
(API servers, projectors) started with settings passed through the environment.

The broker is the embedded one unless Apache Kafka can be had: the cluster at
``BENCH_KAFKA_BOOTSTRAP_SERVERS``, or one in Docker (testcontainers) where a Docker engine
answers, as for the tests. On a cluster that outlives the run, every name the run creates
(topics, consumer groups) starts with the run's own prefix, and its topics are deleted at the
end."""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from deploystatus.settings import Settings
from devtools.devstack import EmbeddedRedis, KafkaEndpoint, running_kafka, start_redis

# The source tree the bench runs against; subprocesses import the same code from here.
ROOT = Path(__file__).parents[2]
PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DATABASE = "deploystatus_bench"
PG_DSN = f"postgresql://postgres@127.0.0.1:5432/{PG_DATABASE}"
# A fixed bench secret: tokens are minted and checked inside this run only.
BENCH_JWT_SECRET = "bench-secret-" + "0123456789abcdef" * 2
KAFKA_ENV = "BENCH_KAFKA_BOOTSTRAP_SERVERS"


@dataclass
class Stack:
    kafka: KafkaEndpoint
    redis: EmbeddedRedis
    log_dir: Path
    # A cluster given by address (BENCH_KAFKA_BOOTSTRAP_SERVERS) outlives the run, and with it
    # whatever the run created there.
    kafka_outlives_run: bool = False
    # What every topic and consumer group of this run is named after.
    prefix: str = field(default_factory=lambda: f"bench-{secrets.token_hex(3)}-")

    @property
    def broker_pid(self) -> int | None:
        """The broker's process, when it is one this run started (its CPU is reported)."""
        return self.kafka.embedded.pid if self.kafka.embedded is not None else None

    def settings(self, name: str, **overrides: object) -> Settings:
        """Settings of one experiment: its own topics, consumer group and key prefix."""
        values: dict[str, object] = {
            "kafka_bootstrap_servers": self.kafka.bootstrap_servers,
            "redis_url": self.redis.url,
            "events_topic": f"{self.prefix}{name}",
            "status_topic": f"{self.prefix}{name}.status",
            "consumer_group": f"{self.prefix}{name}",
            "redis_prefix": f"b{name}",
            "jwt_secret": BENCH_JWT_SECRET,
            "log_level": "WARNING",
            # The request budgets are on by default; a load test from one IP with a few
            # thousand users would measure 429s. 32 wrk connections stay far below the
            # default concurrency bound (API_MAX_CONCURRENCY=512), which stays on.
            "api_rate_limit_per_user": 0,
            "api_rate_limit_per_ip": 0,
        }
        if not self.kafka.idempotence:
            values["kafka_idempotence"] = False  # elsewhere KAFKA_IDEMPOTENCE decides (on)
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    async def delete_topics(self) -> None:
        """Delete this run's topics from a cluster that outlives it (nothing to do on the
        embedded broker or in Docker, which go with the run). Its consumer groups expire by
        themselves (the broker's offsets.retention.minutes)."""
        if not self.kafka_outlives_run:
            return
        admin = AIOKafkaAdminClient(bootstrap_servers=self.kafka.bootstrap_servers)
        await admin.start()
        try:
            ours = [topic for topic in await admin.list_topics() if topic.startswith(self.prefix)]
            if ours:
                await admin.delete_topics(ours)
        finally:
            await admin.close()


@contextlib.contextmanager
def running_stack() -> Iterator[Stack]:
    log_dir = Path(tempfile.mkdtemp(prefix="deploystatus-bench-"))
    external = os.environ.get(KAFKA_ENV)
    with running_kafka(log_dir, external) as kafka:
        redis = start_redis(log_dir=log_dir)
        try:
            yield Stack(kafka, redis, log_dir, kafka_outlives_run=bool(external))
        finally:
            redis.stop()


def settings_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment that makes a subprocess build ``Settings()`` equal to ``settings``."""
    return settings.subprocess_environment(os.environ) | {"PYTHONPATH": str(ROOT)} | extra


def spawn(
    args: list[str], settings: Settings, log: Path, **extra_env: str
) -> subprocess.Popen[bytes]:
    """``python ARGS`` in the source tree with ``settings`` in its environment."""
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 - our own interpreter with fixed arguments
            [sys.executable, *args],
            cwd=ROOT,
            env=settings_env(settings, **extra_env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop(process: subprocess.Popen[bytes], timeout: float = 30) -> int:
    """SIGTERM, wait (a projector finishes its batch and commits), SIGKILL if it hangs."""
    if process.poll() is None:
        process.terminate()
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def wait_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    """Wait until ``url`` answers 200; fail with the log's tail if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:  # noqa: S310 - loopback URL
                if answer.status == HTTPStatus.OK:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200 within {timeout}s:\n{tail(log)}")


def tail(log: Path, chars: int = 3000) -> str:
    try:
        return log.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"
