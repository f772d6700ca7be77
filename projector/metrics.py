"""Prometheus metrics of the projector, served on their own port (PROJECTOR_METRICS_PORT).

Module-level, as prometheus_client intends: every projector loop in the process counts
into the same series.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_CONSUMED = Counter(
    "deploystatus_events_consumed_total", "Records polled from the events topic"
)
EVENTS_APPLIED = Counter(
    "deploystatus_events_applied_total", "Events folded into a stored document"
)
EVENTS_DEDUPLICATED = Counter(
    "deploystatus_events_deduplicated_total",
    "Events skipped as already applied (redelivered offset or repeated event id)",
)
EVENTS_DEAD_LETTERED = Counter(
    "deploystatus_events_dead_lettered_total", "Invalid records sent to the dead-letter topic"
)
BATCH_SIZE = Histogram(
    "deploystatus_batch_records",
    "Records per polled batch",
    buckets=(1, 5, 10, 50, 100, 500, 1000, 5000, 10000, 20000, 50000),
)
BATCH_SECONDS = Histogram(
    "deploystatus_batch_seconds",
    "Time to apply and commit one batch",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CONSUMER_LAG = Gauge(
    "deploystatus_consumer_lag", "Records behind the partition's high watermark", ["partition"]
)
RETRIES = Counter(
    "deploystatus_retries_total",
    "Failed attempts that were retried (Redis or Kafka unavailable)",
    ["operation"],
)
CONFLICTS = Counter(
    "deploystatus_write_conflicts_total", "Compare-and-set writes lost to another writer"
)
DOCUMENTS_WRITTEN = Counter(
    "deploystatus_documents_written_total",
    "Status documents written to Redis; events applied per document written is how many of "
    "a deployment's events one write carries (the batches' shape, which sets the CPU per event)",
)
VIEW_ROLLBACKS = Counter(
    "deploystatus_view_rollbacks_total",
    "Times Redis was found to have lost writes whose offsets were committed (a restart from an "
    "older snapshot, a failover to a lagging replica); each is repaired from the log",
)
UNDECODABLE_BATCHES = Counter(
    "deploystatus_undecodable_batches_total",
    "Record batches of the events topic skipped because they could not be decoded (corrupt, "
    "or compressed with a codec this process lacks)",
)
REBALANCES = Counter("deploystatus_rebalances_total", "Partition assignments received")
GENERATION = Gauge(
    "deploystatus_projector_generation",
    "1 for the generation this process feeds (label), with its role",
    ["generation", "role"],
)
CACHED_STATES = Gauge(
    "deploystatus_projector_cached_states",
    "Deployment states held in memory between batches (the projector's memory grows with "
    "them, up to one per deployment of its partitions)",
)
