"""``python -m bench.projector_lever [--fetch-wait-ms N] [--gc-gen0 N]``: ``deploystatus
projector`` with one process-level setting changed, for the levers of the freshness and
projector benchmarks.

- ``--fetch-wait-ms``: the consumer's ``fetch_max_wait_ms`` (aiokafka's default is 500 ms;
  the consumer is built in ``projector/service.py``, so aiokafka's default is patched here).
- ``--gc-gen0``: the garbage collector's first threshold (CPython's default is 700): a
  projector holds many long-lived objects (cached states, a batch of events), and every
  young-generation collection that reaches the older ones rescans them.

Bench-only: the production code runs unchanged otherwise.
"""

from __future__ import annotations

import argparse
import gc
import sys
from typing import Any

import aiokafka

from deploystatus.cli import main


def _with_fetch_wait(wait_ms: int) -> None:
    original = aiokafka.AIOKafkaConsumer.__init__

    def init(self: aiokafka.AIOKafkaConsumer, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("fetch_max_wait_ms", wait_ms)
        original(self, *args, **kwargs)

    aiokafka.AIOKafkaConsumer.__init__ = init  # type: ignore[method-assign]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--fetch-wait-ms", type=int)
    parser.add_argument("--gc-gen0", type=int)
    args = parser.parse_args()
    if args.fetch_wait_ms is not None:
        _with_fetch_wait(args.fetch_wait_ms)
    if args.gc_gen0 is not None:
        _, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(args.gc_gen0, gen1, gen2)
    sys.exit(main(["projector"]))
