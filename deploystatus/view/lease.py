"""A lease in Redis: at most one holder at a time, lost by a holder that stops renewing it."""

from __future__ import annotations

import os
import secrets
import socket

from deploystatus.view.client import RedisClient
from deploystatus.view.errors import translate_errors
from deploystatus.view.scripts import LuaScript, call_script

RENEW = LuaScript(
    """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""
)
RELEASE = LuaScript(
    """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
"""
)


class Lease:
    def __init__(self, redis: RedisClient, key: str, ttl_seconds: float) -> None:
        self._redis = redis
        self._key = key
        self._ttl_ms = int(ttl_seconds * 1000)
        # Says who holds it, for the message a refused contender prints.
        self.token = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"

    async def acquire(self) -> bool:
        with translate_errors("take the lease"):
            return bool(await self._redis.set(self._key, self.token, nx=True, px=self._ttl_ms))

    async def holder(self) -> str | None:
        with translate_errors("read the lease"):
            raw = await self._redis.get(self._key)
        return raw.decode() if isinstance(raw, bytes) else raw

    async def renew(self) -> bool:
        """Extend the lease; ``False`` if it was lost (expired and maybe taken by another)."""
        renewed = await call_script(
            self._redis, RENEW, "renew the lease", 1, self._key, self.token, self._ttl_ms
        )
        return bool(renewed)

    async def release(self) -> None:
        await call_script(self._redis, RELEASE, "release the lease", 1, self._key, self.token)
