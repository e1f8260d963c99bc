//! The proxy-wasm shell: reads the request, calls [`decide`], applies the result,
//! counts and logs it. No policy logic lives here.

use crate::cache::VerifyCache;
use crate::decision::{Decision, Denial, HeaderOp, Verdict};
use crate::metrics::Metrics;
use crate::{decide_cached, Policy, Request};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel, MapType};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::UNIX_EPOCH;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Trace);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root::default()) });
}}

#[derive(Default)]
struct Root {
    policy: Option<Rc<Policy>>,
    metrics: Option<Rc<Metrics>>,
    cache: Option<Rc<RefCell<VerifyCache>>>,
}

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        // Per-request logs cost a host call each: only format what Envoy will print.
        log::set_max_level(match hostcalls::get_log_level() {
            Ok(LogLevel::Trace) => log::LevelFilter::Trace,
            Ok(LogLevel::Debug) => log::LevelFilter::Debug,
            Ok(LogLevel::Info) => log::LevelFilter::Info,
            Ok(LogLevel::Warn) => log::LevelFilter::Warn,
            _ => log::LevelFilter::Error,
        });
        let bytes = self.get_plugin_configuration().unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        match Policy::from_json(&text) {
            Ok(policy) => {
                self.cache = Some(Rc::new(RefCell::new(VerifyCache::new(policy.cache))));
                self.policy = Some(Rc::new(policy));
                self.metrics = Some(Rc::new(Metrics::define()));
                true
            }
            Err(error) => {
                log::error!("audience-guard: invalid configuration: {error}");
                false
            }
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Guard {
            policy: self.policy.clone(),
            metrics: self.metrics.clone(),
            cache: self.cache.clone(),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Guard {
    /// `None` only if Envoy created a stream although configuration failed: deny.
    policy: Option<Rc<Policy>>,
    metrics: Option<Rc<Metrics>>,
    cache: Option<Rc<RefCell<VerifyCache>>>,
}

impl Context for Guard {}

impl HttpContext for Guard {
    fn on_http_request_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        let Some(policy) = self.policy.clone() else {
            send(500, &[], br#"{"error":"server_error"}"#);
            return Action::Pause;
        };
        let request = read_request(&policy);
        let now = now_seconds();
        let decision = match self.cache.as_ref().and_then(|c| c.try_borrow_mut().ok()) {
            Some(mut cache) => decide_cached(&policy, &mut cache, &request, now),
            None => decide_cached(&policy, &mut VerifyCache::disabled(), &request, now),
        };
        if let Some(metrics) = &self.metrics {
            metrics.cache_use(decision.cache);
        }
        self.apply(&decision)
    }
}

impl Guard {
    fn apply(&self, decision: &Decision) -> Action {
        let count = |f: &dyn Fn(&Metrics)| {
            if let Some(m) = &self.metrics {
                f(m)
            }
        };
        match &decision.verdict {
            Verdict::Deny(denial) => {
                count(&|m| m.denied(denial.reason));
                log_denial("deny", decision, denial);
                respond(denial);
                Action::Pause
            }
            verdict => {
                if !apply_header_ops(&decision.header_ops) {
                    log::error!(
                        "audience-guard: could not rewrite request headers; request refused"
                    );
                    send(500, &[], br#"{"error":"server_error"}"#);
                    return Action::Pause;
                }
                if let Verdict::DryRunDeny(denial) = verdict {
                    count(&|m| m.dry_run_denied());
                    log_denial("dry-run deny", decision, denial);
                } else {
                    count(&|m| m.allowed());
                    if log::log_enabled!(log::Level::Debug) {
                        log_line(log::Level::Debug, "allow", decision, None);
                    }
                }
                Action::Continue
            }
        }
    }
}

fn log_denial(what: &str, decision: &Decision, denial: &Denial) {
    log_line(log::Level::Info, what, decision, Some(denial));
}

/// One line per decision: rule, reason, status, issuer, client, matched audience —
/// never the token. Values from the token are escaped (`{:?}`) so they cannot forge
/// log lines; absent ones print as `-`.
fn log_line(level: log::Level, what: &str, decision: &Decision, denial: Option<&Denial>) {
    let shown = |v: &Option<String>| v.as_deref().map_or("-".to_owned(), |s| format!("{s:?}"));
    let caller = &decision.caller;
    log::log!(
        level,
        "audience-guard: {what} rule={} reason={} status={} issuer={} client={} audience={}",
        shown(&decision.rule),
        decision.reason(),
        denial.map_or(200, |d| d.status),
        shown(&caller.issuer),
        shown(&caller.client),
        shown(&caller.matched_audience)
    );
}

/// Reads only what `decide` needs; header values stay bytes (the SDK's string getters
/// panic on non-UTF-8 values, which Envoy lets through).
fn read_request(policy: &Policy) -> Request {
    let headers = hostcalls::get_map_bytes(MapType::HttpRequestHeaders).unwrap_or_default();
    let mut request = Request {
        headers,
        ..Request::default()
    };
    let text = |v: &[u8]| String::from_utf8(v.to_vec()).ok();
    for (name, value) in &request.headers {
        match name.as_str() {
            ":method" => request.method = text(value).unwrap_or_default(),
            // A non-UTF-8 path stays empty, which the path check refuses (400).
            ":path" => request.path = text(value).unwrap_or_default(),
            ":authority" => request.authority = text(value).unwrap_or_default(),
            _ => {}
        }
    }
    if policy.matches_on_route() {
        request.route = hostcalls::get_property(vec!["xds", "route_name"])
            .ok()
            .flatten()
            .and_then(|bytes| String::from_utf8(bytes).ok());
    }
    request
}

/// Unix seconds from the host clock. Should the host fail to tell the time, the
/// latest possible instant is used, so every token counts as expired (fail closed).
fn now_seconds() -> u64 {
    hostcalls::get_current_time()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(u64::MAX, |d| d.as_secs())
}

fn apply_header_ops(ops: &[HeaderOp]) -> bool {
    ops.iter().all(|op| {
        let result = match op {
            HeaderOp::Remove(name) => {
                hostcalls::set_map_value(MapType::HttpRequestHeaders, name, None)
            }
            HeaderOp::Set(name, value) => {
                hostcalls::set_map_value(MapType::HttpRequestHeaders, name, Some(value))
            }
        };
        result.is_ok()
    })
}

fn respond(denial: &Denial) {
    let mut headers: Vec<(&str, &str)> = vec![("content-type", "application/json")];
    if let Some(challenge) = &denial.www_authenticate {
        headers.push(("www-authenticate", challenge));
    }
    send(denial.status.into(), &headers, denial.body.as_bytes());
}

/// Sends a local reply. Should the host refuse, the request stays paused: it never
/// reaches the upstream (fail closed).
fn send(status: u32, headers: &[(&str, &str)], body: &[u8]) {
    if hostcalls::send_http_response(status, headers.to_vec(), Some(body)).is_err() {
        log::error!("audience-guard: could not send the local reply");
    }
}
