//! Path safety: a request path the filter cannot compare to its rules the way the
//! upstream will read it is refused, so a prefix rule can never be bypassed by spelling.

use std::borrow::Cow;

/// Why a path cannot be matched safely.
#[derive(Debug, PartialEq, Eq)]
pub enum UnsafePath {
    NotAbsolute,
    DotSegment,
    EmptySegment,
    EncodedSeparator,
    EncodedUnreserved,
    BadEscape,
    ControlCharacter,
    OverlongUtf8,
    FoldsOntoAscii,
}

/// Characters that case-insensitive comparisons beyond ASCII fold onto ASCII letters
/// (Java's `equalsIgnoreCase`, which Spring uses for case-insensitive paths: ı and İ are
/// I/i, ſ is S, the Kelvin sign is K): `/adm%C4%B1n` is `/ADMIN` to such an upstream,
/// where the rules, which ignore ASCII case only, would not see `/admin`.
const FOLDS_ONTO_ASCII: [&[u8]; 4] = [
    "\u{131}".as_bytes(),  // dotless i
    "\u{130}".as_bytes(),  // capital I with dot above
    "\u{17f}".as_bytes(),  // long s
    "\u{212a}".as_bytes(), // Kelvin sign
];

/// The path as servlet-style upstreams (Tomcat, Spring, Jetty) read it: every segment's
/// `;parameters` dropped (`/hr;x=1/list` → `/hr/list`). A request must select the same
/// rule by this path as by the raw one, so a parameter cannot move it out from under a
/// rule.
pub fn without_parameters(path: &str) -> Cow<'_, str> {
    if !path.contains(';') {
        return Cow::Borrowed(path);
    }
    let segments: Vec<&str> = path
        .split('/')
        .map(|segment| segment.split(';').next().unwrap_or(segment))
        .collect();
    Cow::Owned(segments.join("/"))
}

/// The path without its query string or fragment.
pub fn strip_query(path: &str) -> &str {
    let end = path.find(['?', '#']).unwrap_or(path.len());
    path.get(..end).unwrap_or(path)
}

/// Checks the path part of `:path`. Refused: dot-segments (`/./`, `/../`), empty
/// segments (`//`, which Envoy's `merge_slashes` removes), a backslash, NUL or other
/// control characters, and percent-escapes of `/`, `\`, `.` or of any other unreserved
/// character (an upstream that decodes them would see a different path than the rules),
/// also escaped twice (`%252e`: `%25` is `%`) or as overlong UTF-8 (`%C0%AE`), as well as
/// malformed escapes, and characters that fold onto ASCII letters ([`FOLDS_ONTO_ASCII`]),
/// raw or escaped. Escapes of other bytes (`%20`, UTF-8) are fine. Segment checks apply
/// after `;parameters` are dropped ([`without_parameters`]).
pub fn check(path: &str) -> Result<(), UnsafePath> {
    if path == "*" {
        return Ok(());
    }
    if !path.starts_with('/') {
        return Err(UnsafePath::NotAbsolute);
    }
    let bytes = path.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => return Err(UnsafePath::EncodedSeparator),
            0..=0x1f | 0x7f => return Err(UnsafePath::ControlCharacter),
            b'%' => {
                let Some(decoded) = escape_at(bytes, i) else {
                    return Err(UnsafePath::BadEscape);
                };
                escaped_byte(decoded)?;
                if overlong_start(decoded, escape_at(bytes, i + 3)) {
                    return Err(UnsafePath::OverlongUtf8);
                }
                // `%25` is `%`: an upstream that decodes twice reads `%252e` as `.`.
                if decoded == b'%' {
                    if let Some(twice) = escape_at(bytes, i + 2) {
                        escaped_byte(twice)?;
                    }
                }
                i += 3;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    // Segments as the upstream may read them: `..;x` is `..` to a servlet container.
    let path = without_parameters(path);
    let path = path.as_ref();
    for segment in path.split('/').skip(1) {
        match segment {
            "." | ".." => return Err(UnsafePath::DotSegment),
            _ => {}
        }
    }
    if !path.is_ascii() || path.contains('%') {
        let decoded: Vec<u8> = percent_decoded(path.as_bytes()).collect();
        if FOLDS_ONTO_ASCII
            .iter()
            .any(|c| decoded.windows(c.len()).any(|w| w == *c))
        {
            return Err(UnsafePath::FoldsOntoAscii);
        }
    }
    if path.len() > 1 && path.split('/').skip(1).any(str::is_empty) {
        // `//x`, `/a//b`; a single trailing slash (`/orders/`) is fine.
        let inner = path.strip_suffix('/').unwrap_or(path);
        if inner.split('/').skip(1).any(str::is_empty) {
            return Err(UnsafePath::EmptySegment);
        }
    }
    Ok(())
}

/// Whether an escaped byte, with the escaped byte after it, starts an overlong UTF-8
/// sequence (`%C0%AE` for `.`, `%E0%80%AF` for `/`): never valid UTF-8, but a lenient
/// decoder upstream reads the character it spells — the old IIS traversal.
fn overlong_start(lead: u8, next: Option<u8>) -> bool {
    match (lead, next) {
        (0xc0 | 0xc1, _) => true,
        (0xe0, Some(n)) => (0x80..=0x9f).contains(&n),
        (0xf0, Some(n)) => (0x80..=0x8f).contains(&n),
        _ => false,
    }
}

/// The byte a `%XY` escape at `at` stands for; `None` unless two hex digits follow.
fn escape_at(bytes: &[u8], at: usize) -> Option<u8> {
    let hex = |i: usize| bytes.get(i).and_then(|c| (*c as char).to_digit(16));
    Some((hex(at + 1)? * 16 + hex(at + 2)?) as u8)
}

/// The bytes of a URL component, percent-decoded once (a `%` not followed by two hex
/// digits stands for itself).
pub fn percent_decoded(raw: &[u8]) -> impl Iterator<Item = u8> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        let &byte = raw.get(at)?;
        let escaped = (byte == b'%').then(|| escape_at(raw, at)).flatten();
        let (decoded, width) = escaped.map_or((byte, 1), |escaped| (escaped, 3));
        at += width;
        Some(decoded)
    })
}

/// Whether a byte may be percent-escaped in a path we match: not a separator, a dot, a
/// control character or an unreserved character, which an upstream that decodes would
/// read differently from the rules.
fn escaped_byte(decoded: u8) -> Result<(), UnsafePath> {
    match decoded {
        b'/' | b'\\' | b'.' => Err(UnsafePath::EncodedSeparator),
        0..=0x1f | 0x7f => Err(UnsafePath::ControlCharacter),
        c if c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'~' => {
            Err(UnsafePath::EncodedUnreserved)
        }
        _ => Ok(()),
    }
}

/// Segment-wise prefix match: `/orders` matches `/orders` and `/orders/1`, not
/// `/orders-x`; a prefix ending in `/` matches anything that starts with it. With
/// `ignore_case`, ASCII letters compare regardless of case (`/HR/x` under `/hr`).
pub fn prefix_matches(prefix: &str, path: &str, ignore_case: bool) -> bool {
    let Some(head) = path.get(..prefix.len()) else {
        return false;
    };
    let head_matches = if ignore_case {
        head.eq_ignore_ascii_case(prefix)
    } else {
        head == prefix
    };
    let rest = path.get(prefix.len()..).unwrap_or_default();
    head_matches && (prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_that_fold_onto_ascii_are_refused() {
        for path in [
            "/adm%C4%B1n",
            "/adm%c4%b0n",
            "/%C5%BFecret",
            "/%E2%84%AAeys",
            "/admın",
            "/x;p/adm%C4%B1n",
        ] {
            assert_eq!(check(path), Err(UnsafePath::FoldsOntoAscii), "{path}");
        }
        for path in ["/caf%C3%A9", "/café", "/%C4%B2"] {
            assert_eq!(check(path), Ok(()), "{path}");
        }
    }

    #[test]
    fn unsafe_paths_are_refused() {
        for bad in [
            "/orders/../hr",
            "/orders/./x",
            "/orders/..",
            "//hr",
            "/a//b",
            "/orders%2Fx",
            "/orders%2fx",
            "/orders%5cx",
            "/%2e%2e/hr",
            "/%68r",
            "/a\\b",
            "/a%00",
            "/a\u{0}",
            "/a%zz",
            "/a%2",
            "orders",
            "/orders/..;/hr",
            "/orders/..;x=1/hr",
            "/orders/.;/x",
            "/orders/;/x",
            // Escaped twice: `%25` is `%`, so `%252e` is `%2e` after one decoding.
            "/orders/%252e%252e/hr",
            "/orders%252Fhr",
            "/a%255cb",
            "/a%2500",
            "/%2568r",
            // Overlong UTF-8 for `.`, `/`, `\`: a lenient decoder reads `..`.
            "/orders/%c0%ae%c0%ae/hr",
            "/orders%c0%afhr",
            "/orders%C1%9Chr",
            "/orders/%e0%80%ae%e0%80%ae/hr",
            "/orders%f0%80%80%afhr",
        ] {
            assert!(check(strip_query(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn ordinary_paths_pass() {
        for good in [
            "/",
            "/orders",
            "/orders/",
            "/orders/1",
            "/a%20b",
            "/caf%C3%A9",
            "/%E0%A4%85",
            "/%F0%9F%98%80",
            "/%C2%A0",
            "/a.b/c..d",
            "/orders?x=/../",
            "/100%25",
            "/100%25%20off",
            "/a%25zz",
        ] {
            assert!(check(strip_query(good)).is_ok(), "{good}");
        }
    }

    #[test]
    fn parameters_are_dropped_for_matching() {
        assert_eq!(without_parameters("/hr;x=1/list"), "/hr/list");
        assert_eq!(without_parameters("/hr;/orders"), "/hr/orders");
        assert_eq!(without_parameters("/orders;jsessionid=1"), "/orders");
        assert!(matches!(without_parameters("/orders/1"), Cow::Borrowed(_)));
        assert!(check("/orders;jsessionid=1").is_ok());
    }

    #[test]
    fn prefix_is_segment_wise() {
        for ignore_case in [false, true] {
            let matches = |prefix, path| prefix_matches(prefix, path, ignore_case);
            assert!(matches("/orders", "/orders"));
            assert!(matches("/orders", "/orders/1"));
            assert!(!matches("/orders", "/orders-x"));
            assert!(!matches("/orders", "/order"));
            assert!(matches("/api/", "/api/x"));
            assert!(!matches("/api/", "/api"));
            assert!(matches("/", "/anything"));
            assert!(
                !matches("/a", "/\u{e9}"),
                "the prefix ends inside a character"
            );
        }
        assert!(!prefix_matches("/hr", "/HR/x", false));
        assert!(prefix_matches("/hr", "/HR/x", true));
        assert!(prefix_matches("/API/", "/api/x", true));
    }
}
