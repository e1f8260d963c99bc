//! The proxy-wasm shell: reads the request, calls [`decide_cached`], applies the result,
//! counts and logs it. No policy logic lives here. Remote keys are fetched by the root
//! context ([`crate::fetcher`]); a request that needs them is parked until they arrive.

use crate::cache::VerifyCache;
use crate::decision::{Decision, Denial, HeaderOp, KeyWait, Verdict};
use crate::fetcher::{
    kid_refetch_state, no_fetch_under_way, shared_prefix, sync_published, Fetcher, KidRefetch,
    Parked,
};
use crate::metrics::{Metrics, RuleOutcome};
use crate::request::Headers;
use crate::shared_verified::{SharedVerified, SlotStore};
use crate::{decide_cached, Policy, Request};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel, MapType, Status};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Trace);
    proxy_wasm::set_root_context(|id| -> Box<dyn RootContext> { Box::new(Root::new(id)) });
}}

/// What a VM's root context and its streams share.
pub struct Shared {
    pub policy: Policy,
    pub metrics: Metrics,
    pub cache: RefCell<VerifyCache>,
    /// Requests waiting for an issuer's keys.
    pub parked: RefCell<Vec<Parked>>,
    /// Issuers for which a token named an unknown `kid` since the last tick.
    pub kid_wanted: RefCell<BTreeSet<String>>,
}

struct Root {
    id: u32,
    shared: Option<Rc<Shared>>,
    fetcher: Option<Fetcher>,
}

impl Root {
    fn new(id: u32) -> Root {
        Root {
            id,
            shared: None,
            fetcher: None,
        }
    }
}

impl Context for Root {
    fn on_http_call_response(
        &mut self,
        token: u32,
        headers: usize,
        body_size: usize,
        _trailers: usize,
    ) {
        if let (Some(fetcher), Some(shared)) = (&mut self.fetcher, &self.shared) {
            fetcher.on_response(shared, token, headers, body_size);
        }
    }
}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        follow_envoy_log_level();
        let bytes = self.get_plugin_configuration().unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        let policy = match Policy::from_json(&text) {
            Ok(policy) => {
                for warning in &policy.warnings {
                    log::warn!("audience-guard: {warning}");
                }
                policy
            }
            Err(error) => {
                log::error!("audience-guard: invalid configuration: {error}");
                return false;
            }
        };
        let shared = Rc::new(Shared {
            cache: RefCell::new(
                VerifyCache::new(policy.cache)
                    .sharing(SharedVerified::new(Box::new(EnvoySharedData), &text)),
            ),
            metrics: Metrics::define(&policy.rules.iter().map(|r| &*r.name).collect::<Vec<_>>()),
            policy,
            parked: RefCell::new(Vec::new()),
            kid_wanted: RefCell::new(BTreeSet::new()),
        });
        self.fetcher = Fetcher::new(&shared.policy, self.id);
        let tick = match self.fetcher {
            Some(_) => Fetcher::TICK,
            None => LOG_LEVEL_REFRESH,
        };
        if hostcalls::set_tick_period(tick).is_err() && self.fetcher.is_some() {
            log::error!("audience-guard: cannot schedule key fetches");
            return false;
        }
        self.shared = Some(shared);
        true
    }

    fn on_tick(&mut self) {
        follow_envoy_log_level();
        if let (Some(fetcher), Some(shared)) = (&mut self.fetcher, &self.shared) {
            fetcher.tick(shared);
        }
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Guard {
            id: context_id,
            shared: self.shared.clone(),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// The slots of [`SharedVerified`] in Envoy's shared data (one store per VM group). A
/// failed read is no slot; a failed write only means one verification more elsewhere.
struct EnvoySharedData;

impl SlotStore for EnvoySharedData {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        hostcalls::get_shared_data(key)
            .ok()
            .and_then(|(value, _)| value)
    }

    fn set(&self, key: &str, value: &[u8]) {
        let _ = hostcalls::set_shared_data(key, Some(value), None);
    }
}

/// How often a VM without remote keys re-reads Envoy's log level; with remote keys the
/// fetcher's tick ([`Fetcher::TICK`]) does it.
const LOG_LEVEL_REFRESH: Duration = Duration::from_secs(1);

/// Per-request logs cost a host call each: only what Envoy will print is formatted.
/// Re-read on every tick, so raising the `wasm` logger on Envoy's admin
/// (`/logging?wasm=debug`) shows the allow lines without a reload.
fn follow_envoy_log_level() {
    log::set_max_level(match hostcalls::get_log_level() {
        Ok(LogLevel::Trace) => log::LevelFilter::Trace,
        Ok(LogLevel::Debug) => log::LevelFilter::Debug,
        Ok(LogLevel::Info) => log::LevelFilter::Info,
        Ok(LogLevel::Warn) => log::LevelFilter::Warn,
        _ => log::LevelFilter::Error,
    });
}

struct Guard {
    id: u32,
    /// `None` only if Envoy created a stream although configuration failed: deny.
    shared: Option<Rc<Shared>>,
}

impl Context for Guard {}

/// Only the callbacks listed in scripts/wasm-exports.txt stay exported after `make build`;
/// implementing another one here means adding its export there.
impl HttpContext for Guard {
    fn on_http_request_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        let Some(shared) = &self.shared else {
            send(500, &[], br#"{"error":"server_error"}"#);
            return Action::Pause;
        };
        let request = read_request(&shared.policy);
        let mut decision = decide_now(shared, &request);
        // The keys (or an unknown kid) may already be in a set another worker published
        // since this VM's last tick.
        if let Some((issuer, _)) = &decision.wait_for_keys {
            if sync_published(shared, issuer) {
                decision = decide_now(shared, &request);
            }
        }
        if let Some((issuer, wait)) = &decision.wait_for_keys {
            if park(shared, self.id, request, issuer, *wait) {
                return Action::Pause;
            }
        }
        apply(shared, &decision)
    }
}

/// Decides with the VM's cache (its use is counted by [`apply`], once per request,
/// however often a request that waited for keys was decided).
pub fn decide_now(shared: &Shared, request: &Request) -> Decision {
    let now = now_millis() / 1000;
    match shared.cache.try_borrow_mut() {
        Ok(mut cache) => decide_cached(&shared.policy, &mut cache, request, now),
        Err(_) => decide_cached(&shared.policy, &mut VerifyCache::disabled(), request, now),
    }
}

/// Requests one VM holds at most while waiting for keys.
const MAX_PARKED: usize = 1024;

/// Holds the request until the issuer's keys are fetched (bounded by `timeout_ms`).
/// Its body waits too: Envoy turns a wasm `Pause` of the headers into
/// `StopAllIterationAndWatermark` (tests/envoy `test_request_body_*` check it).
fn park(shared: &Shared, context_id: u32, request: Request, issuer: &str, wait: KeyWait) -> bool {
    let Some(remote) = shared.policy.remote(issuer) else {
        return false;
    };
    let Ok(mut parked) = shared.parked.try_borrow_mut() else {
        return false;
    };
    if parked.len() >= MAX_PARKED {
        return false; // decide now rather than hold without bound
    }
    let prefix = shared_prefix(issuer, &remote.config);
    if wait == KeyWait::FirstFetch && no_fetch_under_way(&prefix) {
        return false;
    }
    if wait == KeyWait::UnknownKid {
        let (state, _) = kid_refetch_state(&prefix, &remote.config, now_millis());
        if state == KidRefetch::Refused {
            return false; // a refetch just happened: the answer is already known
        }
        if let Ok(mut wanted) = shared.kid_wanted.try_borrow_mut() {
            wanted.insert(issuer.to_owned());
        }
    }
    parked.push(Parked {
        context_id,
        request,
        issuer: issuer.to_owned(),
        wait,
        generation: remote.generation(),
        parked_ms: now_millis(),
        deadline_ms: now_millis().saturating_add(remote.config.timeout_ms),
    });
    true
}

/// Applies a decision to the current stream; `Continue` means forward the request.
pub fn apply(shared: &Shared, decision: &Decision) -> Action {
    let metrics = &shared.metrics;
    metrics.cache_use(decision.cache);
    match &decision.verdict {
        Verdict::Deny(denial) => {
            metrics.denied(denial.reason);
            metrics.rule_outcome(decision.rule.as_deref(), RuleOutcome::Denied);
            log_line(log::Level::Info, "deny", decision, Some(denial));
            // The request goes no further, but Envoy's access log and stream state keep
            // its headers: the token (valid elsewhere, e.g. on a 403) and spoofed
            // identity headers are removed here too, as on every other path.
            if !apply_header_ops(&decision.header_ops) {
                log::warn!("audience-guard: could not remove the token from a denied request");
            }
            respond(denial);
            Action::Pause
        }
        verdict => {
            for dropped in &decision.dropped_headers {
                log::info!("audience-guard: identity header for {dropped:?} left out: value has control characters, surrounding spaces or exceeds 4 KiB");
            }
            if !apply_header_ops(&decision.header_ops) {
                log::error!("audience-guard: could not rewrite request headers; request refused");
                send(500, &[], br#"{"error":"server_error"}"#);
                return Action::Pause;
            }
            if let Verdict::DryRunDeny(denial) = verdict {
                metrics.dry_run_denied();
                metrics.rule_outcome(decision.rule.as_deref(), RuleOutcome::DryRunDenied);
                log_line(log::Level::Info, "dry-run deny", decision, Some(denial));
            } else {
                metrics.allowed();
                metrics.rule_outcome(decision.rule.as_deref(), RuleOutcome::Allowed);
                if log::log_enabled!(log::Level::Debug) {
                    log_line(log::Level::Debug, "allow", decision, None);
                }
            }
            Action::Continue
        }
    }
}

/// One line per decision: rule, reason, status, issuer, client, matched audience —
/// never the token. Values from the token are escaped (`{:?}`) so they cannot forge
/// log lines, and cut to [`MAX_LOGGED_CHARS`] (a forged token may carry kilobytes);
/// absent ones print as `-`.
fn log_line(level: log::Level, what: &str, decision: &Decision, denial: Option<&Denial>) {
    let shown = |v: Option<&str>| {
        v.map_or("-".to_owned(), |s| {
            match s.char_indices().nth(MAX_LOGGED_CHARS) {
                Some((end, _)) => format!("{:?}…", s.get(..end).unwrap_or_default()),
                None => format!("{s:?}"),
            }
        })
    };
    let caller = &decision.caller;
    log::log!(
        level,
        "audience-guard: {what} rule={} reason={} status={} issuer={} client={} audience={}",
        shown(decision.rule.as_deref()),
        decision.reason(),
        denial.map_or(200, |d| d.status),
        shown(caller.issuer.as_deref()),
        shown(caller.client.as_deref()),
        shown(caller.matched_audience.as_deref())
    );
}

/// Longest issuer, client or audience value written to a log line.
const MAX_LOGGED_CHARS: usize = 128;

/// Reads only what `decide` needs; header values stay bytes (the SDK's string getters
/// panic on non-UTF-8 values, which Envoy lets through).
fn read_request(policy: &Policy) -> Request {
    let headers = Headers::from_encoded(request_headers_encoded());
    let text = |v: &[u8]| String::from_utf8(v.to_vec()).ok();
    let mut request = Request::default();
    for (name, value) in headers.iter() {
        match name {
            ":method" => request.method = text(value).unwrap_or_default(),
            // A non-UTF-8 path stays empty, which the path check refuses (400).
            ":path" => request.path = text(value).unwrap_or_default(),
            ":authority" => request.authority = text(value).unwrap_or_default(),
            _ => {}
        }
    }
    request.headers = headers;
    if policy.matches_on_route() {
        request.route = hostcalls::get_property(vec!["xds", "route_name"])
            .ok()
            .flatten()
            .and_then(|bytes| String::from_utf8(bytes).ok());
    }
    request
}

#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_get_header_map_pairs(
        map_type: MapType,
        return_map_data: *mut *mut u8,
        return_map_size: *mut usize,
    ) -> Status;
}

/// The request headers in the host's encoding, as one buffer. The SDK's `get_map_bytes`
/// makes the same call but copies every name and value out (see [`Headers`] for the
/// cost); an error or no headers gives an empty buffer, which [`Headers`] reads as none.
fn request_headers_encoded() -> Vec<u8> {
    let mut data: *mut u8 = std::ptr::null_mut();
    let mut size: usize = 0;
    // SAFETY: the host writes a pointer and a length into the two locals; the buffer
    // it points to was allocated in this module through the SDK's exported
    // `proxy_on_memory_allocate` as a boxed slice of exactly `size` bytes and handed
    // over to us; the SDK's own `get_map_bytes` takes ownership of it the same way.
    unsafe {
        match proxy_get_header_map_pairs(MapType::HttpRequestHeaders, &mut data, &mut size) {
            Status::Ok if !data.is_null() => Vec::from_raw_parts(data, size, size),
            _ => Vec::new(),
        }
    }
}

/// Unix milliseconds from the host clock. Should the host fail to tell the time, the
/// latest possible instant is used, so every token counts as expired (fail closed).
pub fn now_millis() -> u64 {
    hostcalls::get_current_time()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(u64::MAX, |d| {
            u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
        })
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
