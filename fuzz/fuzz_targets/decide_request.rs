//! `decide` on arbitrary requests against the fixed seed policy (fuzz/src/lib.rs).
//!
//! Input: `METHOD\nPATH\n(name:value\n)*\nTOKEN` — `$0`…`$9` anywhere in a header value
//! or the token stand for ten embedded tokens (0–3 valid). The decision must not panic,
//! must be a row of SPEC.md §2, must be the same with and without the verified-token
//! cache, must never set identity headers on a denial or keep a client-sent `x-jwt-*`,
//! and may allow only (a) `/healthz` with no bearer credential, or (b) exactly one
//! `Authorization: Bearer <valid token>` on a method and path that token is granted.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_common::run_decide_request(data));
