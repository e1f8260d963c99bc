"""Algorithms and keys (SPEC.md §1 issuers; HOSTILE.md "Algorithm and key").

One Envoy runs the seed issuer plus three more: every JWS algorithm, JWKS/PEM/HMAC key
sources, keys with and without `alg`/`kid`.
"""

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization

import jwtkit
import scenario
from checks import assert_allowed, assert_invalid_token, still_serving
from jwtkit import b64url
from scenario import ISS, ISS_HMAC, ISS_MULTI, ISS_PEM

P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


@pytest.fixture(scope="module")
def envoy(start_envoy):
    return start_envoy(scenario.multi_issuer_config())


def K():
    return scenario.keys()


def pl(iss=ISS, **kw):
    return scenario.payload(iss=iss, **kw)


def hostile(envoy, tok, *, counter="requests_denied_invalid_token"):
    before = envoy.counter(counter) if counter else None
    r = envoy.request("GET", "/orders", token=tok)
    assert_invalid_token(r)
    if counter:
        assert envoy.counter(counter) == before + 1, f"{counter} did not move"
    still_serving(envoy)
    return r


# ------------------------------------------------------------------ every algorithm works
@pytest.mark.parametrize("alg", ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"])
def test_rsa_jwk_without_alg_accepts_every_listed_rsa_algorithm(envoy, alg):
    t = jwtkit.sign({"alg": alg, "kid": "rsa-any"}, pl(ISS_MULTI), K().rsa_any, alg)
    assert_allowed(envoy.request("GET", "/orders", token=t))


def test_es384_is_allowed(envoy):
    t = jwtkit.sign({"alg": "ES384", "kid": "e384"}, pl(ISS_MULTI), K().ec384, "ES384")
    assert_allowed(envoy.request("GET", "/orders", token=t))


def test_ec_jwk_without_alg_accepts_es256(envoy):
    t = jwtkit.sign({"alg": "ES256", "kid": "ec-any"}, pl(ISS_MULTI), K().ec_any, "ES256")
    assert_allowed(envoy.request("GET", "/orders", token=t))


def test_eddsa_is_allowed(envoy):
    t = jwtkit.sign({"alg": "EdDSA", "kid": "ed1"}, pl(ISS_MULTI), K().ed, "EdDSA")
    assert_allowed(envoy.request("GET", "/orders", token=t))


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_hmac_is_allowed(envoy, alg):
    t = jwtkit.sign({"alg": alg, "typ": "JWT"}, pl(ISS_HMAC), K().hmac, alg)
    assert_allowed(envoy.request("GET", "/orders", token=t))


def test_hmac_token_with_a_kid_falls_back_to_the_keyless_secret(envoy):
    t = jwtkit.sign({"alg": "HS256", "kid": "whatever"}, pl(ISS_HMAC), K().hmac, "HS256")
    assert_allowed(envoy.request("GET", "/orders", token=t))


def test_pem_without_kid_accepts_token_without_kid(envoy):
    t = jwtkit.sign({"alg": "RS256"}, pl(ISS_PEM), K().pem_rsa, "RS256")
    assert_allowed(envoy.request("GET", "/orders", token=t))


def test_pem_without_kid_accepts_token_with_unmatched_kid(envoy):
    t = jwtkit.sign({"alg": "RS256", "kid": "rotated"}, pl(ISS_PEM), K().pem_rsa, "RS256")
    assert_allowed(envoy.request("GET", "/orders", token=t))


def test_pem_with_kid(envoy):
    t = jwtkit.sign({"alg": "ES256", "kid": "pem-ec"}, pl(ISS_PEM), K().pem_ec, "ES256")
    assert_allowed(envoy.request("GET", "/orders", token=t))


def test_jwks_token_without_kid_tries_keys_of_the_right_type(envoy):
    t = jwtkit.sign({"alg": "ES256"}, pl(), K().ec, "ES256")
    assert_allowed(envoy.request("GET", "/orders", token=t))
    t = jwtkit.sign({"alg": "RS256"}, pl(), K().rsa, "RS256")
    assert_allowed(envoy.request("GET", "/orders", token=t))


# ------------------------------------------------------------------ alg
@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_unsigned_is_invalid_token(envoy, alg):
    hostile(envoy, jwtkit.sign({"alg": alg, "kid": "k1"}, pl(), None))


@pytest.mark.parametrize("alg", ["none", "NONE"])
def test_alg_none_with_a_signature_is_invalid_token(envoy, alg):
    t = jwtkit.sign({"alg": alg}, pl(), K().rsa, "RS256")
    hostile(envoy, t)


@pytest.mark.parametrize(
    "alg",
    [..., 5, None, ["RS256"], {"RS256": 1}, True, "", "RS256 ", "rs256", "XS256", "RS1", "ES512", "HS256X"],
    ids=["missing", "number", "null", "array", "object", "bool", "empty", "trailing-space", "lowercase",
         "unknown", "rs1", "es512", "hs256x"],
)
def test_bad_alg_member_is_invalid_token(envoy, alg):
    h = {"kid": "k1", "typ": "JWT"}
    if alg is not ...:
        h["alg"] = alg
    hostile(envoy, jwtkit.sign(h, pl(), K().rsa, "RS256"))


def test_alg_not_in_issuer_allow_list_is_invalid_token(envoy):
    # k1 is an RS256 key of the seed issuer, whose allow-list is RS256, ES256
    hostile(envoy, jwtkit.sign({"alg": "RS384", "kid": "k1"}, pl(), K().rsa, "RS384"))
    hostile(envoy, jwtkit.sign({"alg": "PS256", "kid": "k1"}, pl(), K().rsa, "PS256"))


@pytest.mark.parametrize("alg", ["RS384", "RS512", "PS256"])
def test_jwk_bound_to_rs256_rejects_other_rsa_algorithms(envoy, alg):
    # the multi issuer allows these algorithms, but key rb says alg RS256
    hostile(envoy, jwtkit.sign({"alg": alg, "kid": "rb"}, pl(ISS_MULTI), K().rsa_bound, alg))


def test_jwk_bound_to_rs256_accepts_rs256(envoy):
    t = jwtkit.sign({"alg": "RS256", "kid": "rb"}, pl(ISS_MULTI), K().rsa_bound, "RS256")
    assert_allowed(envoy.request("GET", "/orders", token=t))


def test_ec_p384_key_with_es256_token_is_invalid_token(envoy):
    other = jwtkit.ec_key("e384", "ES256")
    hostile(envoy, jwtkit.sign({"alg": "ES256", "kid": "e384"}, pl(ISS_MULTI), other, "ES256"))


def test_ec_p256_key_with_es384_token_is_invalid_token(envoy):
    hostile(envoy, jwtkit.sign({"alg": "ES384", "kid": "ec-any"}, pl(ISS_MULTI), K().ec384, "ES384"))
    hostile(envoy, jwtkit.sign({"alg": "ES384", "kid": "e1"}, pl(), K().ec384, "ES384"))


def test_rsa_kid_with_ec_signature_is_invalid_token(envoy):
    hostile(envoy, jwtkit.sign({"alg": "ES256", "kid": "k1"}, pl(), K().ec, "ES256"))


# ------------------------------------------------------------------ key confusion
@pytest.mark.parametrize("form", ["pem", "der", "jwk-json", "n-bytes"])
@pytest.mark.parametrize("alg", ["HS256", "HS512"])
def test_hmac_signed_with_rsa_public_key_is_invalid_token(envoy, form, alg):
    k = K().rsa
    secret = {
        "pem": k.spki_pem().encode(),
        "der": k.public_der(),
        "jwk-json": json.dumps(k.jwk()).encode(),
        "n-bytes": jwtkit.b64url_decode(k.jwk()["n"]),
    }[form]
    hostile(envoy, jwtkit.sign({"alg": alg, "kid": "k1"}, pl(), secret, alg))


def test_hmac_signed_with_pem_public_key_on_pem_issuer_is_invalid_token(envoy):
    secret = K().pem_rsa.spki_pem().encode()
    hostile(envoy, jwtkit.sign({"alg": "HS256"}, pl(ISS_PEM), secret, "HS256"))


def test_hmac_issuer_token_signed_with_wrong_secret_is_invalid_token(envoy):
    hostile(envoy, jwtkit.sign({"alg": "HS256"}, pl(ISS_HMAC), b"y" * 48, "HS256"))


def test_attacker_key_with_known_kid_is_invalid_token(envoy):
    hostile(envoy, jwtkit.sign({"alg": "RS256", "kid": "k1"}, pl(), K().attacker_rsa, "RS256"))
    hostile(envoy, jwtkit.sign({"alg": "ES256", "kid": "e1"}, pl(), K().attacker_ec, "ES256"))


# ------------------------------------------------------------------ ECDSA signature forms
def _es256_input():
    h = b64url(json.dumps({"alg": "ES256", "kid": "e1"}).encode())
    p = b64url(json.dumps(pl()).encode())
    return f"{h}.{p}"


@pytest.mark.parametrize(
    "sig",
    [
        pytest.param(lambda: b"\x00" * 64, id="r=s=0"),
        pytest.param(lambda: P256_N.to_bytes(32, "big") * 2, id="r=s=n"),
        pytest.param(lambda: (P256_N + 1).to_bytes(32, "big") + (1).to_bytes(32, "big"), id="r=n+1"),
        pytest.param(lambda: (1).to_bytes(32, "big") + P256_N.to_bytes(32, "big"), id="s=n"),
        pytest.param(lambda: b"\xff" * 64, id="r=s=2^256-1"),
        pytest.param(lambda: b"\x00" * 63, id="63-bytes"),
        pytest.param(lambda: b"\x00" * 65, id="65-bytes"),
    ],
)
def test_ecdsa_degenerate_signature_is_invalid_token(envoy, sig):
    hostile(envoy, _es256_input() + "." + b64url(sig()))


def test_ecdsa_der_signature_is_invalid_token(envoy):
    si = _es256_input()
    raw = jwtkit.raw_signature(si.encode(), K().ec, "ES256")
    hostile(envoy, si + "." + b64url(jwtkit.p1363_to_der(raw)))


def test_ecdsa_raw_signature_is_accepted(envoy):
    si = _es256_input()
    assert_allowed(envoy.request("GET", "/orders", token=si + "." + b64url(jwtkit.raw_signature(si.encode(), K().ec, "ES256"))))


def test_ecdsa_high_s_variant(envoy):
    # s' = n - s is an equally valid ECDSA signature; accepting or rejecting it is
    # allowed, trapping is not.
    si = _es256_input()
    raw = jwtkit.raw_signature(si.encode(), K().ec, "ES256")
    s = int.from_bytes(raw[32:], "big")
    sig = raw[:32] + (P256_N - s).to_bytes(32, "big")
    r = envoy.request("GET", "/orders", token=si + "." + b64url(sig))
    assert r.status in (200, 401)
    still_serving(envoy)


def test_eddsa_zero_signature_is_invalid_token(envoy):
    h = b64url(json.dumps({"alg": "EdDSA", "kid": "ed1"}).encode())
    p = b64url(json.dumps(pl(ISS_MULTI)).encode())
    hostile(envoy, f"{h}.{p}." + b64url(b"\x00" * 64))


def test_rsa_signature_of_wrong_length_is_invalid_token(envoy):
    t = scenario.token()
    h, p, s = t.split(".")
    sig = jwtkit.b64url_decode(s)
    hostile(envoy, f"{h}.{p}." + b64url(b"\x00" + sig))
    hostile(envoy, f"{h}.{p}." + b64url(sig[:-1]))


# ------------------------------------------------------------------ allow-list narrower than the keys
def test_a_key_the_allow_list_does_not_cover_is_skipped_not_fatal(start_envoy):
    """SPEC: a token whose `alg` is not in `algorithms` is rejected. Narrowing the seed's
    allow-list to RS256 leaves its EC key unusable: Envoy starts, logs which key was
    skipped, and an ES256 token signed by that key is refused."""
    cfg = scenario.seed_config()
    cfg["issuers"][0]["algorithms"] = ["RS256"]
    e = start_envoy(cfg)
    assert_allowed(e.request("GET", "/orders", token=scenario.token()))
    hostile(e, scenario.token(key=K().ec, alg="ES256"))
    assert "key skipped" in e.log()


# ------------------------------------------------------------------ embedded keys, key URLs
def test_embedded_jwk_is_ignored(envoy):
    atk = K().attacker_rsa
    hostile(envoy, jwtkit.sign({"alg": "RS256", "jwk": atk.jwk(kid=None, alg=None)}, pl(), atk, "RS256"))
    hostile(envoy, jwtkit.sign({"alg": "RS256", "kid": "k1", "jwk": atk.jwk()}, pl(), atk, "RS256"))


@pytest.mark.parametrize(
    "alg,kid,key",
    [("RS256", "k1", lambda: K().rsa), ("ES384", "e384", lambda: K().ec384), ("EdDSA", "ed1", lambda: K().ed)],
)
def test_embedded_jwk_does_not_stop_a_token_of_a_configured_key(envoy, alg, kid, key):
    """HOSTILE: embedded keys are ignored — neither trusted nor fatal."""
    iss = ISS if alg == "RS256" else ISS_MULTI
    hdr = {"alg": alg, "kid": kid, "jwk": K().attacker_rsa.jwk()}
    assert_allowed(envoy.request("GET", "/orders", token=jwtkit.sign(hdr, pl(iss), key(), alg)))


@pytest.mark.parametrize("member", ["jku", "x5u"])
def test_key_url_is_never_fetched(envoy, upstream, member):
    atk = K().attacker_rsa
    url = f"http://127.0.0.1:{upstream.port}/attacker-{member}.json"
    n_before = len(upstream.seen)
    hostile(envoy, jwtkit.sign({"alg": "RS256", "kid": "attacker", member: url}, pl(), atk, "RS256"))
    hostile(envoy, jwtkit.sign({"alg": "RS256", "kid": "k1", member: url}, pl(), atk, "RS256"))
    fetched = [s for s in upstream.seen[n_before:] if "attacker" in s.path]
    assert not fetched, f"{member} was fetched: {fetched}"


def test_x5c_is_ignored(envoy):
    atk = K().attacker_rsa
    hostile(envoy, jwtkit.sign({"alg": "RS256", "x5c": [b64url(atk.public_der())]}, pl(), atk, "RS256"))


def test_key_url_on_a_validly_signed_token_is_harmless(envoy, upstream):
    # jku beside a correct kid/signature: the header is ignored, the configured key decides
    url = f"http://127.0.0.1:{upstream.port}/attacker-jku2.json"
    t = jwtkit.sign({"alg": "RS256", "kid": "k1", "jku": url}, pl(), K().rsa, "RS256")
    r = envoy.request("GET", "/orders", token=t)
    assert r.status in (200, 401)
    assert not [s for s in upstream.seen if "attacker-jku2" in s.path]


# ------------------------------------------------------------------ kid
@pytest.mark.parametrize(
    "kid",
    ["nope", "../../../../etc/passwd", 'k1"', "k1'", 'k1\\"', "k1\u0000", "k" * 10240, "K1", "k1 ",
     1, 0, None, ["k1"], {"kid": "k1"}, True],
    ids=["unknown", "traversal", "dquote", "squote", "escaped-quote", "nul", "10kb", "case", "trailing-space",
         "number", "zero", "null", "array", "object", "bool"],
)
def test_bad_kid_is_invalid_token(envoy, kid):
    hostile(envoy, jwtkit.sign({"alg": "RS256", "kid": kid}, pl(), K().rsa, "RS256"))


# ------------------------------------------------------------------ crit
@pytest.mark.parametrize("crit", [["exp"], [], ["b64"], "exp", ["x-custom"]], ids=["exp", "empty", "b64", "string", "custom"])
def test_crit_header_is_invalid_token(envoy, crit):
    h = {"alg": "RS256", "kid": "k1", "crit": crit}
    if crit == ["b64"]:
        h["b64"] = False
    if crit == ["x-custom"]:
        h["x-custom"] = 1
    hostile(envoy, jwtkit.sign(h, pl(), K().rsa, "RS256"))


def test_hmac_is_not_allowed_unless_listed(upstream):
    # SPEC: "HS* only when listed explicitly and only with hmac_secret_base64"
    from harness import Envoy, EnvoyStartError
    k = K()
    cfg = scenario.seed_config()
    cfg["issuers"] = [{"issuer": ISS_HMAC, "hmac_secret_base64": k.hmac.secret_b64()}]
    try:
        env = Envoy(cfg, upstream, start_timeout=20)
    except EnvoyStartError as err:
        assert "issuers[0]" in err.log  # refusing the config is fine too
        return
    try:
        t = jwtkit.sign({"alg": "HS256"}, pl(ISS_HMAC), k.hmac, "HS256")
        r = env.request("GET", "/orders", token=t)
        assert_invalid_token(r)
    finally:
        env.stop()


def test_hs256_listed_without_hmac_secret_never_verifies_with_rsa_key(upstream):
    from harness import Envoy, EnvoyStartError
    cfg = scenario.seed_config()
    cfg["issuers"][0]["algorithms"] = ["RS256", "ES256", "HS256"]
    try:
        env = Envoy(cfg, upstream, start_timeout=20)
    except EnvoyStartError as err:
        assert "issuers[0]" in err.log
        return
    try:
        for secret in (K().rsa.spki_pem().encode(), K().rsa.public_der()):
            for kid in ({"kid": "k1"}, {}):
                t = jwtkit.sign({"alg": "HS256", **kid}, pl(), secret, "HS256")
                assert_invalid_token(env.request("GET", "/orders", token=t))
        still_serving(env)
    finally:
        env.stop()


# ------------------------------------------------------------------ PEM keys of every curve
def _compressed_spki_pem(key, tag=None) -> str:
    """The key's SubjectPublicKeyInfo with its EC point compressed (SEC 1 §2.3.3), as
    some tools write it; `cryptography` only writes the uncompressed form. `tag`
    replaces the point's first byte."""
    der = key.public_der()
    algorithm = der[2:4 + der[3]]  # the AlgorithmIdentifier (short-form lengths here)
    point = key.private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    if tag is not None:
        point = bytes([tag]) + point[1:]
    bits = bytes([0x03, len(point) + 1, 0]) + point
    body = algorithm + bits
    spki = bytes([0x30, len(body)]) + body
    b64 = base64.b64encode(spki).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n"


def test_pem_keys_of_every_curve_and_point_form_verify(start_envoy):
    """P-256 and P-384 PEM keys with compressed points, an Ed25519 PEM key: read by the
    filter's own PEM parser (src/curve_pem.rs), each verifies its tokens and only them."""
    c256 = jwtkit.ec_key("c256", "ES256")
    c384 = jwtkit.ec_key("c384", "ES384", crv="P-384")
    ed = jwtkit.ed_key("ed-pem", "EdDSA")
    cfg = scenario.seed_config()
    cfg["issuers"].append({
        "issuer": ISS_PEM,
        "pem": [{"kid": "c256", "pem": _compressed_spki_pem(c256)},
                {"kid": "c384", "pem": _compressed_spki_pem(c384)},
                {"kid": "ed-pem", "pem": ed.spki_pem()}],
        "algorithms": ["ES256", "ES384", "EdDSA"],
    })
    e = start_envoy(cfg)
    for kid, key, alg in [("c256", c256, "ES256"), ("c384", c384, "ES384"), ("ed-pem", ed, "EdDSA")]:
        t = jwtkit.sign({"alg": alg, "kid": kid}, pl(ISS_PEM), key, alg)
        assert_allowed(e.request("GET", "/orders", token=t))
    # A token signed by another P-256 key under c256's kid: refused.
    other = jwtkit.ec_key("c256", "ES256")
    t = jwtkit.sign({"alg": "ES256", "kid": "c256"}, pl(ISS_PEM), other, "ES256")
    assert_invalid_token(e.request("GET", "/orders", token=t))


@pytest.mark.parametrize("crv", ["P-256", "P-384"])
def test_pem_key_with_a_compact_point_is_rejected(reject_config, crv):
    """The non-standard "compact" point form (tag 05; RFC 5480 allows 02, 03 and 04)."""
    alg = "ES256" if crv == "P-256" else "ES384"
    key = jwtkit.ec_key("compact", alg, crv=crv)
    cfg = scenario.seed_config()
    cfg["issuers"][0].pop("jwks")
    cfg["issuers"][0]["algorithms"] = [alg]
    cfg["issuers"][0]["pem"] = [_compressed_spki_pem(key, tag=0x05)]
    line = reject_config(cfg, "issuers[0].pem")
    assert "not a supported PEM public key" in line, line
