"""Per-user and per-IP request budgets in Redis, shared by every API process.

Fixed windows: a counter per user and per IP that starts its window (a TTL) on its first
request. One single-key script per counter, queued in the same pipeline as the document
read, so the check costs no extra round trip; single keys keep it valid on a Redis Cluster
(and spread the counters over its slots).
"""

from __future__ import annotations

import ipaddress
import math
from typing import Any

from redis.asyncio.client import Pipeline

from api.exceptions import RateLimited
from api.scripts import LuaScript

# KEYS[1] the counter, ARGV[1] the budget, ARGV[2] the window in ms.
# Returns 0 within budget, else the ms until the window ends.
COUNT = LuaScript(
    """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n <= tonumber(ARGV[1]) then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return ttl
"""
)


class RateLimiter:
    """Budgets of ``per_user`` and ``per_ip`` requests per window; 0 turns one off."""

    def __init__(self, prefix: str, per_user: int, per_ip: int, window_seconds: float) -> None:
        self._prefix = prefix
        self._per_user = per_user
        self._per_ip = per_ip
        self._window_ms = max(1, round(window_seconds * 1000))

    @property
    def enabled(self) -> bool:
        return bool(self._per_user or self._per_ip)

    def user_key(self, user_id: str) -> str:
        # user_id is a canonical uuid (checked by the token verifier).
        return f"{self._prefix}:rl:user:{{{user_id}}}"

    def ip_key(self, ip: str) -> str:
        return f"{self._prefix}:rl:ip:{{{_canonical_ip(ip)}}}"

    def queue(self, pipe: Pipeline, user_id: str | None, ip: str) -> int:
        """Queue the counters' increments; returns how many replies they will take."""
        queued = 0
        if self._per_user and user_id is not None:
            pipe.evalsha(COUNT.sha, 1, self.user_key(user_id), self._per_user, self._window_ms)
            queued += 1
        if self._per_ip:
            pipe.evalsha(COUNT.sha, 1, self.ip_key(ip), self._per_ip, self._window_ms)
            queued += 1
        return queued

    @staticmethod
    def verdict(replies: list[Any]) -> None:
        """Raise RateLimited if any counter is over its budget."""
        wait_ms = max((int(reply) for reply in replies), default=0)
        if wait_ms > 0:
            raise RateLimited(
                f"over budget for {wait_ms} ms", retry_after=max(1, math.ceil(wait_ms / 1000))
            )


def _canonical_ip(ip: str) -> str:
    # The client address is a socket peer, or X-Forwarded-For from a trusted proxy; bound it.
    try:
        return str(ipaddress.ip_address(ip))
    except ValueError:
        return "unparsable"
