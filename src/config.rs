//! The plugin configuration: serde wire types (unknown fields are errors) and their
//! compilation into an immutable [`Policy`], with every error naming its JSON path.

use crate::algorithm::{Algorithm, KeyFamily};
use crate::cache::CacheConfig;
use crate::claims::ClaimCondition;
use crate::forward::{self, Forward};
use crate::keys::{self, KeySpec};
use crate::policy::{
    is_scope_token, Allowance, Issuer, KeySource, MissingAudience, MultipleAudiences, Policy,
    Responses, TokenType, Unmatched,
};
use crate::remote::{RawRemote, RemoteConfig, RemoteKeys};
use crate::rules::{metric_label, HostPattern, Matcher, Mode, Rule};
use crate::token::{TokenSource, TokenSources};
use crate::unique_members::NoDuplicates;
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::rc::Rc;

/// A configuration problem, located by its JSON path (`rules[2].scopes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    issuers: Vec<RawIssuer>,
    #[serde(default)]
    audiences: Vec<String>,
    #[serde(default, deserialize_with = "given")]
    clients: Option<BTreeMap<String, BTreeMap<String, RawScopes>>>,
    #[serde(default)]
    multiple_audiences: RawMultipleAudiences,
    #[serde(default)]
    missing_audience: MissingAudience,
    #[serde(default)]
    rules: Vec<RawRule>,
    #[serde(default)]
    unmatched: Unmatched,
    #[serde(default)]
    token: RawToken,
    #[serde(default)]
    forward: RawForward,
    #[serde(default)]
    responses: RawResponses,
    #[serde(default)]
    cache: CacheConfig,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIssuer {
    issuer: String,
    #[serde(default, deserialize_with = "given")]
    jwks: Option<Value>,
    #[serde(default, deserialize_with = "given")]
    pem: Option<Vec<RawPem>>,
    #[serde(default, deserialize_with = "given")]
    hmac_secret_base64: Option<String>,
    #[serde(default, deserialize_with = "given")]
    remote: Option<RawRemote>,
    #[serde(default, deserialize_with = "given")]
    discovery: Option<RawRemote>,
    #[serde(default, deserialize_with = "given")]
    algorithms: Option<Vec<String>>,
    #[serde(default)]
    token_type: TokenType,
    #[serde(default = "default_leeway")]
    leeway_seconds: u64,
    #[serde(default, deserialize_with = "given")]
    max_lifetime_seconds: Option<u64>,
    #[serde(default, deserialize_with = "given")]
    client_claims: Option<Vec<String>>,
    #[serde(default, deserialize_with = "given")]
    scope_claims: Option<Vec<String>>,
}

fn default_leeway() -> u64 {
    60
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawPem {
    Plain(String),
    WithKid(RawPemWithKid),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPemWithKid {
    #[serde(default, deserialize_with = "given")]
    kid: Option<String>,
    pem: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMultipleAudiences {
    #[serde(default = "yes")]
    require_azp: bool,
    #[serde(default, deserialize_with = "given")]
    trusted: Option<Vec<String>>,
}

impl Default for RawMultipleAudiences {
    fn default() -> Self {
        RawMultipleAudiences {
            require_azp: true,
            trusted: None,
        }
    }
}

fn yes() -> bool {
    true
}

/// An optional field that, when present, must hold a value: `null` is refused rather
/// than read as absent. A YAML key left empty (`any_scopes:`, `clients:`) arrives as
/// `null` through Istio's `pluginConfig`; read as absent it would silently drop the
/// requirement the operator meant to write.
fn given<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default, deserialize_with = "given")]
    name: Option<String>,
    #[serde(rename = "match", default)]
    matcher: RawMatch,
    #[serde(default, deserialize_with = "given")]
    audiences: Option<Vec<String>>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default, deserialize_with = "given")]
    any_scopes: Option<Vec<String>>,
    #[serde(default, deserialize_with = "given")]
    clients: Option<Vec<String>>,
    #[serde(default)]
    claims: BTreeMap<String, Value>,
    #[serde(default)]
    anonymous: bool,
    #[serde(default)]
    mode: Mode,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawMatch {
    #[serde(default, deserialize_with = "given")]
    path: Option<String>,
    #[serde(default, deserialize_with = "given")]
    prefix: Option<String>,
    #[serde(default, deserialize_with = "given")]
    methods: Option<Vec<String>>,
    #[serde(default, deserialize_with = "given")]
    hosts: Option<Vec<String>>,
    #[serde(default, deserialize_with = "given")]
    route: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawToken {
    #[serde(default, deserialize_with = "given")]
    sources: Option<Vec<RawSource>>,
    #[serde(default, deserialize_with = "given")]
    max_bytes: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    #[serde(default, deserialize_with = "given")]
    header: Option<String>,
    #[serde(default, deserialize_with = "given")]
    prefix: Option<String>,
    #[serde(default, deserialize_with = "given")]
    query: Option<String>,
    #[serde(default, deserialize_with = "given")]
    cookie: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawForward {
    #[serde(default)]
    claims: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "given")]
    client_header: Option<String>,
    #[serde(default, deserialize_with = "given")]
    scopes_header: Option<String>,
    #[serde(default, deserialize_with = "given")]
    audience_header: Option<String>,
    #[serde(default, deserialize_with = "given")]
    strip_prefix: Option<String>,
    #[serde(default)]
    keep_token: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawResponses {
    #[serde(default, deserialize_with = "given")]
    realm: Option<String>,
    #[serde(default, deserialize_with = "given")]
    describe_errors: Option<bool>,
}

/// A JSON or shape error as one line naming its path. serde reports a missing field at
/// the object that lacks it: the field is appended, so the path names what to add.
/// Positions are dropped (the path says where). The text was already checked to be
/// JSON, so serde_json's "expected value" (what it says of `null` or a number where a
/// name such as `"dry_run"` belongs) is a shape error too.
fn shape_error(error: &serde_path_to_error::Error<serde_json::Error>) -> ConfigError {
    let text = error.inner().to_string();
    let message = match text.rsplit_once(" at line ") {
        Some(("expected value", _)) => "expected one of the names this field accepts",
        Some((message, _)) => message,
        None => text.as_str(),
    };
    let path = match error.path().to_string() {
        p if p == "." || p == "?" => String::new(),
        p => p,
    };
    match message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        Some(field) if path.is_empty() => ConfigError::new(field, "required"),
        Some(field) => ConfigError::new(format!("{path}.{field}"), "required"),
        None => ConfigError::new(path, without_string_value(message)),
    }
}

/// serde quotes a string it could not use (`invalid type: string "…", expected a
/// sequence`); the value may be a secret (a private key given where a list was due), so
/// the line says "a string" instead.
fn without_string_value(message: &str) -> String {
    let Some(start) = message.find("string \"") else {
        return message.to_owned();
    };
    let end = message.find(", expected").filter(|&end| end > start);
    let (before, after) = (
        message.get(..start).unwrap_or_default(),
        end.and_then(|end| message.get(end..)).unwrap_or_default(),
    );
    format!("{before}a string{after}")
}

/// Largest token the configuration may allow (`token.max_bytes`): Envoy's own ceiling on
/// a request's headers (`max_request_headers_kb` ≤ 8192 KiB), which already bounds every
/// token a request can carry (header, query, cookie). SPEC sets no ceiling of its own:
/// an operator who allows large tokens (HOSTILE.md's 100 KB claim) and raises Envoy's
/// header limit must not have the configuration refused; the bound only catches a typo.
const MAX_TOKEN_BYTES_LIMIT: usize = 8 * 1024 * 1024;
const MAX_LEEWAY_SECONDS: u64 = 300;

impl Policy {
    /// Parses and checks the plugin configuration. Any error names its JSON path.
    pub fn from_json(json: &str) -> Result<Policy, ConfigError> {
        // First one walk over the text: it is JSON, and no object names a member twice.
        let mut de = serde_json::Deserializer::from_str(json);
        let not_json = |e: &serde_json::Error| ConfigError::new("", format!("not valid JSON: {e}"));
        match serde_path_to_error::deserialize::<_, NoDuplicates>(&mut de) {
            Err(e) if e.inner().is_syntax() || e.inner().is_eof() => {
                return Err(not_json(e.inner()))
            }
            Err(e) => return Err(shape_error(&e)),
            Ok(_) => de.end().map_err(|e| not_json(&e))?,
        }
        let mut de = serde_json::Deserializer::from_str(json);
        let raw: RawConfig =
            serde_path_to_error::deserialize(&mut de).map_err(|e| shape_error(&e))?;
        compile(raw)
    }
}

fn compile(raw: RawConfig) -> Result<Policy, ConfigError> {
    if raw.issuers.is_empty() {
        return Err(ConfigError::new(
            "issuers",
            "at least one issuer is required",
        ));
    }
    let mut issuers = HashMap::new();
    let mut warnings = Vec::new();
    for (i, raw_issuer) in raw.issuers.into_iter().enumerate() {
        let path = format!("issuers[{i}]");
        let issuer = compile_issuer(raw_issuer, &path, &mut warnings)?;
        if issuers.contains_key(&*issuer.name) {
            return Err(ConfigError::new(
                format!("{path}.issuer"),
                "issuer listed twice",
            ));
        }
        issuers.insert(issuer.name.to_string(), issuer);
    }
    let audiences = strings(raw.audiences, "audiences")?;
    let clients = match raw.clients {
        None => None,
        Some(clients) => Some(compile_clients(clients)?),
    };
    let multiple_audiences = MultipleAudiences {
        require_azp: raw.multiple_audiences.require_azp,
        trusted: match raw.multiple_audiences.trusted {
            None => None,
            Some(t) => Some(
                strings(t, "multiple_audiences.trusted")?
                    .into_iter()
                    .collect(),
            ),
        },
    };
    let mut rules = raw
        .rules
        .into_iter()
        .enumerate()
        .map(|(i, r)| compile_rule(r, i, &audiences))
        .collect::<Result<Vec<_>, _>>()?;
    let labels: Vec<String> = rules.iter().map(|r| metric_label(&r.name)).collect();
    for (i, label) in labels.iter().enumerate() {
        if let Some(j) = labels.iter().take(i).position(|l| l == label) {
            return Err(ConfigError::new(
                format!("rules[{i}].name"),
                format!("names the same counters as rules[{j}] (rule_{label}_*): rule names must differ in their letters and digits"),
            ));
        }
    }
    check_case_twins(&rules)?;
    let service_audiences = service_audiences(&audiences, &rules);
    for rule in rules.iter_mut().filter(|r| r.audiences.is_empty()) {
        // An anonymous rule still checks a token that is present: against what the
        // service answers to.
        rule.audiences.clone_from(&service_audiences);
    }
    let sources = compile_sources(raw.token)?;
    let forward = compile_forward(raw.forward)?;
    check_forward(&forward, &sources)?;
    let realm = match raw.responses.realm {
        Some(realm) => realm,
        // The first audience: top-level, or else the first a rule names.
        None => service_audiences
            .first()
            .cloned()
            .unwrap_or_else(|| "audience-guard".to_owned()),
    };
    if !is_quotable(&realm) {
        return Err(ConfigError::new(
            "responses.realm",
            "must be printable text without '\"' or '\\'",
        ));
    }
    Ok(Policy {
        issuers,
        audiences: service_audiences,
        clients,
        multiple_audiences,
        missing_audience: raw.missing_audience,
        rules,
        unmatched: raw.unmatched,
        sources,
        forward,
        responses: Responses {
            realm,
            describe_errors: raw.responses.describe_errors.unwrap_or(true),
        },
        cache: raw.cache,
        warnings,
    })
}

/// An issuer's keys and checks. Inline keys it cannot use are skipped and described in
/// `warnings`.
fn compile_issuer(
    raw: RawIssuer,
    path: &str,
    warnings: &mut Vec<String>,
) -> Result<Issuer, ConfigError> {
    if raw.issuer.is_empty() {
        return Err(ConfigError::new(
            format!("{path}.issuer"),
            "must not be empty",
        ));
    }
    if raw.leeway_seconds > MAX_LEEWAY_SECONDS {
        return Err(ConfigError::new(
            format!("{path}.leeway_seconds"),
            "must be between 0 and 300",
        ));
    }
    let mut specs: Vec<KeySpec> = Vec::new();
    let mut skipped: Vec<ConfigError> = Vec::new();
    if let Some(jwks) = &raw.jwks {
        let (usable, unusable) = keys::parse_jwks(jwks, &format!("{path}.jwks"))?;
        specs.extend(usable);
        skipped.extend(unusable);
    }
    for (i, pem) in raw.pem.iter().flatten().enumerate() {
        let pem_path = format!("{path}.pem[{i}]");
        specs.push(match pem {
            RawPem::Plain(text) => keys::parse_pem(None, text, &pem_path)?,
            RawPem::WithKid(k) => keys::parse_pem(k.kid.clone(), &k.pem, &pem_path)?,
        });
    }
    let hmac_path = format!("{path}.hmac_secret_base64");
    let has_hmac = raw.hmac_secret_base64.is_some();
    if let Some(secret) = &raw.hmac_secret_base64 {
        specs.push(keys::parse_hmac_secret(secret, &hmac_path)?);
    }
    let remote = match (raw.remote, raw.discovery) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(path, "set remote or discovery, not both"));
        }
        (Some(r), None) => Some(RemoteConfig::compile(r, false, &format!("{path}.remote"))?),
        (None, Some(d)) => Some(RemoteConfig::compile(
            d,
            true,
            &format!("{path}.discovery"),
        )?),
        (None, None) => None,
    };
    let has_inline = !specs.is_empty() || !skipped.is_empty();
    match (&remote, has_inline) {
        (Some(_), true) => {
            return Err(ConfigError::new(
                path,
                "keys are either fetched (remote, discovery) or inline (jwks, pem, hmac_secret_base64), not both",
            ));
        }
        (None, false) => {
            return Err(ConfigError::new(
                path,
                "needs a key source: jwks, pem, hmac_secret_base64, remote or discovery",
            ));
        }
        _ => {}
    }
    if remote.is_some() && raw.algorithms.is_none() {
        return Err(ConfigError::new(
            format!("{path}.algorithms"),
            "required with remote or discovery keys",
        ));
    }
    let algorithms = match raw.algorithms {
        Some(names) => {
            let algs_path = format!("{path}.algorithms");
            if names.is_empty() {
                return Err(ConfigError::new(algs_path, "must not be empty"));
            }
            names
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    Algorithm::parse(n).ok_or_else(|| {
                        ConfigError::new(format!("{algs_path}[{i}]"), "unsupported algorithm")
                    })
                })
                .collect::<Result<BTreeSet<_>, _>>()?
        }
        None => specs.iter().flat_map(KeySpec::default_algorithms).collect(),
    };
    let lists_hmac = algorithms.iter().any(|a| a.family() == KeyFamily::Hmac);
    if has_hmac && !lists_hmac {
        return Err(ConfigError::new(
            hmac_path,
            "HS256/HS384/HS512 must be listed in algorithms to use an HMAC secret",
        ));
    }
    if lists_hmac && !has_hmac {
        return Err(ConfigError::new(
            format!("{path}.algorithms"),
            "HS* algorithms need hmac_secret_base64",
        ));
    }
    let keys = match remote {
        Some(config) => KeySource::Remote(RemoteKeys::new(config)),
        None => {
            let allowed: Vec<Algorithm> = algorithms.iter().copied().collect();
            let mut bound = Vec::new();
            for spec in &specs {
                match spec.bind(&allowed) {
                    Some(key) => bound.push(key),
                    None => skipped.push(ConfigError::new(
                        key_path(path, spec),
                        "key fits none of the issuer's algorithms (or its material is unusable)",
                    )),
                }
            }
            if bound.is_empty() {
                let why = skipped.first().map_or(String::new(), |e| format!(": {e}"));
                return Err(ConfigError::new(path, format!("no usable key{why}")));
            }
            warnings.extend(skipped.iter().map(|e| format!("{e}: key skipped")));
            KeySource::Inline(Rc::new(bound))
        }
    };
    Ok(Issuer {
        name: raw.issuer.into(),
        keys,
        algorithms,
        token_type: raw.token_type,
        leeway_seconds: raw.leeway_seconds,
        max_lifetime_seconds: raw.max_lifetime_seconds,
        client_claims: names_or(
            raw.client_claims,
            &["azp", "client_id"],
            &format!("{path}.client_claims"),
        )?,
        scope_claims: names_or(
            raw.scope_claims,
            &["scope", "scp"],
            &format!("{path}.scope_claims"),
        )?,
    })
}

fn key_path(path: &str, spec: &KeySpec) -> String {
    match &spec.kid {
        Some(kid) if kid.len() <= 64 => format!("{path} (key {kid:?})"),
        _ => path.to_owned(),
    }
}

fn names_or(
    names: Option<Vec<String>>,
    default: &[&str],
    path: &str,
) -> Result<Vec<String>, ConfigError> {
    match names {
        None => Ok(default.iter().map(|s| (*s).to_owned()).collect()),
        Some(n) if n.is_empty() => Err(ConfigError::new(path, "must not be empty")),
        Some(n) => strings(n, path),
    }
}

/// Checks a list of non-empty strings.
fn strings(list: Vec<String>, path: &str) -> Result<Vec<String>, ConfigError> {
    if let Some(i) = list.iter().position(String::is_empty) {
        return Err(ConfigError::new(
            format!("{path}[{i}]"),
            "must not be empty",
        ));
    }
    Ok(list)
}

const NEVER_MATCHES: &str =
    "an empty list could never match, so the rule would never apply: leave the field out to match any";
const NEVER_HOLDS: &str = "an empty list could never hold: leave the field out for no requirement";

/// A list a rule gives that must not be empty: a rule whose condition could never match
/// would silently hand its requests to a later (maybe weaker) rule, and a requirement
/// that could never hold is a mistake, not a policy (as an empty claim list is).
fn never_empty<T>(list: Vec<T>, path: &str, why: &str) -> Result<Vec<T>, ConfigError> {
    if list.is_empty() {
        return Err(ConfigError::new(path, why));
    }
    Ok(list)
}

/// [`strings`] that are scope tokens (RFC 6750 §3: printable ASCII but space, `"` and
/// `\`): a required scope is written into the `WWW-Authenticate` challenge, and one
/// that could never be granted must not load as if it could.
fn scopes(list: Vec<String>, path: &str) -> Result<Vec<String>, ConfigError> {
    let list = strings(list, path)?;
    if let Some(i) = list.iter().position(|s| !is_scope_token(s)) {
        return Err(ConfigError::new(
            format!("{path}[{i}]"),
            "a scope is printable ASCII without spaces, '\"' or '\\' (RFC 6750 §3)",
        ));
    }
    Ok(list)
}

/// A client's scopes for one audience: a list, or `"*"` for all (also `["*"]`).
#[derive(Deserialize)]
#[serde(untagged, expecting = "a list of scopes, or \"*\" for all")]
enum RawScopes {
    List(Vec<String>),
    All(AllScopes),
}

#[derive(Deserialize)]
enum AllScopes {
    #[serde(rename = "*")]
    Star,
}

fn compile_clients(
    raw: BTreeMap<String, BTreeMap<String, RawScopes>>,
) -> Result<HashMap<String, HashMap<String, Allowance>>, ConfigError> {
    let mut clients = HashMap::new();
    for (client, audiences) in raw {
        let path = format!("clients.{client}");
        if client.is_empty() {
            return Err(ConfigError::new("clients", "client id must not be empty"));
        }
        let mut per_audience = HashMap::new();
        for (audience, scopes) in audiences {
            let allowance = match scopes {
                RawScopes::All(AllScopes::Star) => Allowance::All,
                RawScopes::List(scopes) => {
                    let scopes = self::scopes(scopes, &format!("{path}.{audience}"))?;
                    if scopes.iter().any(|s| s == "*") {
                        Allowance::All
                    } else {
                        Allowance::Only(scopes.into_iter().collect())
                    }
                }
            };
            per_audience.insert(audience, allowance);
        }
        clients.insert(client, per_audience);
    }
    Ok(clients)
}

/// The audiences this service answers to: the top-level list, or else every audience
/// its rules name (first seen first). They check a token on an anonymous rule without
/// audiences of its own and on a request no rule matches (`unmatched: deny`).
/// With no audience anywhere (only anonymous rules), a present token passes nowhere.
fn service_audiences(top_level: &[String], rules: &[Rule]) -> Vec<String> {
    if !top_level.is_empty() {
        return top_level.to_vec();
    }
    let mut all: Vec<String> = Vec::new();
    for audience in rules.iter().flat_map(|r| &r.audiences) {
        if !all.contains(audience) {
            all.push(audience.clone());
        }
    }
    all
}

fn compile_rule(raw: RawRule, index: usize, defaults: &[String]) -> Result<Rule, ConfigError> {
    let path = format!("rules[{index}]");
    let name = raw.name.unwrap_or_else(|| path.clone());
    let audiences = match raw.audiences {
        Some(a) => strings(a, &format!("{path}.audiences"))?,
        None => defaults.to_vec(),
    };
    if audiences.is_empty() && !raw.anonymous {
        return Err(ConfigError::new(
            format!("{path}.audiences"),
            "no audience for this rule: set audiences here or at the top level (there is no \"any audience\")",
        ));
    }
    let m = raw.matcher;
    let match_path = format!("{path}.match");
    for (field, value) in [("path", &m.path), ("prefix", &m.prefix)] {
        if value.as_ref().is_some_and(|p| !p.starts_with('/')) {
            return Err(ConfigError::new(
                format!("{match_path}.{field}"),
                "must start with '/'",
            ));
        }
        if value.as_ref().is_some_and(|p| p.contains(';')) {
            return Err(ConfigError::new(
                format!("{match_path}.{field}"),
                "must not contain ';' (path parameters are not part of what a rule matches)",
            ));
        }
        if value.as_ref().is_some_and(|p| p.contains(['?', '#'])) {
            return Err(ConfigError::new(
                format!("{match_path}.{field}"),
                "must not contain '?' or '#': rules match the path without its query, so it could never match",
            ));
        }
    }
    let methods = match m.methods {
        None => None,
        Some(list) => Some(
            strings(
                never_empty(list, &format!("{match_path}.methods"), NEVER_MATCHES)?,
                &format!("{match_path}.methods"),
            )?
            .into_iter()
            .map(|s| s.to_ascii_uppercase())
            .collect(),
        ),
    };
    let hosts = match m.hosts {
        None => None,
        Some(list) => Some(
            strings(
                never_empty(list, &format!("{match_path}.hosts"), NEVER_MATCHES)?,
                &format!("{match_path}.hosts"),
            )?
            .iter()
            .enumerate()
            .map(|(i, h)| {
                HostPattern::parse(h)
                    .map_err(|why| ConfigError::new(format!("{match_path}.hosts[{i}]"), why))
            })
            .collect::<Result<_, _>>()?,
        ),
    };
    let claims = raw
        .claims
        .into_iter()
        .map(|(claim, value)| {
            let cond = ClaimCondition::parse(&value, &format!("{path}.claims.{claim}"))?;
            Ok((claim, cond))
        })
        .collect::<Result<Vec<_>, ConfigError>>()?;
    Ok(Rule {
        name: name.into(),
        matcher: Matcher {
            path: m.path,
            prefix: m.prefix,
            methods,
            hosts,
            route: m.route,
        },
        audiences,
        scopes: scopes(raw.scopes, &format!("{path}.scopes"))?,
        any_scopes: match raw.any_scopes {
            None => Vec::new(),
            Some(list) => scopes(
                never_empty(list, &format!("{path}.any_scopes"), NEVER_HOLDS)?,
                &format!("{path}.any_scopes"),
            )?,
        },
        clients: match raw.clients {
            None => None,
            Some(c) => Some(
                strings(
                    never_empty(c, &format!("{path}.clients"), NEVER_HOLDS)?,
                    &format!("{path}.clients"),
                )?
                .into_iter()
                .collect(),
            ),
        },
        claims,
        anonymous: raw.anonymous,
        mode: raw.mode,
    })
}

fn compile_sources(raw: RawToken) -> Result<TokenSources, ConfigError> {
    let max_bytes = raw.max_bytes.unwrap_or(8192);
    if max_bytes == 0 || max_bytes > MAX_TOKEN_BYTES_LIMIT {
        return Err(ConfigError::new(
            "token.max_bytes",
            format!("must be between 1 and {MAX_TOKEN_BYTES_LIMIT}"),
        ));
    }
    let sources = match raw.sources {
        None => vec![TokenSource::Header {
            name: "authorization".to_owned(),
            prefix: Some("Bearer".to_owned()),
        }],
        Some(list) if list.is_empty() => {
            return Err(ConfigError::new("token.sources", "must not be empty"))
        }
        Some(list) => list
            .into_iter()
            .enumerate()
            .map(|(i, s)| compile_source(s, &format!("token.sources[{i}]")))
            .collect::<Result<_, _>>()?,
    };
    for (i, source) in sources.iter().enumerate() {
        if sources
            .iter()
            .take(i)
            .any(|earlier| overlap(earlier, source))
        {
            return Err(ConfigError::new(
                format!("token.sources[{i}]"),
                "repeats an earlier source: every token would be found twice and refused",
            ));
        }
    }
    Ok(TokenSources { sources, max_bytes })
}

/// Whether two sources would both find the same credential: the same query parameter
/// or cookie, or the same header unless both name different prefixes (schemes).
fn overlap(a: &TokenSource, b: &TokenSource) -> bool {
    match (a, b) {
        (TokenSource::Query { name: x }, TokenSource::Query { name: y })
        | (TokenSource::Cookie { name: x }, TokenSource::Cookie { name: y }) => x == y,
        (
            TokenSource::Header { name: x, prefix: p },
            TokenSource::Header { name: y, prefix: q },
        ) => {
            x == y
                && match (p, q) {
                    (Some(p), Some(q)) => p.eq_ignore_ascii_case(q),
                    _ => true,
                }
        }
        _ => false,
    }
}

fn compile_source(raw: RawSource, path: &str) -> Result<TokenSource, ConfigError> {
    match (raw.header, raw.query, raw.cookie) {
        (Some(name), None, None) => {
            let name = header_name(&name, &format!("{path}.header"))?;
            let prefix = raw.prefix.filter(|p| !p.is_empty());
            // An auth scheme is an RFC 9110 token: no spaces, commas, quotes or `;`.
            let tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
            if prefix.as_ref().is_some_and(|p| !p.chars().all(tchar)) {
                return Err(ConfigError::new(
                    format!("{path}.prefix"),
                    "must be one word of letters, digits and !#$%&'*+-.^_`|~ (an auth scheme)",
                ));
            }
            Ok(TokenSource::Header { name, prefix })
        }
        (None, Some(name), None) if raw.prefix.is_none() && !name.is_empty() => {
            Ok(TokenSource::Query { name })
        }
        (None, None, Some(name)) if raw.prefix.is_none() && !name.is_empty() => {
            Ok(TokenSource::Cookie { name })
        }
        _ => Err(ConfigError::new(
            path,
            "expected exactly one of {\"header\", \"prefix\"}, {\"query\"} or {\"cookie\"}",
        )),
    }
}

/// A header name as Envoy stores it: lower-case token characters.
pub(crate) fn header_name(name: &str, path: &str) -> Result<String, ConfigError> {
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !valid {
        return Err(ConfigError::new(path, "not a valid HTTP header name"));
    }
    Ok(name.to_ascii_lowercase())
}

fn compile_forward(raw: RawForward) -> Result<Forward, ConfigError> {
    let optional_header = |value: Option<String>,
                           default: &str,
                           path: &str|
     -> Result<Option<Rc<str>>, ConfigError> {
        match value {
            None => Ok(Some(default.into())),
            Some(v) if v.is_empty() => Ok(None),
            Some(v) => header_name(&v, path).map(|h| Some(h.into())),
        }
    };
    let claims = raw
        .claims
        .into_iter()
        .map(|(claim, header)| {
            Ok((
                claim.clone(),
                header_name(&header, &format!("forward.claims.{claim}"))?.into(),
            ))
        })
        .collect::<Result<Vec<_>, ConfigError>>()?;
    let strip_prefix = match raw.strip_prefix {
        None => Some("x-jwt-".to_owned()),
        Some(p) if p.is_empty() => None,
        Some(p) => Some(header_name(&p, "forward.strip_prefix")?),
    };
    Ok(Forward {
        claims,
        client_header: optional_header(raw.client_header, "x-jwt-client", "forward.client_header")?,
        scopes_header: optional_header(raw.scopes_header, "x-jwt-scopes", "forward.scopes_header")?,
        audience_header: optional_header(
            raw.audience_header,
            "x-jwt-audience",
            "forward.audience_header",
        )?,
        strip_prefix,
        keep_token: raw.keep_token,
    })
}

/// `host` and the headers that frame the message or the connection (RFC 9110 §7.2,
/// §7.6.1, RFC 9112 §6): an output header there would let a token's claim, or the
/// removal every request gets, change which host the request is for or where its body
/// ends.
const FRAMING_HEADERS: [&str; 9] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];
const FRAMING_WHY: &str = "names host or a header that frames the request; pick another name";

/// Headers Envoy sets on every request and acts on (routing needs `x-forwarded-proto`;
/// `x-forwarded-client-cert` is the mTLS peer's identity), and the `x-envoy-` family
/// (timeouts, retries): no output may set one, nor `strip_prefix` reach one. Other
/// `x-forwarded-*` names (oauth2-proxy's `x-forwarded-user`, say) stay available.
const ENVOY_HEADERS: [&str; 6] = [
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-forwarded-client-cert",
    "x-request-id",
];
const ENVOY_PREFIX: &str = "x-envoy-";
const ENVOY_WHY: &str =
    "names or reaches a header Envoy sets and acts on (x-forwarded-for/-proto/-host/-port/-client-cert, x-request-id, x-envoy-*); pick another name";

/// Output headers are distinct (a claim written to the scopes header would replace the
/// effective scopes, and which one won would be an accident of order) and none is `host`,
/// a framing header or one of Envoy's (nor does `strip_prefix` reach one), and with
/// `keep_token` no token header is an output header, which every request has removed.
fn check_forward(forward: &Forward, sources: &TokenSources) -> Result<(), ConfigError> {
    if let Some(prefix) = &forward.strip_prefix {
        let prefix = forward::dashed(prefix);
        if FRAMING_HEADERS.iter().any(|h| h.starts_with(&prefix)) {
            return Err(ConfigError::new("forward.strip_prefix", FRAMING_WHY));
        }
        if ENVOY_HEADERS.iter().any(|h| h.starts_with(&prefix))
            || ENVOY_PREFIX.starts_with(&prefix)
            || prefix.starts_with(ENVOY_PREFIX)
        {
            return Err(ConfigError::new("forward.strip_prefix", ENVOY_WHY));
        }
    }
    let fixed = [
        ("forward.client_header", &forward.client_header),
        ("forward.scopes_header", &forward.scopes_header),
        ("forward.audience_header", &forward.audience_header),
    ];
    let fixed = fixed
        .into_iter()
        .filter_map(|(path, header)| Some((path.to_owned(), header.as_deref()?)));
    let claims = forward
        .claims
        .iter()
        .map(|(claim, header)| (format!("forward.claims.{claim}"), &**header));
    // Compared as spelled with `-`: a CGI upstream reads `x_jwt_a` and `x-jwt-a` as one.
    let mut taken: Vec<String> = Vec::new();
    for (path, header) in fixed.chain(claims) {
        let spelled = forward::dashed(header);
        if FRAMING_HEADERS.contains(&spelled.as_str()) {
            return Err(ConfigError::new(path, FRAMING_WHY));
        }
        if ENVOY_HEADERS.contains(&spelled.as_str()) || spelled.starts_with(ENVOY_PREFIX) {
            return Err(ConfigError::new(path, ENVOY_WHY));
        }
        if taken.contains(&spelled) {
            return Err(ConfigError::new(
                path,
                "names a header another output already sets: one would overwrite the other",
            ));
        }
        taken.push(spelled);
    }
    if !forward.keep_token {
        return Ok(());
    }
    let removed = sources.sources.iter().position(|source| {
        matches!(source, TokenSource::Header { name, .. } if forward.is_output_header(name))
    });
    match removed {
        Some(i) => Err(ConfigError::new(
            "forward.keep_token",
            format!(
                "token.sources[{i}] is an output header (or starts with strip_prefix), removed \
                 from every request: the token could not be kept"
            ),
        )),
        None => Ok(()),
    }
}

/// Two rules whose `path` (or `prefix`) differ only by ASCII case: a request for the
/// later one matches the earlier one when case is ignored and is refused (400, see
/// `decide`), so the later rule could never apply.
fn check_case_twins(rules: &[Rule]) -> Result<(), ConfigError> {
    fn fields(rule: &Rule) -> [(&'static str, Option<&str>); 2] {
        [
            ("path", rule.matcher.path.as_deref()),
            ("prefix", rule.matcher.prefix.as_deref()),
        ]
    }
    for (j, later) in rules.iter().enumerate() {
        for (i, earlier) in rules.iter().enumerate().take(j) {
            for ((field, mine), (_, theirs)) in fields(later).into_iter().zip(fields(earlier)) {
                if let (Some(mine), Some(theirs)) = (mine, theirs) {
                    if mine != theirs && mine.eq_ignore_ascii_case(theirs) {
                        return Err(ConfigError::new(
                            format!("rules[{j}].match.{field}"),
                            format!("differs from rules[{i}]'s only by case: paths are also compared regardless of case, so this rule could never apply; give both spellings one rule"),
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Whether `s` can sit inside a quoted-string of a `WWW-Authenticate` header as it is.
fn is_quotable(s: &str) -> bool {
    s.chars()
        .all(|c| (' '..='~').contains(&c) && c != '"' && c != '\\')
}
