//! The `token` and `forward` sections: where a token is read from, and which headers
//! the filter writes — with the checks that keep the two apart and away from headers
//! that frame the request or that Envoy acts on.

use super::objects_only;
use super::ConfigError;
use crate::forward::{self, Forward};
use crate::token::{TokenSource, TokenSources};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::rc::Rc;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
#[serde(remote = "Self")]
pub(super) struct RawToken {
    #[serde(default, deserialize_with = "super::given")]
    sources: Option<Vec<RawSource>>,
    #[serde(default, deserialize_with = "super::given")]
    max_bytes: Option<usize>,
}

objects_only!(RawToken, RawSource, RawForward);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(remote = "Self")]
struct RawSource {
    #[serde(default, deserialize_with = "super::given")]
    header: Option<String>,
    #[serde(default, deserialize_with = "super::given")]
    prefix: Option<String>,
    #[serde(default, deserialize_with = "super::given")]
    query: Option<String>,
    #[serde(default, deserialize_with = "super::given")]
    cookie: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
#[serde(remote = "Self")]
pub(super) struct RawForward {
    #[serde(default)]
    claims: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "super::given")]
    client_header: Option<String>,
    #[serde(default, deserialize_with = "super::given")]
    scopes_header: Option<String>,
    #[serde(default, deserialize_with = "super::given")]
    audience_header: Option<String>,
    #[serde(default, deserialize_with = "super::given")]
    strip_prefix: Option<String>,
    #[serde(default)]
    keep_token: bool,
}

/// Largest token the configuration may allow (`token.max_bytes`): Envoy's own ceiling on
/// a request's headers (`max_request_headers_kb` ≤ 8192 KiB), which already bounds every
/// token a request can carry (header, query, cookie). SPEC sets no ceiling of its own:
/// an operator who allows large tokens (HOSTILE.md's 100 KB claim) and raises Envoy's
/// header limit must not have the configuration refused; the bound only catches a typo.
const MAX_TOKEN_BYTES_LIMIT: usize = 8 * 1024 * 1024;

pub(super) fn compile_sources(raw: RawToken) -> Result<TokenSources, ConfigError> {
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
            // `"Bearer "`, as Envoy's jwt_authn spells its `value_prefix`, names the
            // scheme `Bearer`: the spaces after a scheme are implied.
            let prefix = raw.prefix.filter(|p| !p.is_empty()).map(|p| {
                let scheme = p.trim_end_matches(' ');
                if scheme.is_empty() {
                    p
                } else {
                    scheme.to_owned()
                }
            });
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
fn header_name(name: &str, path: &str) -> Result<String, ConfigError> {
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !valid {
        return Err(ConfigError::new(path, "not a valid HTTP header name"));
    }
    Ok(name.to_ascii_lowercase())
}

pub(super) fn compile_forward(raw: RawForward) -> Result<Forward, ConfigError> {
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
pub(super) fn check_forward(forward: &Forward, sources: &TokenSources) -> Result<(), ConfigError> {
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
