//! The plugin configuration: serde wire types (unknown fields are errors) and their
//! compilation into an immutable [`Policy`], with every error naming its JSON path.
//! This module holds the top level (audiences, clients, multiple_audiences, responses),
//! the helpers every section shares (`given`, `strings`, `scopes`) and the order of the
//! checks; the `issuers`, `rules` and `token`/`forward` sections (wire types and checks)
//! are in its child modules `issuer`, `rule` and `token_forward`.

use crate::cache::CacheConfig;
use crate::policy::{
    is_scope_token, Allowance, MissingAudience, MultipleAudiences, Policy, Responses, Unmatched,
};
use crate::unique_members::NoDuplicates;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

mod issuer;
mod rule;
mod shapes;
mod token_forward;

use issuer::{compile_issuer, RawIssuer};
use rule::{check_case_twins, compile_rule, service_audiences, RawRule};
pub(crate) use shapes::{names_only, objects_only};
use token_forward::{check_forward, compile_forward, compile_sources, RawForward, RawToken};

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
#[serde(remote = "Self")]
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
#[serde(remote = "Self")]
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

objects_only!(RawConfig, RawMultipleAudiences, RawResponses);

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

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
#[serde(remote = "Self")]
struct RawResponses {
    #[serde(default, deserialize_with = "given")]
    realm: Option<String>,
    #[serde(default, deserialize_with = "given")]
    describe_errors: Option<bool>,
}

/// A JSON or shape error as one line naming its path. serde reports a missing field at
/// the object that lacks it: the field is appended, so the path names what to add.
/// Positions are dropped (the path says where).
fn shape_error(error: &serde_path_to_error::Error<serde_json::Error>) -> ConfigError {
    let text = error.inner().to_string();
    let message = match text.rsplit_once(" at line ") {
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
/// sequence`, ``unknown variant `…`, expected one of …``); the value may be a secret (a
/// private key given where a list or a name was due), so the line says "a string"
/// or "unknown name" instead.
fn without_string_value(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        // The last separator: the value before it may hold one too.
        let expected = rest
            .rfind("`, expected")
            .and_then(|end| rest.get(end + 1..));
        return format!("unknown name{}", expected.unwrap_or_default());
    }
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
#[serde(remote = "Self")]
enum AllScopes {
    #[serde(rename = "*")]
    Star,
}

names_only!(AllScopes);

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

/// Whether `s` can sit inside a quoted-string of a `WWW-Authenticate` header as it is.
fn is_quotable(s: &str) -> bool {
    s.chars()
        .all(|c| (' '..='~').contains(&c) && c != '"' && c != '\\')
}
