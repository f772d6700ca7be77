"""A fetched JWKS becomes the signing keys by kid, read through PyJWT's public API."""

from __future__ import annotations

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from api.signing_keys import signing_keys

RSA_ALGORITHMS = frozenset({"RS256", "RS384"})


def rsa_jwk(kid: str, **fields: str) -> dict[str, object]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    return {**RSAAlgorithm.to_jwk(key, as_dict=True), "kid": kid, **fields}


def test_keys_are_indexed_by_kid_with_their_declared_algorithm():
    """A key that declares no alg keeps none (any accepted algorithm of its type may use it)."""
    keys = signing_keys({"keys": [rsa_jwk("a"), rsa_jwk("b", alg="RS384")]}, RSA_ALGORITHMS)
    assert {kid: key.algorithm for kid, key in keys.items()} == {"a": None, "b": "RS384"}


def test_encryption_keys_other_algorithms_and_unloadable_keys_are_left_out():
    """Only signing keys for accepted algorithms are kept; a key PyJWK cannot load is skipped."""
    key_set = {
        "keys": [
            rsa_jwk("enc", use="enc"),
            rsa_jwk("ps", alg="PS256"),
            {"kty": "RSA", "kid": "broken", "n": "??"},
            "not a key",
            rsa_jwk("good"),
        ]
    }
    assert list(signing_keys(key_set, RSA_ALGORITHMS)) == ["good"]


@pytest.mark.parametrize(
    "key_set", [{}, {"keys": []}, {"keys": "x"}, {"keys": [{"kty": "nope", "kid": "k"}]}]
)
def test_a_set_without_any_loadable_key_is_a_failed_fetch(key_set):
    """Like PyJWKSet: nothing loadable is an error (the keys held before are kept)."""
    with pytest.raises(jwt.PyJWKSetError):
        signing_keys(key_set, RSA_ALGORITHMS)
