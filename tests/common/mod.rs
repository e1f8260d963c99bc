//! Shared fixtures for the native tests: keys generated once per run, tokens minted at
//! run time (none expire), a policy built from JSON, requests built by hand.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use audience_guard::{decide, Decision, Policy, Request, Verdict};
use ct_codecs::{Base64, Base64UrlSafeNoPadding, Encoder};
use jwt_simple::prelude::*;
use serde_json::{json, Value};
use std::sync::OnceLock;

pub const ISS: &str = "https://idp.example.com/";
pub const NOW: u64 = 1_800_000_000;
pub const HMAC_SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

pub fn rsa() -> &'static RS256KeyPair {
    static KEY: OnceLock<RS256KeyPair> = OnceLock::new();
    KEY.get_or_init(|| RS256KeyPair::generate(2048).unwrap().with_key_id("rsa1"))
}

pub fn ec() -> &'static ES256KeyPair {
    static KEY: OnceLock<ES256KeyPair> = OnceLock::new();
    KEY.get_or_init(|| ES256KeyPair::generate().with_key_id("ec1"))
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    Base64UrlSafeNoPadding::encode_to_string(bytes).unwrap()
}

/// The public JWK of the test RSA key, bound to RS256.
pub fn rsa_jwk() -> Value {
    let c = rsa().public_key().to_components();
    json!({"kty": "RSA", "kid": "rsa1", "alg": "RS256", "n": b64(c.n), "e": b64(c.e)})
}

/// The public JWK of the test P-256 key (no `alg`).
pub fn ec_jwk() -> Value {
    let point = ec().public_key().public_key().to_bytes_uncompressed();
    json!({"kty": "EC", "kid": "ec1", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65])})
}

/// The seed scenario of SPEC.md, with the test keys and an HMAC issuer beside it.
pub fn seed_config() -> Value {
    json!({
        "issuers": [
            {"issuer": ISS, "jwks": {"keys": [rsa_jwk(), ec_jwk()]}, "algorithms": ["RS256", "ES256"],
             "leeway_seconds": 60},
            {"issuer": "https://hmac.example.com/", "hmac_secret_base64": Base64::encode_to_string(HMAC_SECRET).unwrap(),
             "algorithms": ["HS256"]}
        ],
        "audiences": ["orders-api"],
        "clients": {
            "customer-portal": {"orders-api": ["orders:read"]},
            "backoffice": {"orders-api": ["orders:read", "orders:write"], "hr-api": ["hr:read", "hr:write"]},
            "hmac-client": {"orders-api": ["*"]}
        },
        "multiple_audiences": {"require_azp": true, "trusted": ["orders-api", "hr-api"]},
        "rules": [
            {"name": "health", "match": {"path": "/healthz"}, "anonymous": true},
            {"name": "orders-read", "match": {"prefix": "/orders", "methods": ["GET", "HEAD"]}, "scopes": ["orders:read"]},
            {"name": "orders-write", "match": {"prefix": "/orders"}, "scopes": ["orders:write"]},
            {"name": "hr", "match": {"prefix": "/hr"}, "audiences": ["hr-api"], "scopes": ["hr:read"],
             "claims": {"groups": {"contains_any": ["hr-staff"]}}, "mode": "dry_run"}
        ],
        "forward": {"claims": {"sub": "x-jwt-sub"}},
        "responses": {"realm": "orders"}
    })
}

pub fn policy(config: &Value) -> Policy {
    Policy::from_json(&config.to_string()).unwrap()
}

/// Standard claims for a token from the seed issuer.
pub fn claims(client: &str, aud: Value, scope: &str) -> Value {
    json!({"iss": ISS, "sub": "user-1", "azp": client, "aud": aud, "scope": scope,
           "iat": NOW - 10, "exp": NOW + 600})
}

/// Signs arbitrary header and payload bytes with HMAC-SHA256 and `secret`: the way to
/// craft hostile-but-signed tokens (the HMAC issuer runs the same checks).
pub fn sign_hs256(header: &[u8], payload: &[u8], secret: &[u8]) -> String {
    let signing_input = format!("{}.{}", b64(header), b64(payload));
    let mac = hmac_sha256::HMAC::mac(signing_input.as_bytes(), secret);
    format!("{signing_input}.{}", b64(mac))
}

/// An HS256 token for the HMAC issuer with the given claims (iss is set).
pub fn hs256(claims: &Value) -> String {
    let mut c = claims.clone();
    c["iss"] = json!("https://hmac.example.com/");
    sign_hs256(
        br#"{"alg":"HS256","typ":"JWT"}"#,
        c.to_string().as_bytes(),
        HMAC_SECRET,
    )
}

/// Splits a claims object into jwt-simple's registered fields and custom claims.
fn jwt_claims(claims: &Value) -> JWTClaims<serde_json::Map<String, Value>> {
    let mut custom = claims.as_object().unwrap().clone();
    let mut c = Claims::with_custom_claims(serde_json::Map::new(), Duration::from_secs(1));
    c.invalid_before = None;
    c.issued_at = custom
        .remove("iat")
        .map(|v| UnixTimeStamp::from_secs(v.as_u64().unwrap()));
    c.expires_at = custom
        .remove("exp")
        .map(|v| UnixTimeStamp::from_secs(v.as_u64().unwrap()));
    if let Some(nbf) = custom.remove("nbf") {
        c.invalid_before = Some(UnixTimeStamp::from_secs(nbf.as_u64().unwrap()));
    }
    c.issuer = custom.remove("iss").map(|v| v.as_str().unwrap().to_owned());
    c.subject = custom.remove("sub").map(|v| v.as_str().unwrap().to_owned());
    c.audiences = custom.remove("aud").map(|v| match v {
        Value::String(s) => Audiences::AsString(s),
        Value::Array(a) => {
            Audiences::AsSet(a.iter().map(|x| x.as_str().unwrap().to_owned()).collect())
        }
        other => panic!("aud {other} cannot be minted through jwt-simple"),
    });
    c.custom = custom;
    c
}

fn header_options(typ: Option<&str>) -> HeaderOptions {
    HeaderOptions {
        signature_type: typ.map(str::to_owned),
        ..Default::default()
    }
}

/// A token from the seed issuer: RS256, kid `rsa1`, `typ` JWT.
pub fn rs256(claims: &Value) -> String {
    rsa()
        .sign_with_options(jwt_claims(claims), &header_options(None))
        .unwrap()
}

/// RS256 with a chosen `typ` header.
pub fn rs256_typ(claims: &Value, typ: &str) -> String {
    rsa()
        .sign_with_options(jwt_claims(claims), &header_options(Some(typ)))
        .unwrap()
}

/// A token from the seed issuer: ES256, kid `ec1`.
pub fn es256(claims: &Value) -> String {
    ec().sign_with_options(jwt_claims(claims), &header_options(None))
        .unwrap()
}

pub fn get(path: &str, token: Option<&str>) -> Request {
    request("GET", path, token)
}

pub fn request(method: &str, path: &str, token: Option<&str>) -> Request {
    let mut headers = vec![
        (":method".to_owned(), method.as_bytes().to_vec()),
        (":path".to_owned(), path.as_bytes().to_vec()),
    ];
    if let Some(t) = token {
        headers.push((
            "authorization".to_owned(),
            format!("Bearer {t}").into_bytes(),
        ));
    }
    Request {
        method: method.to_owned(),
        path: path.to_owned(),
        authority: "api.example.com".to_owned(),
        route: None,
        headers,
    }
}

pub fn run(policy: &Policy, req: &Request) -> Decision {
    decide(policy, req, NOW)
}

/// (status, reason) of a decision; 200 for allow.
pub fn outcome(decision: &Decision) -> (u16, &'static str) {
    match &decision.verdict {
        Verdict::Allow => (200, "allowed"),
        Verdict::Deny(d) => (d.status, d.reason.name()),
        Verdict::DryRunDeny(d) => (299, d.reason.name()),
    }
}
