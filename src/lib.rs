//! # audience-guard
//!
//! A proxy-wasm HTTP filter for Envoy and Istio that verifies JWT access tokens inside
//! the Envoy worker and enforces audience, client and scope rules.
//!
//! ## Request flow (`decide`)
//! 1. **Header hygiene** ([`forward::sanitize`]): incoming copies of output headers and
//!    every header starting with `strip_prefix` (`x-jwt-`) are removed; the token too,
//!    unless `keep_token`.
//! 2. **Path safety** ([`paths`]): dot-segments, encoded `/` `\` `.`, NUL → 400.
//! 3. **Rule** ([`rules`]): first match on path, prefix, methods, hosts, route.
//! 4. **Token** ([`token`]): exactly one, strict bearer grammar, size cap.
//! 5. **Verify** ([`verify`]): structure, issuer, algorithm allow-list, `typ`, times —
//!    then audience ([`policy`]) — then the signature, last.
//! 6. **Authorize** ([`policy`]): client allowance → effective scopes, rule clients,
//!    required scopes, claim conditions ([`claims`]).
//! 7. **Respond** ([`decision`]): identity headers ([`forward`]) or an RFC 6750 denial.
//!
//! `decide` is pure (no clock, no host calls), so every check is tested natively;
//! [`filter`] is the thin proxy-wasm shell around it, compiled only for wasm32; the
//! `audience-guard` binary (`check-config`, `explain`) runs the same core natively.

pub mod algorithm;
pub mod cache;
pub mod claims;
pub mod config;
pub mod curve_pem;
pub mod decide;
pub mod decision;
pub mod explain;
pub mod forward;
pub mod json;
pub mod keys;
pub mod paths;
pub mod policy;
pub mod remote;
pub mod request;
pub mod rsa_pem;
pub mod rsa_pss;
pub mod rsa_verify;
pub mod rules;
pub mod shared_verified;
pub mod token;
pub mod verify;

mod unique_members;

#[cfg(target_arch = "wasm32")]
mod fetcher;
#[cfg(target_arch = "wasm32")]
mod filter;
#[cfg(target_arch = "wasm32")]
mod metrics;

pub use config::ConfigError;
pub use decide::{decide, decide_cached};
pub use decision::{Decision, HeaderOp, Reason, Verdict};
pub use policy::Policy;
pub use request::Request;
