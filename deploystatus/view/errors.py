"""Errors of the view store, and the one place where redis-py's errors become them.

Callers catch these, never ``redis.exceptions.*``: the projector retries what is
``retriable`` (``projector.retry``), the API answers ``StoreUnavailable`` with its 503.
"""

from __future__ import annotations

from types import TracebackType

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import InvalidResponse, RedisClusterException, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from deploystatus.view.fence import ServerChanged

# What "Redis is not there" looks like from redis-py: its own errors, socket errors (and the
# timeouts among them), and a cluster client that found no node to talk to.
DRIVER_ERRORS = (RedisError, OSError, RedisClusterException)
# What a client raises when nothing, or something that is not Redis, answers at its address.
UNREACHABLE_ERRORS = (RedisConnectionError, RedisTimeoutError, InvalidResponse)


class ViewError(Exception):
    retriable: bool = False


class StoreUnavailable(ViewError):
    """Redis did not answer, or refused the command; nothing was applied by the failed call,
    and trying again later helps."""

    retriable = True


class StoreChanged(ViewError):
    """Redis is now another server process (a restart, a failover), which may hold an older
    copy of the view; the projector re-reads its partitions from what that copy holds."""

    def __init__(self, changed: ServerChanged) -> None:
        super().__init__(str(changed))
        self.changed = changed


class translate_errors:  # lower case: read like a function, ``with translate_errors(...)``
    """Turns the driver's errors raised inside it into ``StoreUnavailable`` (a server process
    the fence refused into ``StoreChanged``), quoting ``operation``. A class rather than a
    generator-based context manager: it wraps every Redis call, the API's reads included."""

    __slots__ = ("operation",)

    def __init__(self, operation: str) -> None:
        self.operation = operation

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc is None:
            return
        if isinstance(exc, ServerChanged):
            raise StoreChanged(exc) from exc
        if isinstance(exc, DRIVER_ERRORS):
            raise StoreUnavailable(f"Redis could not {self.operation}: {exc!r}") from exc
