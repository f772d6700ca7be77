"""Token verification, key configuration, limits and log redaction, without services."""

from __future__ import annotations

import time
import uuid

import httpx
import jwt
import pytest
from pydantic import SecretStr

from api.auth import READ_ANY_SCOPE, Principal, TokenVerifier, mint_token
from api.exceptions import ConfigurationError, NotAuthenticated, RateLimited
from api.limits import RequestLimits
from api.logfilter import redact
from api.ratelimit import RateLimiter
from deploystatus.settings import Settings

SECRET = "unit-secret-" + "z" * 40
USER = str(uuid.uuid4())


def settings(**update) -> Settings:
    base = {"jwt_secret": SecretStr(SECRET), "jwt_algorithms": ["HS256"]}
    return Settings(_env_file=None, **{**base, **update})


def token(**claims) -> str:
    body = {"sub": USER, "exp": int(time.time()) + 60, **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, SECRET, algorithm="HS256")


async def test_valid_token_gives_the_canonical_user():
    """A good token's sub, canonicalised, is the principal; no scope means no admin."""
    verifier = TokenVerifier(settings())
    assert await verifier.verify(token(sub=USER.upper())) == Principal(USER, read_any=False)


@pytest.mark.parametrize(
    ("scope", "read_any"),
    [
        (READ_ANY_SCOPE, True),
        (f"openid {READ_ANY_SCOPE} email", True),
        ([READ_ANY_SCOPE], True),
        (f"{READ_ANY_SCOPE}x", False),
        ("status:read", False),
        ({READ_ANY_SCOPE: True}, False),
        (None, False),
    ],
)
async def test_scope_claim(scope, read_any):
    """Only the exact scope, in a space-separated string or a list, grants read-any."""
    principal = await TokenVerifier(settings()).verify(token(scope=scope))
    assert principal.read_any is read_any


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": None},
        {"sub": None},
        {"sub": "not-a-uuid"},
        {"exp": int(time.time()) - 3600},
        {"nbf": int(time.time()) + 3600},
        {"iat": int(time.time()) + 3600},
    ],
)
async def test_bad_claims_are_refused(claims):
    """Missing exp/sub, a non-uuid sub, expired, not yet valid: NotAuthenticated."""
    with pytest.raises(NotAuthenticated):
        await TokenVerifier(settings()).verify(token(**claims))


async def test_leeway_is_honoured():
    """exp a few seconds past is accepted within JWT_LEEWAY_SECONDS, refused without."""
    stale = token(exp=int(time.time()) - 5)
    await TokenVerifier(settings(jwt_leeway_seconds=30)).verify(stale)
    with pytest.raises(NotAuthenticated):
        await TokenVerifier(settings(jwt_leeway_seconds=0)).verify(stale)


async def test_oversized_token_is_refused_before_decoding():
    """A token over JWT_MAX_TOKEN_BYTES is refused, however valid."""
    verifier = TokenVerifier(settings(jwt_max_token_bytes=256))
    with pytest.raises(NotAuthenticated, match="over 256"):
        await verifier.verify(token(pad="x" * 300))


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"jwt_secret": SecretStr("short")}, "JWT_SECRET is 5 bytes"),
        ({"jwt_secret": None}, "JWT_SECRET is not set"),
        ({"jwt_algorithms": []}, "JWT_ALGORITHMS is empty"),
        ({"jwt_algorithms": ["HS256", "ES256"]}, "mixes HMAC and asymmetric"),
        ({"jwt_algorithms": ["XS999"]}, "names 'XS999'"),
        ({"jwt_algorithms": ["EdDSA"], "jwt_secret": None}, "needs JWT_PUBLIC_KEY"),
        (
            {"jwt_algorithms": ["RS256"], "jwt_secret": None, "jwt_public_key": "not a pem"},
            "JWT_PUBLIC_KEY is not a public key usable with RS256",
        ),
    ],
)
def test_bad_configuration(update, message):
    """Every unusable key configuration is a ConfigurationError naming the setting."""
    with pytest.raises(ConfigurationError, match=message):
        TokenVerifier(settings(**update))


def test_minting_needs_hmac():
    """mint_token refuses asymmetric configurations (the issuer holds the private key)."""
    with pytest.raises(ConfigurationError, match="HMAC"):
        mint_token(settings(jwt_algorithms=["RS256"], jwt_secret=None), USER)


def test_rate_limit_verdict_and_keys():
    """Replies over budget raise RateLimited with whole seconds; keys stay under the prefix."""
    limiter = RateLimiter("p", per_user=1, per_ip=1, window_seconds=10)
    RateLimiter.verdict([0, 0])
    with pytest.raises(RateLimited) as refused:
        RateLimiter.verdict([0, 1500])
    assert refused.value.retry_after == 2
    assert limiter.ip_key("::ffff:127.0.0.1").startswith("p:rl:ip:{")
    assert limiter.ip_key("}{*" * 1000) == "p:rl:ip:{unparsable}"
    assert not RateLimiter("p", 0, 0, 1).enabled


def test_access_log_redaction():
    """Query strings and JWT-looking path segments never reach the access log."""
    jwt_like = token()
    assert redact(f"/status/x?access_token={jwt_like}") == "/status/x?<redacted>"
    assert jwt_like not in redact(f"/status/{jwt_like}")
    assert redact("/status/abc") == "/status/abc"


async def test_request_limits_middleware():
    """414, 431, 401 for an oversized Authorization, else through to the app."""

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    limited = RequestLimits(
        app, max_url_bytes=100, max_header_bytes=500, max_token_bytes=300, max_concurrency=2
    )
    transport = httpx.ASGITransport(app=limited)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/ok")).status_code == 204
        assert (await client.get("/" + "a" * 100)).status_code == 414
        assert (await client.get("/ok", headers={"X-Big": "b" * 500})).status_code == 431
        oversized = {"Authorization": "Bearer " + "t" * 301}
        assert (await client.get("/ok", headers=oversized)).status_code == 401
        fits = {"Authorization": "Bearer " + "t" * 300}
        assert (await client.get("/ok", headers=fits)).status_code == 204
