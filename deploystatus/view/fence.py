"""A Redis client that talks only to the server processes it has vouched for.

Redis replication is asynchronous: a restart from the last snapshot, or a failover to a
replica that lagged, puts a server with an *older* dataset at the same address. Nothing in
the protocol says so, and a writer that carries on folds new events into the older states.
Every such event changes the server process, and with it the ``run_id`` of ``INFO server``:
so each new connection asks for it, and a process the fence has not accepted is refused
before any command of ours runs on it. The writer then checks what the new server lost and
accepts it (``ServerFence.accept``) once it has dealt with that.
"""

from __future__ import annotations

import re
from typing import Any

from redis.asyncio import Connection
from redis.exceptions import RedisError

_RUN_ID = re.compile(rb"^run_id:([0-9a-f]+)", re.MULTILINE)


class ServerChanged(RedisError):
    """A connection reached a Redis server process the fence has not accepted. Not a
    ConnectionError, so that redis-py does not retry it behind the caller's back."""

    def __init__(self, address: str, was: str | None, now: str) -> None:
        self.address, self.was, self.now = address, was, now
        before = f"run id {was}" if was else "a node this client had not written to"
        super().__init__(
            f"Redis at {address} is another server process (run id {now}, was {before})"
        )


class ServerFence:
    """The server processes, by address, that a client may talk to. Until ``arm()`` any
    address met is learnt; after it, a new address (a promoted replica) or a new process at
    a known address is refused with ``ServerChanged``."""

    def __init__(self) -> None:
        self._accepted: dict[str, str] = {}
        self._armed = False

    def arm(self) -> None:
        self._armed = True

    def check(self, address: str, run_id: str) -> None:
        accepted = self._accepted.get(address)
        if accepted == run_id:
            return
        if accepted is None and not self._armed:
            self._accepted[address] = run_id
            return
        raise ServerChanged(address, accepted, run_id)

    def accept(self, changed: ServerChanged) -> None:
        self._accepted[changed.address] = changed.now


def fenced(connection_class: type[Connection], fence: ServerFence) -> type[Connection]:
    """``connection_class`` whose connections check the server's run id with ``fence``
    before they are used."""

    class FencedConnection(connection_class):  # type: ignore[valid-type,misc]
        async def on_connect_check_health(self, check_health: bool = True) -> None:
            await super().on_connect_check_health(check_health=check_health)
            await self.send_command("INFO", "server", check_health=False)
            fence.check(f"{self.host}:{self.port}", _run_id(await self.read_response()))

    return FencedConnection


def _run_id(info: Any) -> str:
    raw = info if isinstance(info, bytes) else str(info).encode()
    found = _RUN_ID.search(raw)
    return found.group(1).decode() if found else ""
