//! Keys fetched at run time (`remote`, `discovery`): their configuration, parsing what
//! the identity provider returns, and the key set each VM holds. The fetching itself
//! (Envoy callouts, sharing across workers) is the shell's job, in `fetcher.rs`.

use crate::algorithm::Algorithm;
use crate::config::objects_only;
use crate::config::ConfigError;
use crate::json;
use crate::keys::{self, VerifyingKey};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// `remote` / `discovery` as written in the configuration.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
#[serde(remote = "Self")]
pub struct RawRemote {
    cluster: String,
    uri: String,
    #[serde(default = "default_refresh")]
    refresh_seconds: u64,
    #[serde(default = "default_timeout")]
    timeout_ms: u64,
    #[serde(default = "default_min_refetch")]
    min_refetch_seconds: u64,
    #[serde(default = "default_max_stale")]
    max_stale_seconds: u64,
}

objects_only!(RawRemote);

fn default_refresh() -> u64 {
    600
}
fn default_timeout() -> u64 {
    5000
}
fn default_min_refetch() -> u64 {
    30
}
fn default_max_stale() -> u64 {
    86_400
}

/// Where and how often to fetch one issuer's keys.
#[derive(Debug, Clone)]
pub struct RemoteConfig {
    /// The Envoy cluster the request goes through.
    pub cluster: String,
    pub uri: String,
    pub authority: String,
    pub path: String,
    /// `uri` names an OpenID discovery document, whose `jwks_uri` is fetched next.
    pub discovery: bool,
    pub refresh_seconds: u64,
    pub timeout_ms: u64,
    pub min_refetch_seconds: u64,
    pub max_stale_seconds: u64,
}

impl RemoteConfig {
    pub fn compile(
        raw: RawRemote,
        discovery: bool,
        path: &str,
    ) -> Result<RemoteConfig, ConfigError> {
        if raw.cluster.is_empty() {
            return Err(ConfigError::new(
                format!("{path}.cluster"),
                "must not be empty",
            ));
        }
        let (authority, request_path) = split_uri(&raw.uri).ok_or_else(|| {
            ConfigError::new(format!("{path}.uri"), "expected an absolute http(s) URI")
        })?;
        let checks = [
            ("refresh_seconds", raw.refresh_seconds >= 1),
            ("timeout_ms", (1..=60_000).contains(&raw.timeout_ms)),
            // 0 would let a flood of unknown kids become a flood of fetches.
            ("min_refetch_seconds", raw.min_refetch_seconds >= 1),
            (
                "max_stale_seconds",
                raw.max_stale_seconds >= raw.refresh_seconds,
            ),
        ];
        if let Some((field, _)) = checks.iter().find(|(_, ok)| !ok) {
            let problem = match *field {
                "refresh_seconds" | "min_refetch_seconds" => "must be at least 1",
                "timeout_ms" => "must be between 1 and 60000",
                _ => "must be at least refresh_seconds",
            };
            return Err(ConfigError::new(format!("{path}.{field}"), problem));
        }
        Ok(RemoteConfig {
            cluster: raw.cluster,
            uri: raw.uri,
            authority,
            path: request_path,
            discovery,
            refresh_seconds: raw.refresh_seconds,
            timeout_ms: raw.timeout_ms,
            min_refetch_seconds: raw.min_refetch_seconds,
            max_stale_seconds: raw.max_stale_seconds,
        })
    }
}

/// `https://host:port/path?q` → (`host:port`, `/path?q`).
pub fn split_uri(uri: &str) -> Option<(String, String)> {
    let rest = uri
        .strip_prefix("https://")
        .or_else(|| uri.strip_prefix("http://"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (rest.get(..i)?, rest.get(i..)?),
        None => (rest, "/"),
    };
    let valid = !authority.is_empty() && !authority.contains(['@', ' ', '?', '#']);
    valid.then(|| (authority.to_owned(), path.to_owned()))
}

/// Why a fetched document was refused by [`json::read_members`].
const NOT_ONE_OBJECT: &str =
    "not one JSON object, or one naming a member we use twice or with a value of the wrong type";

/// Levels a key of a fetched JWKS may nest, the document and its `keys` array being two
/// of [`json::MAX_DEPTH`].
const KEY_DEPTH: usize = json::MAX_DEPTH - 2;

/// Reads a fetched JWKS: keys that cannot be used (private members, `oct`, unknown
/// types, algorithms not allowed) are skipped; at least one usable key is required.
/// Each key is parsed on its own and as strictly as a token ([`json::Checked`]: with a
/// member named twice, which `kid` counts would depend on the parser); one that breaks
/// those rules, or that the JSON parser refuses (a number beyond f64, a lone surrogate,
/// nesting beyond its limit), is skipped like any unusable key. The rest of the document
/// is only checked for JSON syntax; `"keys"` named twice refuses it.
pub fn parse_jwks(body: &[u8], allowed: &[Algorithm]) -> Result<Vec<VerifyingKey>, &'static str> {
    let [list] = json::read_members::<Vec<&RawValue>>(body, &["keys"])
        .and_then(|found| <[_; 1]>::try_from(found).ok())
        .ok_or(NOT_ONE_OBJECT)?;
    let usable: Vec<VerifyingKey> = list
        .ok_or("no \"keys\" array")?
        .into_iter()
        .filter_map(|raw| json::parse_checked(raw.get().as_bytes())?.strict(KEY_DEPTH))
        .filter_map(|k| keys::parse_jwk(&k, "keys").ok())
        .filter_map(|spec| spec.bind(allowed))
        .collect();
    if usable.is_empty() {
        return Err("no usable key");
    }
    Ok(usable)
}

/// Reads an OpenID discovery document's `issuer` and `jwks_uri` (each named once; the
/// rest only checked for JSON syntax, as [`parse_jwks`] reads `keys`): an `issuer` it
/// names must be ours (OpenID Connect Discovery §4.3: a document for another issuer
/// means a misdirected `uri`), and its `jwks_uri` must be an absolute http(s) URI. A
/// document without `issuer` (a minimal one some IdPs and stubs serve) is read for its
/// `jwks_uri` alone: it came from the configured cluster and names no other issuer.
pub fn parse_discovery(body: &[u8], issuer: &str) -> Result<(String, String), &'static str> {
    let [named, jwks_uri] = json::read_members::<json::Checked>(body, &["issuer", "jwks_uri"])
        .and_then(|found| <[_; 2]>::try_from(found).ok())
        .ok_or(NOT_ONE_OBJECT)?;
    match named.map(|m| m.strict(0)) {
        None => {}
        Some(Some(Value::String(named))) if named == issuer => {}
        Some(_) => return Err("discovery document names another issuer"),
    }
    jwks_uri
        .and_then(|m| m.strict(0))
        .as_ref()
        .and_then(Value::as_str)
        .and_then(split_uri)
        .ok_or("discovery document has no usable jwks_uri")
}

/// The keys one VM currently holds for a remote issuer.
pub struct RemoteKeys {
    pub config: RemoteConfig,
    state: RefCell<KeyState>,
    /// Version (shared-data CAS) of the published key set installed here.
    published: Cell<Option<u32>>,
}

#[derive(Default)]
struct KeyState {
    keys: Rc<Vec<VerifyingKey>>,
    /// Bumped on every install, so cached verifications by older keys die.
    generation: u64,
    /// The published JWKS's [`crate::shared_verified::fingerprint`]: the same in every VM
    /// that installed it, unlike `generation`.
    fingerprint: u64,
    fetched_at: Option<u64>,
    /// When the fetch that brought these keys began (ms): a request that found its
    /// `kid` missing can only be answered by keys fetched after it arrived.
    fetch_started_ms: u64,
}

impl RemoteKeys {
    pub fn new(config: RemoteConfig) -> RemoteKeys {
        RemoteKeys {
            config,
            state: RefCell::new(KeyState::default()),
            published: Cell::new(None),
        }
    }

    /// The keys, unless none were ever obtained or the last good fetch is older than
    /// `max_stale_seconds`.
    pub fn current(&self, now: u64) -> Option<(Rc<Vec<VerifyingKey>>, u64)> {
        self.usable(now)
            .map(|state| (state.keys.clone(), state.generation))
    }

    /// The generation and fingerprint of the keys [`Self::current`] would give.
    pub fn current_identity(&self, now: u64) -> Option<(u64, u64)> {
        self.usable(now)
            .map(|state| (state.generation, state.fingerprint))
    }

    fn usable(&self, now: u64) -> Option<std::cell::Ref<'_, KeyState>> {
        let state = self.state.try_borrow().ok()?;
        let fetched_at = state.fetched_at?;
        (now <= fetched_at.saturating_add(self.config.max_stale_seconds)).then_some(state)
    }

    /// Installs the keys parsed from a published JWKS whose fingerprint is `fingerprint`.
    pub fn install(
        &self,
        keys: Vec<VerifyingKey>,
        fingerprint: u64,
        fetched_at: u64,
        fetch_started_ms: u64,
    ) {
        if let Ok(mut state) = self.state.try_borrow_mut() {
            state.keys = Rc::new(keys);
            state.generation += 1;
            state.fingerprint = fingerprint;
            state.fetched_at = Some(fetched_at);
            state.fetch_started_ms = fetch_started_ms;
        }
    }

    pub fn fetch_started_ms(&self) -> u64 {
        self.state.try_borrow().map_or(0, |s| s.fetch_started_ms)
    }

    pub fn published_version(&self) -> Option<u32> {
        self.published.get()
    }

    pub fn set_published_version(&self, version: u32) {
        self.published.set(Some(version));
    }

    /// Bumped on every install; 0 before the first.
    pub fn generation(&self) -> u64 {
        self.state.try_borrow().map_or(0, |s| s.generation)
    }

    pub fn fetched_at(&self) -> Option<u64> {
        self.state.try_borrow().ok().and_then(|s| s.fetched_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_split_into_authority_and_path() {
        assert_eq!(
            split_uri("https://idp.example.com/.well-known/jwks.json"),
            Some(("idp.example.com".into(), "/.well-known/jwks.json".into()))
        );
        assert_eq!(
            split_uri("http://127.0.0.1:8080"),
            Some(("127.0.0.1:8080".into(), "/".into()))
        );
        for bad in [
            "idp.example.com/jwks",
            "ftp://x/y",
            "https:///x",
            "https://u@h/x",
        ] {
            assert_eq!(split_uri(bad), None, "{bad}");
        }
    }

    #[test]
    fn fetched_jwks_skips_unusable_keys_but_needs_one() {
        for bad in [
            &b"nope"[..],
            br#"{"keys": 5}"#,
            br#"[]"#,
            br#"{"keys": []} {}"#,
        ] {
            assert_eq!(
                parse_jwks(bad, &[Algorithm::RS256]).err(),
                Some(NOT_ONE_OBJECT)
            );
        }
        assert_eq!(
            parse_jwks(br#"{"other": 1}"#, &[Algorithm::RS256]).err(),
            Some("no \"keys\" array")
        );
        let only_bad = br#"{"keys": [{"kty": "oct", "k": "AAAA"}, {"kty": "RSA", "n": "AQAB", "e": "AQAB", "d": "AQAB"}]}"#;
        assert_eq!(
            parse_jwks(only_bad, &[Algorithm::RS256]).err(),
            Some("no usable key")
        );
    }

    #[test]
    fn discovery_must_not_name_another_issuer() {
        let doc = br#"{"issuer": "https://idp/", "jwks_uri": "https://idp/keys"}"#;
        assert_eq!(
            parse_discovery(doc, "https://idp/"),
            Ok(("idp".into(), "/keys".into()))
        );
        assert!(parse_discovery(doc, "https://other/").is_err());
        let unnamed = br#"{"jwks_uri": "https://idp/keys"}"#;
        assert_eq!(
            parse_discovery(unnamed, "https://idp/"),
            Ok(("idp".into(), "/keys".into()))
        );
        for not_ours in [r#""https://IDP/""#, "null", "5", r#"["https://idp/"]"#] {
            let doc = format!(r#"{{"issuer": {not_ours}, "jwks_uri": "https://idp/keys"}}"#);
            assert!(
                parse_discovery(doc.as_bytes(), "https://idp/").is_err(),
                "{not_ours}"
            );
        }
        assert!(parse_discovery(br#"{"issuer": "https://idp/"}"#, "https://idp/").is_err());
        let twice = br#"{"issuer": "https://idp/", "jwks_uri": "https://evil/k", "jwks_uri": "https://idp/keys"}"#;
        assert_eq!(parse_discovery(twice, "https://idp/"), Err(NOT_ONE_OBJECT));
        let quirky = br#"{"x": [18446744073709551616, {"a": 1, "a": 2}], "jwks_uri": "https://idp/keys", "issuer": "https://idp/"}"#;
        assert!(parse_discovery(quirky, "https://idp/").is_ok());
    }

    const EC_KEY: &str = r#"{"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0""#;

    /// Which of two `"keys"` would count depends on the parser: such a document is
    /// refused whole.
    #[test]
    fn fetched_jwks_with_keys_twice_is_refused() {
        let fine = format!(r#"{{"keys": [{EC_KEY}}}]}}"#);
        assert_eq!(
            parse_jwks(fine.as_bytes(), &[Algorithm::ES256]).map(|k| k.len()),
            Ok(1)
        );
        let keys_twice = format!(r#"{{"keys": [], "keys": [{EC_KEY}}}]}}"#);
        assert_eq!(
            parse_jwks(keys_twice.as_bytes(), &[Algorithm::ES256]).err(),
            Some(NOT_ONE_OBJECT)
        );
    }

    /// A key that breaks the strict rules (a member twice, a number beyond I-JSON or
    /// f64, deep nesting, a lone surrogate) is skipped like any unusable key; what lies
    /// outside `keys` is only checked for syntax.
    #[test]
    fn fetched_jwks_skips_a_key_that_is_not_strict_json() {
        let nested = |levels: usize| format!("{}{}", "[".repeat(levels), "]".repeat(levels));
        for quirk in [
            r#""kid": "a", "kid": "b""#.to_owned(),
            r#""x5t_serial": 18446744073709551616"#.to_owned(),
            r#""exp": 1e300"#.to_owned(),
            r#""exp": 1e400"#.to_owned(),
            r#""kid": "\ud800""#.to_owned(),
            format!(r#""ext": {}"#, nested(30)), // the key 31 deep (README: 30)
            format!(r#""ext": {}"#, nested(200)),
        ] {
            let doc = format!(r#"{{"keys": [{EC_KEY}, {quirk}}}]}}"#);
            assert_eq!(
                parse_jwks(doc.as_bytes(), &[Algorithm::ES256]).err(),
                Some("no usable key"),
                "{quirk}"
            );
            let beside_a_good_one = format!(
                r#"{{"keys": [{EC_KEY}, {quirk}}}, {EC_KEY}, "kid": "good"}}], "serial": 18446744073709551616}}"#
            );
            assert_eq!(
                parse_jwks(beside_a_good_one.as_bytes(), &[Algorithm::ES256]).map(|k| k.len()),
                Ok(1),
                "{quirk}"
            );
        }
        // The limit itself: a key 30 deep (its own object one of the levels) is used.
        let at_limit = format!(r#"{{"keys": [{EC_KEY}, "ext": {}}}]}}"#, nested(29));
        assert_eq!(
            parse_jwks(at_limit.as_bytes(), &[Algorithm::ES256]).map(|k| k.len()),
            Ok(1)
        );
        let beside = format!(
            r#"{{"keys": [{EC_KEY}}}], "n": 1e400, "s": "\ud800", "d": {}}}"#,
            nested(500)
        );
        assert!(parse_jwks(beside.as_bytes(), &[Algorithm::ES256]).is_ok());
        let broken = format!(r#"{{"keys": [{EC_KEY}}}], "x": [}}"#);
        assert_eq!(
            parse_jwks(broken.as_bytes(), &[Algorithm::ES256]).err(),
            Some(NOT_ONE_OBJECT)
        );
    }
}
