"""Keys, plugin configurations and token factories shared by the Envoy tests.

``seed_config`` is the seed scenario of SPEC.md §1 with keys generated at run time.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from typing import Any

import jwtkit

ISS = "https://idp.example.com/"
ISS_MULTI = "https://multi.example.com/"
ISS_HMAC = "https://hmac.example.com/"
ISS_PEM = "https://pem.example.com/"
REALM = "orders"


@dataclass
class Keys:
    rsa: jwtkit.Key  # kid k1, RS256 (seed issuer)
    ec: jwtkit.Key  # kid e1, ES256 (seed issuer)
    attacker_rsa: jwtkit.Key  # same kid k1, not configured anywhere
    attacker_ec: jwtkit.Key  # same kid e1, not configured anywhere
    rsa_any: jwtkit.Key  # kid rsa-any, JWK without alg (multi issuer)
    ec384: jwtkit.Key  # kid e384, ES384 (multi issuer)
    ed: jwtkit.Key  # kid ed1, EdDSA (multi issuer)
    pem_rsa: jwtkit.Key  # PEM without kid (pem issuer)
    pem_ec: jwtkit.Key  # PEM with kid pem-ec (pem issuer)
    hmac: jwtkit.Key  # 48-byte secret (hmac issuer)
    rsa_bound: jwtkit.Key  # kid rb, alg RS256 (multi issuer)
    ec_any: jwtkit.Key  # kid ec-any, P-256 JWK without alg (multi issuer)


_KEYS: Keys | None = None


def keys() -> Keys:
    global _KEYS
    if _KEYS is None:
        _KEYS = Keys(
            rsa=jwtkit.rsa_key("k1", "RS256"),
            ec=jwtkit.ec_key("e1", "ES256"),
            attacker_rsa=jwtkit.rsa_key("k1", "RS256"),
            attacker_ec=jwtkit.ec_key("e1", "ES256"),
            rsa_any=jwtkit.rsa_key("rsa-any", None),
            ec384=jwtkit.ec_key("e384", "ES384", "P-384"),
            ed=jwtkit.ed_key("ed1", "EdDSA"),
            pem_rsa=jwtkit.rsa_key(None, "RS256"),
            pem_ec=jwtkit.ec_key("pem-ec", "ES256"),
            hmac=jwtkit.hmac_key(os.urandom(48)),
            rsa_bound=jwtkit.rsa_key("rb", "RS256"),
            ec_any=jwtkit.ec_key("ec-any", None),
        )
    return _KEYS


def seed_config(**overrides: Any) -> dict:
    """The seed scenario of SPEC.md §1 (generated keys); top-level fields can be overridden."""
    k = keys()
    cfg = {
        "issuers": [
            {
                "issuer": ISS,
                "jwks": jwtkit.jwks(k.rsa, k.ec),
                "algorithms": ["RS256", "ES256"],
                "token_type": "any",
                "leeway_seconds": 60,
                "max_lifetime_seconds": 86400,
                "client_claims": ["azp", "client_id"],
                "scope_claims": ["scope", "scp"],
            }
        ],
        "audiences": ["orders-api"],
        "clients": {
            "customer-portal": {"orders-api": ["orders:read"]},
            "backoffice": {"orders-api": ["orders:read", "orders:write"], "hr-api": ["hr:read", "hr:write"]},
        },
        "multiple_audiences": {"require_azp": True, "trusted": ["orders-api", "hr-api"]},
        "missing_audience": "reject",
        "rules": [
            {"name": "health", "match": {"path": "/healthz"}, "anonymous": True},
            {"name": "orders-read", "match": {"prefix": "/orders", "methods": ["GET", "HEAD"]}, "scopes": ["orders:read"]},
            {"name": "orders-write", "match": {"prefix": "/orders"}, "scopes": ["orders:write"]},
            {
                "name": "hr",
                "match": {"prefix": "/hr"},
                "audiences": ["hr-api"],
                "scopes": ["hr:read"],
                "claims": {"groups": {"contains_any": ["hr-staff"]}},
                "mode": "dry_run",
            },
        ],
        "unmatched": "deny",
        "token": {"sources": [{"header": "authorization", "prefix": "Bearer"}], "max_bytes": 8192},
        "forward": {
            "claims": {"sub": "x-jwt-sub"},
            "client_header": "x-jwt-client",
            "scopes_header": "x-jwt-scopes",
            "audience_header": "x-jwt-audience",
            "strip_prefix": "x-jwt-",
            "keep_token": False,
        },
        "responses": {"realm": REALM, "describe_errors": True},
    }
    for key, value in overrides.items():
        if value is ...:
            cfg.pop(key, None)
        else:
            cfg[key] = value
    return copy.deepcopy(cfg)


def remote_config(path: str, kind: str = "remote", timeout_ms: int = 2000, **over: Any) -> dict:
    """The seed, its first issuer's keys fetched from ``path`` on the stand-in IdP
    (cluster ``idp``); ``kind`` is ``remote`` or ``discovery``, ``over`` sets fields."""
    cfg = seed_config()
    iss = cfg["issuers"][0]
    del iss["jwks"]
    iss[kind] = {"cluster": over.pop("cluster", "idp"), "uri": f"http://idp.example.com{path}",
                 "refresh_seconds": 600, "timeout_ms": timeout_ms, "min_refetch_seconds": 30, **over}
    return cfg


def seed_issuer(**overrides: Any) -> dict:
    iss = seed_config()["issuers"][0]
    for key, value in overrides.items():
        if value is ...:
            iss.pop(key, None)
        else:
            iss[key] = value
    return iss


def multi_issuer_config() -> dict:
    """Seed scenario plus issuers exercising every algorithm and key source."""
    k = keys()
    cfg = seed_config()
    cfg["issuers"] += [
        {
            "issuer": ISS_MULTI,
            "jwks": {"keys": [k.rsa_any.jwk(), k.ec384.jwk(), k.ed.jwk(), k.rsa_bound.jwk(), k.ec_any.jwk()]},
            "algorithms": ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"],
        },
        {"issuer": ISS_HMAC, "hmac_secret_base64": k.hmac.secret_b64(), "algorithms": ["HS256", "HS384", "HS512"]},
        {
            "issuer": ISS_PEM,
            "pem": [k.pem_rsa.spki_pem(), {"kid": "pem-ec", "pem": k.pem_ec.spki_pem()}],
            "algorithms": ["RS256", "ES256"],
        },
    ]
    return cfg


# ---------------------------------------------------------------- tokens
def payload(**overrides: Any) -> dict:
    """A valid customer-portal token payload for orders-api with orders:read."""
    base = {"iss": ISS, "sub": "user-1", "aud": "orders-api", "azp": "customer-portal", "scope": "orders:read"}
    base.update(overrides)
    return jwtkit.claims(**base)


def token(key: jwtkit.Key | None = None, alg: str | None = None, hdr: dict | None = None, **claims: Any) -> str:
    """Valid-by-default seed token (RS256, kid k1); claim overrides as kwargs (``...`` removes)."""
    key = key or keys().rsa
    return jwtkit.mint(key, payload(**claims), alg=alg, **(hdr or {}))


def backoffice_token(**claims: Any) -> str:
    c = {"azp": "backoffice", "scope": "orders:read orders:write"}
    c.update(claims)
    return token(**c)
