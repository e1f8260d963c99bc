//! Strict JSON for token headers and payloads, and for what we use of the documents
//! fetched from the identity provider: duplicate member names are an error (in a token,
//! of the whole token; in a fetched key set, of that key, which is then skipped).
//!
//! `serde_json::Value` keeps the last of two equal keys; a JWT parser that does so lets
//! an attacker show one value to one checker and another to the next (RFC 8725 §2.6
//! style confusion), so every object is rebuilt here and a repeated key rejects the
//! whole token (or fetched key). Nesting deeper than [`MAX_DEPTH`] is an error too
//! (serde_json's own recursion limit, 128, keeps the parse itself from overflowing the
//! stack).
//!
//! Numbers are held to I-JSON (RFC 7493 §2.2): magnitude at most 2^53 − 1, what every
//! JSON implementation reads the same. A larger one (`18446744073709551616`, `1e30`) is
//! read differently by different parsers — rounded, saturated, or refused — so it makes
//! the whole token (or fetched key) invalid rather than mean something to us that it
//! may not mean to the issuer or the upstream.

use serde::de::{Deserialize, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;
use std::marker::PhantomData;

/// A JSON object parsed with duplicate keys rejected at every level.
pub type Object = Map<String, Value>;

/// 2^53 − 1, the largest magnitude I-JSON allows.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A parsed value and whether it keeps the strict rules: no member name repeated in an
/// object, no number beyond I-JSON's range (held as `null`). [`parse_object`] refuses a
/// token that breaks them; a fetched key set skips the one key that does
/// (`remote::parse_jwks`).
pub struct Checked {
    value: Value,
    sound: bool,
}

impl Checked {
    /// The value, if it keeps the strict rules and nests at most `levels` deep.
    pub fn strict(self, levels: usize) -> Option<Value> {
        (self.sound && depth(&self.value) <= levels).then_some(self.value)
    }

    fn sound(value: Value) -> Checked {
        Checked { value, sound: true }
    }

    fn out_of_range() -> Checked {
        Checked {
            value: Value::Null,
            sound: false,
        }
    }
}

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CheckedVisitor)
    }
}

struct CheckedVisitor;

impl<'de> Visitor<'de> for CheckedVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Checked, E> {
        Ok(Checked::sound(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Checked, E> {
        if v.unsigned_abs() > MAX_SAFE_INTEGER {
            return Ok(Checked::out_of_range());
        }
        Ok(Checked::sound(Value::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Checked, E> {
        if v > MAX_SAFE_INTEGER {
            return Ok(Checked::out_of_range());
        }
        Ok(Checked::sound(Value::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Checked, E> {
        // 2^53 − 1 converts to f64 exactly.
        if v.abs() > MAX_SAFE_INTEGER as f64 {
            return Ok(Checked::out_of_range());
        }
        Ok(serde_json::Number::from_f64(v)
            .map(|n| Checked::sound(Value::Number(n)))
            .unwrap_or_else(Checked::out_of_range))
    }
    fn visit_str<E>(self, v: &str) -> Result<Checked, E> {
        Ok(Checked::sound(Value::String(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Checked, E> {
        Ok(Checked::sound(Value::String(v)))
    }
    fn visit_unit<E>(self) -> Result<Checked, E> {
        Ok(Checked::sound(Value::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        let (mut items, mut sound) = (Vec::new(), true);
        while let Some(item) = seq.next_element::<Checked>()? {
            sound &= item.sound;
            items.push(item.value);
        }
        Ok(Checked {
            value: Value::Array(items),
            sound,
        })
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        let (mut object, mut sound) = (Map::new(), true);
        while let Some(key) = map.next_key::<String>()? {
            let member: Checked = map.next_value()?;
            sound &= member.sound;
            sound &= object.insert(key, member.value).is_none();
        }
        Ok(Checked {
            value: Value::Object(object),
            sound,
        })
    }
}

/// Deepest nesting of arrays and objects a token's header or payload may have (the
/// top-level object counts as 1), and of a fetched JWKS down to its keys' members.
/// Real documents nest a few levels; deeper is an attack on parsers, not data.
pub const MAX_DEPTH: usize = 32;

/// Parses `bytes` as one JSON object; duplicate keys, trailing data, non-UTF-8, numbers
/// beyond I-JSON's range, nesting deeper than [`MAX_DEPTH`] and any non-object top level
/// are errors.
pub fn parse_object(bytes: &[u8]) -> Option<Object> {
    match parse_checked(bytes)?.strict(MAX_DEPTH)? {
        Value::Object(object) => Some(object),
        _ => None,
    }
}

/// Parses `bytes` as one JSON value, [`Checked`]; invalid JSON (incl. non-UTF-8, a lone
/// surrogate, a number beyond f64, nesting beyond serde_json's 128 levels) and trailing
/// data are errors.
pub fn parse_checked(bytes: &[u8]) -> Option<Checked> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let checked = Checked::deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(checked)
}

/// Reads the members `names` of a document's top-level object (`None` for one that is
/// absent); every other member is only checked for JSON syntax: an identity provider's
/// document carries much we do not use, and a quirk there must not cost us what we do
/// use. A named member given twice (which one counts would depend on the parser), a
/// member that is not a `T`, broken syntax or trailing data is an error.
pub fn read_members<'de, T: Deserialize<'de>>(
    bytes: &'de [u8],
    names: &[&str],
) -> Option<Vec<Option<T>>> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let found = (&mut de)
        .deserialize_map(Members {
            names,
            wanted: PhantomData,
        })
        .ok()?;
    de.end().ok()?;
    Some(found)
}

struct Members<'n, T> {
    names: &'n [&'n str],
    wanted: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Members<'_, T> {
    type Value = Vec<Option<T>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found: Vec<Option<T>> = self.names.iter().map(|_| None).collect();
        while let Some(key) = map.next_key::<String>()? {
            let slot = self.names.iter().position(|n| *n == key);
            match slot.and_then(|i| found.get_mut(i)) {
                Some(Some(_)) => return Err(A::Error::custom("repeated member name")),
                Some(slot) => *slot = Some(map.next_value()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(found)
    }
}

/// Nesting depth of arrays and objects (a scalar is 0). Recursion is bounded by the
/// parser's own limit of 128.
fn depth(value: &Value) -> usize {
    let deepest = |items: &mut dyn Iterator<Item = &Value>| items.map(depth).max().unwrap_or(0);
    match value {
        Value::Array(items) => 1 + deepest(&mut items.iter()),
        Value::Object(members) => 1 + deepest(&mut members.values()),
        _ => 0,
    }
}

/// The member `name` of `object`. A token's objects are small, and for them a scan
/// beats the map's lookup, which hashes the name with SipHash first: the claims a cache
/// hit reads (`exp`, `nbf`, `iat`, `aud`, the client and scope claims) cost 0.2 µs less
/// per request in Node's V8 this way (`examples/hit_path.rs`, 2026-11-30). Past [`SCAN_LIMIT`] members the map's lookup is
/// used, so a token with thousands of claims costs no quadratic time. [`lookup`] (forwarded
/// and required claims) goes through it too.
pub fn member<'a>(object: &'a Object, name: &str) -> Option<&'a Value> {
    if object.len() > SCAN_LIMIT {
        return object.get(name);
    }
    object
        .iter()
        .find(|(key, _)| key.as_str() == name)
        .map(|(_, value)| value)
}

/// Objects with more members than this are looked up by hash ([`member`]).
const SCAN_LIMIT: usize = 32;

/// Looks a claim up by name: the exact member first, then a dotted path into nested
/// objects (`realm_access.roles`), so names that contain dots still work.
pub fn lookup<'a>(object: &'a Object, name: &str) -> Option<&'a Value> {
    if let Some(value) = member(object, name) {
        return Some(value);
    }
    let mut parts = name.split('.');
    let mut current = member(object, parts.next()?)?;
    for part in parts {
        current = member(current.as_object()?, part)?;
    }
    Some(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scan below the limit and a hashed lookup above it find what the map holds.
    #[test]
    fn member_agrees_with_the_map() {
        for size in [0, 3, SCAN_LIMIT, SCAN_LIMIT + 1, 100] {
            let members: Vec<String> = (0..size).map(|i| format!("\"c{i}\":{i}")).collect();
            let text = format!("{{{}}}", members.join(","));
            let object = parse_object(text.as_bytes()).unwrap();
            for i in 0..=size {
                let name = format!("c{i}");
                assert_eq!(member(&object, &name), object.get(&name), "{size} {name}");
            }
        }
    }

    #[test]
    fn duplicate_keys_are_rejected_at_any_depth() {
        assert!(parse_object(br#"{"a":1,"a":2}"#).is_none());
        assert!(parse_object(br#"{"a":{"b":1,"b":1}}"#).is_none());
        assert!(parse_object(br#"{"a":[{"b":1,"b":1}]}"#).is_none());
        assert!(parse_object(br#"{"a":1,"b":2}"#).is_some());
    }

    #[test]
    fn non_objects_and_trailing_data_are_rejected() {
        for bad in [&b"[]"[..], b"1", b"\"x\"", b"{} {}", b"{", b"\xff", b""] {
            assert!(parse_object(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse_object(deep.as_bytes()).is_none());
    }

    #[test]
    fn nesting_beyond_the_limit_is_rejected() {
        let nested = |levels: usize| {
            let inner = levels - 1; // the top-level object is one level
            format!("{{\"a\":{}{}}}", "[".repeat(inner), "]".repeat(inner))
        };
        assert!(parse_object(nested(MAX_DEPTH).as_bytes()).is_some());
        assert!(parse_object(nested(MAX_DEPTH + 1).as_bytes()).is_none());
        assert!(parse_object(nested(100).as_bytes()).is_none());
    }

    #[test]
    fn numbers_beyond_i_json_range_are_rejected() {
        for ok in ["9007199254740991", "-9007199254740991", "1.5", "1e15", "0"] {
            assert!(
                parse_object(format!("{{\"n\":{ok}}}").as_bytes()).is_some(),
                "{ok}"
            );
        }
        for huge in [
            "9007199254740992",
            "-9007199254740992",
            "18446744073709551616",
            "1e30",
            "-1e30",
            "1e400",
            "123456789012345678901234567890",
        ] {
            assert!(
                parse_object(format!("{{\"n\":[{huge}]}}").as_bytes()).is_none(),
                "{huge}"
            );
        }
    }

    #[test]
    fn dotted_lookup_prefers_exact_member() {
        let o = parse_object(br#"{"a.b":1,"a":{"b":2},"x":{"y":{"z":3}}}"#).unwrap();
        assert_eq!(lookup(&o, "a.b"), Some(&Value::from(1)));
        assert_eq!(lookup(&o, "x.y.z"), Some(&Value::from(3)));
        assert_eq!(lookup(&o, "x.q"), None);
    }
}
