"""Where verification keys come from: an HMAC secret, one PEM public key, or a JWKS endpoint.

The key is always chosen by configuration (and, for a JWKS, by ``kid`` among the configured
issuer's keys); headers that point elsewhere (``jku``, ``jwk``, ``x5u``) are never looked at.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import jwt
from jwt.algorithms import get_default_algorithms

from api.exceptions import ConfigurationError, NotAuthenticated
from deploystatus.settings import Settings

log = logging.getLogger(__name__)

MIN_SECRET_BYTES = 32
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})


class KeySource(Protocol):
    """The verification key for a token's (already checked) header."""

    async def key_for(self, header: dict[str, Any]) -> Any: ...


class StaticKey:
    """One key for every token: the HMAC secret or the PEM public key."""

    def __init__(self, key: Any) -> None:
        self._key = key

    async def key_for(self, header: dict[str, Any]) -> Any:
        return self._key


class JwksKeys:
    """The issuer's key set, looked up by ``kid`` in memory; fetched off the event loop by
    ``PyJWKClient``, refreshed when older than ``max_age`` or when a token names an unknown
    ``kid``, but never more often than every ``min_refresh`` seconds (random kids cannot
    hammer the issuer, and a down issuer is not retried on every request)."""

    def __init__(
        self,
        url: str,
        *,
        algorithms: frozenset[str],
        max_age: float,
        min_refresh: float,
        timeout: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # Only PyJWKClient's fetch is used: its cache and cooldown serve get_signing_key, and
        # this throttle also counts failed fetches and refreshes on unknown kids by itself.
        self._client = jwt.PyJWKClient(url, cache_jwk_set=False, timeout=timeout)
        self._algorithms = algorithms
        self._max_age = max_age
        self._min_refresh = min_refresh
        self._clock = clock
        self._keys: dict[str, SigningKey] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = asyncio.Lock()

    async def key_for(self, header: dict[str, Any]) -> Any:
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise NotAuthenticated("token has no kid, and the keys come from a JWKS")
        if kid not in self._keys or self._stale():
            await self._refresh(kid)
        signing_key = self._keys.get(kid)
        if signing_key is None:
            raise NotAuthenticated(f"no key with kid {kid[:64]!r} in the JWKS")
        # A key published for one algorithm is not used with another. (A key without "alg"
        # is checked by the algorithm itself: it refuses a key of the wrong type.)
        declared = signing_key.algorithm
        if declared is not None and declared != header.get("alg"):
            raise NotAuthenticated(f"key {kid[:64]!r} is published for {declared!r}")
        return signing_key.key

    async def refresh(self) -> None:
        """Fetch now (start-up); failures are logged, and retried on demand later."""
        async with self._lock:
            await self._fetch()

    def _stale(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at > self._max_age

    async def _refresh(self, kid: str) -> None:
        async with self._lock:
            # Another request may have refreshed while this one waited for the lock.
            if kid in self._keys and not self._stale():
                return
            now = self._clock()
            if self._attempted_at is not None and now - self._attempted_at < self._min_refresh:
                return
            await self._fetch()

    async def _fetch(self) -> None:
        self._attempted_at = self._clock()
        try:
            key_set = await asyncio.to_thread(self._client.fetch_data)
            self._keys = signing_keys(key_set, self._algorithms)
        except jwt.PyJWTError as exc:
            log.warning("JWKS fetch from %s failed: %s", self._client.uri, exc)
            return
        self._fetched_at = self._clock()
        log.info("JWKS from %s: %d key(s)", self._client.uri, len(self._keys))


@dataclass(frozen=True, slots=True)
class SigningKey:
    key: Any
    algorithm: str | None  # the key's own "alg", when it declares one


def signing_keys(key_set: dict[str, Any], algorithms: frozenset[str]) -> dict[str, SigningKey]:
    """The signing keys of a fetched JWKS, by kid. Keys PyJWK cannot load are skipped, as
    PyJWKSet skips them, and so are keys declared for algorithms not accepted here: they
    could never verify an accepted token. Raises PyJWKSetError when no key loads at all."""
    # The raw "alg" is read here because PyJWK.algorithm_name also guesses one for a key
    # that declares none (RS256 for any RSA key), which would refuse RS384 or PS256 tokens.
    raw_keys = key_set.get("keys")
    if not isinstance(raw_keys, list) or not raw_keys:
        raise jwt.PyJWKSetError("The JWKS has no keys")
    keys: dict[str, SigningKey] = {}
    loaded = 0
    for raw in raw_keys:
        if not isinstance(raw, dict):
            continue
        try:
            jwk = jwt.PyJWK.from_dict(raw)
        except jwt.PyJWTError:
            continue
        loaded += 1
        declared = raw.get("alg")
        if (
            jwk.key_id is not None
            and jwk.public_key_use in (None, "sig")
            and (declared is None or declared in algorithms)
        ):
            keys[jwk.key_id] = SigningKey(jwk.key, declared)
    if not loaded:
        raise jwt.PyJWKSetError("The JWKS has no key usable here")
    return keys


def checked_algorithms(settings: Settings) -> frozenset[str]:
    """The configured algorithms, refused when empty, unknown, ``none`` or mixed HS/asymmetric."""
    algorithms = frozenset(settings.jwt.algorithms)
    if not algorithms:
        raise ConfigurationError("JWT_ALGORITHMS is empty: name at least one, e.g. HS256")
    known = set(get_default_algorithms()) - {"none"}
    unknown = sorted(algorithms - known)
    if unknown:
        raise ConfigurationError(
            f"JWT_ALGORITHMS names {','.join(unknown)!r}: use some of {','.join(sorted(known))}"
        )
    hmac = algorithms & HMAC_ALGORITHMS
    if hmac and hmac != algorithms:
        raise ConfigurationError(
            f"JWT_ALGORITHMS={','.join(sorted(algorithms))!r} mixes HMAC and asymmetric "
            "algorithms: a public key must never be usable as an HMAC secret"
        )
    return algorithms


def key_source(settings: Settings) -> KeySource:
    """The key source the settings describe; every mistake is a ConfigurationError here, at
    start-up, rather than a 401 on every request later."""
    algorithms = checked_algorithms(settings)
    sources = [
        name
        for name, value in (
            ("JWT_SECRET", settings.jwt.secret),
            ("JWT_PUBLIC_KEY", settings.jwt.public_key),
            ("JWT_JWKS_URL", settings.jwt.jwks_url),
        )
        if value
    ]
    if len(sources) > 1:
        raise ConfigurationError(f"set only one of {', '.join(sources)}")
    if algorithms <= HMAC_ALGORITHMS:
        return StaticKey(hmac_secret(settings))
    if settings.jwt.jwks_url:
        return _jwks(settings, algorithms)
    if settings.jwt.public_key:
        return StaticKey(_public_key(settings.jwt.public_key, algorithms))
    raise ConfigurationError(
        f"JWT_ALGORITHMS={','.join(sorted(algorithms))!r} needs JWT_PUBLIC_KEY or JWT_JWKS_URL"
    )


def hmac_secret(settings: Settings) -> str:
    if settings.jwt.secret is None:
        raise ConfigurationError("JWT_SECRET is not set: the API cannot verify tokens without it")
    secret = settings.jwt.secret.get_secret_value()
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise ConfigurationError(
            f"JWT_SECRET is {len(secret.encode())} bytes; use at least {MIN_SECRET_BYTES} "
            "random bytes (e.g. `openssl rand -hex 32`)"
        )
    return secret


def _public_key(pem: str, algorithms: frozenset[str]) -> Any:
    # Environment files often carry a PEM on one line with literal "\n".
    pem = pem.replace("\\n", "\n")
    prepared = None
    for name in sorted(algorithms):
        try:
            prepared = jwt.get_algorithm_by_name(name).prepare_key(pem)
        except (jwt.InvalidKeyError, ValueError, TypeError) as exc:
            raise ConfigurationError(
                f"JWT_PUBLIC_KEY is not a public key usable with {name}: {exc}"
            ) from None
        if hasattr(prepared, "private_bytes"):
            raise ConfigurationError("JWT_PUBLIC_KEY holds a private key: give the public key")
    return prepared


def _jwks(settings: Settings, algorithms: frozenset[str]) -> JwksKeys:
    assert settings.jwt.jwks_url is not None
    try:
        return JwksKeys(
            settings.jwt.jwks_url,
            algorithms=algorithms,
            max_age=settings.jwt.jwks_cache_seconds,
            min_refresh=settings.jwt.jwks_min_refresh_seconds,
            timeout=settings.jwt.jwks_timeout_seconds,
        )
    except jwt.PyJWKClientError as exc:
        raise ConfigurationError(f"JWT_JWKS_URL={settings.jwt.jwks_url!r}: {exc}") from None
