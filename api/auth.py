"""Bearer tokens: verifying the caller's JWT, and minting tokens for users and demos."""

from __future__ import annotations

import time
import uuid

import jwt
from jwt.types import Options

from api.exceptions import ConfigurationError, NotAuthenticated
from deploystatus.settings import Settings

MIN_SECRET_BYTES = 32
ASYMMETRIC_PREFIXES = ("RS", "PS", "ES", "Ed")
UUID_LENGTH = 36  # the canonical hyphenated form only


class TokenVerifier:
    """Checks signature, algorithm, ``exp`` (required), ``aud``/``iss`` when configured, and
    that ``sub`` is a uuid; returns the canonical user id."""

    def __init__(self, settings: Settings) -> None:
        self._key = _secret(settings)
        self._algorithms = list(settings.jwt_algorithms)
        self._audience = settings.jwt_audience
        self._issuer = settings.jwt_issuer
        required = ["exp", "sub"]
        if self._audience:
            required.append("aud")
        if self._issuer:
            required.append("iss")
        self._options: Options = {"require": required, "verify_aud": bool(self._audience)}

    def verify(self, token: str) -> str:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                options=self._options,
            )
        except jwt.PyJWTError as exc:
            raise NotAuthenticated(f"token refused: {exc}") from None
        subject = claims["sub"]
        try:
            if isinstance(subject, str) and len(subject) == UUID_LENGTH:
                return str(uuid.UUID(subject))
        except ValueError:
            pass
        raise NotAuthenticated(f"token subject {subject!r} is not a uuid string")


def mint_token(settings: Settings, subject: str, ttl_seconds: int = 3600) -> str:
    """A token for ``subject`` signed with the configured secret, valid for ``ttl_seconds``."""
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": str(uuid.UUID(subject)),
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    return jwt.encode(claims, _secret(settings), algorithm=settings.jwt_algorithms[0])


def _secret(settings: Settings) -> str:
    if not settings.jwt_algorithms:
        raise ConfigurationError("JWT_ALGORITHMS is empty: name at least one, e.g. HS256")
    asymmetric = [a for a in settings.jwt_algorithms if a.startswith(ASYMMETRIC_PREFIXES)]
    if asymmetric:
        raise ConfigurationError(
            f"JWT_ALGORITHMS={','.join(settings.jwt_algorithms)!r}: only HMAC algorithms "
            "(HS256, HS384, HS512) with JWT_SECRET are supported"
        )
    if settings.jwt_secret is None:
        raise ConfigurationError("JWT_SECRET is not set: the API cannot verify tokens without it")
    secret = settings.jwt_secret.get_secret_value()
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise ConfigurationError(
            f"JWT_SECRET is {len(secret.encode())} bytes; use at least {MIN_SECRET_BYTES} "
            "random bytes (e.g. `openssl rand -hex 32`)"
        )
    return secret
