//! The whole decision as one pure function: path safety → rule → token → verify →
//! authorize → forwarded headers. No clock, no host calls: `now` is passed in.

use crate::cache::VerifyCache;
use crate::decision::{Caller, Decision, Denial, Failure, HeaderOp, KeyWait, Reason, Verdict};
use crate::forward;
use crate::paths;
use crate::policy::{Partial, Policy, Requirements, Unmatched};
use crate::request::Request;
use crate::rules::{self, Mode, RouteInfo};
use crate::token::Extraction;
use std::rc::Rc;

/// Decides what happens to `req` at unix time `now` (seconds), without a cache.
pub fn decide(policy: &Policy, req: &Request, now: u64) -> Decision {
    decide_cached(policy, &mut VerifyCache::disabled(), req, now)
}

/// [`decide`] with a verified-token cache: the same decision, less work for tokens
/// seen before.
pub fn decide_cached(
    policy: &Policy,
    cache: &mut VerifyCache,
    req: &Request,
    now: u64,
) -> Decision {
    let mut header_ops = forward::sanitize(policy, req);
    let path = paths::strip_query(&req.path);
    if paths::check(path).is_err() {
        return unsafe_path(policy, header_ops);
    }
    let host = rules::host_without_port(&req.authority);
    let matches = |rule: &rules::Rule, path: &str, ignore_case: bool| {
        rule.matcher.matches(&RouteInfo {
            method: &req.method,
            path,
            host: &host,
            route: req.route.as_deref(),
            ignore_case,
        })
    };
    // Other readings of the path an upstream may apply: ignoring case (`/HR` as `/hr`),
    // and, as servlet containers do, without `;parameters` (Envoy routes on the raw
    // path). Each must select the rule the exact path selects, or the path cannot be
    // matched safely — unless no rule matches it exactly and unmatched requests are
    // denied: then it is denied as unmatched, whichever rule another reading selects.
    let first_rule_ignoring_case =
        |path: &str| policy.rules.iter().position(|r| matches(r, path, true));
    // A rule the exact path matches matches ignoring case too, so the first rule
    // ignoring case is usually the exact path's rule: one scan of the rules.
    let folded = first_rule_ignoring_case(path);
    let index = match folded {
        Some(i) if policy.rules.get(i).is_some_and(|r| matches(r, path, false)) => folded,
        Some(_) => policy.rules.iter().position(|r| matches(r, path, false)),
        None => None,
    };
    let denied_anyway = index.is_none() && policy.unmatched == Unmatched::Deny;
    if !denied_anyway
        && (folded != index
            || (path.contains(';')
                && first_rule_ignoring_case(&paths::without_parameters(path)) != index))
    {
        return unsafe_path(policy, header_ops);
    }
    let Some(rule) = index.and_then(|i| policy.rules.get(i)) else {
        return unmatched(policy, cache, req, now, header_ops);
    };
    let name = Some(rule.name.clone());
    let extraction = policy.sources.extract(req);
    if extraction == Extraction::Missing && rule.anonymous {
        return allow(name, Caller::default(), header_ops);
    }
    let token = match the_token(extraction) {
        Ok(token) => token,
        Err(failure) => {
            return deny(
                policy,
                &failure,
                name,
                Caller::default(),
                rule.mode,
                header_ops,
            );
        }
    };
    let mut partial = Partial::default();
    let requirements = Requirements::from(rule);
    let outcome = policy.authorize(token, &requirements, now, &mut partial, cache);
    let cache_use = partial.cache;
    let mut decision = match outcome {
        Ok(claims) => {
            let dropped = forward::identity_headers(
                &policy.forward,
                &partial.caller,
                &claims,
                &mut header_ops,
            );
            Decision {
                dropped_headers: dropped,
                ..allow(name, partial.caller, header_ops)
            }
        }
        Err(failure) => {
            let wait_for_keys = waiting_for_keys(&failure, &partial);
            let caller = partial.caller;
            let mut denied = deny(policy, &failure, name, caller, rule.mode, header_ops);
            denied.wait_for_keys = wait_for_keys;
            denied
        }
    };
    decision.cache = cache_use;
    decision
}

/// 400 for a path the rules cannot be matched against the way the upstream reads it.
fn unsafe_path(policy: &Policy, header_ops: Vec<HeaderOp>) -> Decision {
    let failure = Failure::new(Reason::InvalidPath, "request path cannot be matched safely");
    deny(
        policy,
        &failure,
        None,
        Caller::default(),
        Mode::Enforce,
        header_ops,
    )
}

/// No rule matched: `allow` passes the request on untouched but for header hygiene;
/// `deny` answers as a rule that needs a token and grants nothing would: 401 without a
/// (valid) token for this service, 403 with one.
fn unmatched(
    policy: &Policy,
    cache: &mut VerifyCache,
    req: &Request,
    now: u64,
    header_ops: Vec<HeaderOp>,
) -> Decision {
    if policy.unmatched == Unmatched::Allow {
        return allow(None, Caller::default(), header_ops);
    }
    let mut partial = Partial::default();
    let failure = match the_token(policy.sources.extract(req)) {
        Err(failure) => failure,
        Ok(token) => {
            let requirements = Requirements {
                audiences: &policy.audiences,
                scopes: &[],
                any_scopes: &[],
                clients: None,
                claims: &[],
            };
            match policy.authorize(token, &requirements, now, &mut partial, cache) {
                Ok(_) => Failure::new(
                    Reason::InsufficientScope,
                    "no rule grants access to this request",
                ),
                Err(failure) => failure,
            }
        }
    };
    let cache_use = partial.cache;
    let wait_for_keys = waiting_for_keys(&failure, &partial);
    let mut denied = deny(
        policy,
        &failure,
        None,
        partial.caller,
        Mode::Enforce,
        header_ops,
    );
    denied.cache = cache_use;
    denied.wait_for_keys = wait_for_keys;
    denied
}

fn allow(rule: Option<Rc<str>>, caller: Caller, header_ops: Vec<HeaderOp>) -> Decision {
    decision(Verdict::Allow, rule, caller, header_ops)
}

fn deny(
    policy: &Policy,
    failure: &Failure,
    rule: Option<Rc<str>>,
    caller: Caller,
    mode: Mode,
    header_ops: Vec<HeaderOp>,
) -> Decision {
    let denial = Denial::render(failure, &policy.responses);
    let verdict = match mode {
        Mode::Enforce => Verdict::Deny(denial),
        Mode::DryRun => Verdict::DryRunDeny(denial),
    };
    decision(verdict, rule, caller, header_ops)
}

/// A decision that used no cache, waits for no keys and dropped no header; callers
/// fill those in when they apply.
fn decision(
    verdict: Verdict,
    rule: Option<Rc<str>>,
    caller: Caller,
    header_ops: Vec<HeaderOp>,
) -> Decision {
    Decision {
        verdict,
        rule,
        caller,
        header_ops,
        cache: None,
        wait_for_keys: None,
        dropped_headers: Vec::new(),
    }
}

/// The one token of the request, or why there is none to verify.
fn the_token(extraction: Extraction<'_>) -> Result<&str, Failure> {
    match extraction {
        Extraction::Found(token) => Ok(token),
        Extraction::Missing => Err(Failure::new(
            Reason::MissingToken,
            "a bearer token is required",
        )),
        Extraction::Multiple => Err(Failure::new(
            Reason::MultipleTokens,
            "the request carries more than one token",
        )),
        Extraction::Invalid => Err(Failure::new(
            Reason::InvalidToken,
            "the token is malformed or too large",
        )),
    }
}

/// The issuer and kind of key fetch that could change a denial, if any.
fn waiting_for_keys(failure: &Failure, partial: &Partial) -> Option<(String, KeyWait)> {
    Some((partial.caller.issuer.as_deref()?.to_owned(), failure.wait?))
}
