"""Keys and token pools for the benchmark (bench/bench.py).

Keys are generated at run time into the bench's temp dir (never the demo keys); tokens
are compact JWS minted with `cryptography` the same way envoy/demo/mint_token.py does
(RS256: PKCS#1 v1.5 / SHA-256; ES256: P-256, JWS R||S; EdDSA: Ed25519). Pools are
written one token per line, the format bench/rotate.lua reads.

Every token of a pool is distinct (distinct `jti` and `sub`), so a cache keyed on the
token string sees each one as new.
"""

from __future__ import annotations

import base64
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

ISSUER = "https://idp.bench.example/"
AUDIENCE = "orders-api"
SCOPE = "orders:read"
ALGS = ("RS256", "ES256", "EdDSA")
KIDS = {"RS256": "bench-rs256", "ES256": "bench-es256", "EdDSA": "bench-ed25519"}
# Reject kinds of the `reject` mix and the status every listener must give them.
REJECT_KINDS = ("expired", "wrong_audience", "missing_scope", "bad_signature", "unknown_kid")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _uint(n: int, length: int | None = None) -> str:
    length = length or max(1, (n.bit_length() + 7) // 8)
    return b64url(n.to_bytes(length, "big"))


def new_key(alg: str):
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(alg)


def key_path(keydir: str, name: str) -> str:
    return os.path.join(keydir, f"{name}.key.pem")


def generate_keys(keydir: str) -> None:
    """One signing key per algorithm, plus one per algorithm that no JWKS holds."""
    os.makedirs(keydir, exist_ok=True)
    for alg in ALGS:
        for name in (KIDS[alg], KIDS[alg] + "-unknown"):
            pem = new_key(alg).private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption())
            with open(key_path(keydir, name), "wb") as f:
                f.write(pem)


_KEY_CACHE: dict = {}


def load_key(keydir: str, name: str):
    k = (keydir, name)
    if k not in _KEY_CACHE:
        with open(key_path(keydir, name), "rb") as f:
            _KEY_CACHE[k] = serialization.load_pem_private_key(f.read(), password=None)
    return _KEY_CACHE[k]


def public_jwk(keydir: str, alg: str) -> dict:
    pub = load_key(keydir, KIDS[alg]).public_key()
    kid = KIDS[alg]
    if alg == "RS256":
        n = pub.public_numbers()
        return {"kty": "RSA", "kid": kid, "alg": alg, "use": "sig", "n": _uint(n.n), "e": _uint(n.e)}
    if alg == "ES256":
        n = pub.public_numbers()
        return {"kty": "EC", "kid": kid, "alg": alg, "use": "sig", "crv": "P-256",
                "x": _uint(n.x, 32), "y": _uint(n.y, 32)}
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "kid": kid, "alg": alg, "use": "sig", "crv": "Ed25519", "x": b64url(raw)}


def jwks(keydir: str) -> dict:
    return {"keys": [public_jwk(keydir, alg) for alg in ALGS]}


def _sign(alg: str, key, data: bytes) -> bytes:
    if alg == "RS256":
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if alg == "ES256":
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return key.sign(data)


def mint(keydir: str, alg: str, i: int, kind: str = "valid", now: int | None = None,
         tag: str = "v") -> str:
    """Token number i of a pool. kind: 'valid' or one of REJECT_KINDS."""
    now = int(time.time()) if now is None else now
    claims = {
        "iss": ISSUER,
        "sub": f"user-{tag}-{i}",
        "aud": AUDIENCE,
        "azp": "customer-portal",
        "client_id": "customer-portal",
        "scope": "openid " + SCOPE,
        "iat": now,
        # Valid for six hours: long enough for any run, well inside every leeway.
        "exp": now + 6 * 3600,
        "jti": f"{tag}-{i}",
    }
    kid = KIDS[alg]
    signer = kid
    if kind == "expired":
        claims["iat"], claims["exp"] = now - 7200, now - 3600
    elif kind == "wrong_audience":
        claims["aud"] = "billing-api"
    elif kind == "missing_scope":
        claims["scope"] = "openid orders:write"
    elif kind == "unknown_kid":
        kid = signer = KIDS[alg] + "-unknown"
    elif kind not in ("valid", "bad_signature"):
        raise ValueError(kind)
    header = {"alg": alg, "typ": "at+jwt", "kid": kid}
    signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                     b64url(json.dumps(claims, separators=(",", ":")).encode())).encode()
    sig = bytearray(_sign(alg, load_key(keydir, signer), signing_input))
    if kind == "bad_signature":
        sig[len(sig) // 2] ^= 0x01  # same length, one bit off
    return signing_input.decode() + "." + b64url(bytes(sig))


def _mint_range(args) -> list[str]:
    keydir, alg, start, stop, kind, now, tag = args
    return [mint(keydir, alg, i, kind, now, tag) for i in range(start, stop)]


def mint_many(keydir: str, alg: str, count: int, kind: str = "valid", tag: str = "v",
              workers: int | None = None) -> list[str]:
    """count distinct tokens, minted in parallel (RSA signing is ~0.4 ms each)."""
    now = int(time.time())
    workers = workers or os.cpu_count() or 1
    if count < 2000 or workers == 1:
        return _mint_range((keydir, alg, 0, count, kind, now, tag))
    step = (count + workers * 4 - 1) // (workers * 4)
    chunks = [(keydir, alg, s, min(s + step, count), kind, now, tag) for s in range(0, count, step)]
    out: list[str] = []
    with ProcessPoolExecutor(max_workers=workers) as ex:
        for part in ex.map(_mint_range, chunks):
            out.extend(part)
    return out


def write_pool(path: str, tokens: list[str]) -> None:
    with open(path, "w") as f:
        f.write("\n".join(tokens))
        f.write("\n")
