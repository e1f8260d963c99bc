//! Strict JSON for token headers and payloads, and for the documents fetched from the
//! identity provider: duplicate member names are an error.
//!
//! `serde_json::Value` keeps the last of two equal keys; a JWT parser that does so lets
//! an attacker show one value to one checker and another to the next (RFC 8725 §2.6
//! style confusion), so every object is rebuilt here and a repeated key rejects the whole
//! document. Nesting deeper than [`MAX_DEPTH`] is an error too (serde_json's own
//! recursion limit, 128, keeps the parse itself from overflowing the stack).
//!
//! Numbers are held to I-JSON (RFC 7493 §2.2): magnitude at most 2^53 − 1, what every
//! JSON implementation reads the same. A larger one (`18446744073709551616`, `1e30`) is
//! read differently by different parsers — rounded, saturated, or refused — so it makes
//! the whole document invalid rather than mean something to us that it may not mean to
//! the issuer or the upstream.

use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// A JSON object parsed with duplicate keys rejected at every level.
pub type Object = Map<String, Value>;

/// 2^53 − 1, the largest magnitude I-JSON allows.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Value, E> {
        if v.unsigned_abs() > MAX_SAFE_INTEGER {
            return Err(E::custom("number out of range"));
        }
        Ok(Value::from(v))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Value, E> {
        if v > MAX_SAFE_INTEGER {
            return Err(E::custom("number out of range"));
        }
        Ok(Value::from(v))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        // 2^53 − 1 converts to f64 exactly.
        if v.abs() > MAX_SAFE_INTEGER as f64 {
            return Err(E::custom("number out of range"));
        }
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let StrictValue(value) = map.next_value()?;
            if object.insert(key, value).is_some() {
                return Err(A::Error::custom("duplicate member name"));
            }
        }
        Ok(Value::Object(object))
    }
}

/// Deepest nesting of arrays and objects a token's header or payload, or a fetched JWKS
/// or discovery document, may have (the top-level object counts as 1). Real documents
/// nest a few levels; deeper is an attack on parsers, not data.
pub const MAX_DEPTH: usize = 32;

/// Parses `bytes` as one JSON object; duplicate keys, trailing data, non-UTF-8, numbers
/// beyond I-JSON's range, nesting deeper than [`MAX_DEPTH`] and any non-object top level
/// are errors.
pub fn parse_object(bytes: &[u8]) -> Option<Object> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let StrictValue(value) = StrictValue::deserialize(&mut de).ok()?;
    de.end().ok()?;
    if depth(&value) > MAX_DEPTH {
        return None;
    }
    match value {
        Value::Object(object) => Some(object),
        _ => None,
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
