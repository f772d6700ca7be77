"""Bearer tokens: verifying the caller's JWT, and minting HMAC tokens for users and demos."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from cachetools import TLRUCache
from jwt.types import Options

from api.exceptions import ConfigurationError, NotAuthenticated
from api.ids import canonical_uuid
from api.signing_keys import HMAC_ALGORITHMS, KeySource, checked_algorithms, hmac_secret, key_source
from deploystatus.settings import Settings

# The operator/admin scope: read any deployment, whoever owns it.
READ_ANY_SCOPE = "status:read:any"
# Verified tokens kept by the verifier: one per active caller. A hit skips the header parse,
# the HMAC/signature check and the claim checks, the largest CPU item of a request after the
# framework itself.
TOKEN_CACHE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: the token's subject, and whether it may read every deployment."""

    user_id: str
    read_any: bool = False


class VerifiedTokens:
    """A time-aware LRU (cachetools' TLRUCache) of the tokens that passed every check, by
    raw token string, each until its ``exp``. Only successes are stored: a forged or refused
    token is checked in full every time, so the cache cannot be filled with junk or turn a
    refusal into an acceptance."""

    def __init__(self, size: int, clock: Callable[[], float] = time.time) -> None:
        # Wall-clock time: entries end at the token's own exp, a Unix time.
        self._entries: TLRUCache[str, tuple[Principal, float]] | None = (
            TLRUCache(size, ttu=_until, timer=clock) if size > 0 else None
        )

    def get(self, token: str) -> Principal | None:
        if self._entries is None:
            return None
        try:  # indexing: Cache.get looks the key up twice, each time reading the clock
            return self._entries[token][0]
        except KeyError:
            return None

    def put(self, token: str, principal: Principal, until: float) -> None:
        """Keep ``principal`` for ``token`` until the Unix time ``until`` (if still ahead)."""
        if self._entries is not None:
            self._entries[token] = (principal, until)

    def __len__(self) -> int:
        if self._entries is None:
            return 0
        self._entries.expire()
        return len(self._entries)


def _until(token: str, entry: tuple[Principal, float], now: float) -> float:
    return entry[1]


class TokenVerifier:
    """Checks size, header, signature, algorithm (from configuration only), ``exp`` and
    ``sub`` (required), ``iat``/``nbf`` (with leeway), ``aud``/``iss`` when configured.

    A verified token is remembered until its ``exp`` (without the leeway: a token in its
    leeway is checked in full each time), and for at most ``JWT_JWKS_CACHE_SECONDS``, the
    time a key removed from a JWKS may still be used anyway; ``cache_size=0`` turns it off."""

    def __init__(
        self,
        settings: Settings,
        keys: KeySource | None = None,
        *,
        cache_size: int = TOKEN_CACHE_SIZE,
    ) -> None:
        self._algorithms = sorted(checked_algorithms(settings))
        self._keys = keys if keys is not None else key_source(settings)
        self._audience = settings.jwt.audience
        self._issuer = settings.jwt.issuer
        self._leeway = settings.jwt.leeway_seconds
        self._max_bytes = settings.jwt.max_token_bytes
        self._scope_claim = settings.jwt.scope_claim
        required = ["exp", "sub"]
        if self._audience:
            required.append("aud")
        if self._issuer:
            required.append("iss")
        self._options: Options = {"require": required, "verify_aud": bool(self._audience)}
        self._verified = VerifiedTokens(cache_size)
        self._cache_seconds = settings.jwt.jwks_cache_seconds

    @property
    def keys(self) -> KeySource:
        return self._keys

    async def verify(self, token: str) -> Principal:
        if len(token) > self._max_bytes:
            # Before any decoding: a huge token costs nothing but this comparison.
            raise NotAuthenticated(f"token of {len(token)} bytes, over {self._max_bytes}")
        known = self._verified.get(token)
        if known is not None:
            return known
        principal, expires = await self._verify(token)
        self._verified.put(token, principal, min(expires, time.time() + self._cache_seconds))
        return principal

    async def _verify(self, token: str) -> tuple[Principal, float]:
        """The full check; returns the principal and the token's ``exp``."""
        try:
            # PyJWT refuses unknown "crit" extensions here; "jku", "jwk" and "x5u" are
            # never read, since the key comes from configuration.
            header = jwt.get_unverified_header(token)
            if header.get("alg") not in self._algorithms:
                raise NotAuthenticated(f"token algorithm {str(header.get('alg'))[:32]!r}")
            key = await self._keys.key_for(header)
            claims = jwt.decode(
                token,
                key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options=self._options,
            )
        # TypeError/ValueError: a JWKS key of the wrong type for the token's algorithm.
        except (jwt.PyJWTError, TypeError, ValueError) as exc:
            raise NotAuthenticated(f"token refused: {type(exc).__name__}: {exc}") from None
        # PyJWT has checked that "exp" is present and an integer.
        return Principal(_user_id(claims.get("sub")), self._read_any(claims)), float(claims["exp"])

    def _read_any(self, claims: dict[str, Any]) -> bool:
        # OAuth's "scope" is a space-separated string; some issuers ("scp") use a list.
        scopes = claims.get(self._scope_claim)
        if isinstance(scopes, str):
            return READ_ANY_SCOPE in scopes.split()
        if isinstance(scopes, list):
            return READ_ANY_SCOPE in scopes
        return False


def _user_id(subject: object) -> str:
    user_id = canonical_uuid(subject)
    if user_id is None:
        raise NotAuthenticated(f"token subject {str(subject)[:64]!r} is not a uuid string")
    return user_id


def mint_token(
    settings: Settings, subject: str, ttl_seconds: int = 3600, scopes: tuple[str, ...] = ()
) -> str:
    """A token for ``subject`` signed with JWT_SECRET, valid for ``ttl_seconds``. Only for
    HMAC configurations: with asymmetric keys the issuer holds the private key, not us."""
    algorithms = checked_algorithms(settings)
    if not algorithms <= HMAC_ALGORITHMS:
        raise ConfigurationError(
            "minting tokens needs an HMAC configuration (JWT_SECRET, JWT_ALGORITHMS=HS256)"
        )
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": str(uuid.UUID(subject)),
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if scopes:
        claims[settings.jwt.scope_claim] = " ".join(scopes)
    if settings.jwt.audience:
        claims["aud"] = settings.jwt.audience
    if settings.jwt.issuer:
        claims["iss"] = settings.jwt.issuer
    return jwt.encode(claims, hmac_secret(settings), algorithm=settings.jwt.algorithms[0])
