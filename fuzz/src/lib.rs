//! What the three fuzz targets share: the fixed policy (the seed scenario of SPEC.md
//! with inline keys — the DEMO keys of envoy/demo/keys/ as PEM, plus an HMAC issuer),
//! a handful of tokens minted once at start-up, the request decoder, and the oracles
//! (independent, deliberately simple restatements of SPEC.md §1–2) every decision is
//! checked against.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use audience_guard::cache::{CacheConfig, VerifyCache};
use audience_guard::{decide, decide_cached, Decision, HeaderOp, Policy, Request, Verdict};
use ct_codecs::{Base64, Base64UrlSafeNoPadding, Encoder};
use jwt_simple::prelude::*;
use serde_json::{json, Value};
use std::sync::OnceLock;

/// The fixed "now" of every decision (2027-01-15).
pub const NOW: u64 = 1_800_000_000;
pub const ISS: &str = "https://idp.example.com/";
pub const HMAC_ISS: &str = "https://hmac.example.com/";
pub const HMAC_SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

const RS_PRIV: &str = include_str!("../../envoy/demo/keys/demo-rs256.key.pem");
const RS_PUB: &str = include_str!("../../envoy/demo/keys/demo-rs256.pub.pem");
const ES_PRIV: &str = include_str!("../../envoy/demo/keys/demo-es256.key.pem");
const ES_PUB: &str = include_str!("../../envoy/demo/keys/demo-es256.pub.pem");

/// The seed scenario (SPEC.md §1) with inline keys: the DEMO RSA and P-256 keys as PEM
/// with their kids, and an HMAC issuer (HS256) whose client may use any scope.
pub fn config() -> Value {
    json!({
        "issuers": [
            {"issuer": ISS,
             "pem": [{"kid": "demo-rs256", "pem": RS_PUB}, {"kid": "demo-es256", "pem": ES_PUB}],
             "algorithms": ["RS256", "ES256"], "token_type": "any", "leeway_seconds": 60,
             "max_lifetime_seconds": 86400, "client_claims": ["azp", "client_id"],
             "scope_claims": ["scope", "scp"]},
            {"issuer": HMAC_ISS,
             "hmac_secret_base64": Base64::encode_to_string(HMAC_SECRET).unwrap(),
             "algorithms": ["HS256"]}
        ],
        "audiences": ["orders-api"],
        "clients": {
            "customer-portal": {"orders-api": ["orders:read"]},
            "backoffice": {"orders-api": ["orders:read", "orders:write"], "hr-api": ["hr:read", "hr:write"]},
            "hmac-client": {"orders-api": ["*"]}
        },
        "multiple_audiences": {"require_azp": true, "trusted": ["orders-api", "hr-api"]},
        "missing_audience": "reject",
        "rules": [
            {"name": "health", "match": {"path": "/healthz"}, "anonymous": true},
            {"name": "orders-read", "match": {"prefix": "/orders", "methods": ["GET", "HEAD"]}, "scopes": ["orders:read"]},
            {"name": "orders-write", "match": {"prefix": "/orders"}, "scopes": ["orders:write"]},
            {"name": "hr", "match": {"prefix": "/hr"}, "audiences": ["hr-api"], "scopes": ["hr:read"],
             "claims": {"groups": {"contains_any": ["hr-staff"]}}, "mode": "dry_run"}
        ],
        "unmatched": "deny",
        "token": {"sources": [{"header": "authorization", "prefix": "Bearer"}], "max_bytes": 8192},
        "forward": {"claims": {"sub": "x-jwt-sub"}, "client_header": "x-jwt-client",
                    "scopes_header": "x-jwt-scopes", "audience_header": "x-jwt-audience",
                    "strip_prefix": "x-jwt-", "keep_token": false},
        "responses": {"realm": "orders", "describe_errors": true}
    })
}

/// The compiled policy (not `Sync`: it holds `Rc`s; libFuzzer runs one thread).
pub fn policy() -> &'static Policy {
    thread_local! {
        static POLICY: &'static Policy =
            Box::leak(Box::new(Policy::from_json(&config().to_string()).expect("fuzz policy")));
    }
    POLICY.with(|p| *p)
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    Base64UrlSafeNoPadding::encode_to_string(bytes).unwrap()
}

/// Signs raw header and payload bytes with HS256 and the HMAC issuer's secret.
pub fn sign_hs256(header: &[u8], payload: &[u8]) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let mac = hmac_sha256::HMAC::mac(input.as_bytes(), HMAC_SECRET);
    format!("{input}.{}", b64(mac))
}

fn claims(custom: Value, iat: u64, exp: u64) -> JWTClaims<serde_json::Map<String, Value>> {
    let mut custom = custom.as_object().unwrap().clone();
    let mut c = Claims::with_custom_claims(serde_json::Map::new(), Duration::from_secs(1));
    c.invalid_before = None;
    c.issued_at = Some(UnixTimeStamp::from_secs(iat));
    c.expires_at = Some(UnixTimeStamp::from_secs(exp));
    c.issuer = Some(ISS.to_owned());
    c.subject = Some("fuzz-user-7".to_owned());
    c.audiences = custom.remove("aud").map(|v| match v {
        Value::String(s) => Audiences::AsString(s),
        Value::Array(a) => {
            Audiences::AsSet(a.iter().map(|x| x.as_str().unwrap().to_owned()).collect())
        }
        _ => unreachable!(),
    });
    c.custom = custom;
    c
}

fn rs256(custom: Value, iat: u64, exp: u64) -> String {
    let key = RS256KeyPair::from_pem(RS_PRIV)
        .unwrap()
        .with_key_id("demo-rs256");
    key.sign(claims(custom, iat, exp)).unwrap()
}

fn es256(custom: Value, iat: u64, exp: u64) -> String {
    let key = ES256KeyPair::from_pem(ES_PRIV)
        .unwrap()
        .with_key_id("demo-es256");
    key.sign(claims(custom, iat, exp)).unwrap()
}

/// Claims the seed policy allows from the HMAC issuer on `GET /orders/1`.
pub fn hmac_claims() -> Value {
    json!({"iss": HMAC_ISS, "sub": "fuzz-user-7", "azp": "hmac-client", "aud": "orders-api",
           "scope": "orders:read orders:write", "iat": NOW - 10, "exp": NOW + 600})
}

/// What a valid token may do, for the allow oracle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grant {
    /// customer-portal, orders-api, effective scopes orders:read: GET/HEAD under /orders.
    PortalRead,
    /// backoffice, orders-api, orders:read + orders:write: anything under /orders.
    BackofficeOrders,
    /// backoffice, [orders-api, hr-api] with azp, orders:read hr:read, groups hr-staff:
    /// GET/HEAD under /orders, anything under /hr.
    BackofficeMulti,
    /// hmac-client (HS256), all scopes at orders-api: anything under /orders.
    Hmac,
    /// Never allowed (expired, wrong audience, unknown kid, …): bait for the fuzzer.
    None,
}

pub struct Token {
    pub text: String,
    pub grant: Grant,
    pub client: &'static str,
}

/// `$0`…`$9` in fuzz input stand for these (0–3 valid, 4–9 well-formed but refused).
pub fn tokens() -> &'static [Token] {
    static TOKENS: OnceLock<Vec<Token>> = OnceLock::new();
    TOKENS.get_or_init(|| {
        let (iat, exp) = (NOW - 10, NOW + 600);
        let t = |text, grant, client| Token { text, grant, client };
        vec![
            t(rs256(json!({"aud": "orders-api", "azp": "customer-portal", "scope": "orders:read orders:write"}), iat, exp),
              Grant::PortalRead, "customer-portal"),
            t(es256(json!({"aud": "orders-api", "azp": "backoffice", "client_id": "backoffice", "scope": "orders:read orders:write"}), iat, exp),
              Grant::BackofficeOrders, "backoffice"),
            t(rs256(json!({"aud": ["orders-api", "hr-api"], "azp": "backoffice", "scope": "orders:read hr:read", "groups": ["hr-staff"]}), iat, exp),
              Grant::BackofficeMulti, "backoffice"),
            t(sign_hs256(br#"{"alg":"HS256","typ":"JWT"}"#, hmac_claims().to_string().as_bytes()),
              Grant::Hmac, "hmac-client"),
            // 4: expired
            t(rs256(json!({"aud": "orders-api", "azp": "customer-portal", "scope": "orders:read"}), NOW - 7200, NOW - 3600),
              Grant::None, "customer-portal"),
            // 5: wrong audience
            t(es256(json!({"aud": "billing-api", "azp": "backoffice", "scope": "orders:read"}), iat, exp),
              Grant::None, "backoffice"),
            // 6: several audiences, no azp
            t(rs256(json!({"aud": ["orders-api", "hr-api"], "client_id": "backoffice", "scope": "orders:read hr:read"}), iat, exp),
              Grant::None, "backoffice"),
            // 7: HS256 with a wrong secret
            t({
                let good = sign_hs256(br#"{"alg":"HS256","typ":"JWT"}"#, hmac_claims().to_string().as_bytes());
                let (input, _) = good.rsplit_once('.').unwrap();
                format!("{input}.{}", b64(hmac_sha256::HMAC::mac(input.as_bytes(), b"another secret of 32 bytes......")))
            }, Grant::None, "hmac-client"),
            // 8: lifetime over max_lifetime_seconds
            t(rs256(json!({"aud": "orders-api", "azp": "customer-portal", "scope": "orders:read"}), NOW - 10, NOW + 200_000),
              Grant::None, "customer-portal"),
            // 9: alg none with the claims of token 0
            t({
                let zero = rs256(json!({"aud": "orders-api", "azp": "customer-portal", "scope": "orders:read"}), iat, exp);
                let payload = zero.split('.').nth(1).unwrap().to_owned();
                format!("{}.{payload}.", b64(br#"{"alg":"none","typ":"JWT"}"#))
            }, Grant::None, "customer-portal"),
        ]
    })
}

/// Replaces `$0`…`$9` with the tokens above.
pub fn expand(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' && i + 1 < bytes.len() && bytes[i + 1].is_ascii_digit() {
            out.extend_from_slice(tokens()[(bytes[i + 1] - b'0') as usize].text.as_bytes());
            i += 2;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// Decodes fuzz input into a request:
///
/// ```text
/// METHOD \n PATH \n (header-name ":" value \n)* \n TOKEN-BYTES
/// ```
///
/// Header names are lower-cased (Envoy hands them over that way); values and the token
/// are raw bytes with `$0`…`$9` expanded. Non-empty TOKEN-BYTES become one more header
/// `authorization: Bearer <TOKEN-BYTES>`. Missing parts are empty.
pub fn request_from(data: &[u8]) -> Request {
    let mut lines = data.splitn(3, |b| *b == b'\n');
    let method = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let path = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let rest = lines.next().unwrap_or_default();
    let (header_block, token) = match rest.windows(2).position(|w| w == b"\n\n") {
        Some(at) => (&rest[..at], &rest[at + 2..]),
        None if rest.first() == Some(&b'\n') => (&rest[..0], &rest[1..]),
        None => (rest, &rest[rest.len()..]),
    };
    let mut headers = vec![
        (":method".to_owned(), method.as_bytes().to_vec()),
        (":path".to_owned(), path.as_bytes().to_vec()),
        (":authority".to_owned(), b"api.example.com".to_vec()),
    ];
    for line in header_block
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
    {
        let (name, value) = match line.iter().position(|b| *b == b':') {
            Some(0) | None => (line, &line[line.len()..]),
            Some(at) => (&line[..at], &line[at + 1..]),
        };
        let name = String::from_utf8_lossy(name).to_ascii_lowercase();
        headers.push((name, expand(value)));
    }
    if !token.is_empty() {
        let mut value = b"Bearer ".to_vec();
        value.extend(expand(token));
        headers.push(("authorization".to_owned(), value));
    }
    Request {
        method,
        path,
        authority: "api.example.com".to_owned(),
        route: None,
        headers: headers.into_iter().collect(),
    }
}

/// (status, reason); 200 allow, 299 dry-run deny (the request goes on).
pub fn outcome(d: &Decision) -> (u16, &'static str) {
    match &d.verdict {
        Verdict::Allow => (200, "allowed"),
        Verdict::Deny(x) => (x.status, x.reason.name()),
        Verdict::DryRunDeny(x) => (299, x.reason.name()),
    }
}

/// SPEC.md §2: the status each reason goes with.
pub fn status_fits(status: u16, reason: &str) -> bool {
    let wanted: &[u16] = match reason {
        "allowed" => &[200],
        "missing_token"
        | "invalid_token"
        | "expired"
        | "not_yet_valid"
        | "unknown_issuer"
        | "audience_not_allowed" => &[401, 299],
        "multiple_tokens" | "invalid_path" => &[400, 299],
        "client_not_allowed" | "insufficient_scope" | "claim_mismatch" => &[403, 299],
        "keys_unavailable" => &[503, 299],
        _ => return false,
    };
    wanted.contains(&status)
}

pub fn set_headers(d: &Decision) -> Vec<(&str, &str)> {
    d.header_ops
        .iter()
        .filter_map(|op| match op {
            HeaderOp::Set(n, v) => Some((&**n, v.as_str())),
            HeaderOp::Remove(_) => None,
        })
        .collect()
}

/// The path a rule sees: without query string or fragment.
fn bare_path(path: &str) -> &str {
    let end = path.find(['?', '#']).unwrap_or(path.len());
    &path[..end]
}

/// An independent, conservative restatement of "a path that can be matched safely".
fn plainly_safe(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    path.starts_with('/')
        && !path.bytes().any(|b| b < 0x20 || b == 0x7f || b == b'\\')
        && !["%2e", "%2f", "%5c", "%00"]
            .iter()
            .any(|e| lower.contains(e))
        // a servlet upstream reads `..;x` as `..`
        && !path
            .split('/')
            .map(|s| s.split(';').next().unwrap_or(s))
            .any(|s| s == "." || s == "..")
        && !path.contains("//")
}

fn under(path: &str, prefix: &str) -> bool {
    path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Whether `grant` allows `method path` under the seed policy. Rule methods are
/// compared regardless of case (README, `rules`): `GEt` is a read.
fn permitted(grant: Grant, method: &str, path: &str) -> bool {
    let read = method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD");
    if path == "/healthz" {
        return grant != Grant::None;
    }
    if under(path, "/orders") {
        return match grant {
            Grant::PortalRead | Grant::BackofficeMulti => read,
            Grant::BackofficeOrders | Grant::Hmac => true,
            Grant::None => false,
        };
    }
    if under(path, "/hr") {
        return grant == Grant::BackofficeMulti;
    }
    false
}

/// Whether a header value presents a bearer credential (`Bearer` then space, tab or
/// nothing, after optional leading whitespace), so an anonymous rule must not let it
/// through unverified.
fn looks_bearer(value: &[u8]) -> bool {
    let v = value.trim_ascii();
    v.len() >= 6
        && v[..6].eq_ignore_ascii_case(b"bearer")
        && matches!(v.get(6), None | Some(b' ' | b'\t'))
}

/// Whether the header value is `Bearer` (any case), spaces, exactly `token`, with
/// optional whitespace around (leading OWS is read like a space: see
/// tests/fuzz_regressions.rs, `tab_before_bearer_is_read_like_a_space`).
fn bearer_value_is(value: &[u8], token: &[u8]) -> bool {
    let start = value
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(value.len());
    let v = value[start..].trim_ascii_end();
    v.len() >= 7
        && v[..6].eq_ignore_ascii_case(b"bearer")
        && v[6] == b' '
        && v[6..]
            .iter()
            .position(|b| *b != b' ')
            .is_some_and(|at| &v[6 + at..] == token)
}

/// The valid token this exact header value carries: `Bearer` (any case), one or more
/// spaces, the token, optional trailing whitespace — nothing else.
fn carried_token(value: &[u8]) -> Option<&'static Token> {
    tokens()
        .iter()
        .find(|t| bearer_value_is(value, t.text.as_bytes()))
}

/// Every check a decision of the fixed policy must pass, whatever the request.
/// `signed`: a token the caller signed with the HMAC issuer's secret and judges itself
/// (token_verify); an allow carrying it is only checked for its client here.
pub fn check_decision(req: &Request, d: &Decision, signed: Option<&[u8]>) {
    let (status, reason) = outcome(d);
    assert!(
        status_fits(status, reason),
        "({status}, {reason}) is not a SPEC.md §2 row"
    );
    let sets = set_headers(d);
    // Spoofed identity headers never survive.
    for (name, _) in req.headers.iter() {
        if name.starts_with("x-jwt-") {
            assert!(
                d.header_ops.contains(&HeaderOp::Remove(name.into())),
                "client-sent {name} not removed"
            );
        }
    }
    // A Set never precedes the removal of the same name (ops apply in order).
    for (i, op) in d.header_ops.iter().enumerate() {
        if let HeaderOp::Remove(n) = op {
            assert!(
                !d.header_ops[..i]
                    .iter()
                    .any(|o| matches!(o, HeaderOp::Set(m, _) if m == n)),
                "{n} removed after being set"
            );
        }
    }
    if let Verdict::Deny(denial) | Verdict::DryRunDeny(denial) = &d.verdict {
        assert!(
            sets.is_empty(),
            "identity headers set on a denial: {sets:?}"
        );
        let body: Value = serde_json::from_str(&denial.body).expect("denial body is JSON");
        assert!(body["error"].is_string(), "{}", denial.body);
        for t in tokens() {
            assert!(!denial.body.contains(&t.text[..20]), "body repeats a token");
        }
        if matches!(d.verdict, Verdict::DryRunDeny(_)) {
            assert_eq!(
                d.rule.as_deref(),
                Some("hr"),
                "dry-run deny outside the dry-run rule"
            );
        }
        return;
    }
    // Allow: independently justified.
    let path = bare_path(&req.path);
    assert!(plainly_safe(path), "allowed an unsafe path {:?}", req.path);
    // A blank `authorization` value carries no credential (SPEC: none is found there).
    let auth: Vec<&[u8]> = req
        .header_values("authorization")
        .filter(|v| !v.trim_ascii().is_empty())
        .collect();
    if sets.is_empty() {
        // Anonymous: only /healthz, and only without any bearer credential.
        assert_eq!(
            path, "/healthz",
            "allowed without identity outside the anonymous rule"
        );
        assert_eq!(d.rule.as_deref(), Some("health"));
        assert!(
            !auth.iter().any(|v| looks_bearer(v)),
            "anonymous rule let an unverified bearer credential through: {:?}",
            auth.iter()
                .map(|v| String::from_utf8_lossy(v))
                .collect::<Vec<_>>()
        );
        return;
    }
    assert_eq!(
        auth.len(),
        1,
        "allowed with {} authorization headers",
        auth.len()
    );
    if let Some(signed) = signed {
        if bearer_value_is(auth[0], signed) {
            assert!(sets.contains(&("x-jwt-client", "hmac-client")), "{sets:?}");
            return;
        }
    }
    let token = carried_token(auth[0]).unwrap_or_else(|| {
        panic!(
            "allowed a credential that is not a valid token: {:?}",
            String::from_utf8_lossy(auth[0])
        )
    });
    assert!(
        permitted(token.grant, &req.method, path),
        "{:?} token allowed on {} {:?}",
        token.grant,
        req.method,
        req.path
    );
    assert!(
        sets.contains(&("x-jwt-client", token.client)),
        "allowed, but x-jwt-client is not {}: {sets:?}",
        token.client
    );
    assert!(sets.contains(&("x-jwt-sub", "fuzz-user-7")), "{sets:?}");
}

/// Decides `req` without a cache, then twice through a fresh cache (miss, then hit):
/// all three must agree. Returns the uncached decision.
pub fn decide_all_ways(policy: &Policy, req: &Request) -> Decision {
    let plain = decide(policy, req, NOW);
    let mut cache = VerifyCache::new(CacheConfig::default());
    for round in 0..2 {
        let cached = decide_cached(policy, &mut cache, req, NOW);
        assert_eq!(
            cached.verdict, plain.verdict,
            "cache round {round} changed the verdict"
        );
        assert_eq!(
            cached.header_ops, plain.header_ops,
            "cache round {round} changed the headers"
        );
    }
    plain
}

/// A test oracle for HMAC tokens on `GET /orders/1` (the seed policy, HMAC issuer):
/// `Ok` when header and payload deserve to be allowed. Mirrors SPEC.md §1 with serde_json.
pub fn hmac_token_deserves_allow(header: &[u8], payload: &[u8]) -> Result<(), String> {
    let h: Value = serde_json::from_slice(header).map_err(|e| format!("header: {e}"))?;
    let h = h.as_object().ok_or("header not an object")?;
    if h.get("alg") != Some(&json!("HS256")) || h.contains_key("crit") {
        return Err("header alg/crit".into());
    }
    let c: Value = serde_json::from_slice(payload).map_err(|e| format!("payload: {e}"))?;
    let c = c.as_object().ok_or("payload not an object")?;
    if c.get("iss") != Some(&json!(HMAC_ISS)) {
        return Err("iss".into());
    }
    let exp = c.get("exp").and_then(Value::as_f64).ok_or("exp")?;
    if !(exp >= (NOW - 60) as f64 && exp <= 253_402_300_799.0) {
        return Err(format!("exp {exp}"));
    }
    for name in ["nbf", "iat"] {
        if let Some(v) = c.get(name) {
            let t = v.as_f64().ok_or(name)?;
            if !(0.0..=(NOW + 60) as f64).contains(&t) {
                return Err(format!("{name} {t}"));
            }
        }
    }
    let aud_ok = match c.get("aud") {
        Some(Value::String(a)) => a == "orders-api",
        Some(Value::Array(list)) => {
            list.contains(&json!("orders-api"))
                && list
                    .iter()
                    .all(|a| a == &json!("orders-api") || a == &json!("hr-api"))
                && c.get("azp").is_some_and(Value::is_string)
        }
        _ => false,
    };
    if !aud_ok {
        return Err("aud".into());
    }
    let client = match c.get("azp") {
        Some(v) => v.as_str(),
        None => c.get("client_id").and_then(Value::as_str),
    };
    if client != Some("hmac-client") {
        return Err("client".into());
    }
    let has_read = |v: Option<&Value>| match v {
        Some(Value::String(s)) => s.split(' ').any(|s| s == "orders:read"),
        Some(Value::Array(items)) => items.contains(&json!("orders:read")),
        _ => false,
    };
    let scope_ok = match c.get("scope") {
        Some(v) => has_read(Some(v)),
        None => has_read(c.get("scp")),
    };
    if !scope_ok {
        return Err("scope".into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// The targets' bodies: fuzz/fuzz_targets/*.rs call these, and tests/fuzz_regressions.rs
// replays fuzz/seeds/ and fuzz/regressions/ through them in plain `cargo test`.
// ---------------------------------------------------------------------------------

/// `decide_request`: see fuzz/fuzz_targets/decide_request.rs.
pub fn run_decide_request(data: &[u8]) {
    let req = request_from(data);
    let d = decide_all_ways(policy(), &req);
    check_decision(&req, &d, None);
}

/// `token_verify`: see fuzz/fuzz_targets/token_verify.rs.
pub fn run_token_verify(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (token, signed) = match mode {
        b'1' | 1 => {
            let at = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
            let (h, p) = (&rest[..at], rest.get(at + 1..).unwrap_or_default());
            (
                sign_hs256(h, p).into_bytes(),
                Some((h.to_vec(), p.to_vec())),
            )
        }
        b'2' | 2 => {
            let h = br#"{"alg":"HS256","typ":"JWT"}"#;
            (
                sign_hs256(h, rest).into_bytes(),
                Some((h.to_vec(), rest.to_vec())),
            )
        }
        _ => (expand(rest), None),
    };
    let mut value = b"Bearer ".to_vec();
    value.extend_from_slice(&token);
    let req = Request {
        method: "GET".into(),
        path: "/orders/1".into(),
        authority: "api.example.com".into(),
        route: None,
        headers: [
            (":method", &b"GET"[..]),
            (":path", b"/orders/1"),
            ("authorization", &value),
        ]
        .into_iter()
        .collect(),
    };
    let d = decide_all_ways(policy(), &req);
    check_decision(&req, &d, signed.is_some().then_some(token.as_slice()));
    if let (Verdict::Allow, Some((h, p))) = (&d.verdict, signed) {
        if let Err(why) = hmac_token_deserves_allow(&h, &p) {
            panic!(
                "allowed a signed token the oracle refuses ({why}): header {:?} payload {:?}",
                String::from_utf8_lossy(&h),
                String::from_utf8_lossy(&p)
            );
        }
    }
}

/// `config_parse`: see fuzz/fuzz_targets/config_parse.rs.
pub fn run_config_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(policy) = Policy::from_json(text) else {
        return;
    };
    let hmac = &tokens()[3].text;
    let portal = &tokens()[0].text;
    type Fixed<'a> = (&'a str, &'a str, Vec<(&'a str, Vec<u8>)>);
    let requests: [Fixed; 5] = [
        ("GET", "/orders/1", vec![]),
        (
            "GET",
            "/orders/1?access_token=x",
            vec![("authorization", format!("Bearer {hmac}").into_bytes())],
        ),
        (
            "POST",
            "/hr/x",
            vec![
                ("authorization", format!("bearer  {portal}").into_bytes()),
                ("cookie", format!("token={hmac}; at={portal}").into_bytes()),
            ],
        ),
        (
            "GET",
            "/healthz",
            vec![
                ("x-jwt-sub", b"admin\xff".to_vec()),
                ("authorization", b"Basic Zm9v".to_vec()),
            ],
        ),
        (
            "DELETE",
            "/",
            vec![(
                "authorization",
                format!("Bearer {hmac},Bearer {portal}").into_bytes(),
            )],
        ),
    ];
    for (method, path, extra) in requests {
        let mut headers = vec![
            (":method".to_owned(), method.as_bytes().to_vec()),
            (":path".to_owned(), path.as_bytes().to_vec()),
        ];
        headers.extend(extra.into_iter().map(|(n, v)| (n.to_owned(), v)));
        let req = Request {
            method: method.into(),
            path: path.into(),
            authority: "api.example.com:443".into(),
            route: Some("orders".into()),
            headers: headers.into_iter().collect(),
        };
        let d = decide(&policy, &req, NOW);
        let (status, reason) = outcome(&d);
        assert!(status_fits(status, reason), "({status}, {reason})");
    }
}
