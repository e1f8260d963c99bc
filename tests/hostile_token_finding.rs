//! HOSTILE.md — "Finding the token": where the one token comes from, the strict bearer
//! grammar (RFC 6750 §2.1), more than one credential, non-UTF-8 header bytes, and
//! client-sent copies of identity headers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
use audience_guard::{HeaderOp, Policy, Request, Verdict};
use common::*;
use serde_json::{json, Value};

fn seed() -> Policy {
    policy(&seed_config())
}

fn auth(value: &str) -> Request {
    with_authorization("/orders/1", value.as_bytes())
}

// --- no token, other schemes ------------------------------------------------------

#[test]
fn no_token_is_401_missing_token_with_a_bare_challenge() {
    let p = seed();
    let d = assert_refused(&p, &get("/orders/1", None), (401, "missing_token"));
    let Verdict::Deny(denial) = &d.verdict else {
        panic!("{d:?}")
    };
    assert_eq!(
        denial.www_authenticate.as_deref(),
        Some("Bearer realm=\"orders\"")
    );
    assert!(denial.body.contains("\"error\":\"missing_token\""));
}

#[test]
fn basic_scheme_counts_as_no_token() {
    let p = seed();
    for value in [
        "Basic dXNlcjpwYXNz",
        "Basic",
        "Digest username=\"x\"",
        "Bearerx a.b.c",
    ] {
        assert_refused(&p, &auth(value), (401, "missing_token"));
    }
}

#[test]
fn empty_authorization_header_counts_as_no_token() {
    assert_refused(&seed(), &auth(""), (401, "missing_token"));
}

// --- malformed bearer credentials -------------------------------------------------

#[test]
fn bearer_alone_is_invalid_token() {
    assert_refused(&seed(), &auth("Bearer"), (401, "invalid_token"));
}

#[test]
fn bearer_with_only_spaces_is_invalid_token() {
    let p = seed();
    for value in ["Bearer ", "Bearer    ", "bearer  "] {
        assert_refused(&p, &auth(value), (401, "invalid_token"));
    }
}

#[test]
fn bearer_followed_by_a_tab_is_invalid_token() {
    let p = seed();
    let t = good_token();
    for value in [
        format!("Bearer\t{t}"),
        format!("Bearer \t{t}"),
        "Bearer\t".to_owned(),
        format!("Bearer {t}\t"),
    ] {
        assert_refused(&p, &auth(&value), (401, "invalid_token"));
    }
}

#[test]
fn bearer_with_trailing_garbage_is_invalid_token() {
    let p = seed();
    let t = good_token();
    for value in [
        format!("Bearer {t};"),
        format!("Bearer {t}\""),
        format!("Bearer {t} "),
        format!("Bearer {t},"),
        format!("Bearer {t}, "),
        format!("Bearer \"{t}\""),
        format!("Bearer {t}\r\n"),
        format!("Bearer {t}\0"),
    ] {
        assert_refused(&p, &auth(&value), (401, "invalid_token"));
    }
}

#[test]
fn bearer_with_a_second_word_is_invalid_token() {
    let p = seed();
    let t = good_token();
    for value in [
        format!("Bearer {t} {t}"),
        format!("Bearer {t} extra"),
        format!("Bearer extra {t}"),
        format!("Bearer {t} realm=\"x\""),
    ] {
        assert_refused(&p, &auth(&value), (401, "invalid_token"));
    }
}

#[test]
fn bearer_with_a_garbage_token_is_invalid_token() {
    let p = seed();
    for value in ["Bearer x", "Bearer a.b.c", "Bearer ...", "Bearer ."] {
        assert_refused(&p, &auth(value), (401, "invalid_token"));
    }
}

// --- accepted spellings ---------------------------------------------------------

#[test]
fn bearer_scheme_is_case_insensitive_and_allows_several_spaces() {
    let p = seed();
    let t = good_token();
    for value in [
        format!("Bearer {t}"),
        format!("bearer {t}"),
        format!("BEARER {t}"),
        format!("bEaReR {t}"),
        format!("Bearer  {t}"),
        format!("Bearer       {t}"),
    ] {
        assert_eq!(
            outcome(&run(&p, &auth(&value))),
            (200, "allowed"),
            "{value}"
        );
    }
}

// --- more than one credential -----------------------------------------------------

#[test]
fn two_tokens_joined_by_envoy_are_400() {
    let p = seed();
    let t = good_token();
    for value in [
        format!("Bearer {t},Bearer {t}"),
        format!("Bearer {t}, Bearer {t}"),
        format!("Bearer {t},Bearer x.y.z"),
        format!("Bearer x.y.z,Bearer {t}"),
        format!("Bearer {t}, Basic dXNlcjpwYXNz"),
        format!("Basic dXNlcjpwYXNz, Bearer {t}"),
    ] {
        let d = assert_refused(&p, &auth(&value), (400, "multiple_tokens"));
        let Verdict::Deny(denial) = &d.verdict else {
            panic!()
        };
        assert!(denial
            .www_authenticate
            .as_deref()
            .unwrap()
            .contains("error=\"invalid_request\""));
    }
}

#[test]
fn two_authorization_header_entries_are_400() {
    let p = seed();
    let t = good_token();
    let req = add_header(
        good_request(),
        "authorization",
        format!("Bearer {t}").as_bytes(),
    );
    assert_refused(&p, &req, (400, "multiple_tokens"));
    let req = add_header(good_request(), "authorization", b"Bearer");
    assert_refused(&p, &req, (400, "multiple_tokens"));
}

/// SPEC §2: "two tokens / repeated header → 400". Envoy normally joins a repeated
/// `authorization` header (`Basic x,Bearer t` → 400 above); if the entries reach the
/// filter separately, the answer must be the same.
#[test]
fn basic_and_bearer_in_two_authorization_entries_are_400() {
    let p = seed();
    let req = add_header(
        with_authorization("/orders/1", b"Basic dXNlcjpwYXNz"),
        "authorization",
        format!("Bearer {}", good_token()).as_bytes(),
    );
    assert_refused(&p, &req, (400, "multiple_tokens"));
}

fn config_with_sources(sources: Value) -> Value {
    let mut c = seed_config();
    c["token"] = json!({ "sources": sources });
    c
}

/// `"Bearer "` (Envoy jwt_authn's `value_prefix` spelling) names the scheme `Bearer`.
#[test]
fn a_prefix_with_trailing_spaces_names_the_scheme() {
    let p = policy(&config_with_sources(
        json!([{"header": "authorization", "prefix": "Bearer  "}]),
    ));
    let t = good_token();
    assert_eq!(
        outcome(&run(&p, &get("/orders/1", Some(t)))),
        (200, "allowed")
    );
    let req = add_header(
        get("/orders/1", None),
        "authorization",
        format!("bearer   {t}").as_bytes(),
    );
    assert_eq!(outcome(&run(&p, &req)), (200, "allowed"));
}

#[test]
fn token_in_header_and_query_is_400() {
    let p = policy(&config_with_sources(json!([
        {"header": "authorization", "prefix": "Bearer"},
        {"query": "access_token"}
    ])));
    let t = good_token();
    let req = get(&format!("/orders/1?access_token={t}"), Some(t));
    assert_refused(&p, &req, (400, "multiple_tokens"));
    // Also when only the second is well-formed.
    let req = get(&format!("/orders/1?access_token={t}"), Some("x"));
    assert_refused(&p, &req, (400, "multiple_tokens"));
}

#[test]
fn token_in_header_and_cookie_is_400() {
    let p = policy(&config_with_sources(json!([
        {"header": "authorization", "prefix": "Bearer"},
        {"cookie": "jwt"}
    ])));
    let t = good_token();
    let req = add_header(
        get("/orders/1", Some(t)),
        "cookie",
        format!("jwt={t}").as_bytes(),
    );
    assert_refused(&p, &req, (400, "multiple_tokens"));
}

#[test]
fn token_twice_in_query_or_cookie_is_400() {
    let p = policy(&config_with_sources(json!([
        {"query": "access_token"},
        {"cookie": "jwt"}
    ])));
    let t = good_token();
    let next = get(&format!("/orders/1?access_token={t}"), None);
    let twice = get(
        &format!("/orders/1?access_token={t}&access_token={t}"),
        None,
    );
    assert_refused_then(&p, &twice, (400, "multiple_tokens"), &next);
    let cookies = add_header(
        get("/orders/1", None),
        "cookie",
        format!("jwt={t}; jwt={t}").as_bytes(),
    );
    assert_refused_then(&p, &cookies, (400, "multiple_tokens"), &next);
    let both = add_header(
        get(&format!("/orders/1?access_token={t}"), None),
        "cookie",
        format!("jwt={t}").as_bytes(),
    );
    assert_refused_then(&p, &both, (400, "multiple_tokens"), &next);
}

// --- non-UTF-8 bytes ----------------------------------------------------------------

#[test]
fn non_utf8_authorization_is_invalid_token() {
    let p = seed();
    let t = good_token();
    for value in [
        b"\xff".to_vec(),
        b"\xff\xfe\xfd".to_vec(),
        b"Bearer \xff".to_vec(),
        [b"Bearer ".as_slice(), t.as_bytes(), b"\xff"].concat(),
        [b"Bearer \xff".as_slice(), t.as_bytes()].concat(),
        [b"\xffBearer ".as_slice(), t.as_bytes()].concat(),
    ] {
        assert_refused(
            &p,
            &with_authorization("/orders/1", &value),
            (401, "invalid_token"),
        );
    }
}

/// Another scheme's credential stays another scheme's with bytes that are not UTF-8
/// (`Basic` + Latin-1): no token, as for any `Basic`, not a broken bearer token.
#[test]
fn non_utf8_credential_of_another_scheme_counts_as_no_token() {
    let p = seed();
    for value in [
        &b"Basic \xff\xfe"[..],
        b"Basic dXNl\xe9",
        b"Digest realm=\"caf\xe9\"",
    ] {
        assert_refused(
            &p,
            &with_authorization("/orders/1", value),
            (401, "missing_token"),
        );
        // on the anonymous rule it passes, the credential left for the upstream
        let d = run(&p, &with_authorization("/healthz", value));
        assert_eq!(outcome(&d), (200, "allowed"), "{value:?}");
        assert!(
            !d.header_ops
                .iter()
                .any(|op| matches!(op, HeaderOp::Remove(n) if &**n == "authorization")),
            "{value:?}"
        );
    }
}

#[test]
fn non_utf8_in_an_unrelated_header_does_not_matter() {
    let p = seed();
    let req = add_header(good_request(), "x-custom", b"\xff\xfe");
    assert_eq!(outcome(&run(&p, &req)), (200, "allowed"));
    let req = add_header(good_request(), "user-agent", b"caf\xe9");
    assert_eq!(outcome(&run(&p, &req)), (200, "allowed"));
    let req = add_header(get("/orders/1", None), "x-custom", b"\xff");
    assert_refused(&p, &req, (401, "missing_token"));
}

#[test]
fn non_utf8_spoofed_identity_header_is_removed_and_request_allowed() {
    let p = seed();
    let req = add_header(good_request(), "x-jwt-sub", b"\xffadmin");
    let d = run(&p, &req);
    assert_eq!(outcome(&d), (200, "allowed"));
    assert!(removed(&d).contains(&"x-jwt-sub".to_owned()));
    assert!(set_ops(&d).contains(&("x-jwt-sub".into(), "user-1".into())));
}

/// Non-UTF-8 bytes in a cookie header do not hide our cookie: it counts as a broken
/// credential (beside a bearer token: two credentials). Other cookies are ignored.
#[test]
fn non_utf8_cookie_header_is_seen_when_it_holds_our_cookie() {
    let p = policy(&config_with_sources(json!([
        {"header": "authorization", "prefix": "Bearer"},
        {"cookie": "jwt"}
    ])));
    let req = add_header(good_request(), "cookie", b"jwt=\xff\xfe");
    assert_refused(&p, &req, (400, "multiple_tokens"));
    let req = add_header(good_request(), "cookie", b"jwt=abc; x=\xff");
    assert_refused(&p, &req, (400, "multiple_tokens"));
    let req = add_header(get("/orders/1", None), "cookie", b"jwt=abc; x=\xff");
    assert_refused(&p, &req, (401, "invalid_token"));
    let req = add_header(good_request(), "cookie", b"a=\xff");
    assert_eq!(outcome(&run(&p, &req)), (200, "allowed"));
    let req = add_header(get("/orders/1", None), "cookie", b"a=\xff");
    assert_refused(&p, &req, (401, "missing_token"));
}

/// `keep_token: false` removes our credential, not another scheme's.
#[test]
fn another_schemes_credential_is_forwarded() {
    let p = seed();
    let req = add_header(
        get("/healthz", None),
        "authorization",
        b"Basic dXNlcjpwYXNz",
    );
    let d = run(&p, &req);
    assert_eq!(outcome(&d), (200, "allowed"));
    assert!(!removed(&d).contains(&"authorization".to_owned()));
    let d = run(&p, &good_request());
    assert!(removed(&d).contains(&"authorization".to_owned()));
}

// --- spoofed identity headers -------------------------------------------------------

/// A config whose output headers mostly do not start with `x-jwt-`.
fn custom_output_config() -> Value {
    let mut c = seed_config();
    c["forward"] = json!({
        "claims": {"sub": "x-user", "tenant": "x-jwt-tenant"},
        "client_header": "x-client-id",
        "scopes_header": "x-scopes",
        "audience_header": "x-aud"
    });
    c
}

const CUSTOM_OUTPUTS: [&str; 5] = ["x-user", "x-jwt-tenant", "x-client-id", "x-scopes", "x-aud"];

fn spoof(req: Request) -> Request {
    let mut req = req;
    for name in CUSTOM_OUTPUTS
        .iter()
        .chain(&["x-jwt-sub", "x-jwt-anything", "x-jwt-client"])
    {
        req.headers.push(name, b"admin");
    }
    req
}

fn assert_all_spoofs_removed(d: &audience_guard::Decision) {
    let gone = removed(d);
    for name in CUSTOM_OUTPUTS
        .iter()
        .chain(&["x-jwt-sub", "x-jwt-anything", "x-jwt-client"])
    {
        assert!(gone.contains(&(*name).to_owned()), "{name} kept: {d:?}");
    }
}

#[test]
fn spoofed_output_headers_are_removed_on_allow_before_being_set() {
    let p = policy(&custom_output_config());
    let d = run(&p, &spoof(good_request()));
    assert_eq!(outcome(&d), (200, "allowed"));
    assert_all_spoofs_removed(&d);
    let set = set_ops(&d);
    assert!(set.contains(&("x-user".into(), "user-1".into())), "{set:?}");
    assert!(set.contains(&("x-client-id".into(), "customer-portal".into())));
    assert!(set.contains(&("x-scopes".into(), "orders:read".into())));
    assert!(set.contains(&("x-aud".into(), "orders-api".into())));
    // No client value survives: every Remove of a name precedes its Set.
    for (name, _) in &set {
        let remove_at = d
            .header_ops
            .iter()
            .position(|op| op == &HeaderOp::Remove(name.as_str().into()));
        let set_at = d
            .header_ops
            .iter()
            .position(|op| matches!(op, HeaderOp::Set(n, _) if **n == **name));
        assert!(remove_at < set_at, "{name}: {:?}", d.header_ops);
    }
}

/// CGI-style upstreams (WSGI, Rack, PHP) read `_` as `-` in header names: a client-sent
/// `x_user` or `x_jwt_tenant` is the output header there, and goes like it, on every path.
#[test]
fn underscore_spellings_of_output_headers_are_removed() {
    let p = policy(&custom_output_config());
    let spellings = [
        "x_user",
        "x_client-id",
        "x-client_id",
        "x_scopes",
        "x_aud",
        "x_jwt_tenant",
        "x_jwt-other",
    ];
    let t = rs256(&claims("backoffice", json!("hr-api"), "hr:read"));
    for req in [
        good_request(),
        get("/healthz", None),
        get("/orders/1", Some("a.b.c")),
        get("/hr/people", Some(&t)),
    ] {
        let mut req = req;
        for name in spellings {
            req.headers.push(name, b"admin");
        }
        req.headers.push("x-other_header", b"kept");
        let d = run(&p, &req);
        let gone = removed(&d);
        for name in spellings {
            assert!(gone.contains(&name.to_owned()), "{name} kept: {d:?}");
        }
        assert!(!gone.contains(&"x-other_header".to_owned()), "{d:?}");
    }
}

#[test]
fn spoofed_output_headers_are_removed_on_deny() {
    let p = policy(&custom_output_config());
    for req in [
        get("/orders/1", None),
        get("/orders/1", Some("a.b.c")),
        request("POST", "/orders/1", Some(good_token())),
        get("/unconfigured", Some(good_token())),
    ] {
        let d = run(&p, &spoof(req));
        assert!(matches!(d.verdict, Verdict::Deny(_)), "{d:?}");
        assert_all_spoofs_removed(&d);
        assert_no_identity(&d, &CUSTOM_OUTPUTS);
    }
}

#[test]
fn spoofed_output_headers_are_removed_on_anonymous_allow() {
    let p = policy(&custom_output_config());
    let d = run(&p, &spoof(get("/healthz", None)));
    assert_eq!(outcome(&d), (200, "allowed"));
    assert_all_spoofs_removed(&d);
    assert!(set_ops(&d).is_empty(), "{d:?}");
}

#[test]
fn spoofed_output_headers_are_removed_on_dry_run() {
    let p = policy(&custom_output_config());
    let t = rs256(&claims("backoffice", json!("hr-api"), "hr:read"));
    let d = run(&p, &spoof(get("/hr/people", Some(&t))));
    assert_eq!(outcome(&d), (299, "claim_mismatch"));
    assert_all_spoofs_removed(&d);
    assert_no_identity(&d, &CUSTOM_OUTPUTS);
}

#[test]
fn spoofed_headers_are_removed_on_invalid_path_and_unmatched_allow() {
    let mut c = custom_output_config();
    c["unmatched"] = json!("allow");
    let p = policy(&c);
    let d = run(&p, &spoof(get("/orders/../hr", Some(good_token()))));
    assert_eq!(outcome(&d), (400, "invalid_path"));
    assert_all_spoofs_removed(&d);
    let d = run(&p, &spoof(get("/elsewhere", None)));
    assert_eq!(outcome(&d), (200, "allowed"));
    assert_all_spoofs_removed(&d);
    assert!(set_ops(&d).is_empty());
}

#[test]
fn strip_prefix_off_still_removes_configured_output_headers() {
    let mut c = custom_output_config();
    c["forward"]["strip_prefix"] = json!("");
    let p = policy(&c);
    let d = run(&p, &spoof(get("/orders/1", None)));
    let gone = removed(&d);
    for name in CUSTOM_OUTPUTS {
        assert!(gone.contains(&name.to_owned()), "{name}");
    }
    assert!(!gone.contains(&"x-jwt-anything".to_owned()));
}

// --- the token is removed from the forwarded request unless keep_token ---------------

#[test]
fn authorization_header_is_removed_unless_keep_token() {
    let p = seed();
    let d = run(&p, &good_request());
    assert_eq!(outcome(&d), (200, "allowed"));
    assert!(removed(&d).contains(&"authorization".to_owned()));

    let mut c = seed_config();
    c["forward"]["keep_token"] = json!(true);
    let d = run(&policy(&c), &good_request());
    assert_eq!(outcome(&d), (200, "allowed"));
    assert!(!removed(&d).contains(&"authorization".to_owned()));
}

#[test]
fn query_source_finds_the_token_and_strips_it_from_the_path() {
    let p = policy(&config_with_sources(json!([{"query": "access_token"}])));
    let t = good_token();
    let d = run(
        &p,
        &get(&format!("/orders/1?a=1&access_token={t}&b=2"), None),
    );
    assert_eq!(outcome(&d), (200, "allowed"));
    assert!(
        d.header_ops
            .contains(&HeaderOp::Set(":path".into(), "/orders/1?a=1&b=2".into())),
        "{:?}",
        d.header_ops
    );
    let d = run(&p, &get(&format!("/orders/1?access_token={t}"), None));
    assert_eq!(outcome(&d), (200, "allowed"));
    assert!(d
        .header_ops
        .contains(&HeaderOp::Set(":path".into(), "/orders/1".into())));
    // The bearer header is not a source here: a header token alone is no token.
    assert_refused_then(
        &p,
        &get("/orders/1", Some(t)),
        (401, "missing_token"),
        &get(&format!("/orders/1?access_token={t}"), None),
    );
}

#[test]
fn query_source_keeps_the_token_with_keep_token() {
    let mut c = config_with_sources(json!([{"query": "access_token"}]));
    c["forward"]["keep_token"] = json!(true);
    let p = policy(&c);
    let t = good_token();
    let d = run(&p, &get(&format!("/orders/1?access_token={t}"), None));
    assert_eq!(outcome(&d), (200, "allowed"));
    assert!(!set_ops(&d).iter().any(|(n, _)| n == ":path"), "{d:?}");
}

#[test]
fn query_source_with_a_broken_token_is_invalid_token() {
    let p = policy(&config_with_sources(json!([{"query": "access_token"}])));
    let t = good_token();
    let next = get(&format!("/orders/1?access_token={t}"), None);
    for path in [
        "/orders/1?access_token=".to_owned(),
        "/orders/1?access_token=a.b.c".to_owned(),
        format!("/orders/1?access_token={t}%20"),
        format!("/orders/1?access_token={}", &t[..t.len() - 2]),
    ] {
        assert_refused_then(&p, &get(&path, None), (401, "invalid_token"), &next);
    }
}

#[test]
fn cookie_source_finds_the_token_and_strips_the_cookie() {
    let p = policy(&config_with_sources(json!([{"cookie": "jwt"}])));
    let t = good_token();
    let req = add_header(
        get("/orders/1", None),
        "cookie",
        format!("a=1; jwt={t}; b=2").as_bytes(),
    );
    let d = run(&p, &req);
    assert_eq!(outcome(&d), (200, "allowed"));
    assert!(
        d.header_ops
            .contains(&HeaderOp::Set("cookie".into(), "a=1; b=2".into())),
        "{:?}",
        d.header_ops
    );
    let only = add_header(
        get("/orders/1", None),
        "cookie",
        format!("jwt={t}").as_bytes(),
    );
    let d = run(&p, &only);
    assert_eq!(outcome(&d), (200, "allowed"));
    assert!(removed(&d).contains(&"cookie".to_owned()));
    assert!(!set_ops(&d).iter().any(|(n, _)| n == "cookie"));
}

#[test]
fn cookie_source_keeps_the_cookie_with_keep_token() {
    let mut c = config_with_sources(json!([{"cookie": "jwt"}]));
    c["forward"]["keep_token"] = json!(true);
    let p = policy(&c);
    let t = good_token();
    let req = add_header(
        get("/orders/1", None),
        "cookie",
        format!("a=1; jwt={t}").as_bytes(),
    );
    let d = run(&p, &req);
    assert_eq!(outcome(&d), (200, "allowed"));
    assert!(!removed(&d).contains(&"cookie".to_owned()));
    assert!(!set_ops(&d).iter().any(|(n, _)| n == "cookie"));
}

#[test]
fn cookie_source_ignores_other_cookies_and_missing_is_401() {
    let p = policy(&config_with_sources(json!([{"cookie": "jwt"}])));
    let t = good_token();
    let next = add_header(
        get("/orders/1", None),
        "cookie",
        format!("jwt={t}").as_bytes(),
    );
    for cookie in [format!("jwtx={t}"), format!("xjwt={t}"), "a=1".to_owned()] {
        let req = add_header(get("/orders/1", None), "cookie", cookie.as_bytes());
        assert_refused_then(&p, &req, (401, "missing_token"), &next);
    }
    let req = add_header(get("/orders/1", None), "cookie", b"jwt=a.b.c");
    assert_refused_then(&p, &req, (401, "invalid_token"), &next);
}

#[test]
fn custom_header_source_without_prefix() {
    let p = policy(&config_with_sources(json!([{"header": "x-token"}])));
    let t = good_token();
    let next = add_header(get("/orders/1", None), "x-token", t.as_bytes());
    assert_eq!(outcome(&run(&p, &next)), (200, "allowed"));
    let req = add_header(
        get("/orders/1", None),
        "x-token",
        format!("{t},{t}").as_bytes(),
    );
    assert_refused_then(&p, &req, (400, "multiple_tokens"), &next);
    let req = add_header(
        get("/orders/1", None),
        "x-token",
        format!("Bearer {t}").as_bytes(),
    );
    assert_refused_then(&p, &req, (401, "invalid_token"), &next);
}
