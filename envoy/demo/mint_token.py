#!/usr/bin/env python3
"""Mint a DEMO access token for audience-guard's seed scenario (envoy/envoy.yaml).

DEMO ONLY -- the signing keys in envoy/demo/keys/ are public; a token minted here must
never be accepted anywhere but a local demo or test Envoy.

Prints just the compact JWS (header.payload.signature) on stdout, e.g.:

    TOKEN=$(python3 envoy/demo/mint_token.py --client customer-portal \
                --aud orders-api --scope orders:read)
    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:10000/orders/42

Claims: iss https://idp.example.com/, sub, aud (one value -> string, several -> array),
azp and client_id (the --client; --no-azp leaves azp out so the client is only named by
client_id), scope (space-separated), optional groups, iat, exp, jti.
Header: alg, typ (at+jwt by default, RFC 9068), kid (demo-rs256 or demo-es256).

`--jwks` prints the public JWKS of the demo keys instead (the one inlined in
envoy/envoy.yaml). Only the Python standard library and `cryptography` are used.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
import uuid

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

ISSUER = "https://idp.example.com/"
KEYS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keys")
KIDS = {"RS256": "demo-rs256", "ES256": "demo-es256"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_uint(n: int, length: int | None = None) -> str:
    length = length or max(1, (n.bit_length() + 7) // 8)
    return b64url(n.to_bytes(length, "big"))


def load_private_key(alg: str):
    with open(os.path.join(KEYS_DIR, f"{KIDS[alg]}.key.pem"), "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def sign(alg: str, key, signing_input: bytes) -> bytes:
    if alg == "RS256":
        assert isinstance(key, rsa.RSAPrivateKey)
        return key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")  # JWS form: R || S


def public_jwks() -> dict:
    keys = []
    for alg, kid in KIDS.items():
        pub = load_private_key(alg).public_key()
        if isinstance(pub, rsa.RSAPublicKey):
            nums = pub.public_numbers()
            keys.append({"kty": "RSA", "kid": kid, "alg": alg, "use": "sig",
                         "n": b64url_uint(nums.n), "e": b64url_uint(nums.e)})
        else:
            nums = pub.public_numbers()
            keys.append({"kty": "EC", "kid": kid, "alg": alg, "use": "sig", "crv": "P-256",
                         "x": b64url_uint(nums.x, 32), "y": b64url_uint(nums.y, 32)})
    return {"keys": keys}


def split_list(values: list[str]) -> list[str]:
    out: list[str] = []
    for v in values:
        out.extend(part for part in v.replace(",", " ").split() if part)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Mint a DEMO-ONLY access token for audience-guard.")
    p.add_argument("--client", default="customer-portal",
                   help="client id: sets azp and client_id; '' leaves both out (default: %(default)s)")
    p.add_argument("--aud", action="append", default=[],
                   help="audience; repeatable, comma- or space-separated (one -> string, several -> "
                        "array; default: orders-api; --aud '' leaves aud out)")
    p.add_argument("--scope", default="", help="space-separated scopes (default: none)")
    p.add_argument("--no-azp", action="store_true",
                   help="leave azp out (the client is then only named by client_id)")
    p.add_argument("--groups", default=None,
                   help="comma-separated values for a 'groups' array claim")
    p.add_argument("--sub", default="demo-user", help="subject (default: %(default)s)")
    p.add_argument("--alg", choices=sorted(KIDS), default="RS256",
                   help="signing algorithm / demo key (default: %(default)s)")
    p.add_argument("--typ", default="at+jwt",
                   help="JOSE typ header; '' leaves it out (default: %(default)s)")
    p.add_argument("--ttl", type=int, default=3600,
                   help="lifetime in seconds, exp - iat (default: %(default)s)")
    p.add_argument("--expired", action="store_true",
                   help="issue the token two hours ago so it expired one hour ago "
                        "(well past the 60 s leeway)")
    p.add_argument("--claim", action="append", default=[], metavar="NAME=JSON",
                   help="extra claim, value as JSON (or a plain string); repeatable")
    p.add_argument("--jwks", action="store_true",
                   help="print the public JWKS of the demo keys and exit")
    args = p.parse_args(argv)

    if args.jwks:
        print(json.dumps(public_jwks(), indent=2))
        return 0

    now = int(time.time())
    iat = now - 7200 if args.expired else now
    exp = now - 3600 if args.expired else now + args.ttl

    claims: dict = {"iss": ISSUER, "sub": args.sub}
    auds = split_list(args.aud) if args.aud else ["orders-api"]
    if len(auds) == 1:
        claims["aud"] = auds[0]
    elif auds:
        claims["aud"] = auds
    if args.client:
        if not args.no_azp:
            claims["azp"] = args.client
        claims["client_id"] = args.client
    if args.scope.strip():
        claims["scope"] = " ".join(args.scope.split())
    if args.groups is not None:
        claims["groups"] = split_list([args.groups])
    claims.update({"iat": iat, "exp": exp, "jti": str(uuid.uuid4())})
    for extra in args.claim:
        name, sep, raw = extra.partition("=")
        if not sep or not name:
            p.error(f"--claim expects NAME=JSON, got {extra!r}")
        try:
            claims[name] = json.loads(raw)
        except json.JSONDecodeError:
            claims[name] = raw

    header = {"alg": args.alg, "kid": KIDS[args.alg]}
    if args.typ:
        header["typ"] = args.typ
    signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                     b64url(json.dumps(claims, separators=(",", ":")).encode())).encode("ascii")
    signature = sign(args.alg, load_private_key(args.alg), signing_input)
    print(signing_input.decode("ascii") + "." + b64url(signature))
    return 0


if __name__ == "__main__":
    sys.exit(main())
