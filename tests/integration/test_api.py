"""The read API's answers: 401 for every bad token, 404 alike for every not-yours case, 503
without Redis, and the documented schema."""

from __future__ import annotations

import random
import time
import uuid

import jwt
import pytest
from pydantic import SecretStr
from support.api import TEST_SECRET, bearer, running_api
from support.processes import running_projector
from support.publishing import publish
from support.view import serve_empty_generation, wait_for_view

from api.schemas import StatusDocument
from cli.samples import create_deployment
from devtools.devstack import free_port
from events import new_event

ALICE = str(uuid.uuid4())
BOB = str(uuid.uuid4())


def token(
    claims: dict, key: str = TEST_SECRET, algorithm: str = "HS256", headers: dict | None = None
) -> str:
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)


def valid_claims(**overrides) -> dict:
    return {"sub": ALICE, "exp": int(time.time()) + 600, **overrides}


def unsigned(claims: dict) -> str:
    header = jwt.utils.base64url_encode(b'{"alg":"none","typ":"JWT"}').decode()
    payload = jwt.utils.base64url_encode(jwt.api_jws.json.dumps(claims).encode()).decode()
    return f"{header}.{payload}."


BAD_AUTHORIZATION = {
    "missing header": None,
    "not bearer": "Basic dXNlcjpwYXNz",
    "bearer only": "Bearer",
    "malformed": "Bearer not-a-jwt",
    "wrong key": f"Bearer {token(valid_claims(), key='another-secret-' + 'y' * 64)}",
    "expired": f"Bearer {token(valid_claims(exp=int(time.time()) - 60))}",
    "missing exp": f"Bearer {token({'sub': ALICE})}",
    "missing sub": f"Bearer {token({'exp': int(time.time()) + 600})}",
    "non-uuid sub": f"Bearer {token(valid_claims(sub='alice'))}",
    "numeric sub": f"Bearer {token(valid_claims(sub=12345))}",
    "wrong algorithm": f"Bearer {token(valid_claims(), algorithm='HS512')}",
    "alg none": f"Bearer {unsigned(valid_claims())}",
    "empty signature": "Bearer " + token(valid_claims()).rsplit(".", 1)[0] + ".",
}


@pytest.fixture
async def alice_deployment(settings):
    """A served deployment of Alice's, and the events that made it."""
    dep, events = create_deployment(ALICE, "web", 2, random.Random(3))
    await publish(settings, events)
    return dep, events


@pytest.mark.parametrize("authorization", BAD_AUTHORIZATION.values(), ids=BAD_AUTHORIZATION.keys())
async def test_bad_tokens_get_one_401(settings, alice_deployment, authorization):
    """Every missing, malformed, forged, expired or wrong-algorithm token gets the same 401."""
    dep, _ = alice_deployment
    headers = {"Authorization": authorization} if authorization is not None else {}
    async with running_api(settings) as client:
        response = await client.get(f"/status/{dep.deployment_id}", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}
    assert response.headers["www-authenticate"] == "Bearer"


async def test_audience_and_issuer_are_checked_when_configured(settings):
    """With JWT_AUDIENCE and JWT_ISSUER set, tokens must carry exactly those values."""
    settings = settings.replace(jwt_audience="deploystatus", jwt_issuer="https://auth.example")
    await serve_empty_generation(settings)
    url = f"/status/{uuid.uuid4()}"
    async with running_api(settings) as client:
        good = valid_claims(aud="deploystatus", iss="https://auth.example")
        assert (
            await client.get(url, headers={"Authorization": f"Bearer {token(good)}"})
        ).status_code == 404
        for bad in (
            valid_claims(iss="https://auth.example"),
            valid_claims(aud="other", iss="https://auth.example"),
            valid_claims(aud="deploystatus", iss="https://auth.example.evil"),
        ):
            response = await client.get(url, headers={"Authorization": f"Bearer {token(bad)}"})
            assert response.status_code == 401


async def test_invalid_id_is_404_with_its_own_detail(settings):
    """A non-uuid id is 404 'Invalid deployment ID format', after authentication."""
    async with running_api(settings) as client:
        for bad_id in ("nope", "1234", f"{uuid.uuid4()}x", "{" + str(uuid.uuid4()) + "}"):
            response = await client.get(f"/status/{bad_id}", headers=bearer(settings, ALICE))
            assert response.status_code == 404
            assert response.json() == {"detail": "Invalid deployment ID format"}
        assert (await client.get("/status/nope")).status_code == 401


async def test_not_found_cases_are_indistinguishable(settings, alice_deployment):
    """Unknown, someone else's, deleted and not-yet-created deployments answer the same 404."""
    dep, events = alice_deployment
    deleted, deleted_events = create_deployment(ALICE, "gone", 1, random.Random(4))
    deleted_events.append(new_event("deployment.deleted", deleted.deployment_id))
    uncreated = str(uuid.uuid4())
    early = [
        new_event(
            "replica.status_changed",
            uncreated,
            {"replica_id": str(uuid.uuid4()), "status": "running"},
        )
    ]
    await publish(settings, deleted_events + early)

    async with running_projector(settings), running_api(settings) as client:
        await wait_for_view(settings, events + deleted_events + early)
        cases = {
            "unknown": (ALICE, str(uuid.uuid4())),
            "someone else's": (BOB, dep.deployment_id),
            "deleted": (ALICE, deleted.deployment_id),
            "not yet created": (ALICE, uncreated),
        }
        answers = {}
        for name, (user, deployment_id) in cases.items():
            response = await client.get(f"/status/{deployment_id}", headers=bearer(settings, user))
            assert response.status_code == 404, name
            assert response.json() == {
                "detail": f"Deployment {deployment_id} not found or access denied"
            }
            assert "etag" not in response.headers
            answers[name] = tuple(sorted(k for k in response.headers if k != "date"))
        assert len(set(answers.values())) == 1

        own = await client.get(f"/status/{dep.deployment_id}", headers=bearer(settings, ALICE))
        assert own.status_code == 200


async def test_uppercase_id_reads_the_same_deployment(settings, alice_deployment):
    """The id is case-insensitive, as a uuid is."""
    dep, events = alice_deployment
    async with running_projector(settings), running_api(settings) as client:
        await wait_for_view(settings, events)
        response = await client.get(
            f"/status/{dep.deployment_id.upper()}", headers=bearer(settings, ALICE)
        )
    assert response.status_code == 200
    assert response.json()["deployment_id"] == dep.deployment_id


async def test_if_none_match_forms(settings, alice_deployment):
    """304 for the current ETag, a list containing it, a weak form of it, and '*'."""
    dep, events = alice_deployment
    async with running_projector(settings), running_api(settings) as client:
        await wait_for_view(settings, events)
        url, headers = f"/status/{dep.deployment_id}", bearer(settings, ALICE)
        etag = (await client.get(url, headers=headers)).headers["etag"]
        for value in (etag, f'"stale", {etag}', f"W/{etag}", "*"):
            response = await client.get(url, headers={**headers, "If-None-Match": value})
            assert response.status_code == 304, value
            assert response.headers["etag"] == etag
        stale = await client.get(url, headers={**headers, "If-None-Match": '"stale"'})
        assert stale.status_code == 200


async def test_redis_unreachable_is_503_and_not_ready(settings):
    """Without Redis the status read is 503 with Retry-After; /healthz 200, /readyz 503."""
    settings = settings.replace(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    async with running_api(settings) as client:
        response = await client.get(f"/status/{uuid.uuid4()}", headers=bearer(settings, ALICE))
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).status_code == 503


async def test_no_served_generation_is_503_until_one_is(settings):
    """Before any generation is served (the view is being built) reads are 503, not 404."""
    async with running_api(settings) as client:
        response = await client.get(f"/status/{uuid.uuid4()}", headers=bearer(settings, ALICE))
        assert response.status_code == 503
        assert response.json() == {"detail": "The status view is being built, retry later"}
        assert (await client.get("/readyz")).status_code == 503


async def test_ready_and_openapi_schema(settings):
    """/readyz is 200 with Redis up; the OpenAPI document describes the status document."""
    await serve_empty_generation(settings)
    async with running_api(settings) as client:
        assert (await client.get("/readyz")).json() == {"status": "ready"}
        schema = (await client.get("/openapi.json")).json()
    operation = schema["paths"]["/status/{deployment_id}"]["get"]
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/StatusDocument"}
    assert {"401", "404", "304", "503"} <= set(operation["responses"])
    document = schema["components"]["schemas"]["StatusDocument"]
    # The field list itself is pinned in tests/unit/test_document.py.
    assert list(document["properties"]) == list(StatusDocument.model_fields)
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_short_secret_is_refused_at_startup(settings):
    """The API refuses to start with a JWT secret under 32 bytes, naming the setting."""
    from api.app import create_app
    from api.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError, match="JWT_SECRET is 5 bytes"):
        create_app(settings.replace(jwt_secret=SecretStr("short")))


async def test_status_page_is_served_with_a_strict_content_security_policy(settings):
    """/ui, its script and its style come from the package with a CSP that allows nothing but
    the page's own files, no framing and no referrer; every API answer carries nosniff."""
    async with running_api(settings) as client:
        for path, media_type in (
            ("/ui", "text/html"),
            ("/ui/app.js", "text/javascript"),
            ("/ui/style.css", "text/css"),
        ):
            answer = await client.get(path)
            assert answer.status_code == 200, path
            assert answer.headers["content-type"].startswith(media_type)
            policy = answer.headers["content-security-policy"]
            assert "default-src 'self'" in policy
            assert "script-src 'self';" in policy
            assert "frame-ancestors 'none'" in policy
            assert "unsafe-inline" not in policy
            assert answer.headers["referrer-policy"] == "no-referrer"
        page = (await client.get("/ui")).text
        assert "<script>" not in page
        assert "style=" not in page
        assert 'src="/ui/app.js"' in page
        for path in ("/healthz", f"/status/{uuid.uuid4()}", "/status/watch"):
            answer = await client.get(path)  # 200, 401, 401
            assert answer.headers["x-content-type-options"] == "nosniff", path
            assert answer.headers["x-frame-options"] == "DENY", path
