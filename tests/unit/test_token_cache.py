"""The verified-token cache: only successes are kept, each until its exp, in a bounded LRU."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest
from pydantic import SecretStr

from api.auth import Principal, TokenVerifier, VerifiedTokens
from api.exceptions import NotAuthenticated
from deploystatus.settings import Settings

SECRET = "cache-secret-" + "q" * 40
USER = str(uuid.uuid4())


def settings(**update: object) -> Settings:
    base = {"jwt_secret": SecretStr(SECRET), "jwt_algorithms": ["HS256"]}
    return Settings(_env_file=None, **{**base, **update})  # type: ignore[arg-type]


def token(secret: str = SECRET, **claims: object) -> str:
    body = {"sub": USER, "exp": int(time.time()) + 60, **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, secret, algorithm="HS256")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_entry_is_served_until_its_expiry_only():
    """An entry is returned before its expiry time and dropped at it."""
    clock = Clock()
    cache = VerifiedTokens(10, clock)
    cache.put("t", Principal(USER), until=100.0)
    clock.now = 99.9
    assert cache.get("t") == Principal(USER)
    clock.now = 100.0
    assert cache.get("t") is None
    assert len(cache) == 0


def test_least_recently_used_entry_goes_first():
    """Over its size, the cache evicts the entry used longest ago."""
    clock = Clock()
    cache = VerifiedTokens(2, clock)
    for name in ("a", "b"):
        cache.put(name, Principal(USER), until=10.0)
    clock.now = 1.0
    assert cache.get("a") is not None
    cache.put("c", Principal(USER), until=10.0)
    assert cache.get("b") is None
    assert cache.get("a") is not None
    assert cache.get("c") is not None


def test_size_zero_and_expired_entries_are_not_stored():
    """A disabled cache stores nothing, and neither does any cache for an expired token."""
    clock = Clock()
    off = VerifiedTokens(0, clock)
    off.put("t", Principal(USER), until=10.0)
    on = VerifiedTokens(5, clock)
    clock.now = 10.0
    on.put("t", Principal(USER), until=10.0)
    assert len(off) == len(on) == 0


async def test_refused_tokens_are_never_cached():
    """A forged token is refused every time and leaves no entry behind."""
    verifier = TokenVerifier(settings())
    forged = token(secret="attacker-" + "k" * 40)
    for _ in range(2):
        with pytest.raises(NotAuthenticated):
            await verifier.verify(forged)
    assert len(verifier._verified) == 0


async def test_a_verified_token_is_served_from_the_cache():
    """The second check of a good token gives the same principal without a new check."""
    verifier = TokenVerifier(settings())
    good = token()
    first = await verifier.verify(good)
    assert len(verifier._verified) == 1
    assert await verifier.verify(good) is first


async def test_token_within_leeway_is_checked_every_time():
    """A token past exp but within the leeway is accepted, and not cached."""
    verifier = TokenVerifier(settings(jwt_leeway_seconds=30))
    await verifier.verify(token(exp=int(time.time()) - 5))
    assert len(verifier._verified) == 0


async def test_oversized_token_is_refused_before_the_cache():
    """The size limit holds for every request, cached or not."""
    verifier = TokenVerifier(settings(jwt_max_token_bytes=256))
    with pytest.raises(NotAuthenticated, match="over 256"):
        await verifier.verify(token(pad="x" * 400))
