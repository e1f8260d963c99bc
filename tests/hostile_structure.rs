//! HOSTILE.md — "Structure and encoding": segments, base64url alphabet, JSON shape,
//! duplicate keys, nesting, huge numbers, size cap and single flipped bytes. Every one is
//! `401 invalid_token` (a flipped byte may also land on `iss`/`aud`/times, still 401).
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

const INVALID: (u16, &str) = (401, "invalid_token");

fn seed() -> Policy {
    policy(&seed_config())
}

fn seed_with_max_bytes(max: usize) -> Policy {
    let mut c = seed_config();
    c["token"] = json!({ "max_bytes": max });
    policy(&c)
}

/// The request carrying `token` as a bearer credential on `GET /orders/1`.
fn bearer(token: &str) -> audience_guard::Request {
    get("/orders/1", Some(token))
}

fn refused(p: &Policy, token: &str) {
    assert_refused(p, &bearer(token), INVALID);
}

const HS_HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

fn hmac_payload() -> String {
    hmac_claims().to_string()
}

// --- segments -------------------------------------------------------------------------

#[test]
fn empty_token_is_invalid_token() {
    // `Bearer ` with nothing after it (Envoy would trim it to `Bearer`).
    assert_refused(
        &seed(),
        &with_authorization("/orders/1", b"Bearer "),
        INVALID,
    );
}

#[test]
fn one_segment_is_invalid_token() {
    let p = seed();
    let t = hs256(&hmac_claims());
    refused(&p, t.split('.').next().unwrap());
    refused(&p, &t.replace('.', ""));
    refused(&p, "eyJhbGciOiJIUzI1NiJ9");
}

#[test]
fn two_segments_are_invalid_token() {
    let p = seed();
    let t = hs256(&hmac_claims());
    let (h, rest) = t.split_once('.').unwrap();
    let (payload, _) = rest.split_once('.').unwrap();
    refused(&p, &format!("{h}.{payload}"));
    refused(&p, &format!("{h}.{payload}."));
    refused(
        &p,
        &format!(".{payload}.{}", rest.split_once('.').unwrap().1),
    );
}

#[test]
fn four_and_five_segments_are_invalid_token() {
    let p = seed();
    let t = hs256(&hmac_claims());
    refused(&p, &format!("{t}.{}", b64("x")));
    refused(&p, &format!("{t}."));
    refused(&p, &format!("{t}.{}.{}", b64("x"), b64("y")));
    // A JWE-shaped token (5 segments, `enc` header).
    let jwe_header = b64(br#"{"alg":"RSA-OAEP","enc":"A256GCM"}"#);
    refused(
        &p,
        &format!(
            "{jwe_header}.{}.{}.{}.{}",
            b64("k"),
            b64("iv"),
            b64("ct"),
            b64("tag")
        ),
    );
}

#[test]
fn empty_signature_is_invalid_token() {
    let p = seed();
    for t in [
        hs256(&hmac_claims()),
        rs256(&good_claims()),
        es256(&good_claims()),
    ] {
        let (signing_input, _) = t.rsplit_once('.').unwrap();
        refused(&p, &format!("{signing_input}."));
    }
}

#[test]
fn empty_header_or_payload_is_invalid_token() {
    let p = seed();
    let t = hs256(&hmac_claims());
    let parts: Vec<&str> = t.split('.').collect();
    refused(&p, &format!(".{}.{}", parts[1], parts[2]));
    refused(&p, &format!("{}..{}", parts[0], parts[2]));
    refused(&p, "..");
    // Signed over an empty payload.
    refused(&p, &sign_hs256(HS_HEADER.as_bytes(), b"", HMAC_SECRET));
}

// --- base64url alphabet ---------------------------------------------------------------

#[test]
fn base64_padding_is_invalid_token() {
    let p = seed();
    let t = hs256(&hmac_claims());
    let parts: Vec<&str> = t.split('.').collect();
    for (i, pad) in [(0, "="), (1, "="), (2, "="), (0, "=="), (2, "==")] {
        let mut padded: Vec<String> = parts.iter().map(|s| (*s).to_owned()).collect();
        padded[i].push_str(pad);
        refused(&p, &padded.join("."));
    }
}

/// A validly signed HS256 token whose text contains at least one `-` or `_`.
fn token_with_url_safe_chars() -> String {
    (0..1000)
        .map(|i| {
            let mut c = hmac_claims();
            c["jti"] = json!(format!("n{i}"));
            hs256(&c)
        })
        .find(|t| t.contains(['-', '_']))
        .unwrap()
}

#[test]
fn standard_base64_alphabet_is_invalid_token() {
    let p = seed();
    let t = token_with_url_safe_chars();
    assert_eq!(outcome(&run(&p, &bearer(&t))), (200, "allowed"));
    let standard = t.replace('-', "+").replace('_', "/");
    refused(&p, &standard);
}

#[test]
fn whitespace_or_line_breaks_inside_a_segment_are_invalid_token() {
    let p = seed();
    let t = hs256(&hmac_claims());
    let mid = t.find('.').unwrap() + 10;
    for insert in [
        " ", "\n", "\r\n", "\t", "\u{b}", "\u{c}", "\u{a0}", "\u{2028}",
    ] {
        let mut broken = t.clone();
        broken.insert_str(mid, insert);
        refused(&p, &broken);
    }
}

#[test]
fn non_base64_characters_are_invalid_token() {
    let p = seed();
    let t = hs256(&hmac_claims());
    let mid = t.find('.').unwrap() + 10;
    for insert in ["%", "!", "*", "~", "é", "\u{0}", "$", "'", "\\", "<"] {
        let mut broken = t.clone();
        broken.insert_str(mid, insert);
        refused(&p, &broken);
    }
}

#[test]
fn non_utf8_inside_the_token_is_invalid_token() {
    let p = seed();
    let t = hs256(&hmac_claims());
    let mid = t.find('.').unwrap() + 10;
    let mut bytes = b"Bearer ".to_vec();
    bytes.extend_from_slice(&t.as_bytes()[..mid]);
    bytes.push(0xff);
    bytes.extend_from_slice(&t.as_bytes()[mid..]);
    assert_refused(&p, &with_authorization("/orders/1", &bytes), INVALID);
}

#[test]
fn non_utf8_header_or_payload_bytes_are_invalid_token() {
    let p = seed();
    let payload = hmac_payload();
    let mut bad_payload = payload.clone().into_bytes();
    // Put a raw 0xff inside the `sub` string value.
    let at = payload.find("user-1").unwrap();
    bad_payload[at] = 0xff;
    refused(
        &p,
        &sign_hs256(HS_HEADER.as_bytes(), &bad_payload, HMAC_SECRET),
    );
    let bad_header = br#"{"alg":"HS256","typ":"JWT","x":"\xff"}"#;
    refused(&p, &sign_hs256(bad_header, payload.as_bytes(), HMAC_SECRET));
    // A UTF-8 BOM in front of the JSON.
    let bom_payload = [b"\xef\xbb\xbf".as_slice(), payload.as_bytes()].concat();
    refused(
        &p,
        &sign_hs256(HS_HEADER.as_bytes(), &bom_payload, HMAC_SECRET),
    );
}

// --- JSON shape -----------------------------------------------------------------------

#[test]
fn invalid_json_strings_are_invalid_token() {
    let p = seed();
    let mut c = hmac_payload();
    c.pop();
    for raw in [
        r#""\ud800""#,
        r#""\udc00x""#,
        r#""\x41""#,
        "\"a\u{0}\"",
        "\"\t\"",
    ] {
        let body = format!("{c},\"note\":{raw}}}");
        refused(&p, &hs256_raw(HS_HEADER, &body));
    }
}

#[test]
fn a_cached_valid_token_does_not_vouch_for_a_forged_signature() {
    // Decide the valid token first (a verification cache would now hold it), then the
    // same header and payload under other signatures.
    let p = seed();
    for t in [
        good_token().to_owned(),
        es256(&good_claims()),
        hs256(&hmac_claims()),
    ] {
        for _ in 0..2 {
            assert_eq!(outcome(&run(&p, &bearer(&t))), (200, "allowed"));
        }
        let (h, payload, s) = segments(&t);
        refused(&p, &assemble(&h, &payload, &flip(&s, s.len() / 2)));
        refused(&p, &assemble(&h, &payload, &[]));
        refused(&p, &assemble(&h, &payload, &vec![0u8; s.len()]));
        // A valid signature of another token.
        let other = if t == good_token() {
            hs256(&hmac_claims())
        } else {
            good_token().to_owned()
        };
        let (signing_input, _) = t.rsplit_once('.').unwrap();
        refused(
            &p,
            &format!("{signing_input}.{}", other.rsplit_once('.').unwrap().1),
        );
    }
}

#[test]
fn header_not_json_or_not_an_object_is_invalid_token() {
    let p = seed();
    let payload = hmac_payload();
    for header in [
        "not json",
        "",
        "[]",
        r#"["HS256"]"#,
        r#""HS256""#,
        "1",
        "null",
        "true",
        r#"{"alg":"HS256""#,
        r#"{"alg":"HS256"} {}"#,
        r#"{"alg":"HS256"}x"#,
        r#"{'alg':'HS256'}"#,
        r#"{"alg":"HS256",}"#,
    ] {
        refused(&p, &hs256_raw(header, &payload));
    }
}

#[test]
fn payload_not_json_or_not_an_object_is_invalid_token() {
    let p = seed();
    let payload = hmac_payload();
    for body in [
        "not json".to_owned(),
        "[]".to_owned(),
        format!("[{payload}]"),
        format!("\"{}\"", payload.replace('"', "\\\"")),
        "42".to_owned(),
        "null".to_owned(),
        payload[..payload.len() - 1].to_owned(),
        format!("{payload}{payload}"),
        format!("{payload} x"),
        payload.replacen('{', "{,", 1),
    ] {
        refused(&p, &hs256_raw(HS_HEADER, &body));
    }
}

#[test]
fn duplicate_keys_in_header_are_invalid_token() {
    let p = seed();
    let payload = hmac_payload();
    for header in [
        r#"{"alg":"HS256","alg":"HS256"}"#,
        r#"{"alg":"none","alg":"HS256"}"#,
        r#"{"alg":"HS256","alg":"none"}"#,
        r#"{"alg":"HS256","typ":"JWT","typ":"at+jwt"}"#,
        r#"{"alg":"HS256","kid":"a","kid":"b"}"#,
        r#"{"alg":"HS256","x":{"y":1,"y":2}}"#,
    ] {
        refused(&p, &hs256_raw(header, &payload));
    }
}

#[test]
fn duplicate_keys_in_payload_are_invalid_token() {
    let p = seed();
    let exp = NOW + 600;
    let iat = NOW - 10;
    let base = format!(
        r#""iss":"{HMAC_ISS}","sub":"user-1","azp":"hmac-client","scope":"orders:read","iat":{iat}"#
    );
    for body in [
        format!(r#"{{{base},"aud":"other-api","aud":"orders-api","exp":{exp}}}"#),
        format!(r#"{{{base},"aud":"orders-api","aud":"other-api","exp":{exp}}}"#),
        format!(r#"{{{base},"aud":"orders-api","exp":1,"exp":{exp}}}"#),
        format!(r#"{{{base},"aud":"orders-api","exp":{exp},"exp":1}}"#),
        format!(r#"{{{base},"aud":"orders-api","exp":{exp},"iss":"{HMAC_ISS}"}}"#),
        format!(r#"{{{base},"aud":"orders-api","exp":{exp},"scope":"orders:write"}}"#),
        format!(r#"{{{base},"aud":"orders-api","exp":{exp},"x":{{"a":1,"a":2}}}}"#),
        format!(r#"{{{base},"aud":"orders-api","exp":{exp},"x":[{{"a":1,"a":1}}]}}"#),
        // The same name spelled with a JSON escape is the same name.
        format!(r#"{{{base},"aud":"orders-api","exp":1,"\u0065xp":{exp}}}"#),
        format!(r#"{{{base},"aud":"other-api","\u0061ud":"orders-api","exp":{exp}}}"#),
    ] {
        refused(&p, &hs256_raw(HS_HEADER, &body));
    }
    // An escaped name alone is just that name.
    let escaped = format!(r#"{{{base},"\u0061ud":"orders-api","\u0065xp":{exp}}}"#);
    assert_eq!(
        outcome(&run(&p, &bearer(&hs256_raw(HS_HEADER, &escaped)))),
        (200, "allowed")
    );
    // Control: the same body without the duplicate passes.
    let ok = format!(r#"{{{base},"aud":"orders-api","exp":{exp}}}"#);
    assert_eq!(
        outcome(&run(&p, &bearer(&hs256_raw(HS_HEADER, &ok)))),
        (200, "allowed")
    );
}

#[test]
fn deeply_nested_arrays_are_invalid_token() {
    let p = seed_with_max_bytes(65_536);
    for depth in [200, 1_000, 20_000] {
        let mut c = hmac_claims().to_string();
        c.pop();
        let body = format!("{c},\"deep\":{}{}}}", "[".repeat(depth), "]".repeat(depth));
        assert_refused(&p, &bearer(&hs256_raw(HS_HEADER, &body)), INVALID);
        let mut nested_objects = hmac_claims().to_string();
        nested_objects.pop();
        let body = format!(
            "{nested_objects},\"deep\":{}1{}}}",
            "{\"a\":".repeat(depth),
            "}".repeat(depth)
        );
        assert_refused(&p, &bearer(&hs256_raw(HS_HEADER, &body)), INVALID);
        let header = format!(
            r#"{{"alg":"HS256","deep":{}{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        assert_refused(&p, &bearer(&hs256_raw(&header, &hmac_payload())), INVALID);
    }
}

#[test]
fn huge_numbers_are_invalid_token() {
    let p = seed();
    let mut base = hmac_claims();
    base.as_object_mut().unwrap().remove("exp");
    let mut prefix = base.to_string();
    prefix.pop();
    for exp in [
        "1e400",
        "-1e400",
        "1e308",
        "18446744073709551616",
        "99999999999999999999999999999999999999",
        "253402300800",
        "-1",
        "1.8e19",
    ] {
        let body = format!("{prefix},\"exp\":{exp}}}");
        assert_refused(&p, &bearer(&hs256_raw(HS_HEADER, &body)), INVALID);
    }
    // A number JSON cannot represent, in a claim nobody checks.
    let body = format!(
        "{},\"n\":1e400}}",
        &hmac_payload()[..hmac_payload().len() - 1]
    );
    assert_refused(&p, &bearer(&hs256_raw(HS_HEADER, &body)), INVALID);
}

// --- size cap --------------------------------------------------------------------------

#[test]
fn token_over_max_bytes_is_invalid_token() {
    let t = good_token();
    let exact = seed_with_max_bytes(t.len());
    assert_eq!(outcome(&run(&exact, &bearer(t))), (200, "allowed"));
    let short = seed_with_max_bytes(t.len() - 1);
    let next = good_request();
    let hs = hs256(&hmac_claims());
    assert!(hs.len() < t.len());
    // The next (allowed) request must fit the cap: use the shorter HS256 token.
    assert_refused_then(&short, &next, INVALID, &bearer(&hs));
}

#[test]
fn token_over_default_max_bytes_is_invalid_token() {
    let p = seed();
    let mut c = hmac_claims();
    c["pad"] = json!("a".repeat(7_000));
    let t = hs256(&c);
    assert!(t.len() > 8192);
    refused(&p, &t);
    // Huge junk in the header position.
    refused(&p, &format!("{}.{}", "A".repeat(100_000), good_token()));
    refused(&p, &"a.".repeat(50_000));
}

// --- one flipped byte -------------------------------------------------------------------

/// Flips one bit of byte `i` of `bytes`.
fn flip(bytes: &[u8], i: usize) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[i] ^= 0x01;
    b
}

/// Flips every signature byte of `token` in turn: each is `401 invalid_token`.
fn every_signature_byte_flip_is_refused(p: &Policy, token: &str) {
    assert_eq!(outcome(&run(p, &bearer(token))), (200, "allowed"));
    let (h, payload, s) = segments(token);
    for i in 0..s.len() {
        let t = assemble(&h, &payload, &flip(&s, i));
        let d = run(p, &bearer(&t));
        assert_eq!(outcome(&d), INVALID, "signature byte {i}");
        assert_no_identity(&d, &[]);
    }
    // Truncated or extended signatures.
    for sig in [
        &s[..s.len() - 1],
        &s[1..],
        &[s.as_slice(), &[0]].concat()[..],
    ] {
        refused(p, &assemble(&h, &payload, sig));
    }
    assert_eq!(outcome(&run(p, &bearer(token))), (200, "allowed"));
}

/// Flips a byte inside the value of a named string claim of the payload (the JSON stays
/// valid, only the signature can notice) and inside a header member's value.
fn value_flips_are_refused(p: &Policy, token: &str, payload_value: &str, header_value: &str) {
    let (h, payload, s) = segments(token);
    let at = find(&payload, payload_value.as_bytes());
    refused(p, &assemble(&h, &flip(&payload, at), &s));
    let at = find(&h, header_value.as_bytes());
    refused(p, &assemble(&flip(&h, at), &payload, &s));
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap()
}

/// Every byte of the payload flipped: never allowed, always 401.
fn every_payload_byte_flip_is_refused(p: &Policy, token: &str) {
    let (h, payload, s) = segments(token);
    for i in 0..payload.len() {
        let t = assemble(&h, &flip(&payload, i), &s);
        let d = run(p, &bearer(&t));
        let (status, reason) = outcome(&d);
        assert_eq!(status, 401, "payload byte {i}: {reason}");
        assert!(
            [
                "invalid_token",
                "unknown_issuer",
                "audience_not_allowed",
                "expired",
                "not_yet_valid"
            ]
            .contains(&reason),
            "payload byte {i}: {reason}"
        );
        assert_no_identity(&d, &[]);
    }
    for i in 0..h.len() {
        let t = assemble(&flip(&h, i), &payload, &s);
        let (status, _) = outcome(&run(p, &bearer(&t)));
        assert_eq!(status, 401, "header byte {i}");
    }
    assert_eq!(outcome(&run(p, &bearer(token))), (200, "allowed"));
}

fn with_cty<K>(sign: K) -> String
where
    K: FnOnce(JWTClaims<serde_json::Map<String, Value>>, &HeaderOptions) -> String,
{
    sign(
        to_jwt_claims(&good_claims()),
        &header_with(None, Some("ctyvalue")),
    )
}

#[test]
fn flipped_byte_in_rs256_token_is_invalid_token() {
    let p = seed();
    let t = with_cty(|c, o| rsa().sign_with_options(c, o).unwrap());
    value_flips_are_refused(&p, &t, "user-1", "ctyvalue");
    every_signature_byte_flip_is_refused(&p, &t);
}

#[test]
fn flipped_byte_in_es256_token_is_invalid_token() {
    let p = seed();
    let t = with_cty(|c, o| ec().sign_with_options(c, o).unwrap());
    value_flips_are_refused(&p, &t, "user-1", "ctyvalue");
    every_signature_byte_flip_is_refused(&p, &t);
}

#[test]
fn flipped_byte_in_hs256_token_is_invalid_token() {
    let p = seed();
    let t = hs256_raw(
        r#"{"alg":"HS256","typ":"JWT","cty":"ctyvalue"}"#,
        &hmac_payload(),
    );
    value_flips_are_refused(&p, &t, "user-1", "ctyvalue");
    every_signature_byte_flip_is_refused(&p, &t);
}

#[test]
fn every_flipped_payload_or_header_byte_is_refused() {
    let p = seed();
    every_payload_byte_flip_is_refused(&p, &hs256(&hmac_claims()));
    every_payload_byte_flip_is_refused(&p, &es256(&good_claims()));
    every_payload_byte_flip_is_refused(&p, good_token());
}

#[test]
fn swapped_segments_are_invalid_token() {
    let p = seed();
    let rs = good_token();
    let mut other = good_claims();
    other["sub"] = json!("user-2");
    let es = es256(&other);
    let (rh, rp, rsig) = segments(rs);
    let (eh, ep, esig) = segments(&es);
    // RS256 header and payload with the ES256 signature, and the other way round.
    refused(&p, &assemble(&rh, &rp, &esig));
    refused(&p, &assemble(&eh, &ep, &rsig));
    // Payload of one token under the header and signature of the other.
    refused(&p, &assemble(&rh, &ep, &rsig));
    refused(&p, &assemble(&eh, &rp, &esig));
    // Header and payload exchanged.
    refused(&p, &assemble(&rp, &rh, &rsig));
}
