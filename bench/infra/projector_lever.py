"""``python -m bench.infra.projector_lever [--gc-gen0 N] [--asyncio-loop] [--compression CODEC]``:
``deploystatus projector`` with one of its own settings undone or changed, to measure what
that setting pays:

- ``--gc-gen0 N``: the garbage collector's first threshold at N instead of the one the
  projector sets (`cli/main.py::GC_FIRST_THRESHOLD`; CPython's default is 700). A
  batch keeps its events and new states alive until it is written, and every
  young-generation collection walks all of them.
- ``--asyncio-loop``: asyncio's own event loop instead of uvloop.
- ``--compression CODEC``: KAFKA_COMPRESSION=CODEC, so that the changelog (and any dead
  letter) is produced compressed: what a setting other than ``none`` costs the projector.

Bench-only: the production code runs unchanged otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys

import uvloop

from cli.main import main

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--gc-gen0", type=int)
    parser.add_argument("--asyncio-loop", action="store_true")
    parser.add_argument("--compression", choices=["gzip", "snappy", "lz4", "zstd"])
    args = parser.parse_args()
    if args.gc_gen0 is not None:
        _, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(args.gc_gen0, gen1, gen2)
        gc.set_threshold = lambda *thresholds: None  # keep the CLI from setting its own
    if args.asyncio_loop:
        uvloop.run = asyncio.run  # type: ignore[assignment]  # what the CLI runs its loop with
    if args.compression is not None:
        os.environ["KAFKA_COMPRESSION"] = args.compression  # read by the CLI's Settings()
    sys.exit(main(["projector"]))
