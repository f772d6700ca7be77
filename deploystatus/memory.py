"""Giving the heap memory a process has freed back to the operating system (glibc only).

The folding processes allocate kilobyte-sized objects per written deployment (documents,
fold states, packed commands) that live for a batch or two. glibc keeps the pages they
leave free inside the heap instead of returning them, so the RSS of a projector stayed at
its peak for good. ``malloc_trim(0)`` returns every whole free page; it is called once a
second from a thread of its own (ctypes releases the GIL), off the folding path
(docs/performance.md#memory).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
import threading
import time
from collections.abc import Callable

TRIM_INTERVAL_SECONDS = 1.0

log = logging.getLogger(__name__)


def malloc_trim() -> Callable[[], int] | None:
    """glibc's ``malloc_trim(0)``, or None where there is none (macOS, musl)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: int(trim(0))


def start_trimming(interval: float = TRIM_INTERVAL_SECONDS) -> bool:
    """Trim the heap every ``interval`` seconds for the rest of the process's life, from a
    daemon thread. Returns whether this platform can."""
    trim = malloc_trim()
    if trim is None:
        log.info("no malloc_trim on this platform: freed heap memory stays with the process")
        return False
    threading.Thread(
        target=_trim_forever, args=(trim, interval), name="malloc-trim", daemon=True
    ).start()
    return True


def _trim_forever(trim: Callable[[], int], interval: float) -> None:
    while True:
        time.sleep(interval)
        trim()
