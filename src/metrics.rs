//! Envoy counters. Every worker's VM defines the same names, and Envoy keeps one
//! counter per name, so the values are summed over workers. Besides the totals of
//! SPEC §3, each rule has `rule_<label>_{allowed,denied,dry_run_denied}`, the label
//! being [`metric_label`] of its name: rules whose labels coincide (a name given
//! twice, or `orders-read` and `orders_read`) define the same names, so Envoy gives
//! them one set of counters.

use crate::cache::CacheUse;
use crate::decision::Reason;
use crate::rules::metric_label;
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
    rules: Vec<RuleCounters>,
}

/// What became of a request a rule matched.
#[derive(Clone, Copy)]
pub enum RuleOutcome {
    Allowed,
    Denied,
    DryRunDenied,
}

struct RuleCounters {
    rule: String,
    allowed: Option<u32>,
    denied: Option<u32>,
    dry_run_denied: Option<u32>,
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
    pub fn define(rule_names: &[&str]) -> Metrics {
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
            rules: rule_names
                .iter()
                .map(|rule| {
                    let label = metric_label(rule);
                    RuleCounters {
                        rule: (*rule).to_owned(),
                        allowed: define(&format!("rule_{label}_allowed")),
                        denied: define(&format!("rule_{label}_denied")),
                        dry_run_denied: define(&format!("rule_{label}_dry_run_denied")),
                    }
                })
                .collect(),
        }
    }

    /// Counts the outcome for the rule that matched; requests no rule matched have none.
    pub fn rule_outcome(&self, rule: Option<&str>, outcome: RuleOutcome) {
        let Some(counters) = rule.and_then(|name| self.rules.iter().find(|r| r.rule == name))
        else {
            return;
        };
        bump(match outcome {
            RuleOutcome::Allowed => counters.allowed,
            RuleOutcome::Denied => counters.denied,
            RuleOutcome::DryRunDenied => counters.dry_run_denied,
        });
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
