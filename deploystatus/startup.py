"""Start-up checks, and the failures a command reports as one line naming the setting to
change: what ``deploystatus`` prints and exits with instead of a driver's traceback."""

from __future__ import annotations

import errno
import socket
from urllib.parse import urlsplit, urlunsplit

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError

from deploystatus.kafka import create_producer
from deploystatus.settings import Settings
from deploystatus.view.client import RedisClient
from deploystatus.view.errors import DRIVER_ERRORS, UNREACHABLE_ERRORS

EXIT_SETTING = 2  # a setting must change (or what holds a port must stop)
EXIT_UNREACHABLE = 3  # a service did not answer: starting it, or waiting, may help
# No Redis there (refused, silent, or something else answering), or it refused our login.
REDIS_UNREACHABLE = UNREACHABLE_ERRORS


class CommandFailed(Exception):
    """A command cannot go on; the message is the line it prints, naming what to change."""

    exit_code = EXIT_SETTING


class CannotListen(CommandFailed):
    """A server socket could not be bound to the configured address."""

    def __init__(
        self, host_setting: str, port_setting: str, host: str, port: int, error: OSError
    ) -> None:
        self.host, self.port, self.error = host, port, error
        if error.errno == errno.EADDRINUSE:
            advice = f"stop what listens there, or set {port_setting} to a free port"
            if port_setting == "PROJECTOR_METRICS_PORT":
                advice += " (0 turns the metrics off)"
            message = f"{port_setting}={port}: {host}:{port} is already in use: {advice}"
        else:
            message = (
                f"{host_setting}={host!r}, {port_setting}={port}: cannot listen there "
                f"({error.strerror or error}): set {host_setting} to an address of this host"
            )
        super().__init__(message)


class IdempotenceRefused(CommandFailed):
    """The broker would not give an idempotent producer its id (InitProducerId)."""

    def __init__(self, bootstrap_servers: str, error: KafkaError) -> None:
        self.error = error
        super().__init__(
            f"the broker at KAFKA_BOOTSTRAP_SERVERS={bootstrap_servers!r} refuses idempotent "
            f"producers (InitProducerId answered {type(error).__name__}): set "
            "KAFKA_IDEMPOTENCE=false for this broker (the embedded dev broker is one)"
        )


class ServiceUnreachable(CommandFailed, ConnectionError):
    """Kafka or Redis did not answer at the configured address. A ``ConnectionError``, so
    that the projector's retries wait it out like any other connection failure."""

    exit_code = EXIT_UNREACHABLE

    def __init__(self, service: str, setting: str, address: str, error: BaseException) -> None:
        self.service, self.setting, self.address = service, setting, address
        super().__init__(
            f"cannot reach {service} at {setting}={address!r} ({_reason(error)}): start it "
            f"there, or set {setting} to where it runs"
        )


def kafka_unreachable(settings: Settings, error: BaseException) -> ServiceUnreachable:
    return ServiceUnreachable(
        "Kafka", "KAFKA_BOOTSTRAP_SERVERS", settings.kafka.bootstrap_servers, error
    )


def redis_unreachable(settings: Settings, error: BaseException) -> ServiceUnreachable:
    if settings.redis.cluster_nodes:
        return ServiceUnreachable(
            "Redis", "REDIS_CLUSTER_NODES", settings.redis.cluster_nodes, error
        )
    return ServiceUnreachable("Redis", "REDIS_URL", _without_password(settings.redis.url), error)


def explain(error: BaseException, settings: Settings) -> CommandFailed | None:
    """The failure to report for ``error`` (or one it was raised from), or None for an
    error this module does not know: a bug, whose traceback is worth showing."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, CommandFailed):
            return seen
        if isinstance(seen, KafkaConnectionError):
            return kafka_unreachable(settings, seen)
        if isinstance(seen, REDIS_UNREACHABLE):
            return redis_unreachable(settings, seen)
        seen = seen.__cause__
    return None


async def start_producer(producer: AIOKafkaProducer, settings: Settings) -> None:
    """``producer.start()``, its failures translated; a producer that failed is closed."""
    try:
        await producer.start()
    except KafkaConnectionError as exc:
        await producer.stop()
        raise kafka_unreachable(settings, exc) from exc
    except KafkaError as exc:
        await producer.stop()
        # Past bootstrap, start() only asks for the producer id, which idempotence needs.
        if settings.kafka.idempotence and not exc.retriable:
            raise IdempotenceRefused(settings.kafka.bootstrap_servers, exc) from exc
        raise


async def reach_kafka(settings: Settings) -> None:
    """Connect a producer as the settings configure it, and close it: Kafka answers at
    KAFKA_BOOTSTRAP_SERVERS and accepts KAFKA_IDEMPOTENCE."""
    producer = create_producer(settings, "deploystatus-startup")
    await start_producer(producer, settings)
    await producer.stop()


async def reach_redis(redis: RedisClient, settings: Settings) -> None:
    """Redis answers a PING at REDIS_URL (or REDIS_CLUSTER_NODES)."""
    try:
        await redis.ping()
    except (*REDIS_UNREACHABLE, *DRIVER_ERRORS) as exc:
        raise redis_unreachable(settings, exc) from exc


def check_port_free(host_setting: str, port_setting: str, host: str, port: int) -> None:
    """Bind ``host:port`` and let go, as the server will bind it (address reuse on): a port
    another process holds is reported with its setting instead of a server's stack."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise CannotListen(host_setting, port_setting, host, port, exc) from exc


def _reason(error: BaseException) -> str:
    if isinstance(error, KafkaConnectionError):
        # Its text repeats the address already named, as resolved tuples.
        return str(error).removeprefix("KafkaConnectionError: ").split(" from [", 1)[0]
    return str(error) or type(error).__name__


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
