"""``python -m bench.projector_lever --gc-gen0 N``: ``deploystatus projector`` with the
garbage collector's first threshold at N instead of the one the projector sets for itself
(`deploystatus/cli.py::GC_FIRST_THRESHOLD`; CPython's default is 700): what that setting
saves. A batch keeps its events and new states alive until it is written, and every
young-generation collection walks all of them.

Bench-only: the production code runs unchanged otherwise.
"""

from __future__ import annotations

import argparse
import gc
import sys

from deploystatus.cli import main

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--gc-gen0", type=int, required=True)
    args = parser.parse_args()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(args.gc_gen0, gen1, gen2)
    gc.set_threshold = lambda *thresholds: None  # keep the CLI from setting its own
    sys.exit(main(["projector"]))
