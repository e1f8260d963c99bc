//! `explain`: the decision the filter would take, as one JSON object (used by the CLI
//! and checked against the real Envoy in the tests).

use crate::decision::{Decision, HeaderOp, Verdict};
use serde_json::{json, Map, Value};

/// Renders a decision: `status` is what the client gets (a dry-run deny passes, so
/// 200), `reason` the decision's reason, `dry_run` whether a denial was only logged.
pub fn explain(decision: &Decision) -> Value {
    let (status, www_authenticate, dry_run) = match &decision.verdict {
        Verdict::Allow => (200, None, false),
        Verdict::Deny(d) => (d.status, d.www_authenticate.clone(), false),
        Verdict::DryRunDeny(_) => (200, None, true),
    };
    let forwarded = !matches!(decision.verdict, Verdict::Deny(_));
    let mut headers_set = Map::new();
    let mut headers_removed = Vec::new();
    if forwarded {
        for op in &decision.header_ops {
            match op {
                HeaderOp::Set(name, value) => {
                    headers_set.insert(name.to_string(), Value::String(value.clone()));
                }
                HeaderOp::Remove(name) => headers_removed.push(Value::String(name.to_string())),
            }
        }
    }
    let caller = &decision.caller;
    json!({
        "status": status,
        "reason": decision.reason(),
        "dry_run": dry_run,
        "rule": decision.rule.as_deref(),
        "issuer": caller.issuer.as_deref(),
        "matched_audience": caller.matched_audience,
        "client": caller.client,
        "effective_scopes": caller.each_effective_scope().collect::<Vec<_>>(),
        "headers_set": headers_set,
        "headers_removed": headers_removed,
        "www_authenticate": www_authenticate,
    })
}
