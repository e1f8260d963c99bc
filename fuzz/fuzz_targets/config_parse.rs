//! `Policy::from_json` on arbitrary bytes must not panic; a configuration it accepts
//! must then decide a few fixed requests (no token, tokens, a cookie, spoofed and
//! non-UTF-8 headers, two credentials) without panicking and with a SPEC.md §2 status.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_common::run_config_parse(data));
