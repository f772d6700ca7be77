"""CPython's cyclic garbage collector, set once at start-up for a long-running process.

Its first threshold counts container objects allocated and not yet freed, and every run
walks what it finds alive, promoting it. At CPython's default it ran all the time in our
processes: a projector batch holds many objects until it is written, and an API process
holds those of every request in progress (each read's connection, futures and reply); what
those runs promoted then made full collections frequent, each walking the whole heap and
pausing the process (docs/performance.md#lists). With a threshold above what the work holds
at once, those objects are freed by reference counting before any collection sees them, and
the collector runs only when cyclic garbage has built up. Objects alive at start-up
(modules, settings, the app) are frozen first: no full collection walks them again.
"""

from __future__ import annotations

import gc

# A projector batch of 10,000 events stays below it (docs/performance.md#cpu).
FOLDING_FIRST_THRESHOLD = 200_000
# An API process's requests in progress stay far below it; at most this many objects of
# cyclic garbage wait for a collection.
SERVING_FIRST_THRESHOLD = 50_000


def tune_collector(first_threshold: int) -> None:
    """Freeze what is alive now and raise the first threshold; the older generations keep
    CPython's ratios."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(first_threshold, 10, 10)
