"""``python -m bench.infra.projector_lever [--gc-gen0 N] [--asyncio-loop] [--compression CODEC]``:
``deploystatus projector`` with one of its own settings undone or changed, to measure what
that setting pays:

- ``--gc-gen0 N``: the garbage collector's first threshold at N instead of the one the
  projector sets (`deploystatus/collector.py::FOLDING_FIRST_THRESHOLD`; CPython's default is
  700). A batch keeps its events and new states alive until it is written, and every
  young-generation collection walks all of them.
- ``--asyncio-loop``: asyncio's own event loop instead of uvloop.
- ``--compression CODEC``: KAFKA_COMPRESSION=CODEC, so that the changelog (and any dead
  letter) is produced compressed: what a setting other than ``none`` costs the projector.

The production code runs unchanged otherwise: the levers are ``cli.main.run_folding``'s
keyword arguments and a setting.
"""

from __future__ import annotations

import argparse

from cli.main import run_folding
from deploystatus.collector import FOLDING_FIRST_THRESHOLD
from deploystatus.logs import configure_logging
from deploystatus.settings import Settings
from projector.service import run_projector

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--gc-gen0", type=int, default=FOLDING_FIRST_THRESHOLD)
    parser.add_argument("--asyncio-loop", action="store_true")
    parser.add_argument("--compression", choices=["gzip", "snappy", "lz4", "zstd"])
    args = parser.parse_args()
    settings = Settings()  # what `deploystatus projector` reads
    if args.compression is not None:
        settings = settings.replace(kafka_compression=args.compression)
    configure_logging(settings.log.level, settings.log.format)
    run_folding(
        run_projector(settings),
        gc_first_threshold=args.gc_gen0,
        loop="asyncio" if args.asyncio_loop else "uvloop",
    )
