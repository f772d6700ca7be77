"""Returning freed heap memory: available on this platform (Linux, glibc) and harmless."""

from __future__ import annotations

import sys
import threading

import pytest

from deploystatus.memory import malloc_trim, start_trimming


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_malloc_trim_runs_after_freeing() -> None:
    trim = malloc_trim()
    assert trim is not None
    garbage = [bytes(2048) for _ in range(10_000)]
    del garbage
    assert trim() in (0, 1)  # 1: memory was returned, 0: there was none to return


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_start_trimming_runs_a_daemon_thread() -> None:
    assert start_trimming(interval=0.01)
    threads = [t for t in threading.enumerate() if t.name == "malloc-trim"]
    assert threads and all(t.daemon for t in threads)
