"""Configuration from the environment, read once at start-up and passed down explicitly.

Grouped by what it configures (``settings.kafka``, ``.redis``, ``.projector``, ``.jwt``,
``.api``, ``.watch``, ``.log``). Each field is read from one environment variable: its
group's prefix and its name (``KAFKA_BOOTSTRAP_SERVERS``), unless it names another
(``EVENTS_TOPIC``). Why each default is what it is: the README's configuration table and
docs/performance.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _group(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=prefix, case_sensitive=False, extra="ignore", populate_by_name=True
    )


class KafkaSettings(BaseSettings):
    model_config = _group("KAFKA_")

    bootstrap_servers: str = "localhost:9092"
    events_topic: str = Field("deployment-events", validation_alias="events_topic")
    dlq_topic: str = Field("", validation_alias="dlq_topic")  # empty: "<events_topic>.dlq"
    # The compacted changelog; empty turns it off.
    status_topic: str = Field("deployment-status", validation_alias="status_topic")
    consumer_group: str = Field("deploystatus-projector", validation_alias="consumer_group")
    events_partitions: int = Field(12, ge=1, validation_alias="events_partitions")
    events_replication_factor: int = Field(1, ge=1, validation_alias="events_replication_factor")
    # Idempotent producers need InitProducerId, which the embedded dev broker refuses.
    idempotence: bool = True
    # Of the batches this project produces; consumers decode all four codecs whatever it is.
    compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = "none"
    # Brokers refuse session timeouts below their group.min.session.timeout.ms.
    session_timeout_ms: int = Field(10_000, ge=1000)
    heartbeat_interval_ms: int = Field(3000, ge=100)
    # Only how often an idle consumer asks (see docs/performance.md#fetches).
    fetch_max_wait_ms: int = Field(20, ge=1)
    # What one fetch holds, and so a batch's usual size (docs/performance.md#fetches).
    fetch_max_bytes: int = Field(4 << 20, ge=1)
    # Each partition's share of a fetch; 0: all of it (docs/performance.md#fetches).
    max_partition_fetch_bytes: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _default_dlq_topic(self) -> KafkaSettings:
        if not self.dlq_topic:
            self.dlq_topic = f"{self.events_topic}.dlq"
        return self

    @property
    def partition_fetch_bytes(self) -> int:
        """KAFKA_MAX_PARTITION_FETCH_BYTES as consumers apply it (0: all of a fetch)."""
        return self.max_partition_fetch_bytes or self.fetch_max_bytes

    @property
    def producer_compression(self) -> str | None:
        """KAFKA_COMPRESSION as aiokafka's producers take it (None: uncompressed)."""
        return None if self.compression == "none" else self.compression


class RedisSettings(BaseSettings):
    model_config = _group("REDIS_")

    url: str = "redis://localhost:6379/0"  # or redis+cluster://host:port,host:port
    cluster_nodes: str | None = None  # host:port,... of a Redis Cluster; wins over the URL
    prefix: str = Field("ds", min_length=1)
    timeout_seconds: float = Field(2.0, gt=0)


class ProjectorSettings(BaseSettings):
    model_config = _group("PROJECTOR_")

    # Records per poll at most (docs/performance.md#batches).
    batch_size: int = Field(20_000, ge=1)
    poll_timeout_ms: int = Field(200, ge=1)
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(9108, ge=0, le=65535)  # 0: no metrics
    # How long a replaced generation stays readable: API processes switch within a second.
    generation_grace_seconds: float = Field(10.0, ge=0, validation_alias="generation_grace_seconds")
    rebuild_batch_size: int = Field(20_000, ge=1, validation_alias="rebuild_batch_size")
    # Processes replaying the log in a rebuild; 0: one per core, at most 4, so that Redis
    # keeps room for the live projectors and the reads.
    rebuild_processes: int = Field(0, ge=0, validation_alias="rebuild_processes")
    rebuild_handover_seconds: float = Field(10.0, ge=0, validation_alias="rebuild_handover_seconds")
    # A rebuild that stops renewing its lease this long is considered dead (--resume).
    rebuild_lease_seconds: float = Field(30.0, gt=0, validation_alias="rebuild_lease_seconds")


class JwtSettings(BaseSettings):
    model_config = _group("JWT_")

    secret: SecretStr | None = None
    algorithms: Annotated[list[str], NoDecode] = ["HS256"]
    audience: str | None = None
    issuer: str | None = None
    # Asymmetric keys: one PEM public key or a JWKS endpoint, never with a secret.
    public_key: str | None = None
    jwks_url: str | None = None
    jwks_cache_seconds: float = Field(300.0, gt=0)
    # So that random kids cannot make the API hammer the issuer.
    jwks_min_refresh_seconds: float = Field(60.0, ge=0)
    jwks_timeout_seconds: float = Field(2.0, gt=0)
    leeway_seconds: float = Field(10.0, ge=0, le=300)
    max_token_bytes: int = Field(8192, ge=256)
    scope_claim: str = "scope"

    @field_validator("algorithms", mode="before")
    @classmethod
    def _split_algorithms(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


class ApiSettings(BaseSettings):
    model_config = _group("API_")

    # uvicorn's access log, scrubbed of tokens; off for its cost (docs/performance.md#reads).
    access_log: bool = False
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    # Abuse limits (api/limits.py, api/ratelimit.py); 0 turns a limit off.
    max_url_bytes: int = Field(2048, ge=0)
    max_header_bytes: int = Field(16384, ge=0)
    max_concurrency: int = Field(512, ge=0)
    rate_limit_per_user: int = Field(1000, ge=0)
    rate_limit_per_ip: int = Field(5000, ge=0)
    rate_limit_window_seconds: float = Field(10.0, gt=0)
    # Fail fast on a stuck Redis (503), without retries, so requests never pile up.
    redis_timeout_seconds: float = Field(0.5, gt=0)
    # Documents kept for their owners' next reads (api/document_cache.py); 0: off.
    cache_size: int = Field(10_000, ge=0)
    cache_max_staleness_ms: int = Field(500, ge=10)


class WatchSettings(BaseSettings):
    model_config = _group("WATCH_")

    # Streams per user and per API process (0: no cap); heartbeats keep proxies from
    # closing idle streams.
    max_streams_per_user: int = Field(20, ge=0)
    max_streams: int = Field(2000, ge=0)
    heartbeat_seconds: float = Field(15.0, gt=0)


class LogSettings(BaseSettings):
    model_config = _group("LOG_")

    level: str = "INFO"
    # json: for log pipelines; text: for humans; auto: text on a terminal, json elsewhere.
    format: Literal["auto", "json", "text"] = "auto"


class Settings(BaseModel):
    """Every setting, by group. ``Settings()`` reads the environment; keyword arguments use
    the variables' names in lower case (``Settings(redis_url=...)``), as ``replace`` does."""

    GROUPS: ClassVar[dict[str, type[BaseSettings]]] = {
        "kafka": KafkaSettings,
        "redis": RedisSettings,
        "projector": ProjectorSettings,
        "jwt": JwtSettings,
        "api": ApiSettings,
        "watch": WatchSettings,
        "log": LogSettings,
    }

    kafka: KafkaSettings
    redis: RedisSettings
    projector: ProjectorSettings
    jwt: JwtSettings
    api: ApiSettings
    watch: WatchSettings
    log: LogSettings

    def __init__(self, **values: Any) -> None:
        super().__init__(**_grouped(values))

    def replace(self, **values: Any) -> Settings:
        """A copy with these settings changed, named as in the environment, in lower case."""
        current = {name: value for name, value in self._variables()}
        return Settings(**(current | values))

    def as_environment(self) -> dict[str, str]:
        """Environment variables from which ``Settings()`` rebuilds these settings (to start
        a `deploystatus` subprocess with them); they hold the secret in clear."""
        env = {}
        for name, value in self._variables():
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            elif isinstance(value, list):
                value = ",".join(value)
            env[name.upper()] = str(value)
        return env

    def subprocess_environment(self, base: Mapping[str, str]) -> dict[str, str]:
        """``base`` (e.g. ``os.environ``) with its settings variables replaced by these
        settings: a setting left unset here is not taken from ``base`` either."""
        env = {k: v for k, v in base.items() if k.lower() not in VARIABLES}
        return env | self.as_environment()

    def _variables(self) -> Iterator[tuple[str, Any]]:
        for name, (group, field) in VARIABLES.items():
            yield name, getattr(getattr(self, group), field)


def _variable(field: str, model: type[BaseSettings]) -> str:
    alias = model.model_fields[field].validation_alias
    prefix = str(model.model_config.get("env_prefix", ""))
    return str(alias) if isinstance(alias, str) else f"{prefix}{field}".lower()


# Each variable's lower-case name -> (group, field).
VARIABLES: dict[str, tuple[str, str]] = {
    _variable(field, model): (group, field)
    for group, model in Settings.GROUPS.items()
    for field in model.model_fields
}


def _grouped(values: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments by variable name, sorted into their groups; each group reads the
    environment for what is not given."""
    given: dict[str, dict[str, Any]] = {group: {} for group in Settings.GROUPS}
    top: dict[str, Any] = {}
    for name, value in values.items():
        if name.startswith("_"):
            continue  # pydantic-settings' own options, e.g. _env_file
        if name in Settings.GROUPS and isinstance(value, BaseSettings):
            top[name] = value
            continue
        if name not in VARIABLES:
            raise TypeError(f"unknown setting {name!r}")
        group, field = VARIABLES[name]
        given[group][field] = value
    for group, model in Settings.GROUPS.items():
        if group not in top:
            top[group] = model(**given[group])
    return top
