//! The `issuers` section: each issuer's keys (inline, PEM, HMAC, remote), allowed
//! algorithms and claim checks, compiled into an [`Issuer`].

use super::objects_only;
use super::{strings, ConfigError};
use crate::algorithm::{Algorithm, KeyFamily};
use crate::keys::{self, KeySpec};
use crate::policy::{Issuer, KeySource, TokenType};
use crate::remote::{RawRemote, RemoteConfig, RemoteKeys};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeSet;
use std::rc::Rc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(remote = "Self")]
pub(super) struct RawIssuer {
    issuer: String,
    #[serde(default, deserialize_with = "super::given")]
    jwks: Option<Value>,
    #[serde(default, deserialize_with = "super::given")]
    pem: Option<Vec<RawPem>>,
    #[serde(default, deserialize_with = "super::given")]
    hmac_secret_base64: Option<String>,
    #[serde(default, deserialize_with = "super::given")]
    remote: Option<RawRemote>,
    #[serde(default, deserialize_with = "super::given")]
    discovery: Option<RawRemote>,
    #[serde(default, deserialize_with = "super::given")]
    algorithms: Option<Vec<String>>,
    #[serde(default)]
    token_type: TokenType,
    #[serde(default = "default_leeway")]
    leeway_seconds: u64,
    #[serde(default, deserialize_with = "super::given")]
    max_lifetime_seconds: Option<u64>,
    #[serde(default, deserialize_with = "super::given")]
    client_claims: Option<Vec<String>>,
    #[serde(default, deserialize_with = "super::given")]
    scope_claims: Option<Vec<String>>,
}

objects_only!(RawIssuer, RawPemWithKid);

fn default_leeway() -> u64 {
    60
}

#[derive(Deserialize)]
#[serde(
    untagged,
    expecting = "a PEM public key, or an object with \"pem\" and optionally \"kid\""
)]
enum RawPem {
    Plain(String),
    WithKid(RawPemWithKid),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(remote = "Self")]
struct RawPemWithKid {
    #[serde(default, deserialize_with = "super::given")]
    kid: Option<String>,
    pem: String,
}

/// Largest `leeway_seconds` accepted (0–300).
const MAX_LEEWAY_SECONDS: u64 = 300;

/// An issuer's keys and checks. Inline keys it cannot use are skipped and described in
/// `warnings`.
pub(super) fn compile_issuer(
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
