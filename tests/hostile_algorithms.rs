//! HOSTILE.md — "Algorithm and key": `alg` abuse, key confusion, keys bound to one
//! algorithm, broken ECDSA signatures, embedded keys, hostile `kid`s, `crit`; and the
//! positive side: every supported algorithm verifies when configured, and the key
//! selection rules of SPEC.md §1.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
use audience_guard::Policy;
use common::*;
use jwt_simple::prelude::*;
use serde_json::{json, Value};
use std::sync::OnceLock;

const INVALID: (u16, &str) = (401, "invalid_token");
const OK: (u16, &str) = (200, "allowed");

const RSA_ALGS: [&str; 6] = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"];

// --- keys and configs --------------------------------------------------------------------

fn rsa_jwk_with(alg: Option<&str>, kid: Option<&str>) -> Value {
    let c = rsa().public_key().to_components();
    let mut jwk = json!({"kty": "RSA", "n": b64(c.n), "e": b64(c.e)});
    if let Some(alg) = alg {
        jwk["alg"] = json!(alg);
    }
    if let Some(kid) = kid {
        jwk["kid"] = json!(kid);
    }
    jwk
}

fn ec2() -> &'static ES256KeyPair {
    static KEY: OnceLock<ES256KeyPair> = OnceLock::new();
    KEY.get_or_init(|| ES256KeyPair::generate().with_key_id("ec2"))
}

fn ec384() -> &'static ES384KeyPair {
    static KEY: OnceLock<ES384KeyPair> = OnceLock::new();
    KEY.get_or_init(|| ES384KeyPair::generate().with_key_id("ec384"))
}

fn ed() -> &'static Ed25519KeyPair {
    static KEY: OnceLock<Ed25519KeyPair> = OnceLock::new();
    KEY.get_or_init(|| Ed25519KeyPair::generate().with_key_id("ed1"))
}

/// An RSA key pair nobody configured (the attacker's).
fn attacker_rsa() -> &'static RS256KeyPair {
    static KEY: OnceLock<RS256KeyPair> = OnceLock::new();
    KEY.get_or_init(|| RS256KeyPair::generate(2048).unwrap().with_key_id("rsa1"))
}

fn p256_jwk(key: &ES256KeyPair, kid: Option<&str>, alg: Option<&str>) -> Value {
    let point = key.public_key().public_key().to_bytes_uncompressed();
    let mut jwk =
        json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65])});
    if let Some(kid) = kid {
        jwk["kid"] = json!(kid);
    }
    if let Some(alg) = alg {
        jwk["alg"] = json!(alg);
    }
    jwk
}

fn p384_jwk(alg: Option<&str>) -> Value {
    let point = ec384().public_key().public_key().to_bytes_uncompressed();
    let mut jwk = json!({"kty": "EC", "kid": "ec384", "crv": "P-384",
                         "x": b64(&point[1..49]), "y": b64(&point[49..97])});
    if let Some(alg) = alg {
        jwk["alg"] = json!(alg);
    }
    jwk
}

fn ed_jwk(alg: Option<&str>) -> Value {
    let mut jwk = json!({"kty": "OKP", "kid": "ed1", "crv": "Ed25519", "x": b64(ed().public_key().to_bytes())});
    if let Some(alg) = alg {
        jwk["alg"] = json!(alg);
    }
    jwk
}

/// The seed configuration with the first issuer (`ISS`) given these key fields and,
/// when `algorithms` is `Some`, this allow-list (else the keys' defaults).
fn config_for(keys: Value, algorithms: Option<&[&str]>) -> Value {
    let mut c = seed_config();
    let mut issuer = json!({"issuer": ISS});
    for (k, v) in keys.as_object().unwrap() {
        issuer[k] = v.clone();
    }
    if let Some(algs) = algorithms {
        issuer["algorithms"] = json!(algs);
    }
    c["issuers"][0] = issuer;
    c
}

fn policy_for(keys: Value, algorithms: Option<&[&str]>) -> Policy {
    policy(&config_for(keys, algorithms))
}

fn jwks(keys: &[Value]) -> Value {
    json!({ "jwks": { "keys": keys } })
}

/// A good-claims token signed by the RSA fixture key under `alg` (kid `rsa1`).
fn rsa_token(alg: &str, claims: &Value) -> String {
    let der = rsa().to_der().unwrap();
    let c = || to_jwt_claims(claims);
    let h = header_with(None, None);
    match alg {
        "RS256" => rsa().sign_with_options(c(), &h),
        "RS384" => RS384KeyPair::from_der(&der)
            .unwrap()
            .with_key_id("rsa1")
            .sign_with_options(c(), &h),
        "RS512" => RS512KeyPair::from_der(&der)
            .unwrap()
            .with_key_id("rsa1")
            .sign_with_options(c(), &h),
        "PS256" => PS256KeyPair::from_der(&der)
            .unwrap()
            .with_key_id("rsa1")
            .sign_with_options(c(), &h),
        "PS384" => PS384KeyPair::from_der(&der)
            .unwrap()
            .with_key_id("rsa1")
            .sign_with_options(c(), &h),
        "PS512" => PS512KeyPair::from_der(&der)
            .unwrap()
            .with_key_id("rsa1")
            .sign_with_options(c(), &h),
        other => panic!("{other}"),
    }
    .unwrap()
}

fn bearer(token: &str) -> audience_guard::Request {
    get("/orders/1", Some(token))
}

/// Refused with `expected`; then a valid `next` token on the same policy passes.
#[track_caller]
fn refused_then(p: &Policy, token: &str, expected: (u16, &str), next: &str) {
    assert_refused_then(p, &bearer(token), expected, &bearer(next));
}

#[track_caller]
fn allowed(p: &Policy, token: &str) {
    assert_eq!(outcome(&run(p, &bearer(token))), OK, "{token}");
}

/// Token text with a replaced header (the signature no longer matches, which does not
/// matter to checks that must run before the signature).
fn with_header(token: &str, header: &str) -> String {
    let (_, rest) = token.split_once('.').unwrap();
    format!("{}.{rest}", b64(header))
}

// --- alg ------------------------------------------------------------------------------------

#[test]
fn alg_none_in_any_spelling_is_invalid_token() {
    let p = policy(&seed_config());
    let payloads = [good_claims().to_string(), hmac_claims().to_string()];
    for alg in ["none", "None", "NONE", "nOnE", ""] {
        let header = json!({"alg": alg, "typ": "JWT"}).to_string();
        for payload in &payloads {
            let unsigned = format!("{}.{}.", b64(&header), b64(payload));
            assert_refused(&p, &bearer(&unsigned), INVALID);
            let signed = hs256_raw(&header, payload);
            assert_refused(&p, &bearer(&signed), INVALID);
        }
    }
}

#[test]
fn alg_missing_or_not_a_string_is_invalid_token() {
    let p = policy(&seed_config());
    let payload = hmac_claims().to_string();
    for header in [
        r#"{"typ":"JWT"}"#,
        r#"{}"#,
        r#"{"alg":null}"#,
        r#"{"alg":256}"#,
        r#"{"alg":["HS256"]}"#,
        r#"{"alg":{"name":"HS256"}}"#,
        r#"{"alg":true}"#,
        r#"{"ALG":"HS256"}"#,
    ] {
        assert_refused(&p, &bearer(&hs256_raw(header, &payload)), INVALID);
    }
}

#[test]
fn alg_unknown_is_invalid_token() {
    let p = policy(&seed_config());
    let payload = hmac_claims().to_string();
    for alg in [
        "HS1", "hs256", "HS256 ", " HS256", "HS257", "ES256K", "RSA-OAEP", "Ed25519", "dir",
    ] {
        let header = json!({ "alg": alg }).to_string();
        assert_refused(&p, &bearer(&hs256_raw(&header, &payload)), INVALID);
    }
}

#[test]
fn alg_not_in_the_issuers_algorithms_is_invalid_token() {
    let p = policy(&seed_config());
    // The seed RSA issuer allows RS256 and ES256 only; the key itself is the right one.
    for alg in ["RS384", "RS512", "PS256", "PS384", "PS512"] {
        assert_refused(&p, &bearer(&rsa_token(alg, &good_claims())), INVALID);
    }
    // The seed HMAC issuer allows HS256 only.
    for key in [
        HS384Key::from_bytes(HMAC_SECRET).authenticate(to_jwt_claims(&hmac_claims())),
        HS512Key::from_bytes(HMAC_SECRET).authenticate(to_jwt_claims(&hmac_claims())),
    ] {
        assert_refused(&p, &bearer(&key.unwrap()), INVALID);
    }
    // An ES256 token to an issuer configured for RS256 only.
    let rs_only = policy_for(jwks(&[rsa_jwk()]), Some(&["RS256"]));
    refused_then(&rs_only, &es256(&good_claims()), INVALID, good_token());
}

// --- key confusion --------------------------------------------------------------------------

/// HS256 tokens for the RSA issuer keyed with every encoding of the RSA public key.
fn confusion_tokens() -> Vec<String> {
    let public = rsa().public_key();
    let secrets: Vec<Vec<u8>> = vec![
        public.to_der().unwrap(),
        public.to_pem().unwrap().into_bytes(),
        public.to_pem().unwrap().trim_end().as_bytes().to_vec(),
        public.to_components().n,
        rsa_jwk().to_string().into_bytes(),
    ];
    let payload = good_claims().to_string();
    let mut tokens = Vec::new();
    for secret in &secrets {
        for header in [
            r#"{"alg":"HS256","typ":"JWT","kid":"rsa1"}"#,
            r#"{"alg":"HS256","typ":"JWT"}"#,
            r#"{"alg":"HS256","kid":"unknown"}"#,
        ] {
            tokens.push(sign_hs256(header.as_bytes(), payload.as_bytes(), secret));
        }
    }
    tokens
}

#[test]
fn hs256_signed_with_the_rsa_public_key_is_invalid_token() {
    let p = policy(&seed_config());
    for t in confusion_tokens() {
        refused_then(&p, &t, INVALID, good_token());
    }
}

#[test]
fn key_confusion_fails_even_when_hs256_is_allowed_beside_rsa() {
    // The issuer has both an RSA key and an HMAC secret; HS256 is allowed. A token
    // keyed with the RSA public key still fails: the RSA key never serves HS256.
    let keys = json!({
        "jwks": {"keys": [rsa_jwk_with(None, Some("rsa1"))]},
        "hmac_secret_base64": "YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE="
    });
    let p = policy_for(keys, Some(&["RS256", "HS256"]));
    for t in confusion_tokens() {
        refused_then(&p, &t, INVALID, good_token());
    }
    // PEM-configured RSA key, same story.
    let keys = json!({ "pem": [rsa().public_key().to_pem().unwrap()] });
    let p = policy_for(keys, Some(&["RS256"]));
    for t in confusion_tokens() {
        refused_then(&p, &t, INVALID, good_token());
    }
}

#[test]
fn jwk_bound_to_rs256_refuses_other_rsa_algorithms() {
    // The key says alg RS256; the issuer allows more. The same key material re-signs.
    let p = policy_for(jwks(&[rsa_jwk()]), Some(&RSA_ALGS));
    for alg in ["RS384", "RS512", "PS256", "PS384", "PS512"] {
        refused_then(&p, &rsa_token(alg, &good_claims()), INVALID, good_token());
    }
}

#[test]
fn jwk_bound_to_ps256_refuses_rs256() {
    let p = policy_for(
        jwks(&[rsa_jwk_with(Some("PS256"), Some("rsa1"))]),
        Some(&RSA_ALGS),
    );
    let ps = rsa_token("PS256", &good_claims());
    refused_then(&p, &rsa_token("RS256", &good_claims()), INVALID, &ps);
}

#[test]
fn p256_key_refuses_an_es384_token() {
    // Only a P-256 key (kid ec1) is configured; ES384 is allowed. An ES384 token that
    // names kid ec1 (or none) has no key to verify against.
    let p = policy_for(
        jwks(&[ec_jwk(), rsa_jwk()]),
        Some(&["RS256", "ES256", "ES384"]),
    );
    let es384 = ES384KeyPair::generate().with_key_id("ec1");
    let t = es384
        .sign_with_options(to_jwt_claims(&good_claims()), &header_with(None, None))
        .unwrap();
    refused_then(&p, &t, INVALID, &es256(&good_claims()));
    // The real ES256 token with its header claiming ES384.
    let t = with_header(&es256(&good_claims()), r#"{"alg":"ES384","kid":"ec1"}"#);
    refused_then(&p, &t, INVALID, &es256(&good_claims()));
}

#[test]
fn p384_key_refuses_an_es256_token() {
    let p = policy_for(jwks(&[p384_jwk(None)]), Some(&["ES256", "ES384"]));
    let good = ec384()
        .sign_with_options(to_jwt_claims(&good_claims()), &header_with(None, None))
        .unwrap();
    let es = ES256KeyPair::generate().with_key_id("ec384");
    let t = es
        .sign_with_options(to_jwt_claims(&good_claims()), &header_with(None, None))
        .unwrap();
    refused_then(&p, &t, INVALID, &good);
}

#[test]
fn rsa_token_header_relabelled_as_another_family_is_invalid_token() {
    let p = policy_for(
        jwks(&[rsa_jwk_with(None, Some("rsa1")), ec_jwk(), ed_jwk(None)]),
        Some(&["RS256", "ES256", "EdDSA"]),
    );
    for header in [
        r#"{"alg":"ES256","kid":"rsa1"}"#,
        r#"{"alg":"EdDSA","kid":"rsa1"}"#,
        r#"{"alg":"ES256"}"#,
        r#"{"alg":"EdDSA"}"#,
    ] {
        refused_then(
            &p,
            &with_header(good_token(), header),
            INVALID,
            good_token(),
        );
    }
}

// --- ECDSA signatures (CVE-2022-21449 and friends) --------------------------------------

/// The order of the P-256 group, big-endian.
const P256_N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// a - b for equal-length big-endian numbers (a ≥ b).
fn sub_be(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; a.len()];
    let mut borrow = 0i16;
    for i in (0..a.len()).rev() {
        let mut d = i16::from(a[i]) - i16::from(b[i]) - borrow;
        borrow = 0;
        if d < 0 {
            d += 256;
            borrow = 1;
        }
        out[i] = d as u8;
    }
    out
}

/// a + b for equal-length big-endian numbers (carry out dropped).
fn add_be(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; a.len()];
    let mut carry = 0u16;
    for i in (0..a.len()).rev() {
        let s = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = s as u8;
        carry = s >> 8;
    }
    out
}

fn der_integer(x: &[u8]) -> Vec<u8> {
    let mut v: Vec<u8> = x.iter().copied().skip_while(|b| *b == 0).collect();
    if v.first().is_none_or(|b| *b >= 0x80) {
        v.insert(0, 0);
    }
    let mut out = vec![0x02, v.len() as u8];
    out.extend(v);
    out
}

fn der_signature(r: &[u8], s: &[u8]) -> Vec<u8> {
    let body = [der_integer(r), der_integer(s)].concat();
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

fn with_signature(token: &str, signature: &[u8]) -> String {
    let (signing_input, _) = token.rsplit_once('.').unwrap();
    format!("{signing_input}.{}", b64(signature))
}

#[test]
fn ecdsa_r_and_s_zero_is_invalid_token() {
    let p = policy(&seed_config());
    let t = es256(&good_claims());
    let (_, _, sig) = segments(&t);
    let zero = [0u8; 32];
    for forged in [
        [zero, zero].concat(),
        [&sig[..32], &zero[..]].concat(),
        [&zero[..], &sig[32..]].concat(),
        vec![0u8; 0],
        vec![0u8; 1],
        der_signature(&[0], &[0]),
    ] {
        refused_then(&p, &with_signature(&t, &forged), INVALID, &t);
    }
}

#[test]
fn ecdsa_r_or_s_at_or_above_the_group_order_is_invalid_token() {
    let p = policy(&seed_config());
    let t = es256(&good_claims());
    let (_, _, sig) = segments(&t);
    let (r, s) = (&sig[..32], &sig[32..]);
    let ones = [0xffu8; 32];
    for forged in [
        [&P256_N[..], s].concat(),
        [r, &P256_N[..]].concat(),
        [&P256_N[..], &P256_N[..]].concat(),
        [&ones[..], s].concat(),
        [r, &ones[..]].concat(),
        // r + n and s + n where they still fit in 32 bytes (same value mod n).
        [&add_be(r, &P256_N)[..], s].concat(),
        [r, &add_be(s, &P256_N)[..]].concat(),
    ] {
        refused_then(&p, &with_signature(&t, &forged), INVALID, &t);
    }
}

#[test]
fn ecdsa_der_encoded_signature_is_invalid_token() {
    let p = policy(&seed_config());
    let t = es256(&good_claims());
    let (_, _, sig) = segments(&t);
    let der = der_signature(&sig[..32], &sig[32..]);
    assert_ne!(der.len(), 64);
    refused_then(&p, &with_signature(&t, &der), INVALID, &t);
    // Raw signature with a stray byte either side.
    refused_then(
        &p,
        &with_signature(&t, &[&[0u8][..], &sig].concat()),
        INVALID,
        &t,
    );
    refused_then(
        &p,
        &with_signature(&t, &[&sig[..], &[0u8][..]].concat()),
        INVALID,
        &t,
    );
    // r and s swapped.
    refused_then(
        &p,
        &with_signature(&t, &[&sig[32..], &sig[..32]].concat()),
        INVALID,
        &t,
    );
}

/// ECDSA signatures are malleable: (r, n - s) verifies whenever (r, s) does. SPEC.md and
/// RFC 7518 do not require low-s for P-256 (Wycheproof's P-256 P1363 vectors count the
/// high-s twin as valid), and the signed bytes are unchanged, so either answer keeps the
/// contract. This pins the current behaviour so a change is noticed.
#[test]
fn ecdsa_high_s_twin_of_a_valid_signature_is_accepted() {
    let p = policy(&seed_config());
    let t = es256(&good_claims());
    let (_, _, sig) = segments(&t);
    let twin = [&sig[..32], &sub_be(&P256_N, &sig[32..])[..]].concat();
    let d = run(&p, &bearer(&with_signature(&t, &twin)));
    assert_eq!(outcome(&d), OK);
}

// --- embedded keys: jwk / jku / x5u / x5c ----------------------------------------------------

#[test]
fn embedded_jwk_jku_x5u_pointing_at_the_attackers_rsa_key_are_invalid_token() {
    let p = policy(&seed_config());
    let mut attacker = attacker_rsa().clone();
    let c = attacker.public_key().to_components();
    let attacker_jwk =
        json!({"kty": "RSA", "kid": "rsa1", "n": b64(c.n), "e": b64(c.e)}).to_string();
    attacker
        .attach_metadata(
            KeyMetadata::default()
                .with_public_key(attacker_jwk)
                .with_key_set_url("https://attacker.example/jwks.json")
                .with_certificate_url("https://attacker.example/cert.pem"),
        )
        .unwrap();
    let t = attacker
        .sign_with_options(to_jwt_claims(&good_claims()), &header_with(None, None))
        .unwrap();
    let (h, _, _) = segments(&t);
    let header: Value = serde_json::from_slice(&h).unwrap();
    assert!(
        header.get("jwk").is_some() && header.get("jku").is_some() && header.get("x5u").is_some()
    );
    refused_then(&p, &t, INVALID, good_token());
    // Each embedded member alone.
    for metadata in [
        KeyMetadata::default().with_key_set_url("https://attacker.example/jwks.json"),
        KeyMetadata::default().with_certificate_url("https://attacker.example/c.pem"),
    ] {
        let mut key = attacker_rsa().clone();
        key.attach_metadata(metadata).unwrap();
        let t = key
            .sign_with_options(to_jwt_claims(&good_claims()), &header_with(None, None))
            .unwrap();
        refused_then(&p, &t, INVALID, good_token());
    }
}

#[test]
fn embedded_jwk_pointing_at_the_attackers_ec_key_is_invalid_token() {
    let p = policy(&seed_config());
    let mut attacker = ES256KeyPair::generate().with_key_id("ec1");
    let jwk = p256_jwk(&attacker, Some("ec1"), None).to_string();
    attacker
        .attach_metadata(KeyMetadata::default().with_public_key(jwk))
        .unwrap();
    let t = attacker
        .sign_with_options(to_jwt_claims(&good_claims()), &header_with(None, None))
        .unwrap();
    refused_then(&p, &t, INVALID, good_token());
    // Without a kid: tried against every configured key, none fits.
    let mut anonymous = ES256KeyPair::generate();
    anonymous
        .attach_metadata(KeyMetadata::default().with_key_set_url("https://attacker.example/k"))
        .unwrap();
    let t = anonymous
        .sign_with_options(to_jwt_claims(&good_claims()), &header_with(None, None))
        .unwrap();
    refused_then(&p, &t, INVALID, good_token());
}

#[test]
fn embedded_symmetric_jwk_or_x5c_with_the_attackers_secret_is_invalid_token() {
    let p = policy(&seed_config());
    let attacker_secret = b"attacker-secret-attacker-secret-!";
    let payload = hmac_claims().to_string();
    for header in [
        json!({"alg": "HS256", "jwk": {"kty": "oct", "k": b64(attacker_secret)}}),
        json!({"alg": "HS256", "jku": "https://attacker.example/jwks.json"}),
        json!({"alg": "HS256", "x5u": "https://attacker.example/cert.pem"}),
        json!({"alg": "HS256", "x5c": ["MIIBszCCAVmgAwIBAgIUQ"]}),
        json!({"alg": "HS256", "kid": "attacker", "jwk": {"kty": "oct", "k": b64(attacker_secret)}}),
    ] {
        let t = sign_hs256(
            header.to_string().as_bytes(),
            payload.as_bytes(),
            attacker_secret,
        );
        assert_refused(&p, &bearer(&t), INVALID);
    }
}

#[test]
fn jku_and_x5u_headers_are_ignored_when_the_configured_key_signed() {
    // Never followed, never trusted: the configured key decides.
    let p = policy(&seed_config());
    let mut key = rsa().clone();
    key.attach_metadata(
        KeyMetadata::default()
            .with_key_set_url("https://attacker.example/jwks.json")
            .with_certificate_url("https://attacker.example/cert.pem"),
    )
    .unwrap();
    let t = key
        .sign_with_options(to_jwt_claims(&good_claims()), &header_with(None, None))
        .unwrap();
    allowed(&p, &t);
}

// --- kid ----------------------------------------------------------------------------------

#[test]
fn unknown_kid_is_invalid_token_when_every_key_has_a_kid() {
    let p = policy(&seed_config());
    for kid in ["unknown", "RSA1", "rsa1 ", "", "ec1x"] {
        let key = RS256KeyPair::from_der(&rsa().to_der().unwrap())
            .unwrap()
            .with_key_id(kid);
        let t = key
            .sign_with_options(to_jwt_claims(&good_claims()), &header_with(None, None))
            .unwrap();
        refused_then(&p, &t, INVALID, good_token());
    }
}

#[test]
fn hostile_kids_are_invalid_token() {
    let p = policy(&seed_config());
    let big = "k".repeat(10 * 1024);
    for kid in [
        "../../../../etc/passwd",
        "../rsa1",
        "rsa1/../rsa1",
        "\"rsa1\"",
        "rsa1\"; DROP TABLE keys; --",
        "'rsa1'",
        "rsa1\u{0}",
        "rsa1\r\nx: y",
        "%2e%2e%2frsa1",
        big.as_str(),
    ] {
        let key = RS256KeyPair::from_der(&rsa().to_der().unwrap())
            .unwrap()
            .with_key_id(kid);
        let t = key
            .sign_with_options(to_jwt_claims(&good_claims()), &header_with(None, None))
            .unwrap();
        refused_then(&p, &t, INVALID, good_token());
    }
}

#[test]
fn ten_kilobyte_kid_within_max_bytes_is_invalid_token() {
    let mut c = seed_config();
    c["token"] = json!({"max_bytes": 65536});
    let p = policy(&c);
    let key = RS256KeyPair::from_der(&rsa().to_der().unwrap())
        .unwrap()
        .with_key_id(&"k".repeat(10 * 1024));
    let t = key
        .sign_with_options(to_jwt_claims(&good_claims()), &header_with(None, None))
        .unwrap();
    assert!(t.len() > 8192 && t.len() < 65536);
    refused_then(&p, &t, INVALID, good_token());
}

#[test]
fn kid_not_a_string_is_invalid_token() {
    let p = policy(&seed_config());
    let payload = hmac_claims().to_string();
    for header in [
        r#"{"alg":"HS256","kid":5}"#,
        r#"{"alg":"HS256","kid":null}"#,
        r#"{"alg":"HS256","kid":["a"]}"#,
        r#"{"alg":"HS256","kid":{"id":"a"}}"#,
        r#"{"alg":"HS256","kid":true}"#,
    ] {
        assert_refused(&p, &bearer(&hs256_raw(header, &payload)), INVALID);
    }
}

#[test]
fn hostile_kid_on_an_hmac_issuer_falls_back_to_the_kidless_secret() {
    // SPEC §1: a kid no key has is checked against the issuer's keys without kid (HMAC):
    // the kid is only a lookup hint, never a path or a query.
    let mut c = seed_config();
    c["token"] = json!({"max_bytes": 65536});
    let p = policy(&c);
    let payload = hmac_claims().to_string();
    for kid in ["../../etc/passwd", "\"'", &"k".repeat(10 * 1024)] {
        let header = json!({"alg": "HS256", "kid": kid}).to_string();
        allowed(&p, &hs256_raw(&header, &payload));
    }
}

// --- crit ---------------------------------------------------------------------------------

#[test]
fn crit_header_is_invalid_token_even_when_empty() {
    let p = policy(&seed_config());
    let payload = hmac_claims().to_string();
    for header in [
        r#"{"alg":"HS256","crit":[]}"#,
        r#"{"alg":"HS256","crit":["exp"],"exp":1}"#,
        r#"{"alg":"HS256","crit":["b64"],"b64":false}"#,
        r#"{"alg":"HS256","crit":"exp"}"#,
        r#"{"alg":"HS256","crit":null}"#,
        r#"{"alg":"HS256","crit":{}}"#,
    ] {
        assert_refused(&p, &bearer(&hs256_raw(header, &payload)), INVALID);
    }
}

// --- every algorithm verifies when configured -------------------------------------------

#[test]
fn every_rsa_algorithm_verifies_with_a_jwk_without_alg() {
    let p = policy_for(jwks(&[rsa_jwk_with(None, Some("rsa1"))]), Some(&RSA_ALGS));
    for alg in RSA_ALGS {
        allowed(&p, &rsa_token(alg, &good_claims()));
    }
}

#[test]
fn every_rsa_algorithm_verifies_with_a_jwk_bound_to_it() {
    for alg in RSA_ALGS {
        // With the allow-list given, and with it defaulted from the key's alg.
        for algorithms in [Some(&[alg][..]), None] {
            let p = policy_for(jwks(&[rsa_jwk_with(Some(alg), Some("rsa1"))]), algorithms);
            allowed(&p, &rsa_token(alg, &good_claims()));
        }
    }
}

#[test]
fn every_rsa_algorithm_verifies_with_a_pem_key() {
    let pem = rsa().public_key().to_pem().unwrap();
    let p = policy_for(json!({ "pem": [pem.clone()] }), Some(&RSA_ALGS));
    for alg in RSA_ALGS {
        allowed(&p, &rsa_token(alg, &good_claims()));
    }
    // A PEM key with a kid object form.
    let p = policy_for(
        json!({ "pem": [{"kid": "rsa1", "pem": pem.clone()}] }),
        Some(&RSA_ALGS),
    );
    allowed(&p, &rsa_token("PS512", &good_claims()));
    // Without an allow-list, an RSA PEM key serves RS256 only.
    let p = policy_for(json!({ "pem": [pem] }), None);
    refused_then(
        &p,
        &rsa_token("PS256", &good_claims()),
        INVALID,
        good_token(),
    );
}

#[test]
fn every_rsa_algorithm_refuses_a_tampered_token() {
    // RS* and PS* alike: a changed signature character, a changed claim, a signature one
    // byte short or with a zero byte prepended (the same integer, the wrong length).
    let p = policy_for(jwks(&[rsa_jwk_with(None, Some("rsa1"))]), Some(&RSA_ALGS));
    for alg in RSA_ALGS {
        let good = rsa_token(alg, &good_claims());
        let (header, payload, sig) = segments(&good);
        let mut claims: Value = serde_json::from_slice(&payload).unwrap();
        claims["sub"] = json!("user-2");
        let tampered = [
            forge(&good),
            assemble(&header, claims.to_string().as_bytes(), &sig),
            assemble(&header, &payload, &sig[1..]),
            assemble(&header, &payload, &[&[0][..], &sig].concat()),
        ];
        for t in tampered {
            refused_then(&p, &t, INVALID, &good);
        }
    }
}

fn sign_es384() -> String {
    ec384()
        .sign_with_options(to_jwt_claims(&good_claims()), &header_with(None, None))
        .unwrap()
}

fn sign_ed() -> String {
    ed().sign_with_options(to_jwt_claims(&good_claims()), &header_with(None, None))
        .unwrap()
}

#[test]
fn es256_verifies_from_jwk_with_and_without_alg_and_from_pem() {
    let t = es256(&good_claims());
    for keys in [
        jwks(&[ec_jwk()]),
        jwks(&[p256_jwk(ec(), Some("ec1"), Some("ES256"))]),
        json!({ "pem": [ec().public_key().to_pem().unwrap()] }),
    ] {
        allowed(&policy_for(keys.clone(), None), &t);
        allowed(&policy_for(keys, Some(&["ES256"])), &t);
    }
}

#[test]
fn es384_verifies_from_jwk_with_and_without_alg_and_from_pem() {
    let t = sign_es384();
    for keys in [
        jwks(&[p384_jwk(None)]),
        jwks(&[p384_jwk(Some("ES384"))]),
        json!({ "pem": [ec384().public_key().to_pem().unwrap()] }),
    ] {
        allowed(&policy_for(keys.clone(), None), &t);
        allowed(&policy_for(keys, Some(&["ES384"])), &t);
    }
}

#[test]
fn eddsa_verifies_from_jwk_with_and_without_alg_and_from_pem() {
    let t = sign_ed();
    for keys in [
        jwks(&[ed_jwk(None)]),
        jwks(&[ed_jwk(Some("EdDSA"))]),
        json!({ "pem": [ed().public_key().to_pem()] }),
    ] {
        allowed(&policy_for(keys.clone(), None), &t);
        allowed(&policy_for(keys, Some(&["EdDSA"])), &t);
    }
}

#[test]
fn hs256_hs384_hs512_verify_when_listed() {
    let mut c = seed_config();
    c["issuers"][1]["algorithms"] = json!(["HS256", "HS384", "HS512"]);
    let p = policy(&c);
    let claims = || to_jwt_claims(&hmac_claims());
    for t in [
        HS256Key::from_bytes(HMAC_SECRET)
            .authenticate(claims())
            .unwrap(),
        HS384Key::from_bytes(HMAC_SECRET)
            .authenticate(claims())
            .unwrap(),
        HS512Key::from_bytes(HMAC_SECRET)
            .authenticate(claims())
            .unwrap(),
        hs256(&hmac_claims()),
    ] {
        allowed(&p, &t);
    }
    // A different secret of the right length fails.
    let wrong = HS256Key::from_bytes(b"fedcba9876543210fedcba9876543210")
        .authenticate(claims())
        .unwrap();
    assert_refused(&p, &bearer(&wrong), INVALID);
}

#[test]
fn one_issuer_with_every_key_type_verifies_each() {
    let keys = json!({
        "jwks": {"keys": [rsa_jwk_with(None, Some("rsa1")), ec_jwk(), p384_jwk(None), ed_jwk(None)]},
        "hmac_secret_base64": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
    });
    let mut algs: Vec<&str> = RSA_ALGS.to_vec();
    algs.extend(["ES256", "ES384", "EdDSA", "HS256", "HS384", "HS512"]);
    let p = policy_for(keys, Some(&algs));
    for alg in RSA_ALGS {
        allowed(&p, &rsa_token(alg, &good_claims()));
    }
    allowed(&p, &es256(&good_claims()));
    allowed(&p, &sign_es384());
    allowed(&p, &sign_ed());
    let hs = HS512Key::from_bytes(HMAC_SECRET)
        .authenticate(to_jwt_claims(&good_claims()))
        .unwrap();
    allowed(&p, &hs);
    // An HS256 token naming the RSA key's kid is checked against that key only.
    let named = sign_hs256(
        br#"{"alg":"HS256","kid":"rsa1"}"#,
        good_claims().to_string().as_bytes(),
        HMAC_SECRET,
    );
    refused_then(&p, &named, INVALID, good_token());
}

// --- key selection (SPEC §1) ----------------------------------------------------------------

fn sign_ec(key: &ES256KeyPair) -> String {
    key.sign_with_options(to_jwt_claims(&good_claims()), &header_with(None, None))
        .unwrap()
}

#[test]
fn token_kid_selects_the_key_with_that_kid() {
    let p = policy_for(jwks(&[ec_jwk(), p256_jwk(ec2(), Some("ec2"), None)]), None);
    allowed(&p, &sign_ec(ec()));
    allowed(&p, &sign_ec(ec2()));
    // ec2's signature under kid ec1: only ec1 is tried.
    let mislabelled = ES256KeyPair::from_bytes(&ec2().to_bytes())
        .unwrap()
        .with_key_id("ec1");
    refused_then(&p, &sign_ec(&mislabelled), INVALID, &sign_ec(ec2()));
}

#[test]
fn unknown_kid_falls_back_to_kidless_keys_only() {
    // ec1 from a JWKS (kid ec1), ec2 from a PEM without kid.
    let p = policy_for(
        json!({
            "jwks": {"keys": [ec_jwk()]},
            "pem": [ec2().public_key().to_pem().unwrap()]
        }),
        None,
    );
    let ec2_unknown = ES256KeyPair::from_bytes(&ec2().to_bytes())
        .unwrap()
        .with_key_id("rotated-away");
    allowed(&p, &sign_ec(&ec2_unknown));
    allowed(&p, &sign_ec(ec()));
    // The kid-bearing key ec1 is not a fallback for an unknown kid.
    let ec1_unknown = ES256KeyPair::from_bytes(&ec().to_bytes())
        .unwrap()
        .with_key_id("rotated-away");
    refused_then(&p, &sign_ec(&ec1_unknown), INVALID, &sign_ec(ec()));
    // A known kid does not fall back: ec2's signature under kid ec1 fails.
    let ec2_as_ec1 = ES256KeyPair::from_bytes(&ec2().to_bytes())
        .unwrap()
        .with_key_id("ec1");
    refused_then(&p, &sign_ec(&ec2_as_ec1), INVALID, &sign_ec(ec()));
}

#[test]
fn pem_with_a_kid_is_selected_by_kid() {
    let p = policy_for(
        json!({ "pem": [{"kid": "ec2", "pem": ec2().public_key().to_pem().unwrap()}] }),
        None,
    );
    allowed(&p, &sign_ec(ec2()));
    let other = ES256KeyPair::from_bytes(&ec2().to_bytes())
        .unwrap()
        .with_key_id("other");
    // The only key has a kid, so an unknown kid has nothing to fall back to.
    refused_then(&p, &sign_ec(&other), INVALID, &sign_ec(ec2()));
}

#[test]
fn token_without_kid_tries_each_fitting_key() {
    let p = policy_for(
        jwks(&[rsa_jwk(), ec_jwk(), p256_jwk(ec2(), Some("ec2"), None)]),
        Some(&["RS256", "ES256"]),
    );
    let no_kid = |k: &ES256KeyPair| ES256KeyPair::from_bytes(&k.to_bytes()).unwrap();
    allowed(&p, &sign_ec(&no_kid(ec())));
    allowed(&p, &sign_ec(&no_kid(ec2())));
    let rsa_no_kid = RS256KeyPair::from_der(&rsa().to_der().unwrap()).unwrap();
    allowed(
        &p,
        &rsa_no_kid
            .sign_with_options(to_jwt_claims(&good_claims()), &header_with(None, None))
            .unwrap(),
    );
    refused_then(
        &p,
        &sign_ec(&ES256KeyPair::generate()),
        INVALID,
        &sign_ec(&no_kid(ec2())),
    );
}
