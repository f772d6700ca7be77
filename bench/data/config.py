"""Sizes and durations of one benchmark run: the full suite, or ``--quick`` for a smoke run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    read_deployments: int  # deployments stored for the read path
    read_rounds: int  # events per deployment in the read data set
    saturation_seconds: int  # one wrk run at saturation
    fixed_rate_seconds: int  # one wrk run at the moderate fixed rate
    lever_seconds: int  # one wrk run per lever variant
    connections: int  # wrk connections at saturation
    projector_deployments: int
    # Events per deployment: deployments * rounds events in all. The view is full by half of
    # them; the memory target compares the RSS there with every later stretch.
    projector_rounds: int
    rss_checkpoint: int  # events after which the projector's RSS is sampled first
    freshness_rate: int  # events per second published during the freshness run
    freshness_seconds: int
    profile_seconds: int


FULL = Sizes(
    read_deployments=10_000,
    read_rounds=24,
    saturation_seconds=15,
    fixed_rate_seconds=15,
    lever_seconds=8,
    connections=32,
    projector_deployments=10_000,
    projector_rounds=200,
    rss_checkpoint=100_000,
    freshness_rate=2_000,
    freshness_seconds=10,
    profile_seconds=8,
)

QUICK = Sizes(
    read_deployments=10_000,
    read_rounds=12,
    saturation_seconds=5,
    fixed_rate_seconds=5,
    lever_seconds=3,
    connections=32,
    projector_deployments=10_000,
    projector_rounds=10,
    rss_checkpoint=20_000,
    freshness_rate=2_000,
    freshness_seconds=4,
    profile_seconds=3,
)

# Fraction of the SQL baseline's saturation rate used as the "fixed moderate rate": a load
# every target can carry, so latencies compare service times rather than queueing.
MODERATE_FRACTION = 0.5
# Deployments whose documents are compared between the SQL baseline, our API and the fold.
CORRECTNESS_SAMPLE = 300
