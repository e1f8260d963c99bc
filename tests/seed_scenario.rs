//! The seed scenario of SPEC.md through `decide`: which client may call which service
//! with which scopes.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod common;
use audience_guard::{HeaderOp, Verdict};
use common::*;
use serde_json::json;

#[test]
fn customer_portal_reads_orders_with_only_read_scope_forwarded() {
    let p = policy(&seed_config());
    let t = rs256(&claims(
        "customer-portal",
        json!("orders-api"),
        "orders:read orders:write",
    ));
    let d = run(&p, &get("/orders/42", Some(&t)));
    assert_eq!(outcome(&d), (200, "allowed"));
    let set = set_ops(&d);
    assert!(
        set.contains(&("x-jwt-scopes".into(), "orders:read".into())),
        "{set:?}"
    );
    assert!(set.contains(&("x-jwt-client".into(), "customer-portal".into())));
    assert!(set.contains(&("x-jwt-audience".into(), "orders-api".into())));
    assert!(set.contains(&("x-jwt-sub".into(), "user-1".into())));
}

#[test]
fn customer_portal_cannot_write_even_with_write_scope_in_token() {
    let p = policy(&seed_config());
    let t = rs256(&claims(
        "customer-portal",
        json!("orders-api"),
        "orders:read orders:write",
    ));
    let d = run(&p, &request("POST", "/orders", Some(&t)));
    assert_eq!(outcome(&d), (403, "insufficient_scope"));
    let Verdict::Deny(denial) = &d.verdict else {
        panic!()
    };
    assert!(denial
        .www_authenticate
        .as_ref()
        .unwrap()
        .contains("scope=\"orders:write\""));
}

#[test]
fn backoffice_writes_orders() {
    let p = policy(&seed_config());
    let t = es256(&claims("backoffice", json!("orders-api"), "orders:write"));
    assert_eq!(
        outcome(&run(&p, &request("POST", "/orders", Some(&t)))),
        (200, "allowed")
    );
}

#[test]
fn two_audiences_need_azp() {
    let p = policy(&seed_config());
    let mut c = claims(
        "backoffice",
        json!(["orders-api", "hr-api"]),
        "hr:read orders:read",
    );
    c["groups"] = json!(["hr-staff"]);
    let with_azp = rs256(&c);
    let d = run(&p, &get("/hr/people", Some(&with_azp)));
    assert_eq!(outcome(&d), (200, "allowed"));
    assert_eq!(d.caller.matched_audience.as_deref(), Some("hr-api"));

    c.as_object_mut().unwrap().remove("azp");
    c["client_id"] = json!("backoffice");
    let without = rs256(&c);
    // The hr rule is a dry run: the denial is computed but the request goes on.
    assert_eq!(
        outcome(&run(&p, &get("/hr/people", Some(&without)))),
        (299, "audience_not_allowed")
    );
    assert_eq!(
        outcome(&run(&p, &get("/orders/1", Some(&without)))),
        (401, "audience_not_allowed")
    );
}

#[test]
fn untrusted_extra_audience_is_401() {
    let p = policy(&seed_config());
    let t = rs256(&claims(
        "backoffice",
        json!(["orders-api", "billing-api"]),
        "orders:read",
    ));
    assert_eq!(
        outcome(&run(&p, &get("/orders/1", Some(&t)))),
        (401, "audience_not_allowed")
    );
}

#[test]
fn customer_portal_token_for_hr_is_client_not_allowed() {
    let mut config = seed_config();
    config["rules"][3]["mode"] = json!("enforce");
    let p = policy(&config);
    let mut c = claims("customer-portal", json!("hr-api"), "hr:read");
    c["groups"] = json!(["hr-staff"]);
    assert_eq!(
        outcome(&run(&p, &get("/hr/x", Some(&rs256(&c))))),
        (403, "client_not_allowed")
    );
}

#[test]
fn unknown_client_is_403_and_missing_client_too() {
    let p = policy(&seed_config());
    let t = rs256(&claims("stranger", json!("orders-api"), "orders:read"));
    assert_eq!(
        outcome(&run(&p, &get("/orders/1", Some(&t)))),
        (403, "client_not_allowed")
    );
    let mut c = claims("x", json!("orders-api"), "orders:read");
    c.as_object_mut().unwrap().remove("azp");
    assert_eq!(
        outcome(&run(&p, &get("/orders/1", Some(&rs256(&c))))),
        (403, "client_not_allowed")
    );
}

#[test]
fn dry_run_claim_mismatch_passes_without_identity_headers() {
    let p = policy(&seed_config());
    let t = rs256(&claims("backoffice", json!("hr-api"), "hr:read"));
    let d = run(&p, &get("/hr/x", Some(&t)));
    assert_eq!(outcome(&d), (299, "claim_mismatch"));
    assert!(set_ops(&d).is_empty());
}

#[test]
fn health_is_anonymous_but_a_bad_token_there_is_still_refused() {
    let p = policy(&seed_config());
    assert_eq!(outcome(&run(&p, &get("/healthz", None))), (200, "allowed"));
    assert_eq!(
        outcome(&run(&p, &get("/healthz", Some("a.b.c")))),
        (401, "invalid_token")
    );
}

#[test]
fn unmatched_path_is_denied() {
    let p = policy(&seed_config());
    assert_eq!(
        outcome(&run(&p, &get("/admin", None))),
        (401, "missing_token")
    );
    let t = rs256(&claims(
        "customer-portal",
        json!("orders-api"),
        "orders:read",
    ));
    assert_eq!(
        outcome(&run(&p, &get("/admin", Some(&t)))),
        (403, "insufficient_scope")
    );
    let mut config = seed_config();
    config["unmatched"] = json!("allow");
    assert_eq!(
        outcome(&run(&policy(&config), &get("/admin", None))),
        (200, "allowed")
    );
}

/// Without top-level `audiences`, the service answers to every audience its rules name:
/// a valid token passes an anonymous rule, and an unmatched path is 403, not 401.
#[test]
fn audiences_only_on_rules_still_check_anonymous_and_unmatched_requests() {
    let mut config = seed_config();
    config.as_object_mut().unwrap().remove("audiences");
    for rule in config["rules"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .skip(1)
        .take(2)
    {
        rule["audiences"] = json!(["orders-api"]);
    }
    let p = policy(&config);
    let valid = rs256(&claims(
        "customer-portal",
        json!("orders-api"),
        "orders:read",
    ));
    let elsewhere = rs256(&claims(
        "customer-portal",
        json!("billing-api"),
        "orders:read",
    ));
    assert_eq!(
        outcome(&run(&p, &get("/healthz", Some(&valid)))),
        (200, "allowed")
    );
    assert_eq!(
        outcome(&run(&p, &get("/healthz", Some(&elsewhere)))),
        (401, "audience_not_allowed")
    );
    assert_eq!(
        outcome(&run(&p, &get("/admin", Some(&valid)))),
        (403, "insufficient_scope")
    );
    assert_eq!(
        outcome(&run(&p, &get("/admin", Some(&elsewhere)))),
        (401, "audience_not_allowed")
    );
}

/// An upstream that ignores case reads `/HR` as `/hr`: a path that selects another rule
/// when compared regardless of case is 400, so `unmatched: allow` cannot let `/HR` past
/// the hr rule. Case elsewhere in the path (`/orders/ABC`) changes nothing.
#[test]
fn case_variants_of_a_rule_path_are_refused() {
    let mut config = seed_config();
    config["unmatched"] = json!("allow");
    let p = policy(&config);
    let t = rs256(&good_claims());
    // also behind `;parameters`, and spelled with a character that folds onto ASCII
    for path in [
        "/HR",
        "/Hr/x",
        "/ORDERS/1",
        "/Healthz",
        "/HR;x/list",
        "/hr;x/LIST",
        "/orders/%C5%BF",
    ] {
        assert_eq!(
            outcome(&run(&p, &get(path, Some(&t)))),
            (400, "invalid_path"),
            "{path}"
        );
    }
    assert_eq!(
        outcome(&run(&p, &get("/orders/ABC", Some(&t)))),
        (200, "allowed")
    );
    assert_eq!(
        outcome(&run(&p, &get("/Other", None))),
        (200, "allowed"),
        "no rule matches either way: unmatched"
    );
    // Under `unmatched: deny` a path no rule matches exactly is denied as unmatched
    // (SPEC: 401 without a token, 403 with one that grants nothing here).
    let p = policy(&seed_config());
    assert_eq!(outcome(&run(&p, &get("/HR", None))), (401, "missing_token"));
    for path in ["/HR", "/ORDERS/1", "/Healthz"] {
        assert_eq!(
            outcome(&run(&p, &get(path, Some(&t)))),
            (403, "insufficient_scope"),
            "{path}"
        );
    }
    assert_eq!(
        outcome(&run(&p, &get("/orders/%C5%BF", Some(&t)))),
        (400, "invalid_path"),
        "a character that folds onto ASCII is refused whatever the rules"
    );
}

/// The raw path selects a later rule than another reading would (`/ADMIN` is `/admin` to
/// an upstream that ignores case, `/admin;x` is `/admin` to a servlet one): 400 under
/// either `unmatched`, never the anonymous catch-all the raw path selects.
#[test]
fn a_reading_that_selects_an_earlier_rule_is_refused() {
    for unmatched in ["deny", "allow"] {
        let mut config = seed_config();
        config["rules"] = json!([
            {"match": {"prefix": "/admin"}, "scopes": ["orders:write"]},
            {"match": {"prefix": "/"}, "anonymous": true}
        ]);
        config["unmatched"] = json!(unmatched);
        let p = policy(&config);
        for path in ["/ADMIN", "/Admin/x", "/admin;x", "/admin;x/y"] {
            assert_eq!(
                outcome(&run(&p, &get(path, None))),
                (400, "invalid_path"),
                "{unmatched} {path}"
            );
        }
        assert_eq!(outcome(&run(&p, &get("/other", None))), (200, "allowed"));
    }
}

/// Envoy routes on the raw path, servlet upstreams drop `;parameters`: a path whose two
/// readings select different rules is 400 (`/healthz;x` is not the anonymous /healthz)
/// where the raw reading could pass — a rule matches it, or unmatched requests pass.
/// Under `unmatched: deny` a raw path no rule matches is simply unmatched: denied.
#[test]
fn path_parameters_must_not_change_the_rule() {
    let t = rs256(&good_claims());
    let readings_differ = [
        ("/healthz;x", None),
        ("/hr;/orders", Some(&t)),
        ("/orders;a=1/1", Some(&t)),
    ];
    let mut lenient = seed_config();
    lenient["unmatched"] = json!("allow");
    let p = policy(&lenient);
    for (path, token) in readings_differ {
        assert_eq!(
            outcome(&run(&p, &get(path, token.map(String::as_str)))),
            (400, "invalid_path"),
            "{path}"
        );
    }
    let p = policy(&seed_config());
    assert_eq!(
        outcome(&run(&p, &get("/healthz;x", None))),
        (401, "missing_token")
    );
    for (path, _) in &readings_differ[1..] {
        assert_eq!(
            outcome(&run(&p, &get(path, Some(&t)))),
            (403, "insufficient_scope"),
            "{path}: unmatched, the token grants nothing here"
        );
    }
    assert_eq!(
        outcome(&run(&p, &get("/orders/1;v=2", Some(&t)))),
        (200, "allowed")
    );
    assert_eq!(
        outcome(&run(&p, &get("/orders/..;/hr", Some(&t)))),
        (400, "invalid_path")
    );
}

#[test]
fn spoofed_identity_headers_are_removed_on_every_path() {
    let p = policy(&seed_config());
    for (path, token) in [
        ("/orders/1", None),
        ("/healthz", None),
        ("/orders/1", Some("bad")),
    ] {
        let mut req = get(path, token);
        req.headers.push("x-jwt-sub", b"admin");
        req.headers.push("x-jwt-anything", b"1");
        let d = run(&p, &req);
        assert!(
            d.header_ops.contains(&HeaderOp::Remove("x-jwt-sub".into())),
            "{path}"
        );
        assert!(
            d.header_ops
                .contains(&HeaderOp::Remove("x-jwt-anything".into())),
            "{path}"
        );
    }
}

#[test]
fn missing_audience_self_lets_a_client_call_itself() {
    let mut config = seed_config();
    config["missing_audience"] = json!("self");
    config["audiences"] = json!(["orders-api", "customer-portal"]);
    config["clients"]["customer-portal"]["customer-portal"] = json!(["orders:read"]);
    let p = policy(&config);
    let mut c = claims("customer-portal", json!(null), "orders:read");
    c.as_object_mut().unwrap().remove("aud");
    let d = run(&p, &get("/orders/1", Some(&rs256(&c))));
    assert_eq!(outcome(&d), (200, "allowed"));
    assert_eq!(
        d.caller.matched_audience.as_deref(),
        Some("customer-portal")
    );
    let strict = policy(&seed_config());
    assert_eq!(
        outcome(&run(&strict, &get("/orders/1", Some(&rs256(&c))))),
        (401, "audience_not_allowed")
    );
}

#[test]
fn route_and_host_matching() {
    let mut config = seed_config();
    config["rules"] = json!([
        {"name": "by-route", "match": {"route": "orders-route", "hosts": ["*.example.com"]}, "scopes": ["orders:read"]}
    ]);
    let p = policy(&config);
    let t = rs256(&claims(
        "customer-portal",
        json!("orders-api"),
        "orders:read",
    ));
    let mut req = get("/anything", Some(&t));
    assert_eq!(outcome(&run(&p, &req)), (403, "insufficient_scope"));
    req.route = Some("orders-route".into());
    assert_eq!(outcome(&run(&p, &req)), (200, "allowed"));
    req.authority = "example.com".into();
    assert_eq!(outcome(&run(&p, &req)), (403, "insufficient_scope"));
}

#[test]
fn an_unsafe_claim_value_is_left_out_and_named_for_the_log() {
    let p = policy(&seed_config());
    let mut c = claims("customer-portal", json!("orders-api"), "orders:read");
    c["sub"] = json!("user\r\nx-evil: 1");
    let d = run(&p, &get("/orders/1", Some(&rs256(&c))));
    assert_eq!(outcome(&d), (200, "allowed"));
    assert!(!set_ops(&d).iter().any(|(n, _)| n == "x-jwt-sub"));
    assert_eq!(d.dropped_headers, vec!["sub".to_owned()]);
}
