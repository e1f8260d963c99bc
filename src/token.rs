//! Finding the one token in a request: configured sources in order, the strict bearer
//! grammar of RFC 6750 §2.1, a size cap, and "more than one credential" detection.

use crate::paths::percent_decoded;
use crate::request::Request;

/// Where a token may come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// A header; with a prefix (`Bearer`) the value is `<prefix> 1*SP <token>`.
    Header {
        name: String,
        prefix: Option<String>,
    },
    Query {
        name: String,
    },
    Cookie {
        name: String,
    },
}

#[derive(Debug)]
pub struct TokenSources {
    pub sources: Vec<TokenSource>,
    pub max_bytes: usize,
}

/// The outcome of looking for a token.
#[derive(Debug, PartialEq, Eq)]
pub enum Extraction<'a> {
    /// No credential for us anywhere (another scheme such as `Basic` counts as none).
    Missing,
    /// Exactly one credential, well-formed as far as the grammar goes.
    Found(&'a str),
    /// Exactly one credential, but malformed (`Bearer` alone, a second word, too large…).
    Invalid,
    /// Two or more credentials: two sources, a repeated header, a second one after a comma.
    Multiple,
}

/// Optional whitespace around header list elements (RFC 9110 §5.6.3): space and tab.
const OWS: [char; 2] = [' ', '\t'];

/// What may stand before an auth scheme and still leave it ours: optional whitespace,
/// and any other control character (form feed, NUL…) that an upstream trimming more
/// than OWS would drop — `\x0cBearer <forged>` must be read as a credential and
/// checked, not passed on as another scheme (on an anonymous rule, unverified).
fn before_scheme(c: char) -> bool {
    OWS.contains(&c) || c.is_ascii_control()
}

/// What one source held.
#[derive(Debug, PartialEq, Eq)]
enum Seen<'a> {
    Token(&'a str),
    Invalid,
}

impl TokenSources {
    pub fn extract<'a>(&self, req: &'a Request) -> Extraction<'a> {
        let mut seen = Credentials::default();
        for source in &self.sources {
            match source {
                TokenSource::Header { name, prefix } => {
                    let (mut ours, mut others) = (0, 0);
                    for value in req.header_values(name) {
                        if let Some(token) = prefix.as_deref().and_then(|p| lone_bearer(value, p)) {
                            ours += 1;
                            seen.extend([Seen::Token(token)]);
                            continue;
                        }
                        match from_header(value, prefix.as_deref()) {
                            Some(found) => {
                                ours += found.len();
                                seen.extend(found);
                            }
                            None if !value.trim_ascii().is_empty() => others += 1,
                            None => {}
                        }
                    }
                    // A repeated header with our credential and another scheme's (as
                    // separate entries) is two credentials, as it is when joined.
                    if ours > 0 && others > 0 {
                        return Extraction::Multiple;
                    }
                }
                TokenSource::Query { name } => {
                    seen.extend(query_values(&req.path, name).map(token_or_invalid));
                }
                TokenSource::Cookie { name } => {
                    for value in req.header_values("cookie") {
                        match std::str::from_utf8(value) {
                            Ok(text) => {
                                seen.extend(cookie_values(text, name).map(token_or_invalid))
                            }
                            // Our cookie in a header with non-UTF-8 bytes: a credential,
                            // and a broken one (it must not go unseen).
                            Err(_) => seen.extend(
                                cookie_values(&String::from_utf8_lossy(value), name)
                                    .map(|_| Seen::Invalid),
                            ),
                        }
                    }
                }
            }
            if seen.count > 1 {
                return Extraction::Multiple;
            }
        }
        if seen.count > 0 && self.stray_rfc_6750_credential(req) {
            return Extraction::Multiple;
        }
        match seen.last {
            None => Extraction::Missing,
            Some(Seen::Token(t)) if t.len() <= self.max_bytes => Extraction::Found(t),
            Some(_) => Extraction::Invalid,
        }
    }

    /// RFC 6750 §2: a client sends its token one way per request. A token where the RFC
    /// puts one — the query parameter `access_token` (§2.3), a `Bearer` credential in
    /// `Authorization` (§2.1) — next to the one we found is a second credential even when
    /// that place is not a configured source: refused as two, not passed on beside the
    /// one that was checked. (A configured `Authorization` source that reads `Bearer`,
    /// or the raw value, already counts those credentials; one for another scheme, say
    /// `DPoP`, does not.)
    fn stray_rfc_6750_credential(&self, req: &Request) -> bool {
        let (mut query_read, mut header_read) = (false, false);
        for source in &self.sources {
            match source {
                TokenSource::Query { name } => query_read |= name == RFC_6750_QUERY,
                TokenSource::Header { name, prefix } => {
                    header_read |= name == RFC_6750_HEADER
                        && prefix
                            .as_deref()
                            .is_none_or(|p| p.eq_ignore_ascii_case(RFC_6750_SCHEME))
                }
                TokenSource::Cookie { .. } => {}
            }
        }
        let in_query = || query_values(&req.path, RFC_6750_QUERY).any(|v| !v.is_empty());
        // The `Bearer` scheme word, whatever follows (nothing, bytes that are not UTF-8);
        // another scheme's credential (`Basic …`) is not a token.
        let is_bearer = |value: &[u8]| {
            let value = value.trim_ascii_start();
            let scheme = RFC_6750_SCHEME.len();
            value
                .get(..scheme)
                .is_some_and(|word| word.eq_ignore_ascii_case(RFC_6750_SCHEME.as_bytes()))
                && value.get(scheme).is_none_or(u8::is_ascii_whitespace)
        };
        let in_header = || req.header_values(RFC_6750_HEADER).any(is_bearer);
        (!query_read && in_query()) || (!header_read && in_header())
    }
}

/// Where RFC 6750 puts a bearer token: the query parameter of §2.3, and the header and
/// auth scheme of §2.1.
const RFC_6750_QUERY: &str = "access_token";
const RFC_6750_HEADER: &str = "authorization";
const RFC_6750_SCHEME: &str = "Bearer";

/// The credentials seen so far: how many, and the last one (only a lone one is used).
#[derive(Default)]
struct Credentials<'a> {
    count: usize,
    last: Option<Seen<'a>>,
}

impl<'a> Extend<Seen<'a>> for Credentials<'a> {
    fn extend<I: IntoIterator<Item = Seen<'a>>>(&mut self, items: I) {
        for item in items {
            self.count += 1;
            self.last = Some(item);
        }
    }
}

/// The common case, found without allocating: the whole value is `<prefix> 1*SP
/// <token>`. Anything else (`None`) goes through [`from_header`], which gives this very
/// answer for such values and also handles lists, other schemes and broken tokens.
fn lone_bearer<'a>(value: &'a [u8], prefix: &str) -> Option<&'a str> {
    let rest = after_scheme(value, prefix)?;
    let spaces = rest.iter().take_while(|b| **b == b' ').count();
    let token = rest.get(spaces..)?;
    let well_formed = !token.is_empty() && all_token_bytes(token);
    well_formed
        .then(|| std::str::from_utf8(token).ok())
        .flatten()
}

/// What follows `<prefix>` when the value starts with it (case-insensitively) and a
/// space: a credential of our scheme, well-formed or not.
fn after_scheme<'a>(value: &'a [u8], prefix: &str) -> Option<&'a [u8]> {
    let head = value.get(..prefix.len())?;
    let rest = value.get(prefix.len()..)?;
    (head.eq_ignore_ascii_case(prefix.as_bytes()) && rest.first() == Some(&b' ')).then_some(rest)
}

/// Printable ASCII but `,`, `"` and `;` (list, quote and cookie separators). A table,
/// because this runs over every byte of every token: measured in V8, the table made
/// token extraction about twice as fast as the comparisons. (Indexing is evaluated
/// at compile time here: out of bounds would fail the build, never the VM.)
#[allow(clippy::indexing_slicing)]
const TOKEN_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0x21;
    while b < 0x7f {
        table[b] = !matches!(b as u8, b',' | b'"' | b';');
        b += 1;
    }
    table
};

fn is_token_byte(b: u8) -> bool {
    TOKEN_BYTES.get(usize::from(b)).copied().unwrap_or(false)
}

/// Whether every byte is a [`TOKEN_BYTES`] byte. Runs over the whole token on every
/// request, so eight bytes are checked at a time: measured in V8, the per-byte loop
/// (then run twice per request) was about a quarter of a cache hit.
fn all_token_bytes(bytes: &[u8]) -> bool {
    let mut words = bytes.chunks_exact(8);
    let words_ok = words.all(|w| {
        let mut word = [0u8; 8];
        word.copy_from_slice(w);
        token_word(u64::from_le_bytes(word))
    });
    words_ok && words.remainder().iter().all(|b| is_token_byte(*b))
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Some byte of `x` is below `n` (exact for `n` <= 0x80 when no byte has its high bit).
fn has_byte_below(x: u64, n: u8) -> bool {
    x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH_BITS != 0
}

/// Some byte of `x` equals `b`.
fn has_byte(x: u64, b: u8) -> bool {
    has_byte_below(x ^ (ONES * u64::from(b)), 1)
}

/// Eight bytes, each in 0x21..=0x7e and none of `,` `"` `;` — [`TOKEN_BYTES`] per word.
fn token_word(x: u64) -> bool {
    x & HIGH_BITS == 0
        && !has_byte_below(x, 0x21)
        && !has_byte(x, 0x7f)
        && !has_byte(x, b',')
        && !has_byte(x, b'"')
        && !has_byte(x, b';')
}

/// A token needs at least one character and no whitespace, comma or quote; the JWS
/// structure itself is checked by the verifier.
fn token_or_invalid(candidate: &str) -> Seen<'_> {
    let ok = !candidate.is_empty() && all_token_bytes(candidate.as_bytes());
    if ok {
        Seen::Token(candidate)
    } else {
        Seen::Invalid
    }
}

/// Whether a value of a token header holds a credential of ours (well-formed or not);
/// another scheme's credential (`Basic …`) is not ours to remove.
pub fn holds_credential(value: &[u8], prefix: Option<&str>) -> bool {
    // `<prefix> …` is ours whatever follows (from_header says so too): no pass over
    // the token, which extraction has already made.
    prefix.is_some_and(|p| after_scheme(value, p).is_some()) || from_header(value, prefix).is_some()
}

/// The credentials one header value holds, or `None` when it holds none of ours.
fn from_header<'a>(value: &'a [u8], prefix: Option<&str>) -> Option<Vec<Seen<'a>>> {
    let Ok(text) = std::str::from_utf8(value) else {
        // Non-UTF-8 bytes: the schemes are still read as text (each bad byte becomes
        // U+FFFD, which no token holds), so a credential of ours is a broken one, and
        // one that plainly names another scheme (`Basic \xff`) stays not ours — no
        // token, as for any `Basic`, and left for the upstream. Bytes that name no
        // scheme at all (`\xff\xfe`) are a broken credential.
        let lossy = String::from_utf8_lossy(value);
        return match from_header(lossy.as_bytes(), prefix) {
            Some(found) => Some(found.iter().map(|_| Seen::Invalid).collect()),
            None if names_a_scheme(value) => None,
            None => Some(vec![Seen::Invalid]),
        };
    };
    let Some(prefix) = prefix else {
        return Some(
            text.split(',')
                .map(|p| token_or_invalid(p.trim_matches(OWS)))
                .collect(),
        );
    };
    let parts: Vec<&str> = text
        .split(',')
        .map(|p| p.trim_start_matches(before_scheme))
        .collect();
    let ours: Vec<Seen<'a>> = parts.iter().filter_map(|p| bearer(p, prefix)).collect();
    if ours.is_empty() {
        return None;
    }
    if parts.len() > 1 {
        // A credential of ours next to anything after a comma: a blank tail is trailing
        // junk (invalid), anything else is a second credential.
        if parts.iter().skip(1).all(|p| p.trim().is_empty()) && ours.len() == 1 {
            return Some(vec![Seen::Invalid]);
        }
        return Some(vec![Seen::Invalid, Seen::Invalid]);
    }
    Some(ours)
}

/// Whether a header value starts with an auth-scheme word (RFC 9110 §11.1: a `token`
/// of ASCII `tchar`s) followed by a space or nothing, after optional whitespace.
fn names_a_scheme(value: &[u8]) -> bool {
    let value = value.trim_ascii_start();
    let is_tchar = |b: &u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b);
    let word = value.iter().take_while(|b| is_tchar(b)).count();
    word > 0 && value.get(word).is_none_or(|b| *b == b' ')
}

/// Parses `<prefix> 1*SP <token>` (prefix compared case-insensitively). `None` when the
/// value is another scheme (`Basic …`, or `Bearerx`).
fn bearer<'a>(part: &'a str, prefix: &str) -> Option<Seen<'a>> {
    let head = part.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = part.get(prefix.len()..)?;
    match rest.bytes().next() {
        None => Some(Seen::Invalid),
        Some(b' ') => {
            let token = rest.trim_start_matches(' ');
            Some(token_or_invalid(token))
        }
        Some(b) if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' => None,
        Some(_) => Some(Seen::Invalid),
    }
}

/// Values of a query parameter, raw (a JWT needs no percent-encoding). The parameter's
/// name is compared percent-decoded: `%74=…` is the parameter `t` to an upstream that
/// decodes names, so it must not pass as something else.
pub fn query_values<'a, 'n>(
    path: &'a str,
    name: &'n str,
) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
    let query = path.split_once('?').map(|(_, q)| q).unwrap_or("");
    let query = query.split('#').next().unwrap_or("");
    query.split('&').filter_map(move |pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        query_name_is(key, name).then_some(value)
    })
}

/// Whether a raw query parameter name, percent-decoded, is `name`.
fn query_name_is(raw: &str, name: &str) -> bool {
    percent_decoded(raw.as_bytes()).eq(name.bytes())
}

pub fn cookie_values<'a, 'n>(
    header: &'a str,
    name: &'n str,
) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
    header.split(';').filter_map(move |pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key.trim() == name).then_some(value.trim())
    })
}

/// `path` with every `name=` parameter removed from its query string.
pub fn remove_query_param(path: &str, name: &str) -> String {
    let Some((base, query)) = path.split_once('?') else {
        return path.to_owned();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| !query_name_is(pair.split_once('=').map_or(*pair, |(k, _)| k), name))
        .collect();
    if kept.is_empty() || kept.iter().all(|p| p.is_empty()) {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    }
}

/// A `cookie` header value without the named cookie; `None` if nothing is left.
pub fn remove_cookie(header: &str, name: &str) -> Option<String> {
    let kept: Vec<&str> = header
        .split(';')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .filter(|pair| pair.split_once('=').map_or(*pair, |(k, _)| k.trim()) != name)
        .collect();
    (!kept.is_empty()).then(|| kept.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(list: Vec<TokenSource>) -> TokenSources {
        TokenSources {
            sources: list,
            max_bytes: 64,
        }
    }

    fn bearer_only() -> TokenSources {
        sources(vec![TokenSource::Header {
            name: "authorization".into(),
            prefix: Some("Bearer".into()),
        }])
    }

    fn req(headers: &[(&str, &[u8])], path: &str) -> Request {
        Request {
            method: "GET".into(),
            path: path.into(),
            authority: "x".into(),
            route: None,
            headers: headers.iter().copied().collect(),
        }
    }

    fn auth(value: &[u8]) -> Request {
        req(&[("authorization", value)], "/")
    }

    #[test]
    fn bearer_grammar() {
        let s = bearer_only();
        for ok in [
            &b"Bearer a.b.c"[..],
            b"bearer a.b.c",
            b"BEARER a.b.c",
            b"Bearer    a.b.c",
        ] {
            assert_eq!(s.extract(&auth(ok)), Extraction::Found("a.b.c"), "{ok:?}");
        }
        for invalid in [
            &b"Bearer"[..],
            b"Bearer ",
            b"Bearer   ",
            b"Bearer\ta.b.c",
            b"Bearer a.b.c d",
            b"Bearer a.b.c,",
            b"Bearer \xff",
            b"\xff\xfe",
            b"bearer a.b\xc0.c",
        ] {
            assert_eq!(
                s.extract(&auth(invalid)),
                Extraction::Invalid,
                "{invalid:?}"
            );
        }
        for missing in [
            &b"Basic dXNlcjpwYXNz"[..],
            b"Bearerx a.b.c",
            b"",
            // another scheme with odd bytes is still another scheme
            b"Basic \xff\xfe",
            b"Digest x=\"\xe9\"",
        ] {
            assert_eq!(
                s.extract(&auth(missing)),
                Extraction::Missing,
                "{missing:?}"
            );
        }
        assert_eq!(s.extract(&req(&[], "/")), Extraction::Missing);
    }

    /// Every byte value at every position of a word, among token bytes, and the
    /// lengths around a word boundary: the word-at-a-time check answers as the table.
    #[test]
    fn word_check_agrees_with_the_table() {
        let good = b"abcdefghijklmnopqrstuvwxyz0123";
        for len in 0..good.len() {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut bytes = good[..len].to_vec();
                    bytes[at] = b;
                    assert_eq!(
                        all_token_bytes(&bytes),
                        bytes.iter().all(|b| is_token_byte(*b)),
                        "{bytes:?}"
                    );
                }
            }
            assert!(all_token_bytes(&good[..len]));
        }
        // Words with several odd bytes (borrows across bytes), from a fixed-seed LCG.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let edges = [
            0x00, 0x20, 0x21, 0x22, 0x2c, 0x3b, 0x7e, 0x7f, 0x80, 0xa1, 0xff,
        ];
        for _ in 0..200_000 {
            let mut word = [b'a'; 8];
            for byte in &mut word {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let pick = (state >> 33) as usize;
                if pick % 3 == 0 {
                    *byte = edges[(pick / 3) % edges.len()];
                } else if pick % 3 == 1 {
                    *byte = (pick >> 8) as u8;
                }
            }
            assert_eq!(
                all_token_bytes(&word),
                word.iter().all(|b| is_token_byte(*b)),
                "{word:?}"
            );
        }
    }

    /// The shortcut of `holds_credential` (the scheme and a space) never claims a
    /// value the general parser would call another scheme's.
    #[test]
    fn a_scheme_and_a_space_is_always_a_credential_of_ours() {
        let tails: [&[u8]; 10] = [
            b"",
            b" ",
            b"a.b.c",
            b"a.b.c d",
            b"a,b",
            b", Basic x",
            b"\xff\xfe",
            b"\"q\"",
            b"\t",
            b"a;b",
        ];
        for scheme in ["Bearer", "bearer", "BEARER"] {
            for tail in tails {
                let value = [scheme.as_bytes(), b" ", tail].concat();
                assert!(from_header(&value, Some("Bearer")).is_some(), "{value:?}");
                assert!(holds_credential(&value, Some("Bearer")), "{value:?}");
            }
        }
        assert!(!holds_credential(b"Basic abc", Some("Bearer")));
        assert!(!holds_credential(b"Bearerx abc", Some("Bearer")));
    }

    #[test]
    fn lone_bearer_agrees_with_the_general_parser() {
        let values: [&[u8]; 17] = [
            b"Bearer abc.def.ghi",
            b"bearer  abc",
            b"BEARER abc",
            b"Bearer    a.b.c",
            b"Bearer a~b-c_d.e+f/g=",
            b"BEARER\tabc",
            b"Bearer",
            b"Bearer ",
            b"Bearerabc",
            b"Bearer a,b",
            b"Bearer abc, ",
            b"Bearer ab\"c",
            b"Bearer ab;c",
            b"Bearer ab c",
            b"Basic abc",
            b"Bearer \xffabc",
            b" Bearer abc",
        ];
        // Where the fast path answers, the general parser gives the same answer; where it
        // does not (None), extraction falls back to the general parser anyway.
        let mut found = 0;
        for value in values {
            if let Some(token) = lone_bearer(value, "Bearer") {
                found += 1;
                let general = from_header(value, Some("Bearer"));
                assert_eq!(general, Some(vec![Seen::Token(token)]), "{value:?}");
            }
        }
        assert_eq!(found, 5, "the fast path must answer for plain values");
        assert_eq!(lone_bearer(b"bearer  abc", "Bearer"), Some("abc"));
        assert_eq!(lone_bearer(b"Bearer ab c", "Bearer"), None);
        assert_eq!(lone_bearer(b"Bearer a,b", "Bearer"), None);
    }

    #[test]
    fn two_credentials_are_multiple() {
        let s = bearer_only();
        assert_eq!(
            s.extract(&auth(b"Bearer a.b.c,Bearer d.e.f")),
            Extraction::Multiple
        );
        assert_eq!(
            s.extract(&auth(b"Bearer a.b.c, Basic xyz")),
            Extraction::Multiple
        );
        assert_eq!(
            s.extract(&auth(b"Basic \xff, Bearer a.b.c")),
            Extraction::Multiple
        );
        // another scheme's credential with odd bytes is not ours to remove either
        assert!(!holds_credential(b"Basic \xff\xfe", Some("Bearer")));
        assert!(holds_credential(b"\xff\xfe", Some("Bearer")));
        let two = req(
            &[
                ("authorization", b"Bearer a.b.c"),
                ("authorization", b"Bearer a.b.c"),
            ],
            "/",
        );
        assert_eq!(s.extract(&two), Extraction::Multiple);
        let s = sources(vec![
            TokenSource::Header {
                name: "authorization".into(),
                prefix: Some("Bearer".into()),
            },
            TokenSource::Query {
                name: "access_token".into(),
            },
        ]);
        let both = req(
            &[("authorization", b"Bearer a.b.c")],
            "/x?access_token=a.b.c",
        );
        assert_eq!(s.extract(&both), Extraction::Multiple);
    }

    #[test]
    fn an_rfc_6750_query_token_beside_ours_is_a_second_credential() {
        let s = sources(vec![TokenSource::Header {
            name: "authorization".into(),
            prefix: Some("Bearer".into()),
        }]);
        let header = [("authorization", b"Bearer a.b.c".as_slice())];
        let both = req(&header, "/x?y=1&access_token=d.e.f");
        assert_eq!(s.extract(&both), Extraction::Multiple);
        let escaped = req(&header, "/x?y=1&access%5Ftoken=d.e.f");
        assert_eq!(s.extract(&escaped), Extraction::Multiple);
        // Not ours to read: alone it is no token, and an empty one is nothing.
        assert_eq!(
            s.extract(&req(&[], "/x?access_token=d.e.f")),
            Extraction::Missing
        );
        let empty = req(&header, "/x?access_token=");
        assert_eq!(s.extract(&empty), Extraction::Found("a.b.c"));
        let other_name = req(&header, "/x?token=d.e.f");
        assert_eq!(s.extract(&other_name), Extraction::Found("a.b.c"));
    }

    #[test]
    fn a_bearer_authorization_beside_a_token_from_elsewhere_is_a_second_credential() {
        let s = sources(vec![
            TokenSource::Header {
                name: "x-token".into(),
                prefix: None,
            },
            TokenSource::Cookie { name: "at".into() },
        ]);
        for value in [
            &b"Bearer d.e.f"[..],
            b"bearer d.e.f",
            b"Bearer",
            b"Bearer \xff",
        ] {
            let both = req(&[("x-token", b"a.b.c"), ("authorization", value)], "/x");
            assert_eq!(s.extract(&both), Extraction::Multiple, "{value:?}");
            let both = req(&[("cookie", b"at=a.b.c"), ("authorization", value)], "/x");
            assert_eq!(s.extract(&both), Extraction::Multiple, "{value:?}");
        }
        // Another scheme is not a bearer token; alone, Authorization is not ours to read.
        let basic = req(
            &[("x-token", b"a.b.c"), ("authorization", b"Basic eHk6eg==")],
            "/x",
        );
        assert_eq!(s.extract(&basic), Extraction::Found("a.b.c"));
        let broken_basic = req(
            &[("x-token", b"a.b.c"), ("authorization", b"Basic \xff\xfe")],
            "/x",
        );
        assert_eq!(s.extract(&broken_basic), Extraction::Found("a.b.c"));
        let alone = req(&[("authorization", b"Bearer d.e.f")], "/x");
        assert_eq!(s.extract(&alone), Extraction::Missing);
        // An Authorization source for another scheme does not read Bearer credentials.
        let dpop = sources(vec![
            TokenSource::Header {
                name: "authorization".into(),
                prefix: Some("DPoP".into()),
            },
            TokenSource::Cookie { name: "at".into() },
        ]);
        let both = req(
            &[("cookie", b"at=a.b.c"), ("authorization", b"Bearer d.e.f")],
            "/x",
        );
        assert_eq!(dpop.extract(&both), Extraction::Multiple);
    }

    #[test]
    fn query_and_cookie_sources() {
        let s = sources(vec![
            TokenSource::Query { name: "t".into() },
            TokenSource::Cookie { name: "jwt".into() },
        ]);
        assert_eq!(
            s.extract(&req(&[], "/x?a=1&t=a.b.c")),
            Extraction::Found("a.b.c")
        );
        assert_eq!(
            s.extract(&req(&[("cookie", b"a=1; jwt=a.b.c")], "/x")),
            Extraction::Found("a.b.c")
        );
        assert_eq!(s.extract(&req(&[], "/x?t=")), Extraction::Invalid);
        assert_eq!(s.extract(&req(&[], "/x?t=a&t=b")), Extraction::Multiple);
        // Names are compared percent-decoded: `%74` is `t` to an upstream that decodes.
        assert_eq!(
            s.extract(&req(&[], "/x?%74=a.b.c")),
            Extraction::Found("a.b.c")
        );
        assert_eq!(
            s.extract(&req(&[], "/x?t=a.b.c&%74=d.e.f")),
            Extraction::Multiple
        );
        assert_eq!(s.extract(&req(&[], "/x?%7=a.b.c&%=1")), Extraction::Missing);
    }

    #[test]
    fn oversized_token_is_invalid() {
        let s = bearer_only();
        let big = format!("Bearer {}", "a".repeat(65));
        assert_eq!(s.extract(&auth(big.as_bytes())), Extraction::Invalid);
    }

    #[test]
    fn removing_the_token_from_query_and_cookie() {
        assert_eq!(remove_query_param("/x?a=1&t=z&b=2", "t"), "/x?a=1&b=2");
        assert_eq!(remove_query_param("/x?a=1&%74=z&%2=y", "t"), "/x?a=1&%2=y");
        assert_eq!(remove_query_param("/x?t=z", "t"), "/x");
        assert_eq!(remove_cookie("a=1; jwt=z", "jwt").as_deref(), Some("a=1"));
        assert_eq!(remove_cookie("jwt=z", "jwt"), None);
    }
}
