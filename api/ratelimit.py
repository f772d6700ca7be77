"""Per-user and per-IP request budgets, counted in Redis and shared by every API process.

Fixed windows: a counter per user and per IP that starts its window (a TTL) on its first
request, counted in the same round trip as the document read (``deploystatus.view.reads``).
Hand-written: rate-limit libraries (limits, slowapi) make a Redis round trip of their own.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Sequence

from api.exceptions import RateLimited
from deploystatus.view.keys import Keys
from deploystatus.view.store import Budget


class RateLimiter:
    """Budgets of ``per_user`` and ``per_ip`` requests per window; 0 turns one off."""

    def __init__(self, prefix: str, per_user: int, per_ip: int, window_seconds: float) -> None:
        self._keys = Keys(prefix)
        self._per_user = per_user
        self._per_ip = per_ip
        self._window_ms = max(1, round(window_seconds * 1000))

    @property
    def enabled(self) -> bool:
        return bool(self._per_user or self._per_ip)

    def user_key(self, user_id: str) -> str:
        # user_id is a canonical uuid (checked by the token verifier).
        return self._keys.rate_user(user_id)

    def ip_key(self, ip: str) -> str:
        return self._keys.rate_ip(_canonical_ip(ip))

    def budgets(self, user_id: str | None, ip: str) -> list[Budget]:
        """The counters a request from ``user_id`` at ``ip`` counts against."""
        budgets = []
        if self._per_user and user_id is not None:
            budgets.append(Budget(self.user_key(user_id), self._per_user, self._window_ms))
        if self._per_ip:
            budgets.append(Budget(self.ip_key(ip), self._per_ip, self._window_ms))
        return budgets

    @staticmethod
    def verdict(replies: Sequence[int]) -> None:
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
