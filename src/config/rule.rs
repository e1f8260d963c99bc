//! The `rules` section: each rule's match and requirements, compiled into a [`Rule`],
//! and the checks that need every rule at once.

use super::objects_only;
use super::{scopes, strings, ConfigError};
use crate::claims::ClaimCondition;
use crate::paths;
use crate::rules::{HostPattern, Matcher, Mode, Rule};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(remote = "Self")]
pub(super) struct RawRule {
    #[serde(default, deserialize_with = "super::given")]
    name: Option<String>,
    #[serde(rename = "match", default)]
    matcher: RawMatch,
    #[serde(default, deserialize_with = "super::given")]
    audiences: Option<Vec<String>>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default, deserialize_with = "super::given")]
    any_scopes: Option<Vec<String>>,
    #[serde(default, deserialize_with = "super::given")]
    clients: Option<Vec<String>>,
    #[serde(default)]
    claims: BTreeMap<String, Value>,
    #[serde(default)]
    anonymous: bool,
    #[serde(default)]
    mode: Mode,
}

objects_only!(RawRule, RawMatch);

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
#[serde(remote = "Self")]
struct RawMatch {
    #[serde(default, deserialize_with = "super::given")]
    path: Option<String>,
    #[serde(default, deserialize_with = "super::given")]
    prefix: Option<String>,
    #[serde(default, deserialize_with = "super::given")]
    methods: Option<Vec<String>>,
    #[serde(default, deserialize_with = "super::given")]
    hosts: Option<Vec<String>>,
    #[serde(default, deserialize_with = "super::given")]
    route: Option<String>,
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

/// A `match` condition's list, when given: non-empty strings, and not an empty list.
fn match_list(list: Option<Vec<String>>, path: &str) -> Result<Option<Vec<String>>, ConfigError> {
    list.map(|list| strings(never_empty(list, path, NEVER_MATCHES)?, path))
        .transpose()
}

/// The audiences this service answers to: the top-level list, or else every audience
/// its rules name (first seen first). They check a token on an anonymous rule without
/// audiences of its own and on a request no rule matches (`unmatched: deny`).
/// With no audience anywhere (only anonymous rules), a present token passes nowhere.
pub(super) fn service_audiences(top_level: &[String], rules: &[Rule]) -> Vec<String> {
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

pub(super) fn compile_rule(
    raw: RawRule,
    index: usize,
    defaults: &[String],
) -> Result<Rule, ConfigError> {
    let path = format!("rules[{index}]");
    let name = raw.name.unwrap_or_else(|| path.clone());
    let has_own_list = raw.audiences.is_some();
    let audiences = match raw.audiences {
        Some(a) => strings(a, &format!("{path}.audiences"))?,
        None => defaults.to_vec(),
    };
    if audiences.is_empty() && !raw.anonymous {
        // Named where the fix belongs: the rule's own empty list, or the top-level list
        // the rule takes its audiences from.
        return Err(if has_own_list {
            ConfigError::new(
                format!("{path}.audiences"),
                "no audience for this rule (there is no \"any audience\")",
            )
        } else {
            ConfigError::new(
                "audiences",
                format!("{path} is protected and sets no audiences of its own, so this list must name at least one (there is no \"any audience\")"),
            )
        });
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
    let methods = match_list(m.methods, &format!("{match_path}.methods"))?
        .map(|list| list.iter().map(|s| s.to_ascii_uppercase()).collect());
    let hosts = match match_list(m.hosts, &format!("{match_path}.hosts"))? {
        None => None,
        Some(list) => Some(
            list.iter()
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

/// Rules that a path compared regardless of case would take from a later rule (see
/// `decide`: such a request is refused with 400), so that the later rule could never
/// apply: two whose `path` (or `prefix`) differ only by ASCII case, or an earlier rule
/// matching on its path alone whose prefix takes in the later one's path only when case
/// is ignored (`/Admin` before `/admin/x`). Earlier rules with other conditions are
/// left alone there: whether they overlap depends on the request.
pub(super) fn check_case_twins(rules: &[Rule]) -> Result<(), ConfigError> {
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
            if let Some(field) = taken_when_ignoring_case(earlier, later) {
                return Err(ConfigError::new(
                    format!("rules[{j}].match.{field}"),
                    format!("falls under rules[{i}].match.prefix when case is ignored: paths are also compared regardless of case, so a request for it is refused (400) instead of reaching this rule; put this rule first"),
                ));
            }
        }
    }
    Ok(())
}

/// The field of `later` whose paths all fall under `earlier`'s prefix only when case is
/// ignored, if `earlier` matches on that prefix alone.
fn taken_when_ignoring_case(earlier: &Rule, later: &Rule) -> Option<&'static str> {
    let m = &earlier.matcher;
    let prefix = m.prefix.as_deref()?;
    if m.path.is_some() || m.methods.is_some() || m.hosts.is_some() || m.route.is_some() {
        return None;
    }
    let (field, path) = match (&later.matcher.path, &later.matcher.prefix) {
        (Some(path), _) => ("path", path),
        (None, Some(prefix)) => ("prefix", prefix),
        (None, None) => return None,
    };
    let under = |ignore_case| paths::prefix_matches(prefix, path, ignore_case);
    (under(true) && !under(false)).then_some(field)
}
