//! Fetching remote keys from the root context, once per Envoy process.
//!
//! Every VM (one per worker, plus the main thread) ticks. The key set lives in proxy-wasm
//! shared data, visible to all VMs: each tick a VM installs a newer published set if
//! there is one. When a fetch is due, VMs race for a lease (compare-and-swap), and only
//! the winner calls the identity provider through the configured Envoy cluster and
//! publishes the result. An unknown `kid` asks for an early refetch, at most one per
//! `min_refetch_seconds` for the whole process (another CAS-guarded timestamp). Parked
//! requests are decided again when keys change, when a fetch ends (this VM's at once,
//! another VM's at the next tick, through the `ended` record it leaves), or when their
//! `timeout_ms` runs out.

use crate::decision::KeyWait;
use crate::filter::{apply, decide_now, now_millis, Shared};
use crate::policy::Policy;
use crate::remote::{self, RemoteConfig};
use crate::request::Request;
use proxy_wasm::hostcalls;
use proxy_wasm::types::{Action, BufferType, MapType, Status};
use serde_json::{json, Value};
use std::time::Duration;

/// Largest JWKS or discovery document accepted.
const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Compare-and-swap rounds when publishing keys (another VM publishing meanwhile).
const PUBLISH_ATTEMPTS: usize = 4;

/// A request waiting for keys.
pub struct Parked {
    pub context_id: u32,
    pub request: Request,
    pub issuer: String,
    pub wait: KeyWait,
    /// The issuer's key generation when the request was parked.
    pub generation: u64,
    pub parked_ms: u64,
    pub deadline_ms: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Discovery,
    Jwks,
}

struct IssuerFetch {
    issuer: String,
    config: RemoteConfig,
    /// Shared-data key prefix ([`shared_prefix`]).
    prefix: String,
    in_flight: Option<InFlight>,
    healthy: Option<bool>,
    /// The version (CAS) of the process's `ended` record this VM last acted on.
    ended_seen: Option<u32>,
}

/// A fetch under way: the callout's token, its stage, and when the fetch began (its
/// answer is only as new as that moment).
#[derive(Clone, Copy)]
struct InFlight {
    token: u32,
    stage: Stage,
    started_ms: u64,
}

pub struct Fetcher {
    root_id: u32,
    issuers: Vec<IssuerFetch>,
}

impl Fetcher {
    pub const TICK: Duration = Duration::from_millis(100);

    /// `None` when no issuer fetches its keys.
    pub fn new(policy: &Policy, root_id: u32) -> Option<Fetcher> {
        let issuers: Vec<IssuerFetch> = policy
            .issuers
            .values()
            .filter_map(|issuer| {
                let config = issuer.remote()?.config.clone();
                Some(IssuerFetch {
                    issuer: issuer.name.to_string(),
                    prefix: shared_prefix(&issuer.name, &config),
                    config,
                    in_flight: None,
                    healthy: None,
                    ended_seen: None,
                })
            })
            .collect();
        for fetch in &issuers {
            fetch.create_kid_refetch_record();
        }
        (!issuers.is_empty()).then_some(Fetcher { root_id, issuers })
    }

    pub fn tick(&mut self, shared: &Shared) {
        let now_ms = now_millis();
        let wanted = shared.kid_wanted.take();
        let mut no_refetch_coming = Vec::new();
        let mut ended_elsewhere = Vec::new();
        for fetch in &mut self.issuers {
            fetch.sync(shared);
            if let Some(started_ms) = fetch.ended_elsewhere() {
                ended_elsewhere.push((fetch.issuer.clone(), started_ms));
            }
            let kid_refetch = match (wanted.contains(&fetch.issuer), fetch.in_flight) {
                (false, _) => KidRefetch::NotWanted,
                // Its requests wait for the fetch under way ([`Fetcher::decide_again`]
                // asks again if that fetch began before they arrived).
                (true, Some(_)) => KidRefetch::Pending,
                (true, None) => fetch.claim_kid_refetch(now_ms),
            };
            if kid_refetch == KidRefetch::Refused {
                no_refetch_coming.push(fetch.issuer.clone());
            }
            let periodic = || fetch.due(shared, now_ms) && fetch.claim_lease(now_ms);
            if fetch.in_flight.is_none() && (kid_refetch == KidRefetch::Claimed || periodic()) {
                fetch.start(shared, now_ms, Stage::first(&fetch.config));
            }
        }
        // A fetch another VM made ended: requests waiting here for it get their answer
        // now rather than at their deadline (a failed first fetch: 503).
        for (issuer, started_ms) in &ended_elsewhere {
            self.resolve_parked(shared, now_ms, Some((issuer, *started_ms)));
        }
        self.resolve_parked(shared, now_ms, None);
        for issuer in no_refetch_coming {
            self.resolve_unknown_kids(shared, &issuer, now_ms);
        }
    }

    pub fn on_response(&mut self, shared: &Shared, token: u32, headers: usize, body_size: usize) {
        let now_ms = now_millis();
        let Some(fetch) = self
            .issuers
            .iter_mut()
            .find(|f| f.in_flight.is_some_and(|f| f.token == token))
        else {
            return;
        };
        let Some(ended) = fetch.in_flight.take() else {
            return;
        };
        let finished = match (ended.stage, read_body(headers, body_size)) {
            (_, Err(problem)) => Some(Err(problem)),
            (Stage::Discovery, Ok(body)) => match remote::parse_discovery(&body, &fetch.issuer) {
                Ok((authority, path)) => match fetch.dispatch(&authority, &path) {
                    Ok(token) => {
                        fetch.in_flight = Some(InFlight {
                            token,
                            stage: Stage::Jwks,
                            ..ended
                        });
                        None
                    }
                    Err(problem) => Some(Err(problem)),
                },
                Err(problem) => Some(Err(problem)),
            },
            (Stage::Jwks, Ok(body)) => Some(fetch.publish(shared, &body, ended.started_ms, now_ms)),
        };
        if let Some(result) = finished {
            fetch.finish(shared, result, ended.started_ms, now_ms);
            let issuer = fetch.issuer.clone();
            self.resolve_parked(shared, now_ms, Some((&issuer, ended.started_ms)));
        }
    }

    /// Decides parked requests again whose wait is over: their issuer's keys changed,
    /// a fetch for it just ended here (`ended`: issuer, when that fetch began), or their
    /// time ran out.
    fn resolve_parked(&self, shared: &Shared, now_ms: u64, ended: Option<(&str, u64)>) {
        let ready = take_parked(shared, |p| {
            let generation = shared
                .policy
                .remote(&p.issuer)
                .map_or(0, |r| r.generation());
            generation != p.generation
                || now_ms >= p.deadline_ms
                || ended.is_some_and(|(issuer, _)| issuer == p.issuer)
        });
        self.decide_again(shared, ready, now_ms, Wait::Possible { ended });
    }

    /// Unknown-`kid` requests when no refetch will happen soon: decide them now.
    fn resolve_unknown_kids(&self, shared: &Shared, issuer: &str, now_ms: u64) {
        let ready = take_parked(shared, |p| {
            p.issuer == issuer && p.wait == KeyWait::UnknownKid
        });
        self.decide_again(shared, ready, now_ms, Wait::NotAgain);
    }

    /// Decides and resumes or answers each request. Where it may wait again, a request
    /// whose `kid` is still unknown waits on when the keys it was decided with, and the
    /// fetch that just ended, began before it arrived: they may predate the rotation, so
    /// an unknown-`kid` refetch is asked for (the next tick claims one, or finds none
    /// may happen yet and decides the request then).
    fn decide_again(&self, shared: &Shared, ready: Vec<Parked>, now_ms: u64, wait: Wait) {
        if ready.is_empty() {
            return;
        }
        for mut p in ready {
            if hostcalls::set_effective_context(p.context_id).is_err() {
                continue; // the stream is gone
            }
            let decision = decide_now(shared, &p.request);
            let still_unknown = matches!(decision.wait_for_keys, Some((_, KeyWait::UnknownKid)));
            if let (true, Wait::Possible { ended }, Some(remote)) =
                (still_unknown, wait, shared.policy.remote(&p.issuer))
            {
                let fresh_keys = remote.fetch_started_ms() >= p.parked_ms;
                let fresh_fetch = ended
                    .is_some_and(|(issuer, started)| issuer == p.issuer && started >= p.parked_ms);
                if !fresh_keys && !fresh_fetch && now_ms < p.deadline_ms {
                    // Waiting for the first keys, it may have found its kid missing in
                    // them: from now on it waits for a refetch like any unknown kid.
                    p.wait = KeyWait::UnknownKid;
                    p.generation = remote.generation();
                    if let (Ok(mut parked), Ok(mut wanted)) = (
                        shared.parked.try_borrow_mut(),
                        shared.kid_wanted.try_borrow_mut(),
                    ) {
                        wanted.insert(p.issuer.clone());
                        parked.push(p);
                        continue;
                    }
                }
            }
            if apply(shared, &decision) == Action::Continue
                && hostcalls::resume_http_request().is_err()
            {
                log::warn!("audience-guard: could not resume a request that waited for keys");
            }
        }
        let _ = hostcalls::set_effective_context(self.root_id);
    }
}

/// Whether requests decided again may wait once more for an unknown `kid`.
#[derive(Clone, Copy)]
enum Wait<'a> {
    /// Yes; `ended` is the fetch that just ended here (issuer, when it began), if any.
    Possible { ended: Option<(&'a str, u64)> },
    /// No: no refetch will come soon.
    NotAgain,
}

/// Removes and returns the parked requests that `done` selects.
fn take_parked(shared: &Shared, done: impl Fn(&Parked) -> bool) -> Vec<Parked> {
    let Ok(mut parked) = shared.parked.try_borrow_mut() else {
        return Vec::new();
    };
    let (ready, waiting): (Vec<Parked>, Vec<Parked>) = parked.drain(..).partition(|p| done(p));
    *parked = waiting;
    ready
}

/// What a token with an unknown `kid` can expect from the key fetcher.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum KidRefetch {
    NotWanted,
    /// No refetch for `min_refetch_seconds`: one may start now.
    Possible,
    /// This VM won the right to refetch now.
    Claimed,
    /// A refetch started and has not landed yet: its result is worth waiting for.
    Pending,
    /// A refetch happened recently and landed: no new one until the interval passes.
    Refused,
}

/// Installs the key set published for `issuer` if it is newer than this VM's. Returns
/// whether keys were installed.
pub fn sync_published(shared: &Shared, issuer: &str) -> bool {
    let Some(issuer) = shared.policy.issuers.get(issuer) else {
        return false;
    };
    let Some(remote) = issuer.remote() else {
        return false;
    };
    let key = format!("{}/keys", shared_prefix(&issuer.name, &remote.config));
    let Ok((Some(bytes), Some(cas))) = hostcalls::get_shared_data(&key) else {
        return false;
    };
    if remote.published_version() == Some(cas) {
        return false;
    }
    remote.set_published_version(cas);
    let published: Option<(u64, u64, String)> =
        serde_json::from_slice::<Value>(&bytes).ok().and_then(|v| {
            Some((
                v.get("fetched_at")?.as_u64()?,
                v.get("started_ms").and_then(Value::as_u64).unwrap_or(0),
                v.get("jwks")?.as_str()?.to_owned(),
            ))
        });
    let Some((fetched_at, started_ms, jwks)) = published else {
        return false;
    };
    let allowed: Vec<_> = issuer.algorithms.iter().copied().collect();
    match remote::parse_jwks(jwks.as_bytes(), &allowed) {
        Ok(keys) => {
            log::debug!(
                "audience-guard: installing {} published keys for issuer {:?}",
                keys.len(),
                issuer.name
            );
            let fingerprint = crate::shared_verified::fingerprint(jwks.as_bytes());
            remote.install(keys, fingerprint, fetched_at, started_ms);
            true
        }
        Err(_) => false,
    }
}

/// The shared-data key prefix for a key set: one per fetched JWKS URL and cluster,
/// whatever issuer or filter uses it; a discovery document's set is also the issuer's
/// own, since the document must name that issuer (two issuers configured with one
/// document must not install each other's keys).
pub fn shared_prefix(issuer: &str, config: &RemoteConfig) -> String {
    if config.discovery {
        format!(
            "audience_guard/discovery/{}/{}\n{issuer}",
            config.cluster, config.uri
        )
    } else {
        format!("audience_guard/jwks/{}/{}", config.cluster, config.uri)
    }
}

/// Whether a request without usable keys has nothing to wait for: a fetch has ended
/// (it brought none) and no other is under way — in the back-off after a failure, the
/// next comes only after it. Such a request is answered at once (503) rather than held
/// for its `timeout_ms`; one that arrives while a fetch is under way waits for it.
pub fn no_fetch_under_way(prefix: &str) -> bool {
    let ended = hostcalls::get_shared_data(&format!("{prefix}/ended"));
    let fetching = hostcalls::get_shared_data(&format!("{prefix}/fetching"));
    matches!(ended, Ok((Some(_), _)))
        && matches!(fetching, Ok((Some(flag), _)) if flag.as_slice() == b"0")
}

/// Reads the process-wide record of the last unknown-`kid` refetch (`<claimed_ms>
/// <landed 0|1>`) and says what a new unknown `kid` can expect; also returns the CAS.
pub fn kid_refetch_state(
    prefix: &str,
    config: &RemoteConfig,
    now_ms: u64,
) -> (KidRefetch, Option<u32>) {
    let (record, cas) = match hostcalls::get_shared_data(&format!("{prefix}/kid_refetch")) {
        Ok((Some(value), Some(cas))) => (parse_refetch(&value), Some(cas)),
        _ => ((0, true), None),
    };
    let (claimed_at, landed) = record;
    let interval_ms = config.min_refetch_seconds.saturating_mul(1000);
    let state = if claimed_at == 0 || now_ms >= claimed_at.saturating_add(interval_ms) {
        KidRefetch::Possible
    } else if !landed && now_ms < claimed_at.saturating_add(config.timeout_ms) {
        KidRefetch::Pending
    } else {
        KidRefetch::Refused
    };
    (state, cas)
}

fn parse_refetch(bytes: &[u8]) -> (u64, bool) {
    let text = std::str::from_utf8(bytes).unwrap_or("");
    let mut parts = text.split(' ');
    let claimed_at = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (claimed_at, parts.next() == Some("1"))
}

impl Stage {
    fn first(config: &RemoteConfig) -> Stage {
        if config.discovery {
            Stage::Discovery
        } else {
            Stage::Jwks
        }
    }
}

impl IssuerFetch {
    fn key(&self, name: &str) -> String {
        format!("{}/{name}", self.prefix)
    }

    fn sync(&self, shared: &Shared) {
        sync_published(shared, &self.issuer);
    }

    /// A fetch is due when keys were never obtained or are older than `refresh_seconds`.
    fn due(&self, shared: &Shared, now_ms: u64) -> bool {
        let fetched_at = shared
            .policy
            .remote(&self.issuer)
            .and_then(|r| r.fetched_at());
        fetched_at.is_none_or(|at| now_ms / 1000 >= at.saturating_add(self.config.refresh_seconds))
    }

    /// Takes the process-wide fetch lease if it is free. The key is created first: a
    /// CAS on a key that does not exist yet always succeeds, so at start two VMs may
    /// both win once.
    fn claim_lease(&self, now_ms: u64) -> bool {
        let key = self.key("lease");
        let (value, cas) = match hostcalls::get_shared_data(&key) {
            Ok((Some(value), Some(cas))) => (value, cas),
            _ => {
                let _ = hostcalls::set_shared_data(&key, Some(b"0"), None);
                return false; // try again next tick, through the CAS
            }
        };
        let held_until = parse_u64(&value);
        if now_ms < held_until {
            return false;
        }
        let until = now_ms
            .saturating_add(self.config.timeout_ms)
            .saturating_add(1000);
        hostcalls::set_shared_data(&key, Some(until.to_string().as_bytes()), Some(cas)).is_ok()
    }

    /// At most one unknown-`kid` refetch per `min_refetch_seconds` for the process.
    fn claim_kid_refetch(&self, now_ms: u64) -> KidRefetch {
        let (state, cas) = kid_refetch_state(&self.prefix, &self.config, now_ms);
        if state != KidRefetch::Possible {
            return state;
        }
        let claim = format!("{now_ms} 0");
        match hostcalls::set_shared_data(&self.key("kid_refetch"), Some(claim.as_bytes()), cas) {
            Ok(()) => KidRefetch::Claimed,
            Err(_) => KidRefetch::Pending,
        }
    }

    /// Creates the process-wide unknown-`kid` record ("never claimed") if no VM has yet.
    /// Claims are CAS writes, and a CAS on a key that does not exist always succeeds:
    /// creating it at configuration, long before any token can ask for a refetch, keeps
    /// two workers from both claiming the first refetch.
    fn create_kid_refetch_record(&self) {
        let key = self.key("kid_refetch");
        if let Ok((None, _)) = hostcalls::get_shared_data(&key) {
            let _ = hostcalls::set_shared_data(&key, Some(b"0 1"), None);
        }
    }

    /// When a fetch this VM has not acted on ended (in another VM, or before this one
    /// started): the moment that fetch began.
    fn ended_elsewhere(&mut self) -> Option<u64> {
        let Ok((Some(value), cas)) = hostcalls::get_shared_data(&self.key("ended")) else {
            return None;
        };
        if cas == self.ended_seen {
            return None;
        }
        self.ended_seen = cas;
        Some(parse_u64(&value))
    }

    /// Marks an unknown-`kid` refetch as landed: whatever it was going to bring is here.
    fn land_kid_refetch(&self) {
        let key = self.key("kid_refetch");
        if let Ok((Some(value), Some(cas))) = hostcalls::get_shared_data(&key) {
            let (claimed_at, _) = parse_refetch(&value);
            let landed = format!("{claimed_at} 1");
            let _ = hostcalls::set_shared_data(&key, Some(landed.as_bytes()), Some(cas));
        }
    }

    fn start(&mut self, shared: &Shared, now_ms: u64, stage: Stage) {
        log::debug!("audience-guard: fetching keys for issuer {:?}", self.issuer);
        let (authority, path) = (self.config.authority.clone(), self.config.path.clone());
        match self.dispatch(&authority, &path) {
            Ok(token) => {
                let _ = hostcalls::set_shared_data(&self.key("fetching"), Some(b"1"), None);
                self.in_flight = Some(InFlight {
                    token,
                    stage,
                    started_ms: now_ms,
                })
            }
            Err(problem) => self.finish(shared, Err(problem), now_ms, now_ms),
        }
    }

    fn dispatch(&self, authority: &str, path: &str) -> Result<u32, &'static str> {
        let headers = vec![
            (":method", "GET"),
            (":path", path),
            (":authority", authority),
            ("accept", "application/json"),
        ];
        let timeout = Duration::from_millis(self.config.timeout_ms);
        hostcalls::dispatch_http_call(&self.config.cluster, headers, None, vec![], timeout).map_err(
            |status| match status {
                Status::BadArgument => "unknown cluster",
                _ => "the call could not be made",
            },
        )
    }

    /// Validates a fetched JWKS and publishes it to every VM — unless a fetch that began
    /// later has already published: two VMs' fetches can overlap (an unknown `kid`'s
    /// refetch next to a slow periodic one), and the older answer landing last must not
    /// bring back a key the identity provider has since removed. Compare-and-swap, so
    /// that check and write are one step for the whole process.
    fn publish(
        &mut self,
        shared: &Shared,
        body: &[u8],
        started_ms: u64,
        now_ms: u64,
    ) -> Result<(), &'static str> {
        let issuer = shared
            .policy
            .issuers
            .get(&self.issuer)
            .ok_or("issuer gone")?;
        let allowed: Vec<_> = issuer.algorithms.iter().copied().collect();
        remote::parse_jwks(body, &allowed)?;
        let text = std::str::from_utf8(body).map_err(|_| "body is not UTF-8")?;
        let record = json!({"fetched_at": now_ms / 1000, "started_ms": started_ms, "jwks": text})
            .to_string();
        let key = self.key("keys");
        for _ in 0..PUBLISH_ATTEMPTS {
            let (current, cas) = match hostcalls::get_shared_data(&key) {
                Ok((value, cas)) => (value, cas),
                Err(_) => (None, None),
            };
            let newer_published = current
                .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
                .and_then(|v| v.get("started_ms")?.as_u64())
                .is_some_and(|published| published > started_ms);
            if newer_published {
                break; // the keys a later fetch brought stay
            }
            if hostcalls::set_shared_data(&key, Some(record.as_bytes()), cas).is_ok() {
                break;
            }
        }
        self.sync(shared);
        Ok(())
    }

    /// Counts and logs the end of a fetch (logging only when the state changes). A
    /// failure keeps the last good keys and holds the lease for a short back-off. Either
    /// way the `ended` record tells the other VMs (see [`IssuerFetch::ended_elsewhere`]).
    fn finish(
        &mut self,
        shared: &Shared,
        result: Result<(), &'static str>,
        started_ms: u64,
        now_ms: u64,
    ) {
        self.land_kid_refetch();
        let _ = hostcalls::set_shared_data(&self.key("fetching"), Some(b"0"), None);
        let record = self.key("ended");
        let _ = hostcalls::set_shared_data(&record, Some(started_ms.to_string().as_bytes()), None);
        if let Ok((_, cas)) = hostcalls::get_shared_data(&record) {
            self.ended_seen = cas; // this VM decides its own requests in on_response
        }
        match result {
            Ok(()) => {
                // The next periodic fetch is due `refresh_seconds` from now, not when
                // this fetch's lease would have run out.
                let _ = hostcalls::set_shared_data(&self.key("lease"), Some(b"0"), None);
                shared.metrics.jwks_fetch_ok();
                if self.healthy != Some(true) {
                    log::info!("audience-guard: fetched keys for issuer {:?}", self.issuer);
                }
                self.healthy = Some(true);
            }
            Err(problem) => {
                shared.metrics.jwks_fetch_failed();
                if self.healthy != Some(false) {
                    // Another VM of this process may have published keys this one has
                    // not read yet.
                    self.sync(shared);
                    let has_keys = shared
                        .policy
                        .remote(&self.issuer)
                        .is_some_and(|remote| remote.current(now_ms / 1000).is_some());
                    let outcome = if has_keys {
                        "keeping the last good keys (for at most max_stale_seconds)"
                    } else {
                        "no usable keys (never fetched, or older than max_stale_seconds): its tokens get 503 until a fetch succeeds"
                    };
                    log::warn!(
                        "audience-guard: key fetch for issuer {:?} failed: {problem}; {outcome}",
                        self.issuer
                    );
                }
                self.healthy = Some(false);
                let backoff_ms = self.config.refresh_seconds.min(5) * 1000;
                let until = now_ms.saturating_add(backoff_ms).to_string();
                let _ =
                    hostcalls::set_shared_data(&self.key("lease"), Some(until.as_bytes()), None);
            }
        }
    }
}

/// The callout's body, if it answered 200 within the size cap. A callout that failed
/// (timeout, reset — even after its headers arrived) comes with no headers and no
/// response to read: asking Envoy for its headers then fails, which the SDK turns into
/// a panic, so nothing is read.
fn read_body(headers: usize, body_size: usize) -> Result<Vec<u8>, &'static str> {
    if headers == 0 {
        return Err("no response (timeout or reset)");
    }
    let status = hostcalls::get_map_value_bytes(MapType::HttpCallResponseHeaders, ":status")
        .ok()
        .flatten()
        .ok_or("no response (timeout or reset)")?;
    if status == b"504" {
        // Envoy's own answer when the callout's `timeout_ms` runs out (or a gateway's).
        return Err("timed out (504)");
    }
    if status != b"200" {
        return Err("the identity provider did not answer 200");
    }
    if body_size == 0 {
        return Err("empty body");
    }
    if body_size > MAX_BODY_BYTES {
        return Err("body too large");
    }
    hostcalls::get_buffer(BufferType::HttpCallResponseBody, 0, body_size)
        .ok()
        .flatten()
        .ok_or("body could not be read")
}

fn parse_u64(bytes: &[u8]) -> u64 {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}
