"""RSA keys of every accepted size through the real Envoy (SPEC.md §1 issuers).

The RSA exponentiation picks its digit layout per modulus (crates/ag-math/src/amm.rs:
28-bit digits for 2048 and 3072 bits, 27-bit for 4096) and runs on wasm SIMD, which only
exists in the module Envoy loads. The other suites use 2048-bit keys; here a 3072- and a
4096-bit key verify RS256 and PS512 tokens, and signatures that are one bit off, equal to
the modulus or just below it are refused.
"""

import pytest

import jwtkit
import scenario
from checks import assert_allowed, assert_invalid_token, still_serving
from jwtkit import b64url

SIZES = [3072, 4096]


@pytest.fixture(scope="module")
def keys():
    return {bits: jwtkit.rsa_key(kid=f"rsa{bits}", alg=None, bits=bits) for bits in SIZES}


@pytest.fixture(scope="module")
def envoy(start_envoy, keys):
    cfg = scenario.seed_config()
    issuer = cfg["issuers"][0]
    issuer["jwks"]["keys"] += [k.jwk() for k in keys.values()]
    issuer["algorithms"] = ["RS256", "ES256", "PS512"]
    return start_envoy(cfg)


def token(key, alg):
    return jwtkit.mint(key, scenario.payload(), alg=alg)


def with_signature(tok, signature: bytes) -> str:
    h, p, _ = tok.split(".")
    return f"{h}.{p}.{b64url(signature)}"


def refused(envoy, tok):
    before = envoy.counter("requests_denied_invalid_token")
    assert_invalid_token(envoy.request("GET", "/orders", token=tok))
    assert envoy.counter("requests_denied_invalid_token") == before + 1
    still_serving(envoy)


@pytest.mark.parametrize("bits", SIZES)
@pytest.mark.parametrize("alg", ["RS256", "PS512"])
def test_valid_signatures_of_large_keys_are_accepted(envoy, keys, bits, alg):
    assert_allowed(envoy.request("GET", "/orders", token=token(keys[bits], alg)))


@pytest.mark.parametrize("bits", SIZES)
@pytest.mark.parametrize("alg", ["RS256", "PS512"])
def test_a_signature_one_bit_off_is_refused(envoy, keys, bits, alg):
    tok = token(keys[bits], alg)
    sig = bytearray(jwtkit.b64url_decode(tok.split(".")[2]))
    for position in (0, len(sig) // 2, len(sig) - 1):
        bad = bytearray(sig)
        bad[position] ^= 0x01
        refused(envoy, with_signature(tok, bytes(bad)))


@pytest.mark.parametrize("bits", SIZES)
def test_signature_equal_to_or_just_below_the_modulus_is_refused(envoy, keys, bits):
    n = keys[bits].private.public_key().public_numbers().n
    tok = token(keys[bits], "RS256")
    for s in (n, n - 1, n - 2):
        refused(envoy, with_signature(tok, s.to_bytes(bits // 8, "big")))
