"""Progress of a replay: events applied, rate, lag per partition, ETA; on a terminal a
one-line bar redrawn in place, elsewhere a plain log line every few seconds."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping
from typing import TextIO

log = logging.getLogger(__name__)
BAR_WIDTH = 24
LOG_EVERY_SECONDS = 5.0


def describe(
    applied: Mapping[int, int], ends: Mapping[int, int], rate: float, phase: str
) -> tuple[str, str]:
    """(bar, details) for applied offsets against log end offsets, per partition."""
    total = sum(ends.values())
    done = sum(min(applied.get(p, 0), end) for p, end in ends.items())
    fraction = done / total if total else 1.0
    filled = int(fraction * BAR_WIDTH)
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    lags = {p: max(end - applied.get(p, 0), 0) for p, end in sorted(ends.items())}
    behind = ", ".join(f"p{p}:{lag:,}" for p, lag in lags.items() if lag) or "none"
    eta = f"{(total - done) / rate:,.0f}s" if rate > 0 and done < total else "-"
    details = (
        f"{phase}: {done:,}/{total:,} events ({fraction:.0%}), {rate:,.0f} events/s, "
        f"ETA {eta}, lag {behind}"
    )
    return bar, details


class ProgressPrinter:
    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._last_log = 0.0
        self._last: tuple[float, int] | None = None
        self._rate = 0.0

    def update(self, applied: Mapping[int, int], ends: Mapping[int, int], phase: str) -> None:
        now = time.monotonic()
        done = sum(applied.values())
        if self._last is not None and now > self._last[0]:
            instant = (done - self._last[1]) / (now - self._last[0])
            # Smoothed, so the ETA does not jump with every batch.
            self._rate = instant if self._rate == 0 else 0.7 * self._rate + 0.3 * instant
        self._last = (now, done)
        bar, details = describe(applied, ends, self._rate, phase)
        if self._tty:
            self._stream.write(f"\r\x1b[2K[{bar}] {details}")
            self._stream.flush()
        elif now - self._last_log >= LOG_EVERY_SECONDS:
            self._last_log = now
            log.info("rebuild %s", details)

    def finish(self, message: str) -> None:
        if self._tty:
            self._stream.write("\n")
        log.info("%s", message)
