//! Rules: which requests a rule applies to (first match wins) and what it requires.

use crate::claims::ClaimCondition;
use crate::config::names_only;
use crate::paths;
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::rc::Rc;

/// Enforce (default) or only compute, log and count the decision.
#[derive(Deserialize, Default, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[serde(remote = "Self")]
pub enum Mode {
    #[default]
    Enforce,
    DryRun,
}

names_only!(Mode);

/// One compiled rule.
#[derive(Debug)]
pub struct Rule {
    /// Shared with every decision this rule makes.
    pub name: Rc<str>,
    pub matcher: Matcher,
    pub audiences: Vec<String>,
    pub scopes: Vec<String>,
    pub any_scopes: Vec<String>,
    pub clients: Option<BTreeSet<String>>,
    pub claims: Vec<(String, ClaimCondition)>,
    pub anonymous: bool,
    pub mode: Mode,
}

/// Conditions on the request; all given ones must hold.
#[derive(Debug, Default)]
pub struct Matcher {
    pub path: Option<String>,
    pub prefix: Option<String>,
    pub methods: Option<Vec<String>>,
    pub hosts: Option<Vec<HostPattern>>,
    pub route: Option<String>,
}

/// `api.example.com` (exact) or `*.example.com` (any subdomain, not the bare domain).
#[derive(Debug)]
pub enum HostPattern {
    Exact(String),
    /// The suffix with its leading dot (`.example.com`).
    Suffix(String),
}

impl HostPattern {
    /// A pattern as configured: lower-cased, a trailing dot (`example.com.`, the
    /// fully-qualified form) dropped as [`host_without_port`] drops it from requests.
    /// `Err` says why a pattern could never match as written: a port (the host is
    /// compared without one), a `*` other than a leading `*.`, or nothing left.
    pub fn parse(pattern: &str) -> Result<HostPattern, &'static str> {
        let lower = pattern.to_ascii_lowercase();
        let host = lower.strip_suffix('.').unwrap_or(&lower);
        let (suffix, rest) = match host.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, host),
        };
        if rest.is_empty() || rest.starts_with('.') || rest.ends_with('.') {
            return Err("must be a host name, or '*.' and a domain");
        }
        if rest.contains('*') {
            return Err("'*' may only start a pattern, as '*.' (any subdomain)");
        }
        let ip_literal = rest.starts_with('[') && rest.ends_with(']');
        if rest.contains(':') && !ip_literal {
            return Err("must not have a port: hosts are compared without one");
        }
        Ok(if suffix {
            HostPattern::Suffix(format!(".{rest}"))
        } else {
            HostPattern::Exact(rest.to_owned())
        })
    }

    fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Exact(h) => h == host,
            HostPattern::Suffix(s) => host.len() > s.len() && host.ends_with(s.as_str()),
        }
    }
}

/// A rule's name as it appears in counter names (`rule_<label>_allowed`): letters and
/// digits kept, every other character written as `_`.
pub fn metric_label(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// What a rule is matched against.
pub struct RouteInfo<'a> {
    pub method: &'a str,
    /// The path without its query string.
    pub path: &'a str,
    /// `:authority` lower-cased, without port or trailing dot.
    pub host: &'a str,
    pub route: Option<&'a str>,
    /// Compare the path's ASCII letters regardless of case (how a case-insensitive
    /// upstream reads it).
    pub ignore_case: bool,
}

impl Matcher {
    pub fn matches(&self, req: &RouteInfo) -> bool {
        self.path.as_ref().is_none_or(|p| {
            if req.ignore_case {
                p.eq_ignore_ascii_case(req.path)
            } else {
                p == req.path
            }
        }) && self
            .prefix
            .as_ref()
            .is_none_or(|p| paths::prefix_matches(p, req.path, req.ignore_case))
            && self
                .methods
                .as_ref()
                .is_none_or(|m| m.iter().any(|m| m.eq_ignore_ascii_case(req.method)))
            && self
                .hosts
                .as_ref()
                .is_none_or(|h| h.iter().any(|h| h.matches(req.host)))
            && self
                .route
                .as_ref()
                .is_none_or(|r| Some(r.as_str()) == req.route)
    }
}

/// `:authority` without its port, lower-cased (`[::1]:80` → `[::1]`), and without the
/// trailing dot of a fully-qualified name (`admin.example.com.` is the same host, and
/// must meet the same rules); borrowed when it is already lower-case, as it nearly
/// always is.
pub fn host_without_port(authority: &str) -> Cow<'_, str> {
    let host = if authority.starts_with('[') {
        match authority.find(']') {
            Some(end) => authority.get(..=end).unwrap_or(authority),
            None => authority,
        }
    } else {
        match authority.rfind(':') {
            Some(colon) => authority.get(..colon).unwrap_or(authority),
            None => authority,
        }
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info<'a>(
        method: &'a str,
        path: &'a str,
        host: &'a str,
        route: Option<&'a str>,
    ) -> RouteInfo<'a> {
        RouteInfo {
            method,
            path,
            host,
            route,
            ignore_case: false,
        }
    }

    #[test]
    fn all_conditions_must_hold() {
        let m = Matcher {
            prefix: Some("/orders".into()),
            methods: Some(vec!["GET".into()]),
            hosts: Some(vec![HostPattern::parse("*.example.com").unwrap()]),
            route: Some("orders".into()),
            ..Default::default()
        };
        assert!(m.matches(&info("GET", "/orders/1", "api.example.com", Some("orders"))));
        assert!(!m.matches(&info(
            "POST",
            "/orders/1",
            "api.example.com",
            Some("orders")
        )));
        assert!(!m.matches(&info("GET", "/orders/1", "example.com", Some("orders"))));
        assert!(!m.matches(&info("GET", "/orders/1", "badexample.com", Some("orders"))));
        // Methods are compared regardless of case: HTTP/2 lets a client send `get`,
        // which an upstream may well serve as GET.
        assert!(m.matches(&info("get", "/orders/1", "api.example.com", Some("orders"))));
        assert!(!m.matches(&info("GET", "/orders/1", "api.example.com", None)));
        assert!(!m.matches(&info("GET", "/ordersx", "api.example.com", Some("orders"))));
    }

    #[test]
    fn host_port_is_removed() {
        assert_eq!(host_without_port("API.example.com:8443"), "api.example.com");
        assert_eq!(host_without_port("[::1]:80"), "[::1]");
        assert_eq!(host_without_port("localhost"), "localhost");
        assert_eq!(
            host_without_port("Admin.example.com.:80"),
            "admin.example.com"
        );
        assert_eq!(host_without_port("admin.example.com."), "admin.example.com");
    }

    #[test]
    fn host_patterns_that_could_never_match_are_refused() {
        for bad in [
            "api.example.com:443",
            "api.*.com",
            "*example.com",
            "*",
            "*.",
            "",
            ".",
            "a..",
            "[::1]x:80",
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad}");
        }
        let exact = HostPattern::parse("API.example.com.").unwrap();
        assert!(exact.matches("api.example.com"));
        let suffix = HostPattern::parse("*.example.com").unwrap();
        assert!(suffix.matches("a.example.com") && !suffix.matches("example.com"));
        assert!(HostPattern::parse("[::1]").unwrap().matches("[::1]"));
    }
}
