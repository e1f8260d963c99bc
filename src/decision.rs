//! The decision as plain data, and how each denial reason maps to a status, an
//! RFC 6750 challenge and a JSON body.

use crate::cache::CacheUse;
use crate::policy::Responses;
use serde_json::json;
use std::rc::Rc;

/// Why a request was allowed or denied; names the metric `requests_denied_<reason>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    MissingToken,
    MultipleTokens,
    InvalidPath,
    InvalidToken,
    Expired,
    NotYetValid,
    UnknownIssuer,
    AudienceNotAllowed,
    ClientNotAllowed,
    InsufficientScope,
    ClaimMismatch,
    KeysUnavailable,
}

impl Reason {
    pub const ALL: [Reason; 12] = [
        Reason::MissingToken,
        Reason::MultipleTokens,
        Reason::InvalidPath,
        Reason::InvalidToken,
        Reason::Expired,
        Reason::NotYetValid,
        Reason::UnknownIssuer,
        Reason::AudienceNotAllowed,
        Reason::ClientNotAllowed,
        Reason::InsufficientScope,
        Reason::ClaimMismatch,
        Reason::KeysUnavailable,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Reason::MissingToken => "missing_token",
            Reason::MultipleTokens => "multiple_tokens",
            Reason::InvalidPath => "invalid_path",
            Reason::InvalidToken => "invalid_token",
            Reason::Expired => "expired",
            Reason::NotYetValid => "not_yet_valid",
            Reason::UnknownIssuer => "unknown_issuer",
            Reason::AudienceNotAllowed => "audience_not_allowed",
            Reason::ClientNotAllowed => "client_not_allowed",
            Reason::InsufficientScope => "insufficient_scope",
            Reason::ClaimMismatch => "claim_mismatch",
            Reason::KeysUnavailable => "keys_unavailable",
        }
    }

    pub fn status(self) -> u16 {
        match self {
            Reason::MultipleTokens | Reason::InvalidPath => 400,
            Reason::MissingToken
            | Reason::InvalidToken
            | Reason::Expired
            | Reason::NotYetValid
            | Reason::UnknownIssuer
            | Reason::AudienceNotAllowed => 401,
            Reason::ClientNotAllowed | Reason::InsufficientScope | Reason::ClaimMismatch => 403,
            Reason::KeysUnavailable => 503,
        }
    }

    /// The `error` code of the body and, where RFC 6750 has one, of the challenge.
    fn error_code(self) -> &'static str {
        match self.status() {
            400 => "invalid_request",
            403 => "insufficient_scope",
            503 => "temporarily_unavailable",
            _ if self == Reason::MissingToken => "missing_token",
            _ => "invalid_token",
        }
    }
}

/// A failed check: the reason, a description that names the check (never a token,
/// claim value or key), and for scope failures the scopes the rule requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub reason: Reason,
    pub description: &'static str,
    pub required_scopes: Option<String>,
    /// Set when fetching the issuer's keys could change the answer.
    pub wait: Option<KeyWait>,
}

/// Why a request could be worth holding until the issuer's keys are (re)fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyWait {
    /// The issuer's keys were never obtained (or are too stale to use).
    FirstFetch,
    /// A well-formed token names a `kid` the current key set lacks: maybe a rotation.
    UnknownKid,
}

impl Failure {
    pub fn new(reason: Reason, description: &'static str) -> Failure {
        Failure {
            reason,
            description,
            required_scopes: None,
            wait: None,
        }
    }
}

/// A rendered denial: what Envoy sends back instead of forwarding the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub reason: Reason,
    pub status: u16,
    pub www_authenticate: Option<String>,
    pub body: String,
    pub description: &'static str,
}

impl Denial {
    pub fn render(failure: &Failure, responses: &Responses) -> Denial {
        let reason = failure.reason;
        let code = reason.error_code();
        let describe = responses.describe_errors;
        let www_authenticate = match reason {
            Reason::KeysUnavailable => None,
            Reason::MissingToken => Some(format!("Bearer realm=\"{}\"", responses.realm)),
            _ => {
                let mut challenge =
                    format!("Bearer realm=\"{}\", error=\"{code}\"", responses.realm);
                if let Some(scopes) = &failure.required_scopes {
                    challenge.push_str(&format!(", scope=\"{scopes}\""));
                }
                if describe {
                    challenge.push_str(&format!(", error_description=\"{}\"", failure.description));
                }
                Some(challenge)
            }
        };
        let body = if describe {
            json!({"error": code, "error_description": failure.description})
        } else {
            json!({ "error": code })
        };
        Denial {
            reason,
            status: reason.status(),
            www_authenticate,
            body: body.to_string(),
            description: failure.description,
        }
    }
}

/// What happens to the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Deny(Denial),
    /// The rule is in dry-run mode: the request goes on, the denial is logged and counted.
    DryRunDeny(Denial),
}

/// A change to the request headers before it is forwarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderOp {
    Remove(Rc<str>),
    Set(Rc<str>, String),
}

/// Who the token said the caller is, for logs and `explain`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    pub issuer: Option<Rc<str>>,
    pub client: Option<String>,
    pub matched_audience: Option<String>,
    /// The token's scopes cut down to the client's allowance: sorted, one space between
    /// them — the scopes header's value, built once.
    pub effective_scopes: String,
}

impl Caller {
    /// The effective scopes one by one.
    pub fn each_effective_scope(&self) -> impl Iterator<Item = &str> {
        self.effective_scopes.split(' ').filter(|s| !s.is_empty())
    }
}

/// Everything `decide` concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub verdict: Verdict,
    /// The matched rule's name; `None` when no rule matched (or the path was refused).
    pub rule: Option<Rc<str>>,
    pub caller: Caller,
    /// Applied in order on every path: before forwarding (allow, dry run), and before a
    /// denial's local reply (so that Envoy's access log keeps no token).
    pub header_ops: Vec<HeaderOp>,
    /// Whether the verified-token cache answered (for the hit/miss counters).
    pub cache: Option<CacheUse>,
    /// The issuer whose keys, once fetched, could change this decision.
    pub wait_for_keys: Option<(String, KeyWait)>,
    /// Identity headers left out because their value was unsafe (control characters or
    /// over 4 KiB), by what they carry (`client`, `scopes`, or the claim name).
    pub dropped_headers: Vec<String>,
}

impl Decision {
    /// The reason label for metrics and logs.
    pub fn reason(&self) -> &'static str {
        match &self.verdict {
            Verdict::Allow => "allowed",
            Verdict::Deny(d) | Verdict::DryRunDeny(d) => d.reason.name(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn responses(describe_errors: bool) -> Responses {
        Responses {
            realm: "orders".into(),
            describe_errors,
        }
    }

    #[test]
    fn challenges_follow_rfc6750() {
        let missing = Denial::render(
            &Failure::new(Reason::MissingToken, "a bearer token is required"),
            &responses(true),
        );
        assert_eq!(missing.status, 401);
        assert_eq!(
            missing.www_authenticate.as_deref(),
            Some("Bearer realm=\"orders\"")
        );
        assert_eq!(
            missing.body,
            r#"{"error":"missing_token","error_description":"a bearer token is required"}"#
        );

        let mut scope = Failure::new(Reason::InsufficientScope, "required scope is missing");
        scope.required_scopes = Some("orders:write".into());
        let d = Denial::render(&scope, &responses(false));
        assert_eq!(d.status, 403);
        assert_eq!(
            d.www_authenticate.as_deref(),
            Some("Bearer realm=\"orders\", error=\"insufficient_scope\", scope=\"orders:write\"")
        );
        assert_eq!(d.body, r#"{"error":"insufficient_scope"}"#);

        let unavailable = Denial::render(
            &Failure::new(Reason::KeysUnavailable, "keys are not available"),
            &responses(true),
        );
        assert_eq!(unavailable.status, 503);
        assert_eq!(unavailable.www_authenticate, None);
        assert!(unavailable.body.contains("temporarily_unavailable"));

        let bad = Denial::render(
            &Failure::new(Reason::MultipleTokens, "more than one token"),
            &responses(true),
        );
        assert_eq!(bad.status, 400);
        assert!(bad
            .www_authenticate
            .unwrap()
            .contains("error=\"invalid_request\""));
    }
}
