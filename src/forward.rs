//! What the upstream receives: spoofed identity headers removed, the token removed
//! unless `keep_token`, and the verified identity set as headers.

use crate::decision::{Caller, HeaderOp};
use crate::json::{self, Object};
use crate::policy::Policy;
use crate::request::Request;
use crate::token::{self, TokenSource};
use ct_codecs::{Base64UrlSafeNoPadding, Encoder};
use serde_json::Value;
use std::rc::Rc;

/// A forwarded header value may not be longer than this.
const MAX_FORWARDED_VALUE: usize = 4096;

#[derive(Debug)]
pub struct Forward {
    /// claim name (dotted for nested) → header name. Header names are shared with the
    /// header changes of every request.
    pub claims: Vec<(String, Rc<str>)>,
    pub client_header: Option<Rc<str>>,
    pub scopes_header: Option<Rc<str>>,
    pub audience_header: Option<Rc<str>>,
    pub strip_prefix: Option<String>,
    pub keep_token: bool,
}

impl Forward {
    /// Whether `name` is one this filter sets or strips: incoming copies are removed.
    /// `_` counts as `-` ([`same_spelling`]): `x_jwt_sub` is `x-jwt-sub` to an upstream
    /// that reads headers the CGI way.
    pub fn is_output_header(&self, name: &str) -> bool {
        self.strip_prefix.as_ref().is_some_and(|p| {
            name.get(..p.len())
                .is_some_and(|start| same_spelling(start, p))
        }) || [
            &self.client_header,
            &self.scopes_header,
            &self.audience_header,
        ]
        .into_iter()
        .flatten()
        .chain(self.claims.iter().map(|(_, h)| h))
        .any(|h| same_spelling(h, name))
    }
}

/// Header names equal once `_` is read as `-`. CGI (RFC 3875 §4.1.18), and with it
/// WSGI, Rack and PHP, turn both into `_` (`HTTP_X_JWT_SUB`), so a client-sent
/// `x_jwt_sub` would reach such an upstream as the identity header; Envoy lets
/// underscores through unless `headers_with_underscores_action` says otherwise.
fn same_spelling(a: &str, b: &str) -> bool {
    let dash = |c: u8| if c == b'_' { b'-' } else { c };
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| dash(x) == dash(y))
}

/// A header name as [`same_spelling`] reads it, `_` written as `-`: the configuration
/// checks compare output headers in this form (`x_forwarded_proto` is `x-forwarded-proto`).
pub fn dashed(name: &str) -> String {
    name.replace('_', "-")
}

/// Header changes every forwarded request gets, whatever the decision: incoming copies
/// of output headers removed, and the token removed unless `keep_token`.
pub fn sanitize(policy: &Policy, req: &Request) -> Vec<HeaderOp> {
    let forward = &policy.forward;
    let mut ops: Vec<HeaderOp> = Vec::new();
    let remove = |name: &str, ops: &mut Vec<HeaderOp>| {
        if !ops
            .iter()
            .any(|op| matches!(op, HeaderOp::Remove(n) if &**n == name))
        {
            ops.push(HeaderOp::Remove(name.into()));
        }
    };
    for (name, _) in req.headers.iter() {
        if forward.is_output_header(name) {
            remove(name, &mut ops);
        }
    }
    if forward.keep_token {
        return ops;
    }
    for source in &policy.sources.sources {
        match source {
            TokenSource::Header { name, prefix } => {
                if req
                    .header_values(name)
                    .any(|v| token::holds_credential(v, prefix.as_deref()))
                {
                    remove(name, &mut ops);
                }
            }
            TokenSource::Query { name } => {
                if token::query_values(&req.path, name).next().is_some() {
                    ops.push(HeaderOp::Set(
                        ":path".into(),
                        token::remove_query_param(&req.path, name),
                    ));
                }
            }
            TokenSource::Cookie { name } => {
                // The cookie headers are rewritten as one; non-UTF-8 bytes in other
                // cookies come out as U+FFFD (only when our cookie has to go).
                let cookies: Vec<std::borrow::Cow<str>> = req
                    .header_values("cookie")
                    .map(String::from_utf8_lossy)
                    .collect();
                if cookies
                    .iter()
                    .any(|c| token::cookie_values(c, name).next().is_some())
                {
                    match token::remove_cookie(&cookies.join("; "), name) {
                        Some(rest) => ops.push(HeaderOp::Set("cookie".into(), rest)),
                        None => remove("cookie", &mut ops),
                    }
                }
            }
        }
    }
    ops
}

/// Adds the identity headers of an allowed caller to `ops`. A value holding control
/// characters or longer than 4 KiB is left out; the returned names say which were.
pub fn identity_headers(
    forward: &Forward,
    caller: &Caller,
    claims: &Object,
    ops: &mut Vec<HeaderOp>,
) -> Vec<String> {
    let mut dropped = Vec::new();
    let scopes = &caller.effective_scopes;
    let outputs = [
        (
            forward.client_header.as_ref(),
            "client",
            caller.client.as_deref(),
        ),
        (
            forward.scopes_header.as_ref(),
            "scopes",
            (!scopes.is_empty()).then_some(scopes.as_str()),
        ),
        (
            forward.audience_header.as_ref(),
            "audience",
            caller.matched_audience.as_deref(),
        ),
    ];
    for (header, label, value) in outputs {
        if let Some(header) = header {
            push_identity(ops, &mut dropped, header, label, value.map(str::to_owned));
        }
    }
    for (claim, header) in &forward.claims {
        let value = json::lookup(claims, claim).and_then(render_claim);
        push_identity(ops, &mut dropped, header, claim, value);
    }
    dropped
}

/// Sets `header` to `value`; a value unsafe to forward is left out and `label` recorded
/// as dropped. (The caller copies values only for headers that are on.)
fn push_identity(
    ops: &mut Vec<HeaderOp>,
    dropped: &mut Vec<String>,
    header: &Rc<str>,
    label: &str,
    value: Option<String>,
) {
    match value {
        Some(value) if acceptable(&value) => ops.push(HeaderOp::Set(header.clone(), value)),
        Some(_) => dropped.push(label.to_owned()),
        None => {}
    }
}

/// Strings as they are, numbers and booleans as JSON text, arrays of scalars joined by
/// `,`, anything else as compact JSON, base64url-encoded. `null` is left out. An array
/// whose joined form a list parser would read otherwise counts as anything else: a `,`
/// or `"` in a string (`["a,b"]` would read as two values, `["\"a", "b\""]` as one), or
/// a string that is empty or has surrounding spaces (trimmed, `" admin"` reads `admin`).
fn render_claim(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(_) | Value::Bool(_) => Some(value.to_string()),
        Value::Array(items) if items.iter().all(joins_unambiguously) => Some(
            items
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(","),
        ),
        other => Base64UrlSafeNoPadding::encode_to_string(other.to_string()).ok(),
    }
}

fn joins_unambiguously(value: &Value) -> bool {
    match value {
        Value::String(s) => !s.is_empty() && !s.contains([',', '"']) && s.trim() == s,
        Value::Number(_) | Value::Bool(_) => true,
        _ => false,
    }
}

/// Whether a value can reach the upstream exactly as the token holds it. Control
/// characters could split or end the header; a leading or trailing space is dropped by
/// every HTTP parser (RFC 9110 §5.5: a field value has no surrounding whitespace), so
/// `" admin"` would arrive as the identity `admin` — such values are left out too.
fn acceptable(value: &str) -> bool {
    value.len() <= MAX_FORWARDED_VALUE
        && !value.chars().any(char::is_control)
        && !value.starts_with(' ')
        && !value.ends_with(' ')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn claims_render_per_type() {
        assert_eq!(render_claim(&json!("a")), Some("a".into()));
        assert_eq!(render_claim(&json!(7)), Some("7".into()));
        assert_eq!(render_claim(&json!(true)), Some("true".into()));
        assert_eq!(
            render_claim(&json!(["a", 1, false])),
            Some("a,1,false".into())
        );
        assert_eq!(render_claim(&json!({"a": 1})), Some("eyJhIjoxfQ".into()));
        assert_eq!(render_claim(&json!(null)), None);
        // values a list parser would read otherwise once joined
        for array in [
            json!(["a,b", "c"]),
            json!(["x", " admin"]),
            json!(["\"a", "b\""]),
            json!(["", "b"]),
        ] {
            let json = Base64UrlSafeNoPadding::encode_to_string(array.to_string()).unwrap();
            assert_eq!(render_claim(&array), Some(json), "{array}");
        }
    }

    /// An object claim is forwarded as the issuer wrote it: members in their order.
    #[test]
    fn objects_keep_the_issuers_member_order() {
        let claims = crate::json::parse_object(br#"{"addr":{"zip":"8000","city":"Z"}}"#).unwrap();
        let rendered = render_claim(claims.get("addr").unwrap()).unwrap();
        let expected = Base64UrlSafeNoPadding::encode_to_string(r#"{"zip":"8000","city":"Z"}"#);
        assert_eq!(rendered, expected.unwrap());
    }

    #[test]
    fn unsafe_values_are_refused() {
        assert!(!acceptable("a\r\nx-evil: 1"));
        assert!(!acceptable("a\0"));
        assert!(!acceptable(&"a".repeat(4097)));
        assert!(acceptable("ordinary value"));
        // an HTTP parser trims these: " admin" would reach the upstream as "admin"
        for padded in [" admin", "admin ", "  ", " "] {
            assert!(!acceptable(padded), "{padded:?}");
        }
        assert!(acceptable("\u{a0}admin"), "only SP/HTAB are trimmed");
    }
}
