"""How a rebuild shares the partitions out between its processes."""

from __future__ import annotations

import pytest

from deploystatus.settings import Settings
from projector.rebuild.workers import AUTO_MAX_PROCESSES, process_count, share_out


def test_every_partition_is_in_exactly_one_share_of_nearly_equal_size():
    """Twelve partitions over five processes: each once, shares differ by at most one."""
    shares = share_out(range(11, -1, -1), 5)
    assert sorted(p for share in shares for p in share) == list(range(12))
    assert {len(share) for share in shares} == {2, 3}


@pytest.mark.parametrize(
    ("configured", "partitions", "expected"),
    [(3, 12, 3), (8, 4, 4), (1, 12, 1), (5, 1, 1)],
)
def test_configured_processes_are_capped_by_the_partitions(configured, partitions, expected):
    """No process is started without a partition to replay."""
    settings = Settings(rebuild_processes=configured)
    assert process_count(settings, partitions) == expected


def test_zero_means_one_process_per_core_within_the_cap(monkeypatch):
    """REBUILD_PROCESSES=0: one per core, but at most AUTO_MAX_PROCESSES."""
    monkeypatch.setattr("os.cpu_count", lambda: 64)
    assert process_count(Settings(rebuild_processes=0), 12) == AUTO_MAX_PROCESSES
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert process_count(Settings(rebuild_processes=0), 12) == 2
