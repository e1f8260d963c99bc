//! One check on the configuration's JSON text: no object names a member twice.

use serde::Deserialize;
use std::collections::BTreeSet;
use std::fmt;

/// Walks a JSON value and refuses an object that names a member twice. serde refuses a
/// repeated struct field, but a map (`clients`, `claims`, `forward.claims`) or a raw
/// JSON value (`jwks`, a claim condition) keeps the last copy silently, and JSON
/// parsers disagree on which copy counts: a client's list followed by `"*"`, or a
/// claim condition followed by `present: true`, would quietly undo the first.
pub struct NoDuplicates;

/// Longest member name quoted in the error.
const MAX_QUOTED_MEMBER: usize = 64;

impl<'de> Deserialize<'de> for NoDuplicates {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NoDuplicates)
    }
}

impl<'de> serde::de::Visitor<'de> for NoDuplicates {
    type Value = NoDuplicates;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self, E> {
        Ok(NoDuplicates)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self, E> {
        Ok(NoDuplicates)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self, E> {
        Ok(NoDuplicates)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self, E> {
        Ok(NoDuplicates)
    }

    fn visit_str<E>(self, _: &str) -> Result<Self, E> {
        Ok(NoDuplicates)
    }

    fn visit_unit<E>(self) -> Result<Self, E> {
        Ok(NoDuplicates)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self, A::Error> {
        while seq.next_element::<NoDuplicates>()?.is_some() {}
        Ok(NoDuplicates)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self, A::Error> {
        let mut seen = BTreeSet::new();
        while let Some(member) = map.next_key::<String>()? {
            if seen.contains(&member) {
                let shown: String = member.chars().take(MAX_QUOTED_MEMBER).collect();
                return Err(serde::de::Error::custom(format!(
                    "member {shown:?} is given twice (only one copy would count)"
                )));
            }
            map.next_value::<NoDuplicates>()?;
            seen.insert(member);
        }
        Ok(NoDuplicates)
    }
}
