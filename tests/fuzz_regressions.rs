//! The fuzz targets' inputs as plain tests: every file of `fuzz/seeds/<target>/` (the
//! seed corpora) and `fuzz/regressions/<target>/` (inputs a fuzz run once stopped on —
//! add the crash file there, named after what it shows) goes through the same function
//! and oracles as `make fuzz` (fuzz/src/lib.rs, included here), so a fixed crash stays
//! fixed without nightly or cargo-fuzz.
//!
//! Replay one input by hand: `cargo +nightly fuzz run <target> <file>`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
#[path = "../fuzz/src/lib.rs"]
mod fuzz_common;

use std::path::Path;

/// Runs `run` on every file of the target's seed and regression directories.
fn replay(target: &str, run: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut count = 0;
    for kind in ["seeds", "regressions"] {
        let dir = root.join(kind).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        files.sort();
        for file in files {
            let data = std::fs::read(&file).unwrap();
            eprintln!("{target}: {}", file.display());
            run(&data);
            count += 1;
        }
    }
    assert!(count > 0, "no inputs for {target}");
}

#[test]
fn decide_request_inputs() {
    replay("decide_request", fuzz_common::run_decide_request);
}

#[test]
fn token_verify_inputs() {
    replay("token_verify", fuzz_common::run_token_verify);
}

#[test]
fn config_parse_inputs() {
    replay("config_parse", fuzz_common::run_config_parse);
}

/// Found by `decide_request` (an oracle fix, not a filter bug): a blank `authorization`
/// header beside `Bearer <valid token>` carries no credential, so the request is one
/// token, allowed — not `multiple_tokens`.
#[test]
fn blank_authorization_beside_a_valid_bearer_is_one_token() {
    let data = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/regressions/decide_request/blank-authorization-beside-valid-bearer"),
    )
    .unwrap();
    let req = fuzz_common::request_from(&data);
    let d = audience_guard::decide(fuzz_common::policy(), &req, fuzz_common::NOW);
    assert_eq!(fuzz_common::outcome(&d), (200, "allowed"));
}

/// Found by `decide_request` (fuzz/regressions/decide_request/tab-before-bearer-*): a
/// horizontal tab before `Bearer` is optional whitespace like a space (RFC 9110 §5.6.3),
/// so the credential is read — not mistaken for another scheme, which on an anonymous
/// rule would have let `\tBearer <garbage>` through unverified.
#[test]
fn tab_before_bearer_is_read_like_a_space() {
    use audience_guard::decide;
    use fuzz_common::{outcome, policy, request_from, tokens, NOW};
    let garbage = request_from(b"GET\n/healthz\nauthorization:\tBearer x.y.z\n\n");
    let spaced = request_from(b"GET\n/healthz\nauthorization: Bearer x.y.z\n\n");
    assert_eq!(
        outcome(&decide(policy(), &garbage, NOW)),
        outcome(&decide(policy(), &spaced, NOW))
    );
    assert_eq!(
        outcome(&decide(policy(), &garbage, NOW)),
        (401, "invalid_token")
    );
    let valid = format!(
        "GET\n/orders/1\nauthorization:\tBearer {}\n\n",
        tokens()[0].text
    );
    assert_eq!(
        outcome(&decide(policy(), &request_from(valid.as_bytes()), NOW)),
        (200, "allowed")
    );
}

/// Found by `decide_request` (fuzz/regressions/decide_request/form-feed-before-bearer-*):
/// a control character before `Bearer` (form feed, NUL…) is dropped by an upstream that
/// trims more than optional whitespace, so the credential is read and checked like
/// `Bearer …` — on the anonymous rule it had passed as another scheme, unverified.
#[test]
fn control_characters_before_bearer_are_read_like_a_space() {
    use audience_guard::decide;
    use fuzz_common::{outcome, policy, request_from, tokens, NOW};
    for lead in ["\x0c", "\x0b", "\0", "\x0c \t"] {
        let garbage = format!("GET\n/healthz\nauthorization:{lead}Bearer x.y.z\n\n");
        assert_eq!(
            outcome(&decide(policy(), &request_from(garbage.as_bytes()), NOW)),
            (401, "invalid_token"),
            "{lead:?}"
        );
        let valid = format!(
            "GET\n/orders/1\nauthorization:{lead}Bearer {}\n\n",
            tokens()[0].text
        );
        assert_eq!(
            outcome(&decide(policy(), &request_from(valid.as_bytes()), NOW)),
            (200, "allowed"),
            "{lead:?}"
        );
    }
}
