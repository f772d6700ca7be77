"""``python -m bench.projector_lever [--gc-gen0 N] [--asyncio-loop]``: ``deploystatus
projector`` with one of its own settings undone, to measure what that setting pays:

- ``--gc-gen0 N``: the garbage collector's first threshold at N instead of the one the
  projector sets (`deploystatus/cli.py::GC_FIRST_THRESHOLD`; CPython's default is 700). A
  batch keeps its events and new states alive until it is written, and every
  young-generation collection walks all of them.
- ``--asyncio-loop``: asyncio's own event loop instead of uvloop.

Bench-only: the production code runs unchanged otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys

import uvloop

from deploystatus.cli import main

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--gc-gen0", type=int)
    parser.add_argument("--asyncio-loop", action="store_true")
    args = parser.parse_args()
    if args.gc_gen0 is not None:
        _, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(args.gc_gen0, gen1, gen2)
        gc.set_threshold = lambda *thresholds: None  # keep the CLI from setting its own
    if args.asyncio_loop:
        uvloop.run = asyncio.run  # type: ignore[assignment]  # what the CLI runs its loop with
    sys.exit(main(["projector"]))
