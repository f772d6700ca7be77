"""Health of a deployment from its replica statuses and target."""

from __future__ import annotations

import pytest

from projector.core.health import compute_health


@pytest.mark.parametrize(
    ("statuses", "target", "expected"),
    [
        pytest.param(["running", "running", "running"], 3, "healthy", id="all-target-running"),
        pytest.param(["running", "running", "failed"], 2, "degraded", id="some-failed"),
        pytest.param(["running", "starting", "pending"], 3, "degraded", id="running-below-target"),
        pytest.param(["failed", "failed"], 2, "unhealthy", id="all-failed"),
        pytest.param(["starting", "pending", "stopped"], 3, "unhealthy", id="none-running"),
        pytest.param([], 3, "unhealthy", id="no-replicas"),
    ],
)
def test_health_table(statuses: list[str], target: int, expected: str) -> None:
    """Each row of the health table gives its health."""
    assert compute_health(statuses, target) == expected


def test_target_zero_one_running_is_healthy() -> None:
    """Target 0 with one running replica is healthy."""
    assert compute_health(["running"], 0) == "healthy"


def test_more_running_than_target_is_healthy() -> None:
    """Running more replicas than the target, without failures, is healthy."""
    assert compute_health(["running", "running", "running"], 2) == "healthy"


def test_target_met_plus_non_running_is_healthy() -> None:
    """Enough running replicas plus a starting or stopped one, none failed, is healthy."""
    assert compute_health(["running", "running", "starting", "stopped"], 2) == "healthy"


def test_one_failed_among_enough_running_is_degraded() -> None:
    """A single failed replica degrades even when the target is met."""
    assert compute_health(["running", "running", "failed"], 1) == "degraded"


def test_only_failed_with_target_zero_is_unhealthy() -> None:
    """All replicas failed is unhealthy whatever the target."""
    assert compute_health(["failed"], 0) == "unhealthy"


def test_accepts_any_iterable() -> None:
    """compute_health accepts a one-shot iterator of statuses."""
    assert compute_health(iter(["running", "running"]), 2) == "healthy"
