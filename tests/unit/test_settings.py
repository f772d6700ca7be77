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
    assert settings().partition_fetch_bytes == settings().kafka_fetch_max_bytes == 4 << 20
    assert settings(kafka_fetch_max_bytes=8 << 20).partition_fetch_bytes == 8 << 20


def test_a_partition_share_given_is_kept() -> None:
    given = settings(kafka_fetch_max_bytes=8 << 20, kafka_max_partition_fetch_bytes=1 << 20)
    assert given.partition_fetch_bytes == 1 << 20
