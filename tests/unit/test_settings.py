"""Settings resolved from others: a default that follows another setting follows it."""

from __future__ import annotations

import pytest

from deploystatus.settings import Settings


def settings(**given: object) -> Settings:
    return Settings(_env_file=None, **given)  # type: ignore[arg-type]


def test_a_partition_may_fill_a_whole_fetch_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    # One partition per catch-up fetch on Kafka, as on the embedded broker (settings.py).
    for name in ("KAFKA_FETCH_MAX_BYTES", "KAFKA_MAX_PARTITION_FETCH_BYTES"):
        monkeypatch.delenv(name, raising=False)
    assert settings().kafka.partition_fetch_bytes == settings().kafka.fetch_max_bytes == 4 << 20
    assert settings(kafka_fetch_max_bytes=8 << 20).kafka.partition_fetch_bytes == 8 << 20


def test_a_partition_share_given_is_kept() -> None:
    given = settings(kafka_fetch_max_bytes=8 << 20, kafka_max_partition_fetch_bytes=1 << 20)
    assert given.kafka.partition_fetch_bytes == 1 << 20


def test_each_variable_lands_in_its_group(monkeypatch: pytest.MonkeyPatch) -> None:
    """Variables keep their names; each is read into its group's field."""
    monkeypatch.setenv("EVENTS_TOPIC", "events-x")
    monkeypatch.setenv("KAFKA_IDEMPOTENCE", "false")
    monkeypatch.setenv("REBUILD_PROCESSES", "3")
    monkeypatch.setenv("JWT_ALGORITHMS", "RS256, ES256")
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    read = Settings()
    assert (read.kafka.events_topic, read.kafka.dlq_topic) == (
        "events-x",
        "events-x.dlq",
    )
    assert read.kafka.idempotence is False
    assert read.projector.rebuild_processes == 3
    assert read.jwt.algorithms == ["RS256", "ES256"]
    assert read.log.level == "DEBUG"


def test_the_environment_of_settings_rebuilds_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """A subprocess given ``as_environment()`` builds equal settings; ``replace`` changes one."""
    given = settings(redis_url="redis://127.0.0.1:1/0", jwt_secret="s" * 32, api_port=9)
    for name, value in given.as_environment().items():
        monkeypatch.setenv(name, value)
    assert Settings() == given
    changed = given.replace(api_port=10)
    assert (changed.api.port, changed.redis.url) == (10, "redis://127.0.0.1:1/0")


def test_an_unknown_setting_is_refused() -> None:
    """A misspelt keyword is an error, not a silent default."""
    with pytest.raises(TypeError, match="unknown setting 'redis_ulr'"):
        settings(redis_ulr="redis://x")
