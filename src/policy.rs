//! The compiled policy and the authorization checks that follow verification:
//! audiences (incl. `azp` for several audiences), the client's allowance, scopes, claims.

use crate::algorithm::Algorithm;
use crate::cache::{CacheConfig, CacheUse, Lookup, Verified, VerifyCache};
use crate::claims::ClaimCondition;
use crate::config::names_only;
use crate::decision::{Caller, Failure, Reason};
use crate::forward::Forward;
use crate::json::{self, Object};
use crate::keys::VerifyingKey;
use crate::remote::RemoteKeys;
use crate::rules::Rule;
use crate::token::TokenSources;
use crate::verify::{self, Unverified};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;

/// The configuration compiled once in `on_configure`; immutable afterwards.
pub struct Policy {
    pub issuers: HashMap<String, Issuer>,
    pub audiences: Vec<String>,
    /// client id → matched audience → what that client may use there.
    pub clients: Option<HashMap<String, HashMap<String, Allowance>>>,
    pub multiple_audiences: MultipleAudiences,
    pub missing_audience: MissingAudience,
    pub rules: Vec<Rule>,
    pub unmatched: Unmatched,
    pub sources: TokenSources,
    pub forward: Forward,
    pub responses: Responses,
    pub cache: CacheConfig,
    /// What configuration left out without failing (inline keys it cannot use), for
    /// the filter to log and `check-config` to print.
    pub warnings: Vec<String>,
}

pub struct Issuer {
    /// Shared with every decision and cache entry that names this issuer.
    pub name: Rc<str>,
    pub keys: KeySource,
    pub algorithms: BTreeSet<Algorithm>,
    pub token_type: TokenType,
    pub leeway_seconds: u64,
    pub max_lifetime_seconds: Option<u64>,
    pub client_claims: Vec<String>,
    pub scope_claims: Vec<String>,
}

/// Where an issuer's keys come from.
pub enum KeySource {
    Inline(Rc<Vec<VerifyingKey>>),
    Remote(RemoteKeys),
}

impl Issuer {
    /// The usable keys and their generation; `None` while remote keys were never
    /// obtained or have gone stale.
    pub fn key_set(&self, now: u64) -> Option<(Rc<Vec<VerifyingKey>>, u64)> {
        match &self.keys {
            KeySource::Inline(keys) => Some((keys.clone(), 0)),
            KeySource::Remote(remote) => remote.current(now),
        }
    }

    /// The generation of the usable key set; `None` when there is none (see [`Self::key_set`]).
    pub fn key_generation(&self, now: u64) -> Option<u64> {
        self.key_identity(now).map(|(generation, _)| generation)
    }

    /// The usable key set's generation (this VM's count) and fingerprint (the same in
    /// every VM: inline keys are part of the configuration, 0; fetched ones hash the
    /// published JWKS); `None` when there is no usable key set.
    pub fn key_identity(&self, now: u64) -> Option<(u64, u64)> {
        match &self.keys {
            KeySource::Inline(_) => Some((0, 0)),
            KeySource::Remote(remote) => remote.current_identity(now),
        }
    }

    pub fn remote(&self) -> Option<&RemoteKeys> {
        match &self.keys {
            KeySource::Remote(remote) => Some(remote),
            KeySource::Inline(_) => None,
        }
    }
}

/// The scopes a client may use at one audience.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allowance {
    All,
    Only(BTreeSet<String>),
}

#[derive(Debug, Clone)]
pub struct MultipleAudiences {
    pub require_azp: bool,
    pub trusted: Option<BTreeSet<String>>,
}

#[derive(Deserialize, Default, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[serde(remote = "Self")]
pub enum MissingAudience {
    #[default]
    Reject,
    #[serde(rename = "self")]
    SelfClient,
}

names_only!(MissingAudience);

#[derive(Deserialize, Default, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(remote = "Self")]
pub enum TokenType {
    #[serde(rename = "at+jwt")]
    AtJwt,
    #[serde(rename = "jwt")]
    Jwt,
    #[default]
    #[serde(rename = "any")]
    Any,
}

names_only!(TokenType);

#[derive(Deserialize, Default, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[serde(remote = "Self")]
pub enum Unmatched {
    #[default]
    Deny,
    Allow,
}

names_only!(Unmatched);

#[derive(Debug, Clone)]
pub struct Responses {
    pub realm: String,
    pub describe_errors: bool,
}

/// What an authorization attempt learned, filled in as it is learned: the whole caller
/// when the attempt succeeds, and what was known when it failed (for logs and `explain`).
#[derive(Debug, Clone, Default)]
pub struct Partial {
    pub caller: Caller,
    /// Whether the verified-token cache was consulted, and what it said.
    pub cache: Option<CacheUse>,
}

/// The requirements a token is checked against: a rule, or the implicit one used for
/// requests no rule matches (top-level audiences, nothing else).
pub struct Requirements<'a> {
    pub audiences: &'a [String],
    pub scopes: &'a [String],
    pub any_scopes: &'a [String],
    pub clients: Option<&'a BTreeSet<String>>,
    pub claims: &'a [(String, ClaimCondition)],
}

/// A token decoded for this request rather than found verified in the cache: parsed now,
/// or revived from the parse the cache `kept` when it was refused before; with the
/// failure the negative cache remembers for it, if any.
struct Decoded<'p, 't> {
    unverified: Unverified<'p, 't>,
    known_failure: Option<(Failure, u64)>,
    kept: bool,
}

impl<'a> From<&'a Rule> for Requirements<'a> {
    fn from(rule: &'a Rule) -> Self {
        Requirements {
            audiences: &rule.audiences,
            scopes: &rule.scopes,
            any_scopes: &rule.any_scopes,
            clients: rule.clients.as_ref(),
            claims: &rule.claims,
        }
    }
}

impl Policy {
    /// The issuer of a cached verification, while it still has the key set that
    /// produced it; `None` makes the entry count as a miss.
    fn issuer_still_verifying(&self, hit: &Verified, now: u64) -> Option<&Issuer> {
        self.issuers
            .get(&*hit.issuer)
            .filter(|issuer| issuer.key_generation(now) == Some(hit.generation))
    }

    /// The fetched keys of `issuer`, if it is configured with `remote` or `discovery`.
    pub fn remote(&self, issuer: &str) -> Option<&RemoteKeys> {
        self.issuers.get(issuer).and_then(Issuer::remote)
    }

    /// Whether any rule matches on Envoy's route name (reading it costs a host call).
    pub fn matches_on_route(&self) -> bool {
        self.rules.iter().any(|r| r.matcher.route.is_some())
    }

    /// Verifies `token` and checks it against `req`: the verified claims, or why not.
    /// What is learned about the caller goes into `partial` as it is learned, so a
    /// denial can be logged with it and an allowed caller needs no second copy.
    pub fn authorize(
        &self,
        token: &str,
        req: &Requirements,
        now: u64,
        partial: &mut Partial,
        cache: &mut VerifyCache,
    ) -> Result<Rc<Object>, Failure> {
        // A token refused before is not decoded again: its parse is kept (and depends
        // on nothing but the token and this policy).
        let decode = |cache: &VerifyCache, known_failure| {
            let (unverified, kept) = match cache.parsed(token).and_then(|p| p.revive(self, token)) {
                Some(unverified) => (unverified, true),
                None => (verify::parse(self, token)?, false),
            };
            let claims = unverified.claims.clone();
            let decoded = Decoded {
                unverified,
                known_failure,
                kept,
            };
            Ok::<_, Failure>((decoded.unverified.issuer, claims, Some(decoded)))
        };
        let miss = cache.enabled().then_some(CacheUse::Miss);
        let (issuer, claims, mut decoded) = match cache.lookup(token, now) {
            Lookup::Hit(hit) => match self.issuer_still_verifying(&hit, now) {
                Some(issuer) => {
                    partial.cache = Some(CacheUse::Hit);
                    (issuer, hit.claims, None)
                }
                None => {
                    partial.cache = miss;
                    decode(cache, None)?
                }
            },
            // A known forgery runs every check but the signature itself, so the
            // decision and its reason are exactly what a fresh verification gives.
            Lookup::Forged(failure, generation) => {
                partial.cache = Some(CacheUse::Hit);
                decode(cache, Some((failure, generation)))?
            }
            Lookup::Miss => {
                partial.cache = miss;
                decode(cache, None)?
            }
        };
        // Times, client and audience, then — for a token not verified before — the
        // signature; the token is cached once it verifies.
        let checks = |partial: &mut Partial,
                      cache: &mut VerifyCache,
                      decoded: Option<&mut Decoded>| {
            partial.caller.issuer = Some(issuer.name.clone());
            let usable_until = verify::check_times(issuer, &claims, now)?;
            let client = client_of(issuer, &claims)?;
            partial.caller.client = client.map(str::to_owned);
            let matched = self.matched_audience(&claims, client, req.audiences)?;
            partial.caller.matched_audience = Some(matched.to_owned());
            if let Some(Decoded {
                unverified,
                known_failure,
                ..
            }) = decoded
            {
                let current = issuer.key_generation(now);
                if let Some((failure, _)) =
                    known_failure.take().filter(|(_, g)| Some(*g) == current)
                {
                    return Err(failure);
                }
                match issuer.key_identity(now) {
                    // Another worker verified this very token with these very keys.
                    Some((generation, keys)) if cache.signature_vouched(token, keys) => {
                        unverified.key_generation = generation;
                        partial.cache = Some(CacheUse::Hit);
                    }
                    identity => {
                        if let Err(failure) = unverified.verify_signature(now) {
                            // Only a verdict of these very keys is remembered: not "keys
                            // missing", not an unknown kid a refetch may still bring.
                            if failure.reason == Reason::InvalidToken && failure.wait.is_none() {
                                cache.insert_forged(
                                    token,
                                    now,
                                    failure.clone(),
                                    unverified.key_generation,
                                );
                            }
                            return Err(failure);
                        }
                        if let Some((_, keys)) = identity {
                            cache.share_signature(token, keys);
                        }
                    }
                }
                let verified = Verified {
                    issuer: issuer.name.clone(),
                    claims: claims.clone(),
                    usable_until,
                    generation: unverified.key_generation,
                };
                cache.insert(token, verified);
            }
            Ok((client, matched))
        };
        let (client, matched) = match checks(partial, cache, decoded.as_mut()) {
            Ok(established) => established,
            Err(failure) => {
                if let Some(decoded) = decoded.filter(|d| !d.kept) {
                    cache.remember_parsed(token, decoded.unverified.parsed());
                }
                return Err(failure);
            }
        };
        let mut scopes = scopes_of(issuer, &claims)?;
        self.cut_to_allowance(&mut scopes, client, matched)?;
        partial.caller.effective_scopes = scopes.join(" ");
        if let Some(allowed) = req.clients {
            if !client.is_some_and(|c| allowed.contains(c)) {
                return Err(Failure::new(
                    Reason::ClientNotAllowed,
                    "client is not allowed on this route",
                ));
            }
        }
        let granted = |s: &String| scopes.binary_search(&s.as_str()).is_ok();
        if !req.scopes.iter().all(granted) {
            return Err(scope_failure(req.scopes));
        }
        if !req.any_scopes.is_empty() && !req.any_scopes.iter().any(granted) {
            return Err(scope_failure(req.any_scopes));
        }
        if !req
            .claims
            .iter()
            .all(|(name, cond)| cond.holds(&claims, name))
        {
            return Err(Failure::new(
                Reason::ClaimMismatch,
                "a required claim condition is not met",
            ));
        }
        Ok(claims)
    }

    /// The token's audiences (RFC 7519 §4.1.3: a string or an array of strings), the
    /// several-audience rules (OIDC Core 3.1.3.7), then the first of `wanted` found.
    fn matched_audience<'w>(
        &self,
        claims: &Object,
        client: Option<&str>,
        wanted: &'w [String],
    ) -> Result<&'w str, Failure> {
        let denied = |d| Failure::new(Reason::AudienceNotAllowed, d);
        let several: Vec<&str>;
        let one: [&str; 1];
        let audiences: &[&str] = match json::member(claims, "aud") {
            None => match (self.missing_audience, client) {
                (MissingAudience::SelfClient, Some(c)) => {
                    one = [c];
                    &one
                }
                _ => return Err(denied("token has no audience (aud)")),
            },
            Some(Value::String(a)) => {
                one = [a.as_str()];
                &one
            }
            Some(Value::Array(list)) => {
                several = list
                    .iter()
                    .map(Value::as_str)
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| denied("token audience is malformed"))?;
                &several
            }
            Some(_) => return Err(denied("token audience is malformed")),
        };
        if audiences.is_empty() || audiences.iter().any(|a| a.is_empty()) {
            return Err(denied("token audience is empty"));
        }
        if audiences.len() > 1 {
            let names_a_party = json::member(claims, "azp")
                .and_then(Value::as_str)
                .is_some_and(|azp| !azp.is_empty());
            if self.multiple_audiences.require_azp && !names_a_party {
                return Err(denied(
                    "token has several audiences but no authorized party (azp)",
                ));
            }
            if let Some(trusted) = &self.multiple_audiences.trusted {
                if !audiences.iter().all(|a| trusted.contains(*a)) {
                    return Err(denied("token names an audience that is not trusted"));
                }
            }
        }
        wanted
            .iter()
            .map(String::as_str)
            .find(|w| audiences.contains(w))
            .ok_or_else(|| denied("token audience is not accepted here"))
    }

    /// Cuts the token's scopes down to the client's allowance at the matched audience.
    fn cut_to_allowance(
        &self,
        scopes: &mut Vec<&str>,
        client: Option<&str>,
        audience: &str,
    ) -> Result<(), Failure> {
        let Some(clients) = &self.clients else {
            return Ok(());
        };
        let allowance = client
            .and_then(|c| clients.get(c))
            .and_then(|per_audience| per_audience.get(audience))
            .ok_or_else(|| {
                Failure::new(
                    Reason::ClientNotAllowed,
                    "client is not allowed for this audience",
                )
            })?;
        if let Allowance::Only(allowed) = allowance {
            scopes.retain(|s| allowed.contains(*s));
        }
        Ok(())
    }
}

fn scope_failure(required: &[String]) -> Failure {
    Failure {
        required_scopes: Some(required.join(" ")),
        ..Failure::new(Reason::InsufficientScope, "a required scope is missing")
    }
}

/// The presenting client: the first of `client_claims` present. A present claim that is
/// not a non-empty string makes the token invalid rather than anonymous.
fn client_of<'c>(issuer: &Issuer, claims: &'c Object) -> Result<Option<&'c str>, Failure> {
    for name in &issuer.client_claims {
        match json::member(claims, name) {
            None => continue,
            Some(Value::String(c)) if !c.is_empty() => return Ok(Some(c)),
            Some(_) => {
                return Err(Failure::new(
                    Reason::InvalidToken,
                    "token client claim is malformed",
                ))
            }
        }
    }
    Ok(None)
}

/// Whether `s` is an RFC 6749 §3.3 scope-token (RFC 6750 §3's scope syntax): one or
/// more of `%x21 / %x23-5B / %x5D-7E` — printable ASCII without space, `"` or `\`.
pub(crate) fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

/// Scopes from the first of `scope_claims` present: a space-separated string or an
/// array of strings. Any other type makes the token invalid. A value that is not a
/// scope-token (an array element holding a space, a tab, a quote, nothing) is left out:
/// no rule can require it (configured scopes are scope-tokens), and forwarded in the
/// space-separated scopes header it would read as other scopes than the filter granted
/// (`["orders:read", "orders:write admin"]` is not a grant of `orders:write`).
/// Sorted and without repeats; borrowed from the claims (a cache hit copies only the
/// joined effective scopes).
fn scopes_of<'c>(issuer: &Issuer, claims: &'c Object) -> Result<Vec<&'c str>, Failure> {
    let malformed = || Failure::new(Reason::InvalidToken, "token scope claim is malformed");
    let present = issuer
        .scope_claims
        .iter()
        .find_map(|name| json::member(claims, name));
    let mut scopes = match present {
        None => return Ok(Vec::new()),
        Some(Value::String(s)) => s.split(' ').collect::<Vec<_>>(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().ok_or_else(malformed))
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(malformed()),
    };
    scopes.retain(|s| is_scope_token(s));
    scopes.sort_unstable();
    scopes.dedup();
    Ok(scopes)
}
