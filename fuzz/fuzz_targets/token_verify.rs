//! The token checks, reached three ways (the first input byte picks one):
//!
//! * `1`: the rest is `HEADER-JSON \0 PAYLOAD-JSON`, signed with the HMAC issuer's
//!   secret (HS256), so structure- and signature-valid tokens reach the claim checks;
//! * `2`: the rest is the payload JSON under `{"alg":"HS256","typ":"JWT"}`, signed;
//! * anything else: the rest is the whole bearer token (`$0`…`$9` expand), `GET /orders/1`.
//!
//! Every decision passes the contract of fuzz/src/lib.rs; a signed token that is allowed
//! must also satisfy an independent oracle (a serde_json restatement of SPEC.md §1).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_common::run_token_verify(data));
