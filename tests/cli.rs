//! The `audience-guard` binary: `check-config` and `explain` on the seed scenario.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod common;
use common::*;
use serde_json::{json, Value};
use std::process::Command;

fn cli(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_audience-guard"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn write_config(name: &str, config: &Value) -> String {
    let path = std::env::temp_dir().join(format!(
        "audience-guard-cli-{}-{name}.json",
        std::process::id()
    ));
    std::fs::write(&path, config.to_string()).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn check_config_accepts_the_seed_and_names_the_path_of_an_error() {
    let good = write_config("good", &seed_config());
    let (ok, stdout, _) = cli(&["check-config", &good]);
    assert!(ok);
    assert!(stdout.contains("ok"));

    let mut bad = seed_config();
    bad["rules"][2]["scopes"] = json!("orders:write");
    let bad = write_config("bad", &bad);
    let (ok, _, stderr) = cli(&["check-config", &bad]);
    assert!(!ok);
    assert!(stderr.contains("rules[2].scopes:"), "{stderr}");
}

#[test]
fn explain_prints_the_decision() {
    let config = write_config("explain", &seed_config());
    let token = rs256(&claims(
        "customer-portal",
        json!("orders-api"),
        "orders:read orders:write",
    ));
    let now = NOW.to_string();
    let (ok, stdout, stderr) = cli(&[
        "explain", "--config", &config, "--method", "POST", "--path", "/orders", "--token", &token,
        "--now", &now,
    ]);
    assert!(ok, "{stderr}");
    let out: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(out["status"], 403);
    assert_eq!(out["reason"], "insufficient_scope");
    assert_eq!(out["rule"], "orders-write");
    assert_eq!(out["client"], "customer-portal");
    assert_eq!(out["matched_audience"], "orders-api");
    assert_eq!(out["effective_scopes"], json!(["orders:read"]));
    assert!(out["www_authenticate"]
        .as_str()
        .unwrap()
        .contains("scope=\"orders:write\""));

    let (_, stdout, _) = cli(&[
        "explain",
        "--config",
        &config,
        "--method",
        "GET",
        "--path",
        "/orders/1",
        "--token",
        &token,
        "--now",
        &now,
        "--header",
        "x-jwt-sub: evil",
    ]);
    let out: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(out["status"], 200);
    assert_eq!(out["headers_set"]["x-jwt-scopes"], "orders:read");
    assert_eq!(out["headers_set"]["x-jwt-sub"], "user-1");
    assert!(out["headers_removed"]
        .as_array()
        .unwrap()
        .contains(&json!("x-jwt-sub")));
}
