"""Waiting out outages: retry an operation with capped exponential backoff until it works
or the projector is asked to stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiokafka.errors import KafkaError

from deploystatus.view.errors import ViewError
from projector import metrics
from projector.exceptions import ProjectorError

T = TypeVar("T")
log = logging.getLogger(__name__)


class Stopped(Exception):
    """The projector was asked to stop while an operation was still being retried."""


def is_retriable(exc: BaseException) -> bool:
    if isinstance(exc, ProjectorError | ViewError | KafkaError):
        return bool(exc.retriable)
    return isinstance(exc, OSError)


async def retry(
    operation: Callable[[], Awaitable[T]],
    what: str,
    stopping: asyncio.Event,
    *,
    first_delay: float = 0.1,
    max_delay: float = 5.0,
) -> T:
    """Run ``operation`` until it succeeds. Retriable errors are logged and retried after a
    growing delay; others propagate. Raises ``Stopped`` if ``stopping`` is set meanwhile."""
    delay = first_delay
    failures = 0
    while True:
        try:
            result = await operation()
        except Exception as exc:
            if not is_retriable(exc):
                raise
            failures += 1
            metrics.RETRIES.labels(what).inc()
            log.warning("%s failed (attempt %d), retrying in %.1fs: %s", what, failures, delay, exc)
            try:
                await asyncio.wait_for(stopping.wait(), timeout=delay)
            except TimeoutError:
                delay = min(delay * 2, max_delay)
                continue
            raise Stopped(what) from exc
        if failures:
            log.info("%s succeeded after %d failed attempt(s)", what, failures)
        return result
