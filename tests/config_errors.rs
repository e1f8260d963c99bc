//! HOSTILE.md — "The VM and the configuration": every broken configuration is refused
//! (`on_configure` returns false) with one line naming the JSON path and the problem.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
use audience_guard::Policy;
use common::*;
use ct_codecs::{Base64, Encoder};
use serde_json::{json, Value};

/// The error for `config`, which must be refused.
#[track_caller]
fn refused(config: &str) -> String {
    match Policy::from_json(config) {
        Ok(_) => panic!("configuration accepted: {config}"),
        Err(e) => {
            let line = e.to_string();
            assert!(!line.is_empty());
            assert!(!line.contains('\n'), "not one line: {line}");
            line
        }
    }
}

/// Refused, and the message starts with `path` (or a path below it) and then `: `.
#[track_caller]
fn refused_at(config: &Value, path: &str) -> String {
    let line = refused(&config.to_string());
    let rest = line.strip_prefix(path).unwrap_or_else(|| {
        panic!("expected an error at `{path}`, got: {line}");
    });
    assert!(
        [": ", ".", "[", " ("].iter().any(|s| rest.starts_with(s)),
        "expected an error at `{path}`, got: {line}"
    );
    line
}

/// The seed configuration after `edit`.
fn seed_with(edit: impl FnOnce(&mut Value)) -> Value {
    let mut c = seed_config();
    edit(&mut c);
    c
}

fn secret_of(len: usize) -> String {
    Base64::encode_to_string(vec![7u8; len]).unwrap()
}

// --- what must compile ----------------------------------------------------------------------

#[test]
fn seed_config_compiles() {
    Policy::from_json(&seed_config().to_string()).unwrap();
}

#[test]
fn minimal_config_compiles() {
    let c = json!({
        "issuers": [{"issuer": "https://idp/", "hmac_secret_base64": secret_of(32), "algorithms": ["HS256"]}],
        "audiences": ["api"]
    });
    Policy::from_json(&c.to_string()).unwrap();
    // No rules at all: every request is unmatched (denied by default).
    let p = policy(&c);
    assert_eq!(outcome(&run(&p, &get("/x", None))), (401, "missing_token"));
}

#[test]
fn boundary_values_compile() {
    for c in [
        seed_with(|c| c["issuers"][0]["leeway_seconds"] = json!(300)),
        seed_with(|c| c["issuers"][0]["leeway_seconds"] = json!(0)),
        seed_with(|c| c["issuers"][1]["hmac_secret_base64"] = json!(secret_of(32))),
        seed_with(|c| c["token"] = json!({"max_bytes": 65536})),
        seed_with(|c| c["token"] = json!({"max_bytes": 8 * 1024 * 1024})),
        seed_with(|c| c["token"] = json!({"max_bytes": 1})),
    ] {
        Policy::from_json(&c.to_string()).unwrap();
    }
}

// --- JSON and field names ----------------------------------------------------------------------

#[test]
fn invalid_json_is_refused() {
    for config in [
        "",
        "{",
        "not json",
        "[]",
        "null",
        "42",
        "\"issuers\"",
        "{\"issuers\": [}",
        "{'issuers': []}",
    ] {
        refused(config);
    }
    // Valid JSON followed by more.
    let mut text = seed_config().to_string();
    text.push_str(" {}");
    refused(&text);
    let mut text = seed_config().to_string();
    text.push('x');
    refused(&text);
}

#[test]
fn duplicate_top_level_field_is_refused() {
    let text = seed_config().to_string();
    let doubled = text.replacen('{', r#"{"unmatched":"allow","#, 1).replacen(
        r#""rules""#,
        r#""unmatched":"deny","rules""#,
        1,
    );
    refused(&doubled);
}

#[test]
fn unknown_top_level_field_is_refused() {
    for field in ["audience", "Issuers", "rule", "x"] {
        let c = seed_with(|c| c[field] = json!(["orders-api"]));
        let line = refused_at(&c, field);
        assert!(line.contains("unknown field"), "{line}");
    }
}

#[test]
fn unknown_nested_field_is_refused_with_its_path() {
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            seed_with(|c| c["rules"][2]["scopez"] = json!(["x"])),
            "rules[2].scopez",
            "scopez",
        ),
        (
            seed_with(|c| c["rules"][1]["match"]["pathprefix"] = json!("/x")),
            "rules[1].match",
            "pathprefix",
        ),
        (
            seed_with(|c| c["issuers"][0]["leeway"] = json!(5)),
            "issuers[0]",
            "leeway",
        ),
        (
            seed_with(|c| c["forward"]["keep_tokens"] = json!(true)),
            "forward",
            "keep_tokens",
        ),
        (
            seed_with(|c| c["token"]["source"] = json!([])),
            "token",
            "source",
        ),
        (
            seed_with(|c| c["responses"]["describe_error"] = json!(false)),
            "responses",
            "describe_error",
        ),
        (
            seed_with(|c| c["multiple_audiences"]["require_apz"] = json!(false)),
            "multiple_audiences",
            "require_apz",
        ),
        (
            seed_with(|c| {
                c["token"] = json!({"sources": [{"header": "authorization", "prefixx": "Bearer"}]})
            }),
            "token.sources[0]",
            "prefixx",
        ),
    ];
    for (config, path, field) in cases {
        let line = refused_at(&config, path);
        assert!(line.contains(field), "{line}");
    }
}

/// serde's derived structs would also read a JSON array, by position (`[false]` as
/// `{"require_azp": false}`), and its unit enums a one-member object: every section
/// must be an object, every name a string.
#[test]
fn sections_given_as_arrays_are_refused() {
    let issuer = seed_config()["issuers"][0].clone();
    let cases: Vec<(Value, &str)> = vec![
        (
            seed_with(|c| c["multiple_audiences"] = json!([false])),
            "multiple_audiences",
        ),
        (
            seed_with(|c| c["rules"][1]["match"] = json!(["/orders"])),
            "rules[1].match",
        ),
        (
            seed_with(|c| c["rules"][1] = json!(["orders-read", {"prefix": "/orders"}])),
            "rules[1]",
        ),
        (
            seed_with(|c| c["forward"] = json!([{"sub": "x-jwt-sub"}])),
            "forward",
        ),
        (
            seed_with(|c| c["token"] = json!([[{"header": "authorization"}]])),
            "token",
        ),
        (
            seed_with(|c| c["token"] = json!({"sources": [["authorization", "Bearer"]]})),
            "token.sources[0]",
        ),
        (
            seed_with(|c| c["responses"] = json!(["orders", false])),
            "responses",
        ),
        (seed_with(|c| c["cache"] = json!([false])), "cache"),
        // Empty arrays, which serde read as "every field at its default".
        (seed_with(|c| c["cache"] = json!([])), "cache"),
        (
            seed_with(|c| c["rules"][1]["match"] = json!([])),
            "rules[1].match",
        ),
        (seed_with(|c| c["forward"] = json!([])), "forward"),
        (
            seed_with(|c| {
                c["issuers"][0] = json!([issuer["issuer"], issuer["jwks"]]);
            }),
            "issuers[0]",
        ),
        (
            seed_with(|c| {
                let i = &mut c["issuers"][0];
                i.as_object_mut().unwrap().remove("jwks");
                i["remote"] = json!(["idp", "https://idp.example.com/jwks"]);
            }),
            "issuers[0].remote",
        ),
        (
            json!([[issuer], ["orders-api"], {}, {}, "reject", [], "allow"]),
            "",
        ),
    ];
    for (config, path) in cases {
        let line = if path.is_empty() {
            refused(&config.to_string())
        } else {
            refused_at(&config, path)
        };
        assert!(line.contains("expected a JSON object"), "{line}");
    }
    // A name (mode, unmatched, …) given as a one-member object, which serde's derived
    // enums also read: refused like any other shape but a string.
    for (config, path) in [
        (
            seed_with(|c| c["rules"][3]["mode"] = json!({"dry_run": null})),
            "rules[3].mode",
        ),
        (
            seed_with(|c| c["unmatched"] = json!({"allow": null})),
            "unmatched",
        ),
        (
            seed_with(|c| c["missing_audience"] = json!({"self": null})),
            "missing_audience",
        ),
        (
            seed_with(|c| c["issuers"][0]["token_type"] = json!({"any": null})),
            "issuers[0].token_type",
        ),
        (
            seed_with(|c| c["clients"]["customer-portal"]["orders-api"] = json!({"*": null})),
            "clients.customer-portal.orders-api",
        ),
    ] {
        refused_at(&config, path);
    }
    // A PEM key given as a list: the untagged choice names both accepted forms.
    let c = seed_with(|c| {
        c["issuers"][0].as_object_mut().unwrap().remove("jwks");
        c["issuers"][0]["pem"] = json!([["k1", "-----BEGIN PUBLIC KEY-----"]]);
    });
    let line = refused_at(&c, "issuers[0].pem[0]");
    assert!(line.contains("a PEM public key, or an object"), "{line}");
}

#[test]
fn wrong_types_name_their_path() {
    let cases: Vec<(Value, &str)> = vec![
        (
            seed_with(|c| c["rules"][2]["scopes"] = json!("orders:write")),
            "rules[2].scopes",
        ),
        (
            seed_with(|c| c["rules"][2]["scopes"] = json!([1])),
            "rules[2].scopes[0]",
        ),
        (
            seed_with(|c| c["audiences"] = json!("orders-api")),
            "audiences",
        ),
        (
            seed_with(|c| c["issuers"][0]["leeway_seconds"] = json!(-1)),
            "issuers[0].leeway_seconds",
        ),
        (
            seed_with(|c| c["issuers"][0]["leeway_seconds"] = json!("60")),
            "issuers[0].leeway_seconds",
        ),
        (
            seed_with(|c| c["issuers"][0]["token_type"] = json!("JWT")),
            "issuers[0].token_type",
        ),
        (
            seed_with(|c| c["issuers"][0]["token_type"] = json!("at+JWT")),
            "issuers[0].token_type",
        ),
        (
            seed_with(|c| c["rules"][3]["mode"] = json!("dryrun")),
            "rules[3].mode",
        ),
        (
            seed_with(|c| c["rules"][0]["anonymous"] = json!("yes")),
            "rules[0].anonymous",
        ),
        (seed_with(|c| c["unmatched"] = json!("maybe")), "unmatched"),
        (
            seed_with(|c| c["missing_audience"] = json!("ignore")),
            "missing_audience",
        ),
        (
            seed_with(|c| c["clients"]["backoffice"] = json!(["orders-api"])),
            "clients.backoffice",
        ),
        (
            seed_with(|c| c["forward"]["keep_token"] = json!("no")),
            "forward.keep_token",
        ),
        (
            seed_with(|c| c["issuers"][0]["pem"] = json!("-----BEGIN")),
            "issuers[0].pem",
        ),
    ];
    for (config, path) in cases {
        refused_at(&config, path);
    }
}

// --- issuers and keys -------------------------------------------------------------------------

#[test]
fn missing_or_empty_issuers_is_refused() {
    let line = refused(
        &seed_with(|c| {
            c.as_object_mut().unwrap().remove("issuers");
        })
        .to_string(),
    );
    assert!(line.contains("issuers"), "{line}");
    refused_at(&seed_with(|c| c["issuers"] = json!([])), "issuers");
    refused_at(&seed_with(|c| c["issuers"] = json!({})), "issuers");
}

#[test]
fn issuer_without_keys_is_refused() {
    refused_at(
        &seed_with(|c| c["issuers"][0] = json!({"issuer": ISS})),
        "issuers[0]",
    );
    refused_at(
        &seed_with(|c| c["issuers"][0] = json!({"issuer": ISS, "algorithms": ["RS256"]})),
        "issuers[0]",
    );
    refused_at(
        &seed_with(|c| c["issuers"][0]["jwks"] = json!({"keys": []})),
        "issuers[0]",
    );
    refused_at(
        &seed_with(|c| c["issuers"][0]["jwks"] = json!({})),
        "issuers[0].jwks.keys",
    );
    refused_at(
        &seed_with(|c| c["issuers"][0]["jwks"] = json!({"keys": 5})),
        "issuers[0].jwks.keys",
    );
}

#[test]
fn issuer_name_missing_empty_or_repeated_is_refused() {
    refused_at(
        &seed_with(|c| {
            c["issuers"][0].as_object_mut().unwrap().remove("issuer");
        }),
        "issuers[0]",
    );
    refused_at(
        &seed_with(|c| c["issuers"][0]["issuer"] = json!("")),
        "issuers[0].issuer",
    );
    refused_at(
        &seed_with(|c| c["issuers"][1]["issuer"] = json!(ISS)),
        "issuers[1].issuer",
    );
}

#[test]
fn leeway_over_300_is_refused() {
    for leeway in [301, 3600, u64::MAX] {
        refused_at(
            &seed_with(|c| c["issuers"][0]["leeway_seconds"] = json!(leeway)),
            "issuers[0].leeway_seconds",
        );
    }
}

#[test]
fn short_or_malformed_hmac_secret_is_refused() {
    for secret in [
        secret_of(31),
        secret_of(16),
        secret_of(0),
        "c2hvcnQ=".to_owned(),
        "not base64!".to_owned(),
    ] {
        let line = refused_at(
            &seed_with(|c| c["issuers"][1]["hmac_secret_base64"] = json!(secret)),
            "issuers[1].hmac_secret_base64",
        );
        if secret.len() > 4 {
            assert!(!line.contains(&secret), "the secret is echoed: {line}");
        }
    }
}

#[test]
fn unknown_algorithm_name_is_refused() {
    for alg in ["none", "rs256", "HS1", "ES256K", "", "RSA-OAEP"] {
        refused_at(
            &seed_with(|c| c["issuers"][0]["algorithms"] = json!(["RS256", alg])),
            "issuers[0].algorithms[1]",
        );
    }
    refused_at(
        &seed_with(|c| c["issuers"][0]["algorithms"] = json!([])),
        "issuers[0].algorithms",
    );
}

#[test]
fn hs_algorithm_without_a_secret_is_refused() {
    for alg in ["HS256", "HS384", "HS512"] {
        refused_at(
            &seed_with(|c| c["issuers"][0]["algorithms"] = json!(["RS256", "ES256", alg])),
            "issuers[0].algorithms",
        );
    }
}

#[test]
fn secret_without_an_hs_algorithm_is_refused() {
    refused_at(
        &seed_with(|c| {
            c["issuers"][1]
                .as_object_mut()
                .unwrap()
                .remove("algorithms");
        }),
        "issuers[1].hmac_secret_base64",
    );
    refused_at(
        &seed_with(|c| c["issuers"][0]["hmac_secret_base64"] = json!(secret_of(32))),
        "issuers[0].hmac_secret_base64",
    );
}

#[test]
fn inline_jwks_with_a_private_member_is_refused() {
    for member in ["d", "p", "q", "dp", "dq", "qi", "oth"] {
        let mut jwk = rsa_jwk();
        jwk[member] = json!("AQAB");
        let line = refused_at(
            &seed_with(|c| c["issuers"][0]["jwks"]["keys"][0] = jwk),
            &format!("issuers[0].jwks.keys[0].{member}"),
        );
        assert!(!line.contains("AQAB"), "{line}");
    }
    let mut jwk = ec_jwk();
    jwk["d"] = json!("c2VjcmV0LWVjLXNjYWxhcg");
    let line = refused_at(
        &seed_with(|c| c["issuers"][0]["jwks"]["keys"][1] = jwk),
        "issuers[0].jwks.keys[1].d",
    );
    assert!(!line.contains("c2VjcmV0LWVjLXNjYWxhcg"), "{line}");
}

#[test]
fn inline_jwks_with_an_oct_key_is_refused() {
    for jwk in [
        json!({"kty": "oct", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}),
        json!({"kty": "oct", "kid": "h1", "alg": "HS256", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}),
        json!({"kty": "oct"}),
    ] {
        let line = refused_at(
            &seed_with(|c| c["issuers"][0]["jwks"]["keys"][0] = jwk),
            "issuers[0].jwks.keys[0]",
        );
        assert!(!line.contains("c2VjcmV0"), "{line}");
    }
}

#[test]
fn malformed_jwks_are_refused() {
    let bad: Vec<(Value, &str)> = vec![
        (json!("not an object"), "issuers[0].jwks.keys[0]"),
        (json!({"kid": "x"}), "issuers[0].jwks.keys[0].kty"),
        (
            json!({"kty": "RSA", "e": "AQAB"}),
            "issuers[0].jwks.keys[0].n",
        ),
        (
            json!({"kty": "RSA", "n": "!!!", "e": "AQAB"}),
            "issuers[0].jwks.keys[0].n",
        ),
        (
            json!({"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"}),
            "issuers[0].jwks.keys[0].crv",
        ),
        (
            json!({"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}),
            "issuers[0].jwks.keys[0]",
        ),
        (
            json!({"kty": "OKP", "crv": "X25519", "x": "AAAA"}),
            "issuers[0].jwks.keys[0].crv",
        ),
        (json!({"kty": "DSA"}), "issuers[0].jwks.keys[0].kty"),
    ];
    for (jwk, path) in bad {
        refused_at(
            &seed_with(|c| c["issuers"][0]["jwks"]["keys"][0] = jwk),
            path,
        );
    }
}

#[test]
fn jwk_alg_or_use_that_does_not_fit_is_refused() {
    let mut jwk = rsa_jwk();
    jwk["alg"] = json!("ES256");
    refused_at(
        &seed_with(|c| c["issuers"][0]["jwks"]["keys"][0] = jwk),
        "issuers[0].jwks.keys[0].alg",
    );
    let mut jwk = rsa_jwk();
    jwk["alg"] = json!("none");
    refused_at(
        &seed_with(|c| c["issuers"][0]["jwks"]["keys"][0] = jwk),
        "issuers[0].jwks.keys[0].alg",
    );
    let mut jwk = rsa_jwk();
    jwk["kid"] = json!(5);
    refused_at(
        &seed_with(|c| c["issuers"][0]["jwks"]["keys"][0] = jwk),
        "issuers[0].jwks.keys[0].kid",
    );
}

#[test]
fn an_issuer_left_without_a_usable_key_is_refused() {
    // An RSA key bound to RS256 while the allow-list has only ES256.
    let line = refused_at(
        &seed_with(|c| {
            c["issuers"][0]["jwks"]["keys"] = json!([rsa_jwk()]);
            c["issuers"][0]["algorithms"] = json!(["ES256"]);
        }),
        "issuers[0]",
    );
    assert!(
        line.contains("no usable key") && line.contains("rsa1"),
        "{line}"
    );
    // Its only key is an encryption key.
    let mut jwk = rsa_jwk();
    jwk["use"] = json!("enc");
    let line = refused_at(
        &seed_with(|c| c["issuers"][0]["jwks"]["keys"] = json!([jwk])),
        "issuers[0]",
    );
    assert!(line.contains("issuers[0].jwks.keys[0].use"), "{line}");
}

/// An allow-list narrower than the key set, or an IdP's set with an encryption key in
/// it: the keys that cannot serve are skipped with a warning naming them, the others
/// work, and a token for a skipped key is refused.
#[test]
fn keys_for_another_use_or_algorithm_are_skipped_with_a_warning() {
    let narrowed = Policy::from_json(
        &seed_with(|c| c["issuers"][0]["algorithms"] = json!(["RS256"])).to_string(),
    )
    .unwrap();
    assert_eq!(narrowed.warnings.len(), 1, "{:?}", narrowed.warnings);
    assert!(
        narrowed.warnings[0].contains("\"ec1\""),
        "{:?}",
        narrowed.warnings
    );
    let claims = claims("customer-portal", json!("orders-api"), "orders:read");
    let (status, reason) = outcome(&run(&narrowed, &get("/orders/1", Some(&es256(&claims)))));
    assert_eq!((status, reason), (401, "invalid_token"));
    assert_eq!(
        outcome(&run(&narrowed, &get("/orders/1", Some(&rs256(&claims))))).0,
        200
    );

    let mut enc = rsa_jwk();
    enc["use"] = json!("enc");
    enc["alg"] = json!("RSA-OAEP");
    let with_enc = Policy::from_json(
        &seed_with(|c| {
            c["issuers"][0]["jwks"]["keys"]
                .as_array_mut()
                .unwrap()
                .push(enc)
        })
        .to_string(),
    )
    .unwrap();
    assert_eq!(with_enc.warnings.len(), 1, "{:?}", with_enc.warnings);
    assert!(with_enc.warnings[0].starts_with("issuers[0].jwks.keys[2].use: "));
    assert!(seed_policy_warnings().is_empty());
}

fn seed_policy_warnings() -> Vec<String> {
    Policy::from_json(&seed_config().to_string())
        .unwrap()
        .warnings
}

#[test]
fn malformed_pem_is_refused() {
    for pem in [
        "not a pem",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    ] {
        refused_at(
            &seed_with(|c| c["issuers"][0]["pem"] = json!([pem])),
            "issuers[0].pem[0]",
        );
    }
    // A private key in PEM form is not a public key.
    let private = rsa().to_pem().unwrap();
    let line = refused_at(
        &seed_with(|c| c["issuers"][0]["pem"] = json!([private])),
        "issuers[0].pem[0]",
    );
    assert!(!line.contains("PRIVATE"), "{line}");
}

/// Remote key sources need an explicit allow-list (SPEC §1) — whatever the build
/// otherwise supports.
#[test]
fn remote_or_discovery_without_algorithms_is_refused() {
    for field in ["remote", "discovery"] {
        let c = seed_with(|c| {
            c["issuers"][0] = json!({
                "issuer": ISS,
                field: {"cluster": "idp", "uri": "https://idp.example.com/keys"}
            });
        });
        refused_at(&c, "issuers[0]");
        let line = refused(&c.to_string());
        assert!(
            line.starts_with(&format!("issuers[0].{field}"))
                || line.starts_with("issuers[0].algorithms"),
            "{line}"
        );
    }
}

fn remote_issuer(field: &str, remote: Value) -> Value {
    seed_with(|c| {
        c["issuers"][0] = json!({"issuer": ISS, "algorithms": ["RS256"], field: remote});
    })
}

#[test]
fn well_formed_remote_and_discovery_compile() {
    for field in ["remote", "discovery"] {
        let c = remote_issuer(
            field,
            json!({"cluster": "idp", "uri": "https://idp.example.com/keys", "refresh_seconds": 600,
                   "timeout_ms": 5000, "min_refetch_seconds": 30, "max_stale_seconds": 86400}),
        );
        Policy::from_json(&c.to_string()).unwrap();
    }
}

#[test]
fn remote_and_discovery_errors_name_their_path() {
    let good = || json!({"cluster": "idp", "uri": "https://idp.example.com/keys"});
    for field in ["remote", "discovery"] {
        let mut cases: Vec<(Value, String)> = Vec::new();
        let mut edit = |f: &dyn Fn(&mut Value), path: &str| {
            let mut r = good();
            f(&mut r);
            cases.push((remote_issuer(field, r), format!("issuers[0].{field}{path}")));
        };
        edit(&|r| r["cluster"] = json!(""), ".cluster");
        edit(
            &|r| {
                r.as_object_mut().unwrap().remove("cluster");
            },
            "",
        );
        edit(
            &|r| {
                r.as_object_mut().unwrap().remove("uri");
            },
            "",
        );
        edit(&|r| r["uri"] = json!("idp.example.com/keys"), ".uri");
        edit(&|r| r["uri"] = json!("ftp://idp.example.com/keys"), ".uri");
        edit(&|r| r["uri"] = json!(""), ".uri");
        edit(&|r| r["timeout_ms"] = json!(0), ".timeout_ms");
        edit(&|r| r["timeout_ms"] = json!(600_000), ".timeout_ms");
        edit(&|r| r["refresh_seconds"] = json!(0), ".refresh_seconds");
        edit(&|r| r["refresh_seconds"] = json!(-5), ".refresh_seconds");
        edit(
            &|r| {
                r["refresh_seconds"] = json!(600);
                r["max_stale_seconds"] = json!(60);
            },
            ".max_stale_seconds",
        );
        edit(&|r| r["refresh"] = json!(60), ".refresh");
        for (config, path) in cases {
            refused_at(&config, &path);
        }
    }
}

#[test]
fn remote_with_discovery_or_inline_keys_is_refused() {
    let r = json!({"cluster": "idp", "uri": "https://idp.example.com/keys"});
    refused_at(
        &seed_with(|c| {
            c["issuers"][0] =
                json!({"issuer": ISS, "algorithms": ["RS256"], "remote": r, "discovery": r});
        }),
        "issuers[0]",
    );
    refused_at(
        &seed_with(|c| {
            c["issuers"][0]["remote"] = r.clone();
        }),
        "issuers[0]",
    );
}

// --- audiences and rules ---------------------------------------------------------------------------

#[test]
fn rule_without_any_audience_is_refused() {
    // No top-level list, or an empty one, for rules that set none: named at the top.
    let c = seed_with(|c| {
        c.as_object_mut().unwrap().remove("audiences");
    });
    assert!(refused_at(&c, "audiences").contains("rules[1]"));
    let c = seed_with(|c| c["audiences"] = json!([]));
    assert!(refused_at(&c, "audiences").contains("rules[1]"));
    // A rule's own empty list: named at the rule.
    let c = seed_with(|c| c["rules"][2]["audiences"] = json!([]));
    refused_at(&c, "rules[2].audiences");
}

#[test]
fn anonymous_rule_needs_no_audience() {
    let c = seed_with(|c| {
        c.as_object_mut().unwrap().remove("audiences");
        c["rules"] = json!([{"match": {"path": "/healthz"}, "anonymous": true}]);
    });
    Policy::from_json(&c.to_string()).unwrap();
}

#[test]
fn empty_strings_in_lists_are_refused() {
    let cases: Vec<(Value, &str)> = vec![
        (
            seed_with(|c| c["audiences"] = json!(["orders-api", ""])),
            "audiences[1]",
        ),
        (
            seed_with(|c| c["rules"][2]["scopes"] = json!([""])),
            "rules[2].scopes[0]",
        ),
        (
            seed_with(|c| c["rules"][2]["audiences"] = json!([""])),
            "rules[2].audiences[0]",
        ),
        (
            seed_with(|c| c["rules"][1]["match"]["methods"] = json!(["GET", ""])),
            "rules[1].match.methods[1]",
        ),
        (
            seed_with(|c| c["multiple_audiences"]["trusted"] = json!(["orders-api", ""])),
            "multiple_audiences.trusted[1]",
        ),
        (
            seed_with(|c| c["issuers"][0]["client_claims"] = json!([])),
            "issuers[0].client_claims",
        ),
        (
            seed_with(|c| c["issuers"][0]["scope_claims"] = json!([""])),
            "issuers[0].scope_claims[0]",
        ),
    ];
    for (config, path) in cases {
        refused_at(&config, path);
    }
}

/// Every key, optional or not, set to `null` is refused at its path: an empty YAML key
/// (`any_scopes:`) in Istio's `pluginConfig` arrives as `null`, and read as absent it
/// would drop a requirement without a word.
#[test]
fn null_is_refused_wherever_a_value_is_expected() {
    let keys: [&[&str]; 33] = [
        &["issuers", "0", "jwks"],
        &["issuers", "0", "pem"],
        &["issuers", "0", "hmac_secret_base64"],
        &["issuers", "0", "remote"],
        &["issuers", "0", "discovery"],
        &["issuers", "0", "algorithms"],
        &["issuers", "0", "token_type"],
        &["issuers", "0", "leeway_seconds"],
        &["issuers", "0", "max_lifetime_seconds"],
        &["issuers", "0", "client_claims"],
        &["issuers", "0", "scope_claims"],
        &["audiences"],
        &["clients"],
        &["clients", "customer-portal"],
        &["multiple_audiences", "trusted"],
        &["multiple_audiences", "require_azp"],
        &["missing_audience"],
        &["unmatched"],
        &["rules", "2", "name"],
        &["rules", "2", "match"],
        &["rules", "2", "match", "prefix"],
        &["rules", "2", "match", "methods"],
        &["rules", "2", "match", "hosts"],
        &["rules", "2", "match", "route"],
        &["rules", "2", "audiences"],
        &["rules", "2", "scopes"],
        &["rules", "2", "any_scopes"],
        &["rules", "2", "clients"],
        &["rules", "2", "anonymous"],
        &["token", "max_bytes"],
        &["forward", "strip_prefix"],
        &["forward", "client_header"],
        &["responses", "realm"],
    ];
    for key in keys {
        let config = seed_with(|c| {
            let (last, parents) = key.split_last().unwrap();
            let mut at = c;
            for k in parents {
                at = match k.parse::<usize>() {
                    Ok(i) => &mut at[i],
                    Err(_) => &mut at[*k],
                };
            }
            at[*last] = Value::Null;
        });
        let path = key
            .iter()
            .map(|k| match k.parse::<usize>() {
                Ok(i) => format!("[{i}]"),
                Err(_) => format!(".{k}"),
            })
            .collect::<String>();
        refused_at(&config, path.trim_start_matches('.'));
    }
}

/// A match list that is empty could never match: the rule would silently never apply
/// and hand its requests to a later rule (an anonymous catch-all, `unmatched: allow`).
/// `any_scopes: []` and a rule's `clients: []` could never hold. All are refused.
#[test]
fn empty_lists_that_could_never_match_or_hold_are_refused() {
    let cases: Vec<(Value, &str)> = vec![
        (
            seed_with(|c| c["rules"][1]["match"]["methods"] = json!([])),
            "rules[1].match.methods",
        ),
        (
            seed_with(|c| c["rules"][1]["match"]["hosts"] = json!([])),
            "rules[1].match.hosts",
        ),
        (
            seed_with(|c| c["rules"][2]["any_scopes"] = json!([])),
            "rules[2].any_scopes",
        ),
        (
            seed_with(|c| c["rules"][2]["clients"] = json!([])),
            "rules[2].clients",
        ),
    ];
    for (config, path) in cases {
        let line = refused_at(&config, path);
        assert!(line.contains("empty list"), "{line}");
    }
    // No requirement at all is still written by leaving the field out, or for `scopes`
    // ("all of" nothing holds) by an empty list.
    Policy::from_json(&seed_with(|c| c["rules"][2]["scopes"] = json!([])).to_string()).unwrap();
}

#[test]
fn match_path_or_prefix_not_starting_with_a_slash_is_refused() {
    refused_at(
        &seed_with(|c| c["rules"][1]["match"]["prefix"] = json!("orders")),
        "rules[1].match.prefix",
    );
    refused_at(
        &seed_with(|c| c["rules"][0]["match"]["path"] = json!("healthz")),
        "rules[0].match.path",
    );
}

#[test]
fn bad_claims_condition_is_refused() {
    let cases: Vec<(Value, &str)> = vec![
        (json!({"regex": "x"}), "rules[3].claims.groups.regex"),
        (json!({}), "rules[3].claims.groups"),
        (
            json!({"equals": 1, "any_of": [1]}),
            "rules[3].claims.groups",
        ),
        (json!({"any_of": []}), "rules[3].claims.groups.any_of"),
        (
            json!({"contains_any": "hr-staff"}),
            "rules[3].claims.groups.contains_any",
        ),
        (
            json!({"contains_all": []}),
            "rules[3].claims.groups.contains_all",
        ),
        (json!({"present": "yes"}), "rules[3].claims.groups.present"),
        // null could never match: a null claim counts as absent (a YAML key or list
        // item left empty arrives as null).
        (json!(null), "rules[3].claims.groups"),
        (json!({"equals": null}), "rules[3].claims.groups.equals"),
        (json!(["hr-staff", null]), "rules[3].claims.groups[1]"),
        (
            json!({"any_of": [null]}),
            "rules[3].claims.groups.any_of[0]",
        ),
        (
            json!({"contains_any": ["a", null]}),
            "rules[3].claims.groups.contains_any[1]",
        ),
        (
            json!({"contains_all": [null, "a"]}),
            "rules[3].claims.groups.contains_all[0]",
        ),
    ];
    for (cond, path) in cases {
        refused_at(
            &seed_with(|c| c["rules"][3]["claims"]["groups"] = cond),
            path,
        );
    }
}

// --- token, forward, responses -----------------------------------------------------------------

#[test]
fn bad_token_source_is_refused() {
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"header": "authorization", "query": "t"}),
            "token.sources[0]",
        ),
        (json!({"query": "t", "cookie": "c"}), "token.sources[0]"),
        (json!({}), "token.sources[0]"),
        (json!({"query": ""}), "token.sources[0]"),
        (json!({"cookie": ""}), "token.sources[0]"),
        (
            json!({"query": "t", "prefix": "Bearer"}),
            "token.sources[0]",
        ),
        (json!({"header": ""}), "token.sources[0].header"),
        (json!({"header": "bad header"}), "token.sources[0].header"),
        (json!({"header": "x:y"}), "token.sources[0].header"),
        (
            json!({"header": "authorization", "prefix": "Bearer token"}),
            "token.sources[0].prefix",
        ),
        (
            json!({"header": "x-token", "prefix": "  "}),
            "token.sources[0].prefix",
        ),
    ];
    for (source, path) in cases {
        refused_at(
            &seed_with(|c| {
                c["token"] =
                    json!({"sources": [{"header": "authorization", "prefix": "Bearer"}, source]})
            }),
            &path.replace("sources[0]", "sources[1]"),
        );
    }
    refused_at(
        &seed_with(|c| c["token"] = json!({"sources": []})),
        "token.sources",
    );
}

#[test]
fn max_bytes_out_of_range_is_refused() {
    for max in [0u64, 8 * 1024 * 1024 + 1, 1 << 40] {
        refused_at(
            &seed_with(|c| c["token"] = json!({"max_bytes": max})),
            "token.max_bytes",
        );
    }
}

#[test]
fn bad_forward_header_names_are_refused() {
    let cases: Vec<(Value, &str)> = vec![
        (
            seed_with(|c| c["forward"]["client_header"] = json!("x client")),
            "forward.client_header",
        ),
        (
            seed_with(|c| c["forward"]["scopes_header"] = json!("x-scopes\r\n")),
            "forward.scopes_header",
        ),
        (
            seed_with(|c| c["forward"]["audience_header"] = json!("x:aud")),
            "forward.audience_header",
        ),
        (
            seed_with(|c| c["forward"]["claims"]["sub"] = json!("")),
            "forward.claims.sub",
        ),
        (
            seed_with(|c| c["forward"]["claims"]["sub"] = json!(5)),
            "forward.claims.sub",
        ),
        (
            seed_with(|c| c["forward"]["strip_prefix"] = json!("x jwt")),
            "forward.strip_prefix",
        ),
    ];
    for (config, path) in cases {
        refused_at(&config, path);
    }
}

#[test]
fn output_headers_that_would_overwrite_each_other_are_refused() {
    // A claim written to the scopes header would replace the effective scopes.
    let scope_claim = seed_with(|c| c["forward"]["claims"] = json!({"scope": "x-jwt-scopes"}));
    refused_at(&scope_claim, "forward.claims.scope");
    let two_claims = seed_with(|c| {
        c["forward"]["claims"] = json!({"sub": "x-user", "email": "X-User"});
    });
    let line = refused(&two_claims.to_string());
    assert!(line.starts_with("forward.claims."), "{line}");
    let renamed = seed_with(|c| c["forward"]["audience_header"] = json!("x-jwt-client"));
    refused_at(&renamed, "forward.audience_header");
    // Turned off ("") is not a collision.
    let off = seed_with(|c| {
        c["forward"]["scopes_header"] = json!("");
        c["forward"]["claims"] = json!({"scope": "x-jwt-scopes"});
    });
    Policy::from_json(&off.to_string()).unwrap();
}

#[test]
fn output_headers_naming_the_host_or_framing_the_request_are_refused() {
    let host = seed_with(|c| c["forward"]["claims"] = json!({"tenant": "Host"}));
    refused_at(&host, "forward.claims.tenant");
    let length = seed_with(|c| c["forward"]["client_header"] = json!("content-length"));
    refused_at(&length, "forward.client_header");
    // A prefix stripped from every request must not reach one either ("t" would take te,
    // trailer and transfer-encoding away).
    let prefix = seed_with(|c| c["forward"]["strip_prefix"] = json!("t"));
    refused_at(&prefix, "forward.strip_prefix");
    // `_` counts as `-` when incoming copies are stripped: `content_` reaches content-length.
    let underscored = seed_with(|c| c["forward"]["strip_prefix"] = json!("content_"));
    refused_at(&underscored, "forward.strip_prefix");
    let fine = seed_with(|c| c["forward"]["strip_prefix"] = json!("x-auth-"));
    Policy::from_json(&fine.to_string()).unwrap();
}

/// Envoy routes on `x-forwarded-proto` (without it every request is 404), takes timeouts
/// and retries from `x-envoy-*`, and tells upstreams the mTLS peer in
/// `x-forwarded-client-cert`: no output header may be one, and `strip_prefix` may not
/// reach one.
#[test]
fn output_headers_envoy_sets_and_acts_on_are_refused() {
    for prefix in [
        "x-",
        "x",
        "x-f",
        "x_forwarded",
        "x-forwarded-proto",
        "x-e",
        "x-envoy-",
        "x-request",
    ] {
        let config = seed_with(|c| c["forward"]["strip_prefix"] = json!(prefix));
        refused_at(&config, "forward.strip_prefix");
    }
    let xfcc = seed_with(|c| c["forward"]["claims"] = json!({"sub": "x-forwarded-client-cert"}));
    refused_at(&xfcc, "forward.claims.sub");
    let timeout =
        seed_with(|c| c["forward"]["client_header"] = json!("x-envoy-upstream-rq-timeout-ms"));
    refused_at(&timeout, "forward.client_header");
    let underscored = seed_with(|c| c["forward"]["audience_header"] = json!("x_forwarded_proto"));
    refused_at(&underscored, "forward.audience_header");
    let request_id = seed_with(|c| c["forward"]["scopes_header"] = json!("x-request-id"));
    refused_at(&request_id, "forward.scopes_header");
}

#[test]
fn keep_token_with_a_token_header_that_is_stripped_is_refused() {
    let stripped = seed_with(|c| {
        c["token"] = json!({"sources": [{"header": "x-jwt-token"}]});
        c["forward"]["keep_token"] = json!(true);
    });
    refused_at(&stripped, "forward.keep_token");
    // Without keep_token the token is removed anyway: nothing to refuse.
    let removed = seed_with(|c| c["token"] = json!({"sources": [{"header": "x-jwt-token"}]}));
    Policy::from_json(&removed.to_string()).unwrap();
}

#[test]
fn a_string_given_where_a_list_is_due_is_not_echoed() {
    // A private key pasted as a string where a list of PEMs is due.
    let pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n";
    let config = seed_with(|c| {
        c["issuers"][0].as_object_mut().unwrap().remove("jwks");
        c["issuers"][0]["pem"] = json!(pem);
    });
    let line = refused_at(&config, "issuers[0].pem");
    assert!(
        !line.contains("PRIVATE") && !line.contains("MIIE"),
        "{line}"
    );
    assert!(line.contains("a string"), "{line}");
}

/// The same for a name (`mode`, `unmatched`, `missing_audience`, `token_type`): serde's
/// "unknown variant" quotes the value, which the line leaves out, even when the value
/// itself holds serde's separator.
#[test]
fn an_unknown_name_is_not_echoed() {
    for value in ["MIIEvQIBADANBgkqhkiG9w0B", "MIIE`, expected x"] {
        for (edit, path) in [
            (
                &(|c: &mut Value, v: &str| c["issuers"][0]["token_type"] = json!(v))
                    as &dyn Fn(&mut Value, &str),
                "issuers[0].token_type",
            ),
            (
                &|c: &mut Value, v: &str| c["rules"][1]["mode"] = json!(v),
                "rules[1].mode",
            ),
            (
                &|c: &mut Value, v: &str| c["unmatched"] = json!(v),
                "unmatched",
            ),
        ] {
            let line = refused_at(&seed_with(|c| edit(c, value)), path);
            assert!(!line.contains("MIIE"), "{line}");
            assert!(line.contains("unknown name, expected"), "{line}");
        }
    }
}

#[test]
fn realm_that_cannot_be_quoted_is_refused() {
    for realm in ["a\"b", "a\\b", "line\nbreak", "caf\u{e9}"] {
        refused_at(
            &seed_with(|c| c["responses"]["realm"] = json!(realm)),
            "responses.realm",
        );
    }
}

#[test]
fn client_table_errors_name_their_path() {
    refused_at(
        &seed_with(|c| c["clients"]["backoffice"]["orders-api"] = json!(["orders:read", ""])),
        "clients.backoffice.orders-api[1]",
    );
    refused_at(
        &seed_with(|c| c["clients"]["backoffice"]["orders-api"] = json!("orders:read")),
        "clients.backoffice.orders-api",
    );
}

#[test]
fn a_source_listed_twice_is_refused() {
    let bearer = json!({"header": "authorization", "prefix": "Bearer"});
    for (sources, at) in [
        (
            json!([bearer, {"header": "authorization", "prefix": "bearer"}]),
            "token.sources[1]",
        ),
        (
            json!([bearer, {"header": "authorization"}]),
            "token.sources[1]",
        ),
        (
            json!([{"query": "t"}, bearer, {"query": "t"}]),
            "token.sources[2]",
        ),
        (
            json!([{"cookie": "c"}, {"cookie": "c"}]),
            "token.sources[1]",
        ),
    ] {
        refused_at(&seed_with(|c| c["token"] = json!({"sources": sources})), at);
    }
    let schemes = json!([bearer, {"header": "authorization", "prefix": "DPoP"}, {"query": "t"}, {"cookie": "t"}]);
    Policy::from_json(&seed_with(|c| c["token"] = json!({"sources": schemes})).to_string())
        .unwrap();
}

/// SPEC names no uniqueness rule: a name given twice (GET and POST of one API) labels
/// both rules, which then share their counters (src/metrics.rs).
#[test]
fn rule_names_may_repeat() {
    for (i, name) in [(2, "orders.read"), (3, "health"), (2, "orders-read")] {
        let c = seed_with(|c| c["rules"][i]["name"] = json!(name));
        Policy::from_json(&c.to_string()).unwrap();
    }
}

#[test]
fn rule_paths_and_schemes_are_plain() {
    refused_at(
        &seed_with(|c| c["rules"][1]["match"]["prefix"] = json!("/orders;v=1")),
        "rules[1].match.prefix",
    );
    for prefix in ["Bearer,", "a,b", "Bear\"er", "Bearer;"] {
        let sources = json!([{"header": "authorization", "prefix": prefix}]);
        refused_at(
            &seed_with(|c| c["token"] = json!({"sources": sources})),
            "token.sources[0].prefix",
        );
    }
    let sources = json!([{"header": "authorization", "prefix": "DPoP"}]);
    Policy::from_json(&seed_with(|c| c["token"] = json!({"sources": sources})).to_string())
        .unwrap();
}

/// SPEC: `clients` … (`"*"` = all): the bare string and the one-element list both work.
#[test]
fn a_client_may_be_allowed_every_scope_with_a_star() {
    use audience_guard::policy::Allowance;
    for star in [json!("*"), json!(["*"])] {
        let policy = Policy::from_json(
            &seed_with(|c| c["clients"]["ops"] = json!({"orders-api": star})).to_string(),
        )
        .unwrap();
        let clients = policy.clients.as_ref().unwrap();
        assert_eq!(clients["ops"]["orders-api"], Allowance::All);
    }
    refused_at(
        &seed_with(|c| c["clients"]["ops"] = json!({"orders-api": "all"})),
        "clients.ops.orders-api",
    );
}

/// SPEC: `responses.realm` defaults to the first audience — the first a rule names when
/// there is no top-level list.
#[test]
fn the_default_realm_is_the_first_audience_even_from_a_rule() {
    let config = seed_with(|c| {
        c.as_object_mut().unwrap().remove("audiences");
        c.as_object_mut().unwrap().remove("clients");
        c["responses"].as_object_mut().unwrap().remove("realm");
        c["rules"] = json!([{"name": "r", "match": {"prefix": "/"}, "audiences": ["billing-api"]}]);
    });
    let policy = Policy::from_json(&config.to_string()).unwrap();
    assert_eq!(policy.responses.realm, "billing-api");
}

/// `text` with the first `needle` replaced by `with` (raw JSON: a `Value` cannot hold a
/// member twice).
fn replaced(text: &str, needle: &str, with: &str) -> String {
    assert!(text.contains(needle), "{needle} not in {text}");
    text.replacen(needle, with, 1)
}

/// A member named twice in any object of the configuration — a client table, a rule's
/// claim conditions, the forwarded claims, an inline JWK — is refused: JSON parsers
/// disagree on which copy counts, and serde keeps the last one silently, so the second
/// could undo the first (a client given `"*"` after its list; a claim condition replaced
/// by `present: true`). Struct fields were already refused ("duplicate field").
#[test]
fn a_member_named_twice_anywhere_is_refused() {
    let seed = seed_config().to_string();
    let cases = [
        (
            replaced(
                &seed,
                r#""customer-portal":{"orders-api":["orders:read"]}"#,
                r#""customer-portal":{"orders-api":["orders:read"]},"customer-portal":{"orders-api":"*"}"#,
            ),
            "clients",
            "customer-portal",
        ),
        (
            replaced(
                &seed,
                r#""customer-portal":{"orders-api":["orders:read"]}"#,
                r#""customer-portal":{"orders-api":["orders:read"],"orders-api":"*"}"#,
            ),
            "clients.customer-portal",
            "orders-api",
        ),
        (
            replaced(
                &seed,
                r#""claims":{"groups":{"contains_any":["hr-staff"]}}"#,
                r#""claims":{"groups":{"contains_any":["hr-staff"]},"groups":{"present":true}}"#,
            ),
            "rules[3].claims",
            "groups",
        ),
        (
            replaced(
                &seed,
                r#"{"contains_any":["hr-staff"]}"#,
                r#"{"contains_all":["hr-staff","admin"],"contains_all":["hr-staff"]}"#,
            ),
            "rules[3].claims.groups",
            "contains_all",
        ),
        (
            replaced(
                &seed,
                r#""claims":{"sub":"x-jwt-sub"}"#,
                r#""claims":{"sub":"x-jwt-sub","sub":"x-jwt-user"}"#,
            ),
            "forward.claims",
            "sub",
        ),
        (
            replaced(&seed, r#""kid":"ec1""#, r#""kid":"ec1","kid":"ec2""#),
            "issuers[0].jwks.keys[1]",
            "kid",
        ),
    ];
    for (config, path, member) in cases {
        let line = refused(&config);
        assert!(
            line.starts_with(&format!("{path}: ")),
            "expected an error at `{path}`, got: {line}"
        );
        assert!(line.contains(member), "{line}");
    }
}

/// Rules match the path without its query or fragment: a rule path holding `?` or `#`
/// could never match, so it is a mistake to report, not a rule to keep silently.
#[test]
fn rule_paths_with_a_query_are_refused() {
    for (field, value) in [("path", "/orders?id=1"), ("prefix", "/orders#top")] {
        let config = seed_with(|c| c["rules"][1]["match"] = json!({ field: value }));
        refused_at(&config, &format!("rules[1].match.{field}"));
    }
}

/// Only Envoy's own `x-forwarded-*` names are refused: oauth2-proxy's
/// `x-forwarded-user`/`-email`/`-groups` stay available to deployments migrating from it.
#[test]
fn other_x_forwarded_names_are_fine() {
    let config = seed_with(|c| {
        c["forward"]["claims"] = json!({"sub": "x-forwarded-user", "email": "x-forwarded-email"});
        c["forward"]["strip_prefix"] = json!("x-forwarded-user");
    });
    Policy::from_json(&config.to_string()).unwrap();
}

/// `_` counts as `-` (a CGI upstream reads both as `HTTP_X_JWT_A`): spelled either way,
/// a framing header is refused and two outputs are one header.
#[test]
fn output_headers_are_compared_with_underscores_as_dashes() {
    let framing = seed_with(|c| c["forward"]["claims"] = json!({"x": "content_length"}));
    refused_at(&framing, "forward.claims.x");
    let twice = seed_with(|c| {
        c["forward"]["client_header"] = json!("x-jwt-a");
        c["forward"]["claims"] = json!({"sub": "x_jwt_a"});
    });
    refused_at(&twice, "forward.claims.sub");
}

/// Paths are also compared regardless of case, so of two rules whose paths differ only
/// by case the later could never apply: a mistake to report.
#[test]
fn rules_differing_only_by_case_are_refused() {
    for field in ["path", "prefix"] {
        let config = seed_with(|c| {
            c["rules"] = json!([
                {"match": {field: "/Admin"}, "scopes": ["a"]},
                {"match": {field: "/admin"}, "scopes": ["b"]}
            ])
        });
        refused_at(&config, &format!("rules[1].match.{field}"));
    }
    let same = seed_with(|c| {
        c["rules"] = json!([
            {"match": {"prefix": "/admin", "methods": ["GET"]}, "scopes": ["a"]},
            {"match": {"prefix": "/admin"}, "scopes": ["b"]}
        ])
    });
    Policy::from_json(&same.to_string()).unwrap();
}

/// An earlier prefix that takes in a later rule's path only when case is ignored: a
/// request for the later rule's path is refused (400), so the configuration is.
#[test]
fn rules_under_an_earlier_prefix_only_ignoring_case_are_refused() {
    let rules_with = |earlier: Value, later: Value| {
        seed_with(|c| {
            c["rules"] = json!([
                {"match": earlier, "scopes": ["a"]},
                {"match": later, "scopes": ["b"]}
            ])
        })
    };
    for (earlier, later, field) in [
        (
            json!({"prefix": "/Admin"}),
            json!({"prefix": "/admin/x"}),
            "prefix",
        ),
        (
            json!({"prefix": "/Admin/"}),
            json!({"path": "/admin/x/y"}),
            "path",
        ),
        (
            json!({"prefix": "/Admin"}),
            json!({"path": "/admin", "methods": ["GET"]}),
            "path",
        ),
    ] {
        refused_at(
            &rules_with(earlier, later),
            &format!("rules[1].match.{field}"),
        );
    }
    for (earlier, later) in [
        // Taken in exactly (ordinary first-match shadowing), not at all, or only by an
        // earlier rule whose other conditions decide per request.
        (json!({"prefix": "/admin"}), json!({"prefix": "/admin/x"})),
        (
            json!({"prefix": "/Admin"}),
            json!({"prefix": "/administrator"}),
        ),
        (
            json!({"prefix": "/Admin", "methods": ["GET"]}),
            json!({"prefix": "/admin/x"}),
        ),
        (json!({"path": "/Admin"}), json!({"prefix": "/admin/x"})),
        // The later rule first: each spelling reaches its own rule.
        (json!({"prefix": "/admin/x"}), json!({"prefix": "/Admin"})),
    ] {
        let config = rules_with(earlier.clone(), later.clone());
        assert!(
            Policy::from_json(&config.to_string()).is_ok(),
            "{earlier} then {later}"
        );
    }
}
