"""Token attacks (OWASP API2): every forged, stale, misdirected or oversized token gets the
one 401; keys come from configuration (PEM or JWKS), never from the token; a JWKS is not
refreshed more than once per JWT_JWKS_MIN_REFRESH_SECONDS however many unknown kids come."""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from support.api import TEST_SECRET, running_api
from support.processes import running_projector
from support.publishing import publish
from support.view import serve_empty_generation, wait_for_view

from cli.samples import create_deployment
from deploystatus.settings import Settings

ALICE = str(uuid.uuid4())
AUDIENCE = "deploystatus"
ISSUER = "https://auth.example"
KID = "key-1"
UNAUTHORIZED = b'{"detail":"Not authenticated"}'

ISSUER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ATTACKER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC_PEM = (
    ISSUER_KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


def public_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict:
    return {**RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": kid, "alg": "RS256"}


def claims(**overrides) -> dict:
    now = int(time.time())
    base = {"sub": ALICE, "exp": now + 600, "iat": now, "aud": AUDIENCE, "iss": ISSUER}
    return {k: v for k, v in {**base, **overrides}.items() if v is not None}


def signed(payload: dict, key=ISSUER_KEY, headers: dict | None = None, alg="RS256") -> str:
    # PyJWS, not jwt.encode: the attacks need claims that jwt.encode refuses to write.
    return jwt.PyJWS().encode(
        json.dumps(payload).encode(), key, algorithm=alg, headers={"kid": KID, **(headers or {})}
    )


def b64(data: dict) -> str:
    return jwt.utils.base64url_encode(json.dumps(data).encode()).decode()


def hs256_with_public_key() -> str:
    # PyJWT refuses to sign with a PEM as an HMAC secret, so build the forgery by hand.
    import hashlib
    import hmac

    signing_input = f"{b64({'alg': 'HS256', 'typ': 'JWT', 'kid': KID})}.{b64(claims())}"
    mac = hmac.new(PUBLIC_PEM.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{jwt.utils.base64url_encode(mac).decode()}"


@dataclass
class KeyServer:
    """A loopback HTTP server answering every GET with ``document``, counting requests."""

    document: dict
    requests: list[str] = field(default_factory=list)
    url: str = ""


@contextmanager
def key_server(document: dict) -> Iterator[KeyServer]:
    state = KeyServer(document)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            body = json.dumps(state.document).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def asymmetric(settings: Settings, **update) -> Settings:
    return settings.replace(
        **{
            "jwt_secret": None,
            "jwt_algorithms": ["RS256"],
            "jwt_audience": AUDIENCE,
            "jwt_issuer": ISSUER,
            "jwt_leeway_seconds": 10.0,
            **update,
        }
    )


def attacks(attacker_url: str) -> dict[str, Callable[[], tuple[str | None, str]]]:
    """name -> (Authorization header or None, query string): each must get the one 401."""
    now = int(time.time())
    valid = signed(claims())
    header, payload, _ = valid.split(".")
    return {
        "alg none": lambda: (f"Bearer {b64({'alg': 'none', 'kid': KID})}.{payload}.", ""),
        "alg none upper": lambda: (f"Bearer {b64({'alg': 'NONE', 'kid': KID})}.{payload}.", ""),
        "empty signature": lambda: (f"Bearer {header}.{payload}.", ""),
        "HS256 signed with the RSA public key": lambda: (f"Bearer {hs256_with_public_key()}", ""),
        "wrong key": lambda: (f"Bearer {signed(claims(), key=ATTACKER_KEY)}", ""),
        "payload swapped": lambda: (
            f"Bearer {header}.{b64(claims(sub=str(uuid.uuid4())))}.{valid.split('.')[2]}",
            "",
        ),
        "expired beyond leeway": lambda: (f"Bearer {signed(claims(exp=now - 60))}", ""),
        "nbf in the future": lambda: (f"Bearer {signed(claims(nbf=now + 120))}", ""),
        "iat in the future": lambda: (f"Bearer {signed(claims(iat=now + 120))}", ""),
        "missing exp": lambda: (f"Bearer {signed(claims(exp=None))}", ""),
        "missing sub": lambda: (f"Bearer {signed(claims(sub=None))}", ""),
        "numeric sub": lambda: (f"Bearer {signed(claims(sub=12345))}", ""),
        "list sub": lambda: (f"Bearer {signed(claims(sub=[ALICE]))}", ""),
        "non-uuid sub": lambda: (f"Bearer {signed(claims(sub='alice'))}", ""),
        "braced uuid sub": lambda: (f"Bearer {signed(claims(sub='{' + ALICE[:34] + '}'))}", ""),
        "missing aud": lambda: (f"Bearer {signed(claims(aud=None))}", ""),
        "wrong aud": lambda: (f"Bearer {signed(claims(aud='other'))}", ""),
        "wrong iss": lambda: (f"Bearer {signed(claims(iss='https://evil.example'))}", ""),
        "iss with the right prefix": lambda: (
            f"Bearer {signed(claims(iss=ISSUER + '.evil.example'))}",
            "",
        ),
        "iss list": lambda: (f"Bearer {signed(claims(iss=[ISSUER]))}", ""),
        "unknown kid": lambda: (
            f"Bearer {signed(claims(), key=ATTACKER_KEY, headers={'kid': 'other'})}",
            "",
        ),
        "jku pointing elsewhere": lambda: (
            f"Bearer {signed(claims(), key=ATTACKER_KEY, headers={'jku': attacker_url})}",
            "",
        ),
        "x5u pointing elsewhere": lambda: (
            f"Bearer {signed(claims(), key=ATTACKER_KEY, headers={'x5u': attacker_url})}",
            "",
        ),
        "embedded jwk": lambda: (
            "Bearer "
            + signed(claims(), key=ATTACKER_KEY, headers={"jwk": public_jwk(ATTACKER_KEY, KID)}),
            "",
        ),
        "unknown crit header": lambda: (
            f"Bearer {signed(claims(), headers={'crit': ['exp-ext'], 'exp-ext': 1})}",
            "",
        ),
        "100 KB token": lambda: (f"Bearer {signed(claims(pad='x' * 100_000))}", ""),
        "token in the query string": lambda: (None, f"?access_token={valid}&token={valid}"),
        "token in the query, bad header": lambda: ("Bearer x", f"?access_token={valid}"),
        "lowercase scheme, garbage": lambda: ("bearer a.b.c", ""),
        "not base64": lambda: ("Bearer ***.***.***", ""),
    }


async def check_attacks(client, attacker: KeyServer) -> None:
    url = f"/status/{uuid.uuid4()}"
    reference = None
    for name, make in attacks(attacker.url).items():
        authorization, query = make()
        headers = {"Authorization": authorization} if authorization is not None else {}
        response = await client.get(url + query, headers=headers)
        assert response.status_code == 401, name
        assert response.content == UNAUTHORIZED, name
        shape = sorted((k, v) for k, v in response.headers.items() if k != "date")
        reference = reference or shape
        assert shape == reference, name
    assert attacker.requests == [], "a token header made the API fetch a key from elsewhere"
    # The same API accepts a good token, and one just past exp / before nbf within leeway.
    now = int(time.time())
    for good in (claims(), claims(exp=now - 3), claims(nbf=now + 3, iat=now + 3)):
        response = await client.get(url, headers={"Authorization": f"Bearer {signed(good)}"})
        assert response.status_code == 404, good


async def test_token_attacks_with_a_public_key(settings):
    """With JWT_PUBLIC_KEY (RS256), every attack in the table gets one identical 401."""
    settings = asymmetric(settings, jwt_public_key=PUBLIC_PEM)
    await serve_empty_generation(settings)
    with key_server(public_jwk(ATTACKER_KEY, KID)) as attacker:
        async with running_api(settings) as client:
            await check_attacks(client, attacker)


async def test_token_attacks_with_a_jwks(settings):
    """With JWT_JWKS_URL, every attack in the table gets one identical 401, and no token
    header makes the API fetch keys anywhere but the configured URL."""
    with (
        key_server({"keys": [public_jwk(ISSUER_KEY, KID)]}) as issuer,
        key_server({"keys": [public_jwk(ATTACKER_KEY, KID)]}) as attacker,
    ):
        settings = asymmetric(settings, jwt_jwks_url=issuer.url)
        await serve_empty_generation(settings)
        async with running_api(settings) as client:
            await check_attacks(client, attacker)
        assert issuer.requests == ["/jwks.json"]


async def test_hmac_attacks(settings):
    """With JWT_SECRET: alg none, RS256 and HS512 tokens, a wrong secret, a 100 KB token and
    a token in the query string all get the one 401."""
    await serve_empty_generation(settings)
    now = int(time.time())
    good = {"sub": ALICE, "exp": now + 600}
    header_b64 = b64({"alg": "HS256", "typ": "JWT"})
    forged = {
        "alg none": f"{b64({'alg': 'none'})}.{b64(good)}.",
        "RS256": jwt.encode(good, ISSUER_KEY, algorithm="RS256"),
        "HS512": jwt.encode(good, TEST_SECRET, algorithm="HS512"),
        "wrong secret": jwt.encode(good, secrets.token_hex(32), algorithm="HS256"),
        "empty signature": f"{header_b64}.{b64(good)}.",
        "100 KB": jwt.encode({**good, "pad": "x" * 100_000}, TEST_SECRET, algorithm="HS256"),
    }
    async with running_api(settings) as client:
        url = f"/status/{uuid.uuid4()}"
        for name, token in forged.items():
            response = await client.get(url, headers={"Authorization": f"Bearer {token}"})
            assert (response.status_code, response.content) == (401, UNAUTHORIZED), name
        valid = jwt.encode(good, TEST_SECRET, algorithm="HS256")
        response = await client.get(f"{url}?access_token={valid}")
        assert (response.status_code, response.content) == (401, UNAUTHORIZED)
        response = await client.get(url, headers={"Authorization": f"Bearer {valid}"})
        assert response.status_code == 404


async def test_unknown_kids_refresh_the_jwks_at_most_once_per_interval(settings):
    """Random kids do not hammer the issuer: at most one key-set fetch per
    JWT_JWKS_MIN_REFRESH_SECONDS, while a rotated-in key is picked up after that interval."""
    with key_server({"keys": [public_jwk(ISSUER_KEY, KID)]}) as issuer:
        settings = asymmetric(settings, jwt_jwks_url=issuer.url)
        await serve_empty_generation(settings)
        url = f"/status/{uuid.uuid4()}"

        async def attempt(kid: str, key=ISSUER_KEY) -> int:
            token = signed(claims(), key=key, headers={"kid": kid})
            response = await client.get(url, headers={"Authorization": f"Bearer {token}"})
            return response.status_code

        # Default interval (60 s): the start-up fetch, then nothing for 200 random kids.
        async with running_api(settings) as client:
            statuses = await asyncio.gather(
                *(attempt(secrets.token_hex(8), ATTACKER_KEY) for _ in range(200))
            )
            assert set(statuses) == {401}
            assert await attempt(KID) == 404
        assert len(issuer.requests) == 1

        # A short interval: a key rotated in is found once the interval has passed.
        issuer.requests.clear()
        interval = 0.5
        fast = settings.replace(jwt_jwks_min_refresh_seconds=interval)
        async with running_api(fast) as client:
            assert len(issuer.requests) == 1
            new_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            issuer.document = {"keys": [public_jwk(ISSUER_KEY, KID), public_jwk(new_key, "k2")]}
            await asyncio.sleep(interval * 1.2)
            assert await attempt("k2", new_key) == 404
            assert len(issuer.requests) == 2
            started = time.monotonic()
            statuses = await asyncio.gather(
                *(attempt(secrets.token_hex(8), ATTACKER_KEY) for _ in range(100))
            )
            elapsed = time.monotonic() - started
            assert set(statuses) == {401}
        # The fetch for k2, plus at most one per interval during the burst.
        assert len(issuer.requests) <= 2 + 1 + int(elapsed / interval)


async def test_admin_scope_reads_any_deployment(settings):
    """A token with scope status:read:any is the operator path: it reads (here: gets the
    same 404 for) any id; a scope in another claim or a lookalike scope grants nothing."""
    dep, events = create_deployment(str(uuid.uuid4()), "web", 1, random.Random(1))
    await publish(settings, events)
    now = int(time.time())

    def token(**extra) -> dict[str, str]:
        body = {"sub": ALICE, "exp": now + 600, **extra}
        return {"Authorization": f"Bearer {jwt.encode(body, TEST_SECRET, algorithm='HS256')}"}

    async with running_projector(settings), running_api(settings) as client:
        await wait_for_view(settings, events)
        url = f"/status/{dep.deployment_id}"
        assert (await client.get(url, headers=token())).status_code == 404
        for scope in ("status:read:any", "openid status:read:any", ["status:read:any"]):
            response = await client.get(url, headers=token(scope=scope))
            assert response.status_code == 200, scope
            assert response.json()["deployment_id"] == dep.deployment_id
        for extra in (
            {"scope": "status:read:anything"},
            {"scope": "status:read"},
            {"scp": "status:read:any"},
            {"scope": {"status:read:any": True}},
        ):
            assert (await client.get(url, headers=token(**extra))).status_code == 404, extra
        scp = settings.replace(jwt_scope_claim="scp")
    async with running_api(scp) as client:
        response = await client.get(url, headers=token(scp=["status:read:any"]))
        assert response.status_code == 200


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"jwt_algorithms": ["HS256", "RS256"]}, "mixes HMAC and asymmetric"),
        ({"jwt_algorithms": ["none"]}, "names 'none'"),
        ({"jwt_algorithms": ["RS256"], "jwt_secret": None}, "needs JWT_PUBLIC_KEY or JWT_JWKS_URL"),
        ({"jwt_algorithms": ["RS256"], "jwt_public_key": PUBLIC_PEM}, "set only one of"),
        (
            {"jwt_algorithms": ["ES256"], "jwt_secret": None, "jwt_public_key": PUBLIC_PEM},
            "not a public key usable with ES256",
        ),
        (
            {"jwt_algorithms": ["RS256"], "jwt_secret": None, "jwt_jwks_url": "file:///etc/passwd"},
            "JWT_JWKS_URL",
        ),
    ],
)
def test_bad_key_configuration_is_refused_at_startup(settings, update, message):
    """Mixed, unknown or keyless algorithm settings stop the API from starting."""
    from api.app import create_app
    from api.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError, match=message):
        create_app(settings.replace(**update))
