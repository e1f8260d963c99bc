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
        headers: headers.into_iter().collect(),
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

// ---------------------------------------------------------------------------------
// Helpers for the hostile-input suites (tests/hostile_*.rs, tests/config_errors.rs).
// ---------------------------------------------------------------------------------

/// jwt-simple claims built from a JSON object (iat/exp/nbf must be unsigned integers,
/// iss/sub strings, aud a string or an array of strings): for keys other than the
/// fixtures' RSA and P-256 pairs.
pub fn to_jwt_claims(claims: &Value) -> JWTClaims<serde_json::Map<String, Value>> {
    jwt_claims(claims)
}

/// Header options with a chosen `typ` (None = jwt-simple's default `JWT`) and `cty`.
pub fn header_with(typ: Option<&str>, cty: Option<&str>) -> HeaderOptions {
    HeaderOptions {
        signature_type: typ.map(str::to_owned),
        content_type: cty.map(str::to_owned),
    }
}

/// A token signed with any jwt-simple key pair (`$key.sign_with_options`).
#[macro_export]
macro_rules! mint {
    ($key:expr, $claims:expr) => {
        $key.sign_with_options(
            $crate::common::to_jwt_claims($claims),
            &$crate::common::header_with(None, None),
        )
        .unwrap()
    };
}

/// The claims of a request the seed policy allows: customer-portal reading orders.
pub fn good_claims() -> Value {
    claims("customer-portal", json!("orders-api"), "orders:read")
}

/// An RS256 token the seed policy allows on `GET /orders/1` (minted once).
pub fn good_token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| rs256(&good_claims()))
}

/// `GET /orders/1` with [`good_token`]: allowed by the seed policy.
pub fn good_request() -> Request {
    get("/orders/1", Some(good_token()))
}

/// A `GET` request whose `authorization` header holds exactly these bytes.
pub fn with_authorization(path: &str, value: &[u8]) -> Request {
    let mut req = get(path, None);
    req.headers.push("authorization", value);
    req
}

/// The request with one more header (name lower-case, value raw bytes).
pub fn add_header(mut req: Request, name: &str, value: &[u8]) -> Request {
    req.headers.push(name, value);
    req
}

/// `(name, value)` of every `HeaderOp::Set` of a decision.
pub fn set_ops(d: &Decision) -> Vec<(String, String)> {
    d.header_ops
        .iter()
        .filter_map(|op| match op {
            audience_guard::HeaderOp::Set(n, v) => Some((n.to_string(), v.clone())),
            audience_guard::HeaderOp::Remove(_) => None,
        })
        .collect()
}

/// The token with one base64url character inside its signature changed: same length,
/// still canonical base64url, a different signature.
pub fn forge(token: &str) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let inside_signature = bytes.len() - 20;
    bytes[inside_signature] = if bytes[inside_signature] == b'A' {
        b'B'
    } else {
        b'A'
    };
    String::from_utf8(bytes).unwrap()
}

/// Names of every `HeaderOp::Remove` of a decision.
pub fn removed(d: &Decision) -> Vec<String> {
    d.header_ops
        .iter()
        .filter_map(|op| match op {
            audience_guard::HeaderOp::Remove(n) => Some(n.to_string()),
            audience_guard::HeaderOp::Set(..) => None,
        })
        .collect()
}

/// Asserts that the decision sets no identity header: nothing named `x-jwt-*` and none
/// of `extra` (configured output headers with other names).
pub fn assert_no_identity(d: &Decision, extra: &[&str]) {
    let leaked: Vec<_> = set_ops(d)
        .into_iter()
        .filter(|(n, _)| n.starts_with("x-jwt-") || extra.contains(&n.as_str()))
        .collect();
    assert!(
        leaked.is_empty(),
        "identity headers set on a denial: {leaked:?}"
    );
}

/// The HOSTILE.md contract for one hostile request: exactly `expected` (status, reason),
/// no identity header set, and `next` (a valid request) decided right after with the
/// same policy is still allowed.
#[track_caller]
pub fn assert_refused_then(
    p: &Policy,
    req: &Request,
    expected: (u16, &str),
    next: &Request,
) -> Decision {
    let d = run(p, req);
    assert_eq!(outcome(&d), expected, "request: {}", describe(req));
    if expected.0 != 200 {
        assert_no_identity(&d, &[]);
    }
    if let Verdict::Deny(denial) = &d.verdict {
        assert_denial_reveals_nothing(denial, req);
    }
    assert_eq!(
        outcome(&run(p, next)),
        (200, "allowed"),
        "a valid request after the hostile one must still pass"
    );
    // The same through a verified-token cache warmed by the valid request: the hostile
    // request decides the same, twice (a negative entry must not change it either), and
    // the valid one still passes.
    let mut cache = audience_guard::cache::VerifyCache::new(Default::default());
    let cached = |cache: &mut audience_guard::cache::VerifyCache, r: &Request| {
        audience_guard::decide_cached(p, cache, r, NOW)
    };
    assert_eq!(outcome(&cached(&mut cache, next)), (200, "allowed"));
    for _ in 0..2 {
        let c = cached(&mut cache, req);
        assert_eq!(c.verdict, d.verdict, "cached: {}", describe(req));
        assert_eq!(c.header_ops, d.header_ops, "cached: {}", describe(req));
    }
    assert_eq!(
        outcome(&cached(&mut cache, next)),
        (200, "allowed"),
        "a valid request after the hostile one must still pass (cached)"
    );
    d
}

/// [`assert_refused_then`] with the seed policy's [`good_request`] as the next request.
#[track_caller]
pub fn assert_refused(p: &Policy, req: &Request, expected: (u16, &str)) -> Decision {
    assert_refused_then(p, req, expected, &good_request())
}

/// Decodes one base64url segment the lenient way (for tests that compare bytes).
pub fn unb64(segment: &str) -> Option<Vec<u8>> {
    use ct_codecs::Decoder;
    Base64UrlSafeNoPadding::decode_to_vec(segment, None).ok()
}

/// A token's three segments, decoded.
pub fn segments(token: &str) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    (
        unb64(parts[0]).unwrap(),
        unb64(parts[1]).unwrap(),
        unb64(parts[2]).unwrap(),
    )
}

/// Reassembles a token from raw header, payload and signature bytes.
pub fn assemble(header: &[u8], payload: &[u8], signature: &[u8]) -> String {
    format!("{}.{}.{}", b64(header), b64(payload), b64(signature))
}

/// The seed HMAC issuer's name (tokens from [`hs256`]).
pub const HMAC_ISS: &str = "https://hmac.example.com/";

/// A JSON header + payload signed with the seed HMAC secret (any bytes allowed).
pub fn hs256_raw(header: &str, payload: &str) -> String {
    sign_hs256(header.as_bytes(), payload.as_bytes(), HMAC_SECRET)
}

/// Claims the seed policy allows for the HMAC issuer on `GET /orders/1`, as a JSON object.
pub fn hmac_claims() -> Value {
    let mut c = claims("hmac-client", json!("orders-api"), "orders:read");
    c["iss"] = json!(HMAC_ISS);
    c
}

/// A readable one-line description of a request for assertion messages (header values
/// lossily decoded, long values cut).
pub fn describe(req: &Request) -> String {
    let headers: Vec<String> = req
        .headers
        .iter()
        .map(|(n, v)| {
            let text = String::from_utf8_lossy(v);
            let cut: String = text.chars().take(120).collect();
            let more = if text.chars().count() > 120 {
                "…"
            } else {
                ""
            };
            format!("{n}: {cut:?}{more}")
        })
        .collect();
    let path: String = req.path.chars().take(200).collect();
    format!("{} {path:?} [{}]", req.method, headers.join("; "))
}

/// A denial's body is `{"error": <RFC 6750 code of the row>, "error_description"?}` and
/// neither it nor the challenge repeats anything the client sent (token, kid, claims).
#[track_caller]
pub fn assert_denial_reveals_nothing(denial: &audience_guard::decision::Denial, req: &Request) {
    let body: Value = serde_json::from_str(&denial.body).expect("body is JSON");
    let code = match (denial.status, denial.reason.name()) {
        (400, _) => "invalid_request",
        (401, "missing_token") => "missing_token",
        (401, _) => "invalid_token",
        (403, _) => "insufficient_scope",
        (503, _) => "temporarily_unavailable",
        (status, reason) => panic!("unexpected denial {status} {reason}"),
    };
    assert_eq!(body["error"], json!(code), "{}", denial.body);
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert!(
        keys.iter()
            .all(|k| *k == "error" || *k == "error_description"),
        "{}",
        denial.body
    );
    let challenge = denial.www_authenticate.clone().unwrap_or_default();
    for (name, value) in req.headers.iter() {
        if name.starts_with(':') {
            continue;
        }
        let text = String::from_utf8_lossy(value);
        // Every dot-separated piece of 12+ characters (token segments, hostile kids
        // inside a header segment are base64 and covered by the segment itself).
        for piece in text
            .split(['.', ' ', ',', ';', '='])
            .filter(|p| p.len() >= 12)
        {
            assert!(
                !denial.body.contains(piece) && !challenge.contains(piece),
                "denial repeats request data {piece:?}: {} / {challenge}",
                denial.body
            );
        }
    }
}
