"""Configuration from the environment, read once at startup and passed down explicitly."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    # Kafka
    kafka_bootstrap_servers: str = "localhost:9092"
    events_topic: str = "deployment-events"
    dlq_topic: str = ""  # empty means "<events_topic>.dlq"
    status_topic: str = "deployment-status"  # the compacted changelog; empty turns it off
    consumer_group: str = "deploystatus-projector"
    events_partitions: int = Field(default=12, ge=1)
    events_replication_factor: int = Field(default=1, ge=1)
    # Idempotent producers need InitProducerId, which the embedded dev broker refuses.
    kafka_idempotence: bool = True
    # Compression of the record batches this project produces (changelog, dead letters,
    # `publish`); its own consumers decode all four codecs whatever it is. Off by default:
    # any client reads uncompressed batches without codec libraries (the changelog's readers).
    kafka_compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = "none"

    # Consumer group liveness: a projector that stops heartbeating loses its partitions after
    # the session timeout (brokers refuse values below their group.min.session.timeout.ms).
    kafka_session_timeout_ms: int = Field(default=10000, ge=1000)
    kafka_heartbeat_interval_ms: int = Field(default=3000, ge=100)
    # How long a fetch may wait for new records. Kafka answers as soon as records arrive, so
    # this only sets how often an idle consumer asks; the embedded dev broker holds a fetch
    # up to this long even when records arrive, so it adds to freshness there (bench/).
    kafka_fetch_max_wait_ms: int = Field(default=20, ge=1)
    # What a consumer fetches ahead of its batches, and so holds in memory: Kafka caps the
    # whole answer at the first and each partition's share at the second (a partition's first
    # record batch is always sent whole); the embedded dev broker applies only the first.
    # A poll returns at most what one fetch brought, so the first also bounds a batch: 1 MiB
    # gave batches of ~6,000 bench events, 8 MiB ~18,000, folded with ~16% less CPU per event
    # (fewer writes per event: more events of one deployment share one) for ~40 MiB more RSS.
    # 4 MiB folded at the same CPU per event as 8 with peaks 8-15 MiB lower; 2 MiB ~27 MiB
    # lower for ~10% more CPU per event (bench/: runs of 1M events, thirteenth round).
    # With aiokafka's 50 MiB the embedded broker sent ~6 MiB per partition.
    kafka_fetch_max_bytes: int = Field(default=4 << 20, ge=1)
    # Each partition's share of a fetch on Kafka; 0: all of KAFKA_FETCH_MAX_BYTES. Kafka fills
    # a fetch partition after partition in the request's order (KIP-74), and aiokafka shuffles
    # that order on every fetch, so none starves. At 0 a catch-up fetch comes from one
    # partition, as the embedded broker's always do, and a batch folds more of each
    # deployment's events into one write: ~11 per write against ~4 at Kafka's own 1 MiB on
    # the bench's topic, for two thirds of the CPU per event. The peak RSS is the same: at
    # 1 MiB the first batches reach every deployment, at 0 the view fills as the partitions
    # are reached (bench/: the 1 MiB shape stood in for by a 3-partition topic on the embedded
    # broker; not measured on Kafka). Fetches stay capped at KAFKA_FETCH_MAX_BYTES either way.
    kafka_max_partition_fetch_bytes: int = Field(default=0, ge=0)

    # Projector
    # Records per poll at most; what one fetch brings (KAFKA_FETCH_MAX_BYTES) is the usual
    # bound. Per-batch costs (progress write, offset commit, round trips) are fixed and a
    # deployment's events in one batch make one write, so bigger batches pay (bench: 10,000
    # folds ~2x faster than 1,000); a poll only waits for what is there, so a light load
    # still gets small, prompt batches. Not more: a poll may hand over what several fetches
    # buffered, and batches of 50,000 bench events took a projector from ~200 to ~290 MiB.
    projector_batch_size: int = Field(default=20_000, ge=1)
    projector_poll_timeout_ms: int = Field(default=200, ge=1)
    # Prometheus metrics of the projector on their own port; 0 turns them off.
    projector_metrics_host: str = "127.0.0.1"
    projector_metrics_port: int = Field(default=9108, ge=0, le=65535)
    # Generations (rebuilds): how long a replaced generation stays readable before it is
    # deleted (API processes refresh the served generation every second), and how long a
    # finished rebuild keeps applying new events while the projectors move over to it.
    generation_grace_seconds: float = Field(default=10.0, ge=0)
    rebuild_batch_size: int = Field(default=20_000, ge=1)  # as PROJECTOR_BATCH_SIZE: see there
    # Processes replaying the log in a rebuild, the partitions shared out between them (a
    # fold is CPU-bound, one process uses one core). 0: one per CPU core, at most
    # 4, so that Redis keeps room for the live projectors and the reads.
    rebuild_processes: int = Field(default=0, ge=0)
    rebuild_handover_seconds: float = Field(default=10.0, ge=0)
    # A rebuild that stops renewing its lease this long is considered dead (--resume).
    rebuild_lease_seconds: float = Field(default=30.0, gt=0)

    # Redis
    redis_url: str = "redis://localhost:6379/0"  # or redis+cluster://host:port,host:port
    redis_cluster_nodes: str | None = None  # host:port,... of a Redis Cluster; wins over the URL
    redis_prefix: str = Field(default="ds", min_length=1)
    redis_timeout_seconds: float = Field(default=2.0, gt=0)

    # Auth
    jwt_secret: SecretStr | None = None
    jwt_algorithms: Annotated[list[str], NoDecode] = ["HS256"]
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    # Asymmetric keys (RS*/PS*/ES*/EdDSA): one PEM public key, or a JWKS endpoint; never
    # together with JWT_SECRET (api/signing_keys.py refuses mixed configurations).
    jwt_public_key: str | None = None
    jwt_jwks_url: str | None = None
    jwt_jwks_cache_seconds: float = Field(default=300.0, gt=0)
    # An unknown kid refreshes the key set at most this often, so random kids cannot make
    # the API hammer the issuer.
    jwt_jwks_min_refresh_seconds: float = Field(default=60.0, ge=0)
    jwt_jwks_timeout_seconds: float = Field(default=2.0, gt=0)
    jwt_leeway_seconds: float = Field(default=10.0, ge=0, le=300)
    jwt_max_token_bytes: int = Field(default=8192, ge=256)
    jwt_scope_claim: str = "scope"

    # API
    # uvicorn's access log: off by default (it costs ~14% of throughput, measured in bench/);
    # tokens and query strings are scrubbed from it when on.
    api_access_log: bool = False
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=0, le=65535)
    # Abuse limits (api/limits.py, api/ratelimit.py); 0 turns a limit off.
    api_max_url_bytes: int = Field(default=2048, ge=0)
    api_max_header_bytes: int = Field(default=16384, ge=0)
    api_max_concurrency: int = Field(default=512, ge=0)
    api_rate_limit_per_user: int = Field(default=1000, ge=0)
    api_rate_limit_per_ip: int = Field(default=5000, ge=0)
    api_rate_limit_window_seconds: float = Field(default=10.0, gt=0)
    # The API fails fast on a stuck Redis (503), without retries, so requests never pile up.
    api_redis_timeout_seconds: float = Field(default=0.5, gt=0)
    # Documents each API process keeps after an owner's read (api/document_cache.py): served
    # again without Redis until the projector's change notification drops them. 0 turns the
    # cache off. They are served only while the change feed heard from Redis within the
    # staleness bound, so a frozen or unreachable Redis shows as 503s after at most that long.
    api_cache_size: int = Field(default=10_000, ge=0)
    api_cache_max_staleness_ms: int = Field(default=500, ge=10)

    # Watch streams (Server-Sent Events): caps per user and per API process (0: no cap), and
    # the heartbeat that keeps idle proxies from closing them.
    watch_max_streams_per_user: int = Field(default=20, ge=0)
    watch_max_streams: int = Field(default=2000, ge=0)
    watch_heartbeat_seconds: float = Field(default=15.0, gt=0)

    log_level: str = "INFO"
    # json: one JSON object per line, for log pipelines; text: for humans; auto: text on a
    # terminal, json elsewhere.
    log_format: Literal["auto", "json", "text"] = "auto"

    @property
    def partition_fetch_bytes(self) -> int:
        """KAFKA_MAX_PARTITION_FETCH_BYTES as consumers apply it (0: all of a fetch)."""
        return self.kafka_max_partition_fetch_bytes or self.kafka_fetch_max_bytes

    @property
    def producer_compression(self) -> str | None:
        """KAFKA_COMPRESSION as aiokafka's producers take it (None: uncompressed)."""
        return None if self.kafka_compression == "none" else self.kafka_compression

    def as_environment(self) -> dict[str, str]:
        """Environment variables from which ``Settings()`` rebuilds these settings (to start
        a `deploystatus` subprocess with them); they hold the secret in clear."""
        env = {}
        for name, value in self.model_dump().items():
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
        env = {k: v for k, v in base.items() if k.lower() not in type(self).model_fields}
        return env | self.as_environment()

    @field_validator("jwt_algorithms", mode="before")
    @classmethod
    def _split_algorithms(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _default_dlq_topic(self) -> Settings:
        if not self.dlq_topic:
            self.dlq_topic = f"{self.events_topic}.dlq"
        return self
