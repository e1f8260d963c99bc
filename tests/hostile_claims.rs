//! HOSTILE.md — "Claims": `typ`, `iss`, the times (`exp`, `nbf`, `iat`, lifetime),
//! `aud`, scopes, forwarded claim values, and the presenting client.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
use audience_guard::{Policy, Request};
use common::*;
use serde_json::{json, Value};

const INVALID: (u16, &str) = (401, "invalid_token");
const OK: (u16, &str) = (200, "allowed");

fn seed() -> Policy {
    policy(&seed_config())
}

fn bearer(token: &str) -> Request {
    get("/orders/1", Some(token))
}

#[track_caller]
fn refused(p: &Policy, token: &str, expected: (u16, &str)) {
    assert_refused(p, &bearer(token), expected);
}

#[track_caller]
fn allowed(p: &Policy, token: &str) {
    assert_eq!(outcome(&run(p, &bearer(token))), OK, "{token}");
}

/// An HS256 token from the seed HMAC issuer with one claim set to any JSON value (the
/// token is crafted by hand, so types jwt-simple could not mint are fine).
fn hmac_with(name: &str, value: Value) -> String {
    let mut c = hmac_claims();
    c[name] = value;
    hs256_raw(r#"{"alg":"HS256","typ":"JWT"}"#, &c.to_string())
}

fn hmac_without(name: &str) -> String {
    let mut c = hmac_claims();
    c.as_object_mut().unwrap().remove(name);
    hs256_raw(r#"{"alg":"HS256","typ":"JWT"}"#, &c.to_string())
}

/// An HMAC-issuer token whose payload is `claims` with `raw` JSON text spliced in as the
/// value of `name` (for numbers serde_json would not print as such).
fn hmac_raw_member(name: &str, raw: &str) -> String {
    let mut c = hmac_claims();
    c.as_object_mut().unwrap().remove(name);
    let mut body = c.to_string();
    body.pop();
    body.push_str(&format!(",\"{name}\":{raw}}}"));
    hs256_raw(r#"{"alg":"HS256","typ":"JWT"}"#, &body)
}

// --- typ ------------------------------------------------------------------------------------

fn with_token_type(token_type: &str) -> Policy {
    let mut c = seed_config();
    c["issuers"][0]["token_type"] = json!(token_type);
    c["issuers"][1]["token_type"] = json!(token_type);
    policy(&c)
}

fn hmac_typ(typ: Option<Value>) -> String {
    let mut header = json!({"alg": "HS256"});
    if let Some(t) = typ {
        header["typ"] = t;
    }
    hs256_raw(&header.to_string(), &hmac_claims().to_string())
}

#[test]
fn at_jwt_required_accepts_its_two_spellings_in_any_case() {
    let p = with_token_type("at+jwt");
    for typ in [
        "at+jwt",
        "AT+JWT",
        "At+Jwt",
        "application/at+jwt",
        "Application/AT+JWT",
    ] {
        allowed(&p, &rs256_typ(&good_claims(), typ));
        allowed(&p, &hmac_typ(Some(json!(typ))));
    }
}

#[test]
fn at_jwt_required_refuses_other_types() {
    let p = with_token_type("at+jwt");
    let next = get("/orders/1", Some(&rs256_typ(&good_claims(), "at+jwt")));
    for typ in [
        "JWT",
        "jwt",
        "at+jwt2",
        "application/jwt",
        "at jwt",
        "at+jwt ",
        "",
        "secevent+jwt",
        "application/at+jwt; charset=utf-8",
    ] {
        assert_refused_then(&p, &bearer(&rs256_typ(&good_claims(), typ)), INVALID, &next);
    }
    // typ absent or not a string.
    for typ in [
        None,
        Some(json!(1)),
        Some(json!(["at+jwt"])),
        Some(json!(null)),
    ] {
        assert_refused_then(&p, &bearer(&hmac_typ(typ)), INVALID, &next);
    }
}

#[test]
fn jwt_token_type_accepts_absent_or_jwt_only() {
    let p = with_token_type("jwt");
    allowed(&p, good_token());
    allowed(&p, &hmac_typ(None));
    allowed(&p, &hmac_typ(Some(json!("jwt"))));
    // RFC 7515 §4.1.9: `JWT` names the media type `application/jwt`.
    for typ in ["application/jwt", "Application/JWT"] {
        allowed(&p, &rs256_typ(&good_claims(), typ));
    }
    for typ in [
        "at+jwt",
        "application/at+jwt",
        "JOSE",
        "JWS",
        "text/jwt",
        "application/jwt; x=1",
    ] {
        refused(&p, &rs256_typ(&good_claims(), typ), INVALID);
    }
}

#[test]
fn any_token_type_accepts_access_token_types() {
    let p = with_token_type("any");
    allowed(&p, &rs256_typ(&good_claims(), "at+jwt"));
    allowed(&p, &rs256_typ(&good_claims(), "application/at+jwt"));
    allowed(&p, &hmac_typ(None));
}

/// SPEC §1: `"any"` = `typ` not checked. A validly signed token whose `typ` is neither
/// `JWT` nor `*+jwt` must pass the type check.
#[test]
fn any_token_type_does_not_check_typ() {
    let p = with_token_type("any");
    for typ in ["JOSE", "foo", "application/jwt"] {
        allowed(&p, &rs256_typ(&good_claims(), typ));
        allowed(&p, &hmac_typ(Some(json!(typ))));
    }
}

/// RFC 7519 §4.1.2/§4.1.7: `sub` and `jti` are strings, so refusing a number is fine;
/// but SPEC §2 wants the `error_description` to name the check, and these signatures
/// are valid.
#[test]
fn claims_of_the_wrong_type_are_not_blamed_on_the_signature() {
    let p = seed();
    for (name, value) in [
        ("sub", json!(5)),
        ("jti", json!(5)),
        ("nonce", json!({"a": 1})),
    ] {
        let d = run(&p, &bearer(&hmac_with(name, value)));
        assert_eq!(outcome(&d), INVALID, "{name}");
        let audience_guard::Verdict::Deny(denial) = &d.verdict else {
            panic!()
        };
        assert!(
            !denial.description.contains("signature"),
            "{name}: {}",
            denial.description
        );
    }
}

// --- iss ---------------------------------------------------------------------------------

#[test]
fn issuer_differing_in_any_way_is_unknown_issuer() {
    let p = seed();
    for iss in [
        "HTTPS://IDP.EXAMPLE.COM/",
        "https://IDP.example.com/",
        "https://idp.example.com",
        "https://idp.example.com//",
        "https://idp.example.com/ ",
        " https://idp.example.com/",
        "https://idp.example.com/.",
        "https://\u{456}dp.example.com/", // Cyrillic і
        "https://idp.examp\u{13b}e.com/",
        "https://idp.example.com/\u{200b}",
        "http://idp.example.com/",
        "",
    ] {
        let mut c = good_claims();
        c["iss"] = json!(iss);
        refused(&p, &rs256(&c), (401, "unknown_issuer"));
    }
}

#[test]
fn issuer_missing_or_not_a_string_is_unknown_issuer() {
    let p = seed();
    refused(&p, &hmac_without("iss"), (401, "unknown_issuer"));
    for iss in [
        json!(5),
        json!(null),
        json!([HMAC_ISS]),
        json!({"iss": HMAC_ISS}),
        json!(true),
    ] {
        refused(&p, &hmac_with("iss", iss), (401, "unknown_issuer"));
    }
}

#[test]
fn token_from_one_issuer_cannot_borrow_another_issuers_name() {
    // An RS256 token signed by the seed RSA key but claiming the HMAC issuer: the HMAC
    // issuer allows HS256 only.
    let p = seed();
    let mut c = good_claims();
    c["iss"] = json!(HMAC_ISS);
    refused(&p, &rs256(&c), INVALID);
    // An HS256 token with the seed secret claiming the RSA issuer.
    let t = hs256_raw(r#"{"alg":"HS256"}"#, &good_claims().to_string());
    refused(&p, &t, INVALID);
}

// --- exp --------------------------------------------------------------------------------

#[test]
fn exp_missing_is_invalid_token() {
    let p = seed();
    refused(&p, &hmac_without("exp"), INVALID);
    let mut c = good_claims();
    c.as_object_mut().unwrap().remove("exp");
    refused(&p, &rs256(&c), INVALID);
}

#[test]
fn exp_of_the_wrong_type_is_invalid_token() {
    let p = seed();
    for exp in [
        json!((NOW + 600).to_string()),
        json!(null),
        json!(true),
        json!([NOW + 600]),
        json!({"t": NOW + 600}),
        json!("1e10"),
    ] {
        refused(&p, &hmac_with("exp", exp), INVALID);
    }
}

#[test]
fn exp_out_of_range_is_invalid_token() {
    let p = seed();
    for raw in ["-1", "-1800000600", "1e308", "253402300800", "1e20", "-0.5"] {
        refused(&p, &hmac_raw_member("exp", raw), INVALID);
    }
}

#[test]
fn exp_at_year_9999_is_accepted() {
    allowed(&seed(), &hmac_raw_member("exp", "253402300799"));
}

/// SPEC: "numbers from 0 to 253402300799 (year 9999; fractions are truncated)": a
/// fraction of the last second is that second, truncated before the range is checked.
#[test]
fn fraction_of_the_last_second_of_9999_is_accepted() {
    let p = seed();
    allowed(&p, &hmac_raw_member("exp", "253402300799.5"));
    allowed(&p, &hmac_raw_member("exp", "253402300799.999"));
    refused(&p, &hmac_raw_member("exp", "253402300800.0"), INVALID);
    refused(&p, &hmac_raw_member("nbf", "253402300800.5"), INVALID);
}

#[test]
fn fractional_exp_is_accepted_and_truncated() {
    let p = seed();
    allowed(&p, &hmac_raw_member("exp", &format!("{}.5", NOW + 600)));
    // Truncated to NOW - 60: exactly at the leeway edge, still valid.
    allowed(&p, &hmac_raw_member("exp", &format!("{}.9", NOW - 60)));
    // Truncated to NOW - 61: expired, though the fraction would round it to NOW - 60.
    refused(
        &p,
        &hmac_raw_member("exp", &format!("{}.9", NOW - 61)),
        (401, "expired"),
    );
}

#[test]
fn exp_in_the_past_by_leeway_plus_one_second_is_expired() {
    // Seed leeway: 60 s.
    let p = seed();
    for (offset, expected) in [
        (-59i64, OK),
        (-60, OK),
        (-61, (401, "expired")),
        (-3600, (401, "expired")),
    ] {
        let mut c = good_claims();
        c["exp"] = json!((NOW as i64 + offset) as u64);
        c["iat"] = json!(NOW - 7200);
        let d = run(&p, &bearer(&rs256(&c)));
        assert_eq!(outcome(&d), expected, "exp = now {offset:+}");
        if expected != OK {
            assert_no_identity(&d, &[]);
        }
    }
    allowed(&p, good_token());
}

#[test]
fn exp_in_the_past_with_zero_leeway() {
    let mut c = seed_config();
    c["issuers"][0]["leeway_seconds"] = json!(0);
    let p = policy(&c);
    let mut claims = good_claims();
    claims["exp"] = json!(NOW);
    allowed(&p, &rs256(&claims));
    claims["exp"] = json!(NOW - 1);
    refused(&p, &rs256(&claims), (401, "expired"));
}

#[test]
fn expired_token_is_401_expired_with_an_invalid_token_challenge() {
    let p = seed();
    let mut c = good_claims();
    c["exp"] = json!(NOW - 3600);
    c["iat"] = json!(NOW - 7200);
    let d = assert_refused(&p, &bearer(&rs256(&c)), (401, "expired"));
    let audience_guard::Verdict::Deny(denial) = &d.verdict else {
        panic!()
    };
    assert!(denial
        .www_authenticate
        .as_deref()
        .unwrap()
        .contains("error=\"invalid_token\""));
}

#[test]
fn a_token_allowed_now_is_expired_later() {
    // Same policy, same token, later clock (a verification cache must not outlive exp).
    let p = seed();
    let t = good_token();
    let req = bearer(t);
    assert_eq!(outcome(&audience_guard::decide(&p, &req, NOW)), OK);
    assert_eq!(
        outcome(&audience_guard::decide(&p, &req, NOW + 600 + 61)),
        (401, "expired")
    );
    assert_eq!(outcome(&audience_guard::decide(&p, &req, NOW)), OK);
}

// --- nbf and iat ------------------------------------------------------------------------------

#[test]
fn nbf_in_the_future_beyond_leeway_is_not_yet_valid() {
    let p = seed();
    for (offset, expected) in [
        (59u64, OK),
        (60, OK),
        (61, (401, "not_yet_valid")),
        (3600, (401, "not_yet_valid")),
    ] {
        let mut c = good_claims();
        c["nbf"] = json!(NOW + offset);
        let d = run(&p, &bearer(&rs256(&c)));
        assert_eq!(outcome(&d), expected, "nbf = now + {offset}");
    }
    allowed(&p, good_token());
}

#[test]
fn iat_in_the_future_beyond_leeway_is_not_yet_valid() {
    let p = seed();
    for (offset, expected) in [
        (59u64, OK),
        (60, OK),
        (61, (401, "not_yet_valid")),
        (86_400, (401, "not_yet_valid")),
    ] {
        let mut c = good_claims();
        c["iat"] = json!(NOW + offset);
        c["exp"] = json!(NOW + offset + 600);
        let d = run(&p, &bearer(&rs256(&c)));
        assert_eq!(outcome(&d), expected, "iat = now + {offset}");
    }
    allowed(&p, good_token());
}

#[test]
fn nbf_and_iat_of_the_wrong_type_are_invalid_token() {
    let p = seed();
    for name in ["nbf", "iat"] {
        for value in [json!("0"), json!(null), json!(-1), json!([1]), json!(1e308)] {
            refused(&p, &hmac_with(name, value), INVALID);
        }
    }
}

#[test]
fn a_token_not_yet_valid_becomes_valid_later() {
    let p = seed();
    let mut c = good_claims();
    c["nbf"] = json!(NOW + 300);
    c["exp"] = json!(NOW + 900);
    let req = bearer(&rs256(&c));
    assert_eq!(outcome(&run(&p, &req)), (401, "not_yet_valid"));
    assert_eq!(outcome(&audience_guard::decide(&p, &req, NOW + 300)), OK);
}

// --- max_lifetime_seconds --------------------------------------------------------------------

fn with_max_lifetime(seconds: u64) -> Policy {
    let mut c = seed_config();
    c["issuers"][0]["max_lifetime_seconds"] = json!(seconds);
    policy(&c)
}

#[test]
fn lifetime_longer_than_the_maximum_is_invalid_token() {
    let p = with_max_lifetime(3600);
    for (lifetime, expected) in [
        (3599u64, OK),
        (3600, OK),
        (3601, INVALID),
        (86_400 * 365, INVALID),
    ] {
        let mut c = good_claims();
        c["iat"] = json!(NOW - 10);
        c["exp"] = json!(NOW - 10 + lifetime);
        let d = run(&p, &bearer(&rs256(&c)));
        assert_eq!(outcome(&d), expected, "lifetime {lifetime}");
    }
    allowed(&p, good_token());
}

#[test]
fn missing_iat_with_a_maximum_lifetime_is_invalid_token() {
    let p = with_max_lifetime(3600);
    let mut c = good_claims();
    c.as_object_mut().unwrap().remove("iat");
    refused(&p, &rs256(&c), INVALID);
    // Without a maximum, iat is optional.
    allowed(&seed(), &rs256(&c));
}

// --- aud --------------------------------------------------------------------------------------

const AUD: (u16, &str) = (401, "audience_not_allowed");

#[test]
fn audience_missing_is_audience_not_allowed() {
    let p = seed();
    refused(&p, &hmac_without("aud"), AUD);
    let mut c = good_claims();
    c.as_object_mut().unwrap().remove("aud");
    refused(&p, &rs256(&c), AUD);
}

#[test]
fn audience_empty_or_malformed_is_audience_not_allowed() {
    let p = seed();
    for aud in [
        json!([]),
        json!(""),
        json!([""]),
        json!(["orders-api", ""]),
        json!(5),
        json!(null),
        json!(true),
        json!({"orders-api": true}),
        json!(["orders-api", 5]),
        json!([["orders-api"]]),
    ] {
        refused(&p, &hmac_with("aud", aud), AUD);
    }
}

#[test]
fn audience_compared_exactly() {
    let p = seed();
    for aud in [
        "Orders-API",
        "ORDERS-API",
        "orders-api/",
        "orders-api ",
        " orders-api",
        "orders",
        "orders-api-v2",
        "https://orders-api",
        "orders\u{2010}api", // Unicode hyphen
    ] {
        refused(
            &p,
            &rs256(&claims("customer-portal", json!(aud), "orders:read")),
            AUD,
        );
    }
}

#[test]
fn several_audiences_without_azp_are_audience_not_allowed() {
    let p = seed();
    let mut c = claims("backoffice", json!(["orders-api", "hr-api"]), "orders:read");
    c.as_object_mut().unwrap().remove("azp");
    c["client_id"] = json!("backoffice");
    refused(&p, &rs256(&c), AUD);
    // azp of the wrong type does not count either (and is a malformed client claim).
    c["azp"] = json!(5);
    refused(&p, &rs256(&c), INVALID);
    // With azp, the same token passes.
    let with_azp = claims("backoffice", json!(["orders-api", "hr-api"]), "orders:read");
    allowed(&p, &rs256(&with_azp));
    // An empty azp names nobody, also when azp is not a client claim (where it would
    // otherwise be a malformed client claim).
    let mut config = seed_config();
    config["issuers"][0]["client_claims"] = json!(["client_id"]);
    let client_id_only = policy(&config);
    c["azp"] = json!("");
    let empty_azp = run(&client_id_only, &bearer(&rs256(&c)));
    assert_eq!(outcome(&empty_azp), AUD);
    c["azp"] = json!("backoffice");
    let with_azp = run(&client_id_only, &bearer(&rs256(&c)));
    assert_eq!(outcome(&with_azp), (200, "allowed"));
}

#[test]
fn untrusted_extra_audience_is_audience_not_allowed() {
    let p = seed();
    for aud in [
        json!(["orders-api", "billing-api"]),
        json!(["billing-api", "orders-api"]),
        json!(["orders-api", "Orders-API"]),
        json!(["orders-api", "hr-api", "evil"]),
    ] {
        refused(&p, &rs256(&claims("backoffice", aud, "orders:read")), AUD);
    }
}

#[test]
fn audience_of_another_service_is_audience_not_allowed() {
    let p = seed();
    refused(
        &p,
        &rs256(&claims("backoffice", json!("hr-api"), "orders:read")),
        AUD,
    );
}

// --- scopes -----------------------------------------------------------------------------------

#[test]
fn scope_of_the_wrong_type_is_invalid_token() {
    // policy.rs `scopes_of`: a present scope claim that is neither a string nor an array
    // of strings makes the token invalid.
    let p = seed();
    for scope in [
        json!(5),
        json!(null),
        json!({"orders:read": true}),
        json!(true),
        json!(["orders:read", 5]),
        json!([["orders:read"]]),
    ] {
        refused(&p, &hmac_with("scope", scope), INVALID);
    }
}

#[test]
fn scope_needs_an_exact_match_no_prefix_or_case_folding() {
    let p = seed();
    for scope in [
        "orders:readwrite",
        "orders:rea",
        "orders",
        "orders:*",
        "*",
        "ORDERS:READ",
        "Orders:Read",
        "orders:read:all",
        "xorders:read",
        "orders:read,orders:write",
        "orders:read\torders:write",
        "",
    ] {
        let d = run(
            &p,
            &bearer(&rs256(&claims(
                "customer-portal",
                json!("orders-api"),
                scope,
            ))),
        );
        assert_eq!(outcome(&d), (403, "insufficient_scope"), "scope {scope:?}");
        assert_no_identity(&d, &[]);
    }
    allowed(&p, good_token());
}

#[test]
fn repeated_spaces_between_scopes_are_fine() {
    let p = seed();
    for scope in [
        "  orders:read",
        "orders:read   ",
        "profile    orders:read   email",
        " orders:write  orders:read ",
    ] {
        allowed(
            &p,
            &rs256(&claims("customer-portal", json!("orders-api"), scope)),
        );
    }
}

#[test]
fn scp_as_an_array_is_accepted() {
    let p = seed();
    let mut c = good_claims();
    c.as_object_mut().unwrap().remove("scope");
    c["scp"] = json!(["profile", "orders:read"]);
    let d = run(&p, &bearer(&rs256(&c)));
    assert_eq!(outcome(&d), OK);
    assert!(set_ops(&d).contains(&("x-jwt-scopes".into(), "orders:read".into())));
    c["scp"] = json!("orders:read");
    allowed(&p, &rs256(&c));
    c["scp"] = json!(["ORDERS:READ"]);
    refused(&p, &rs256(&c), (403, "insufficient_scope"));
}

/// A scope value that is not an RFC 6749 scope-token (an array element holding a space,
/// a tab, a quote, or nothing) is neither granted nor forwarded: joined into the
/// space-separated scopes header, `"orders:write admin"` would tell the upstream about
/// `orders:write`, which the filter never granted (the same token cannot POST).
#[test]
fn scope_values_that_are_not_scope_tokens_are_neither_granted_nor_forwarded() {
    let p = seed(); // hmac-client may use every scope at orders-api
    for scope in [
        json!(["orders:read", "orders:write admin"]),
        json!([
            "orders:read",
            "orders:write\tadmin",
            "",
            " ",
            "x\"y",
            "caf\u{e9}"
        ]),
        json!("orders:read orders:write\tadmin"),
    ] {
        let mut c = claims("hmac-client", json!("orders-api"), "");
        c["scope"] = scope.clone();
        let t = rs256(&c);
        let d = run(&p, &get("/orders/1", Some(&t)));
        assert_eq!(outcome(&d), OK, "{scope}");
        assert!(
            set_ops(&d).contains(&("x-jwt-scopes".into(), "orders:read".into())),
            "{scope}: {:?}",
            set_ops(&d)
        );
        assert!(d.dropped_headers.is_empty(), "{scope}");
        let d = run(&p, &request("POST", "/orders", Some(&t)));
        assert_eq!(outcome(&d), (403, "insufficient_scope"), "{scope}");
    }
}

#[test]
fn insufficient_scope_challenge_names_the_required_scopes() {
    let p = seed();
    let t = rs256(&claims("backoffice", json!("orders-api"), "orders:read"));
    let d = assert_refused(
        &p,
        &request("POST", "/orders", Some(&t)),
        (403, "insufficient_scope"),
    );
    let audience_guard::Verdict::Deny(denial) = &d.verdict else {
        panic!()
    };
    let challenge = denial.www_authenticate.as_deref().unwrap();
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert!(challenge.contains("scope=\"orders:write\""), "{challenge}");
}

// --- forwarded claim values ----------------------------------------------------------------------

fn forward_config() -> Value {
    let mut c = seed_config();
    c["forward"]["claims"] =
        json!({"sub": "x-jwt-sub", "note": "x-jwt-note", "tenant": "x-jwt-tenant"});
    c["token"] = json!({"max_bytes": 65536});
    c
}

#[test]
fn forwarded_claim_with_control_characters_is_left_out_but_allowed() {
    let p = policy(&forward_config());
    for bad in [
        "a\r\nx-admin: true",
        "a\nb",
        "a\rb",
        "a\u{0}b",
        "\u{7f}",
        "tab\there",
        "\u{1b}[31m",
        "\u{85}next-line",
    ] {
        let mut c = good_claims();
        c["note"] = json!(bad);
        c["tenant"] = json!("t1");
        let d = run(&p, &bearer(&rs256(&c)));
        assert_eq!(outcome(&d), OK, "{bad:?}");
        let set = set_ops(&d);
        assert!(
            !set.iter().any(|(n, _)| n == "x-jwt-note"),
            "{bad:?}: {set:?}"
        );
        assert!(set.contains(&("x-jwt-tenant".into(), "t1".into())));
        assert!(set.contains(&("x-jwt-sub".into(), "user-1".into())));
        assert!(set.contains(&("x-jwt-client".into(), "customer-portal".into())));
        assert!(set.iter().all(|(_, v)| !v.chars().any(char::is_control)));
    }
}

/// HTTP parsers trim a field value's surrounding spaces (RFC 9110 §5.5): forwarded,
/// `" admin"` would reach the upstream as the identity `admin`. Such a value is left out.
#[test]
fn forwarded_claim_with_surrounding_spaces_is_left_out_but_allowed() {
    let p = policy(&forward_config());
    for padded in [" admin", "admin ", " admin ", " "] {
        let mut c = good_claims();
        c["sub"] = json!(padded);
        c["note"] = json!(padded);
        c["tenant"] = json!("t1");
        let d = run(&p, &bearer(&rs256(&c)));
        assert_eq!(outcome(&d), OK, "{padded:?}");
        let set = set_ops(&d);
        assert!(
            !set.iter()
                .any(|(n, _)| n == "x-jwt-sub" || n == "x-jwt-note"),
            "{padded:?}: {set:?}"
        );
        assert!(set.contains(&("x-jwt-tenant".into(), "t1".into())));
    }
    // Inner spaces and other space characters (not trimmed by HTTP) are forwarded.
    let mut c = good_claims();
    c["note"] = json!("a b\u{a0}");
    let d = run(&p, &bearer(&rs256(&c)));
    assert!(set_ops(&d).contains(&("x-jwt-note".into(), "a b\u{a0}".into())));
}

#[test]
fn forwarded_claim_over_4_kib_is_left_out_but_allowed() {
    let p = policy(&forward_config());
    for (len, forwarded) in [(4096usize, true), (4097, false), (40 * 1024, false)] {
        let mut c = good_claims();
        c["note"] = json!("n".repeat(len));
        let d = run(&p, &bearer(&rs256(&c)));
        assert_eq!(outcome(&d), OK, "{len}");
        let has = set_ops(&d).iter().any(|(n, _)| n == "x-jwt-note");
        assert_eq!(has, forwarded, "{len}");
    }
    // An array of many scalars that joins to over 4 KiB.
    let mut c = good_claims();
    c["note"] = json!(vec!["abcdefgh"; 1000]);
    let d = run(&p, &bearer(&rs256(&c)));
    assert_eq!(outcome(&d), OK);
    assert!(!set_ops(&d).iter().any(|(n, _)| n == "x-jwt-note"));
}

#[test]
fn forwarded_claim_of_100_kib_makes_the_token_too_large() {
    let p = policy(&forward_config());
    let mut c = good_claims();
    c["note"] = json!("n".repeat(100 * 1024));
    refused(&p, &rs256(&c), INVALID);
}

#[test]
fn control_characters_in_sub_are_left_out() {
    let p = seed();
    let mut c = good_claims();
    c["sub"] = json!("admin\r\nx-jwt-client: backoffice");
    let d = run(&p, &bearer(&rs256(&c)));
    assert_eq!(outcome(&d), OK);
    let set = set_ops(&d);
    assert!(!set.iter().any(|(n, _)| n == "x-jwt-sub"), "{set:?}");
    assert!(set.contains(&("x-jwt-client".into(), "customer-portal".into())));
}

#[test]
fn numbers_booleans_arrays_and_objects_are_forwarded_as_text() {
    let p = policy(&forward_config());
    let mut c = good_claims();
    c["tenant"] = json!(42);
    c["note"] = json!(["a", 1, true]);
    let d = run(&p, &bearer(&rs256(&c)));
    assert_eq!(outcome(&d), OK);
    let set = set_ops(&d);
    assert!(
        set.contains(&("x-jwt-tenant".into(), "42".into())),
        "{set:?}"
    );
    assert!(
        set.contains(&("x-jwt-note".into(), "a,1,true".into())),
        "{set:?}"
    );
    c["note"] = json!({"k": "v"});
    let d = run(&p, &bearer(&rs256(&c)));
    assert!(set_ops(&d).contains(&("x-jwt-note".into(), b64(r#"{"k":"v"}"#))));
}

#[test]
fn control_characters_in_an_unforwarded_claim_do_not_matter() {
    let p = seed();
    let mut c = good_claims();
    c["name"] = json!("a\r\n\u{0}b");
    allowed(&p, &rs256(&c));
}

// --- the presenting client ---------------------------------------------------------------------

const CLIENT: (u16, &str) = (403, "client_not_allowed");

fn enforce_hr() -> Policy {
    let mut c = seed_config();
    c["rules"][3]["mode"] = json!("enforce");
    policy(&c)
}

#[test]
fn client_not_allowed_for_the_matched_audience_is_403() {
    let p = enforce_hr();
    let mut c = claims("customer-portal", json!("hr-api"), "hr:read");
    c["groups"] = json!(["hr-staff"]);
    let d = run(&p, &get("/hr/people", Some(&rs256(&c))));
    assert_eq!(outcome(&d), CLIENT);
    assert_no_identity(&d, &[]);
    let mut ok = claims("backoffice", json!("hr-api"), "hr:read");
    ok["groups"] = json!(["hr-staff"]);
    assert_eq!(outcome(&run(&p, &get("/hr/people", Some(&rs256(&ok))))), OK);
}

#[test]
fn unknown_client_is_403() {
    let p = seed();
    for client in [
        "stranger",
        "Customer-Portal",
        "customer-portal ",
        "customer",
    ] {
        refused(
            &p,
            &rs256(&claims(client, json!("orders-api"), "orders:read")),
            CLIENT,
        );
    }
}

#[test]
fn client_without_an_entry_for_the_audience_is_403_even_with_a_wildcard_elsewhere() {
    // hmac-client may use every scope at orders-api, nothing at hr-api.
    let p = enforce_hr();
    let mut c = claims("hmac-client", json!("hr-api"), "hr:read");
    c["groups"] = json!(["hr-staff"]);
    let d = run(&p, &get("/hr/x", Some(&rs256(&c))));
    assert_eq!(outcome(&d), CLIENT);
    assert_no_identity(&d, &[]);
    allowed(
        &p,
        &rs256(&claims("hmac-client", json!("orders-api"), "orders:read")),
    );
}

#[test]
fn the_same_token_is_checked_against_each_rule() {
    // Whatever is cached between requests, a token good for one rule is not waved
    // through another.
    let p = seed();
    let t = good_token();
    for _ in 0..3 {
        assert_eq!(outcome(&run(&p, &get("/orders/1", Some(t)))), OK);
        let d = run(&p, &request("POST", "/orders/1", Some(t)));
        assert_eq!(outcome(&d), (403, "insufficient_scope"));
        assert_no_identity(&d, &[]);
        assert_eq!(
            outcome(&run(&p, &get("/unconfigured", Some(t)))),
            (403, "insufficient_scope")
        );
    }
}

#[test]
fn client_id_is_used_when_azp_is_missing() {
    let p = seed();
    let mut c = good_claims();
    c.as_object_mut().unwrap().remove("azp");
    c["client_id"] = json!("customer-portal");
    allowed(&p, &rs256(&c));
    c["client_id"] = json!("stranger");
    refused(&p, &rs256(&c), CLIENT);
}

#[test]
fn azp_wins_over_client_id() {
    let p = seed();
    let mut c = claims("stranger", json!("orders-api"), "orders:read");
    c["client_id"] = json!("customer-portal");
    refused(&p, &rs256(&c), CLIENT);
}

#[test]
fn both_client_claims_missing_with_clients_set_is_403() {
    let p = seed();
    let mut c = good_claims();
    c.as_object_mut().unwrap().remove("azp");
    refused(&p, &rs256(&c), CLIENT);
}

#[test]
fn both_client_claims_missing_without_clients_is_allowed() {
    let mut config = seed_config();
    config.as_object_mut().unwrap().remove("clients");
    let p = policy(&config);
    let mut c = good_claims();
    c.as_object_mut().unwrap().remove("azp");
    let d = run(&p, &bearer(&rs256(&c)));
    assert_eq!(outcome(&d), OK);
    assert!(!set_ops(&d).iter().any(|(n, _)| n == "x-jwt-client"));
}

#[test]
fn client_claim_of_the_wrong_type_is_invalid_token() {
    let p = seed();
    for azp in [
        json!(5),
        json!(""),
        json!(null),
        json!(["hmac-client"]),
        json!({}),
    ] {
        refused(&p, &hmac_with("azp", azp), INVALID);
    }
}

#[test]
fn rule_client_list_refuses_other_clients() {
    let mut config = seed_config();
    config["rules"][1]["clients"] = json!(["backoffice"]);
    let p = policy(&config);
    let backoffice = rs256(&claims("backoffice", json!("orders-api"), "orders:read"));
    assert_refused_then(&p, &good_request(), CLIENT, &bearer(&backoffice));
}
