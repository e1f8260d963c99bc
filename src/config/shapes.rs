//! The JSON shape of each configuration value is the one the format names, and no other.
//!
//! serde's derived readers are laxer. A struct also takes a JSON array and reads its
//! elements as the fields in order, so `"multiple_audiences": [false]` would silently
//! mean `require_azp: false` and `"match": ["/x"]` an exact path: a positional reading
//! `deny_unknown_fields` cannot see, and a way for a mistake to weaken a policy. A
//! unit enum also takes a one-member object, `"unmatched": {"allow": null}`. So each
//! such type derives its reading with `#[serde(remote = "Self")]` (an inherent
//! `deserialize`) and gets its `Deserialize` from a macro here that first asks for the
//! one shape: [`objects_only!`] a map (an array is then "invalid type: sequence,
//! expected a JSON object" at its path), [`names_only!`] a string. serde_path_to_error
//! still sees every member, through the map it hands on.
//!
//! The inherent `T::deserialize` that `remote = "Self"` generates is the lax reading:
//! only these macros call it. Everything else reads through the trait
//! (`serde::Deserialize::deserialize`, `serde_json::from_*`), which checks the shape.

/// Implements `Deserialize` for each given type (which must also carry
/// `#[derive(Deserialize)] #[serde(remote = "Self")]`) so that only a JSON object is read.
macro_rules! objects_only {
    ($($section:ty),+ $(,)?) => {$(
        impl<'de> serde::Deserialize<'de> for $section {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Object;
                impl<'de> serde::de::Visitor<'de> for Object {
                    type Value = $section;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str("a JSON object")
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<$section, A::Error> {
                        // The inherent, derived reading (by member name).
                        <$section>::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    }
                }
                deserializer.deserialize_map(Object)
            }
        }
    )+};
}

/// Implements `Deserialize` for each given unit enum (which must also carry
/// `#[derive(Deserialize)] #[serde(remote = "Self")]`) so that only a JSON string is read.
macro_rules! names_only {
    ($($choice:ty),+ $(,)?) => {$(
        impl<'de> serde::Deserialize<'de> for $choice {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Name;
                impl<'de> serde::de::Visitor<'de> for Name {
                    type Value = $choice;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str("a name (a JSON string)")
                    }
                    fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<$choice, E> {
                        // The inherent, derived reading (by variant name).
                        <$choice>::deserialize(serde::de::value::StrDeserializer::<E>::new(name))
                    }
                }
                deserializer.deserialize_str(Name)
            }
        }
    )+};
}

pub(crate) use {names_only, objects_only};
