//! `make build` keeps only the proxy-wasm exports listed in scripts/wasm-exports.txt
//! (the SDK exports every callback, so the build cannot tell which ones we implement).
//! A callback implemented in src/filter.rs whose export is not listed would be stripped
//! and silently never called; this test reads both files and fails on such a callback.

use std::collections::BTreeSet;

/// The proxy-wasm SDK's trait methods and the export through which Envoy reaches each.
/// `get_type` is asked inside `proxy_on_context_create`.
const EXPORT_OF: &[(&str, &str)] = &[
    ("on_vm_start", "proxy_on_vm_start"),
    ("on_configure", "proxy_on_configure"),
    ("on_tick", "proxy_on_tick"),
    ("on_queue_ready", "proxy_on_queue_ready"),
    ("on_done", "proxy_on_done"),
    ("create_http_context", "proxy_on_context_create"),
    ("create_stream_context", "proxy_on_context_create"),
    ("get_type", "proxy_on_context_create"),
    ("on_http_call_response", "proxy_on_http_call_response"),
    ("on_grpc_call_response", "proxy_on_grpc_receive"),
    ("on_grpc_stream_message", "proxy_on_grpc_receive"),
    (
        "on_grpc_call_response_headers",
        "proxy_on_grpc_receive_initial_metadata",
    ),
    (
        "on_grpc_stream_initial_metadata",
        "proxy_on_grpc_receive_initial_metadata",
    ),
    (
        "on_grpc_stream_trailing_metadata",
        "proxy_on_grpc_receive_trailing_metadata",
    ),
    ("on_grpc_stream_close", "proxy_on_grpc_close"),
    ("on_http_request_headers", "proxy_on_request_headers"),
    ("on_http_request_body", "proxy_on_request_body"),
    ("on_http_request_trailers", "proxy_on_request_trailers"),
    ("on_http_response_headers", "proxy_on_response_headers"),
    ("on_http_response_body", "proxy_on_response_body"),
    ("on_http_response_trailers", "proxy_on_response_trailers"),
    ("on_log", "proxy_on_log"),
];

/// Names of the methods defined in `impl <SDK trait> for …` blocks of `source`.
fn implemented_callbacks(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut in_sdk_impl = false;
    for line in source.lines() {
        if line.starts_with("impl ") {
            // `Context for` also covers `RootContext for` and `HttpContext for`.
            in_sdk_impl = line.contains("Context for");
        } else if line.starts_with('}') {
            in_sdk_impl = false;
        } else if in_sdk_impl {
            if let Some(rest) = line.trim_start().strip_prefix("fn ") {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                found.push(name);
            }
        }
    }
    found
}

#[test]
fn every_implemented_callback_keeps_its_export() {
    let root = env!("CARGO_MANIFEST_DIR");
    let filter = std::fs::read_to_string(format!("{root}/src/filter.rs")).unwrap();
    let listed: BTreeSet<String> =
        std::fs::read_to_string(format!("{root}/scripts/wasm-exports.txt"))
            .unwrap()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect();
    let callbacks = implemented_callbacks(&filter);
    assert!(
        callbacks.iter().any(|c| c == "on_http_request_headers"),
        "the reader found no callbacks in src/filter.rs: {callbacks:?}"
    );
    for callback in &callbacks {
        let export = EXPORT_OF
            .iter()
            .find(|(method, _)| method == callback)
            .map(|(_, export)| *export)
            .unwrap_or_else(|| panic!("{callback}: not a proxy-wasm callback this test knows"));
        assert!(
            listed.contains(export),
            "src/filter.rs implements {callback}, but scripts/wasm-exports.txt does not keep \
             {export}: the build would strip it"
        );
    }
}

#[test]
fn the_reader_sees_methods_of_sdk_impls_only() {
    let source = "impl HttpContext for Guard {\n    fn on_log(&mut self) {}\n}\n\
                  impl Guard {\n    fn on_helper() {}\n}\n";
    assert_eq!(implemented_callbacks(source), ["on_log"]);
}
