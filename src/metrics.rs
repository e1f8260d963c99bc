//! Envoy counters. Every worker's VM defines the same names, and Envoy keeps one
//! counter per name, so the values are summed over workers.

use crate::cache::CacheUse;
use crate::decision::Reason;
use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;

const PREFIX: &str = "audience_guard_";

/// Counter ids as returned by the host; `None` when defining one failed (then that
/// counter simply does not move — counting must never break a request).
pub struct Metrics {
    allowed: Option<u32>,
    dry_run_denied: Option<u32>,
    denied: Vec<(Reason, Option<u32>)>,
    cache_hits: Option<u32>,
    cache_misses: Option<u32>,
    fetch_ok: Option<u32>,
    fetch_failed: Option<u32>,
}

fn define(name: &str) -> Option<u32> {
    hostcalls::define_metric(MetricType::Counter, &format!("{PREFIX}{name}")).ok()
}

fn bump(id: Option<u32>) {
    if let Some(id) = id {
        let _ = hostcalls::increment_metric(id, 1);
    }
}

impl Metrics {
    pub fn define() -> Metrics {
        Metrics {
            allowed: define("requests_allowed"),
            dry_run_denied: define("requests_dry_run_denied"),
            denied: Reason::ALL
                .iter()
                .map(|r| (*r, define(&format!("requests_denied_{}", r.name()))))
                .collect(),
            cache_hits: define("verify_cache_hits"),
            cache_misses: define("verify_cache_misses"),
            fetch_ok: define("jwks_fetch_ok"),
            fetch_failed: define("jwks_fetch_failed"),
        }
    }

    pub fn jwks_fetch_ok(&self) {
        bump(self.fetch_ok);
    }

    pub fn jwks_fetch_failed(&self) {
        bump(self.fetch_failed);
    }

    pub fn cache_use(&self, used: Option<CacheUse>) {
        match used {
            Some(CacheUse::Hit) => bump(self.cache_hits),
            Some(CacheUse::Miss) => bump(self.cache_misses),
            None => {}
        }
    }

    pub fn allowed(&self) {
        bump(self.allowed);
    }

    pub fn dry_run_denied(&self) {
        bump(self.dry_run_denied);
    }

    pub fn denied(&self, reason: Reason) {
        bump(
            self.denied
                .iter()
                .find(|(r, _)| *r == reason)
                .and_then(|(_, id)| *id),
        );
    }
}
